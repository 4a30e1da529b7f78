//! `serve` raises its open-files limit to fit `--max-connections`, and says so when the hard
//! limit cannot fit it. Its own test binary: it lowers this process's limits, which the child
//! inherits.

mod common;

use common::Server;
use rlimit::Resource;

/// The soft open-files limit of a running process, from `/proc/PID/limits`.
fn soft_open_files(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = (limits.lines())
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let soft = line.split_whitespace().nth(3).unwrap();
    soft.parse().unwrap_or(u64::MAX)
}

#[test]
fn serve_raises_its_open_files_limit_to_fit_its_connection_cap() {
    let (_, hard) = Resource::NOFILE.get().unwrap();
    if hard < 5_000 {
        eprintln!("skipped: the hard open-files limit here is {hard}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    Resource::NOFILE.set(1_024, hard).unwrap();
    let server = Server::start_with(dir.path(), &["--max-connections", "4000"]);
    let soft = soft_open_files(server.child.id());
    assert!(soft >= 4_000 + 256, "soft limit {soft}");
    drop(server);

    // A hard limit too low to fit: the server starts anyway and says what to raise.
    Resource::NOFILE.set(1_024, 1_024).unwrap();
    let server = Server::start_with(dir.path(), &["--max-connections", "4000"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("needs about 4256 open files") && log.contains("may open 1024"),
        "{log}"
    );
}
