//! `--config FILE` on the real binary: the file's keys reach the commands, the environment and
//! the command line override them, and an unknown key stops kbgap naming it.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Server;

/// The token signing key `kbgap token` creates in its data dir.
const KEY_FILE: &str = "jwt-signing-key.pem";

fn kbgap(config: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbgap"));
    cmd.arg("--config").arg(config).args(args);
    for var in ["KBGAP_DATA_DIR", "KBGAP_DB", "KBGAP_CONFIG"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_data_dir_comes_from_the_file_unless_the_environment_or_a_flag_gives_one() {
    let dir = tempfile::tempdir().unwrap();
    let (file_dir, env_dir, flag_dir) = (
        dir.path().join("from-file"),
        dir.path().join("from-env"),
        dir.path().join("from-flag"),
    );
    let config = dir.path().join("kbgap.toml");
    std::fs::write(
        &config,
        format!("data-dir = {:?}\n", file_dir.display().to_string()),
    )
    .unwrap();
    let roles = ["token", "--roles", "Machine.Read.All"];

    let o = kbgap(&config, &roles, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        file_dir.join(KEY_FILE).exists(),
        "the file's data dir is used"
    );

    let o = kbgap(&config, &roles, &[("KBGAP_DATA_DIR", &env_dir)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        env_dir.join(KEY_FILE).exists(),
        "the environment overrides the file"
    );

    let mut args = vec!["--data-dir", flag_dir.to_str().unwrap()];
    args.extend(roles);
    let o = kbgap(&config, &args, &[("KBGAP_DATA_DIR", &env_dir)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(flag_dir.join(KEY_FILE).exists(), "the flag overrides both");
}

#[test]
fn an_unknown_key_stops_kbgap_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kbgap.toml");
    std::fs::write(
        &config,
        "[serve]\nlisten = \"127.0.0.1:0\"\nmax-conections = 5\n",
    )
    .unwrap();
    let o = kbgap(
        &config,
        &["--data-dir", dir.path().to_str().unwrap(), "serve"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kbgap.toml: unknown key `serve.max-conections`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("max-connections"),
        "the known keys are named: {stderr}"
    );
}

#[test]
fn serve_takes_its_settings_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kbgap.toml");
    std::fs::write(&config, "[serve]\nheader-timeout = 1\n").unwrap();
    let server = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    // A connection that sends no header is closed after the file's 1 s, not the default 10 s.
    let addr = server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = conn.read_to_end(&mut buf);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    server.kill();
}
