//! The real `kbgap serve` as a child process on 127.0.0.1 (ephemeral port), for the tests that
//! treat kbgap as a black box: durability across `kill -9`, and an outside Python client.

#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running `kbgap serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, read from the server's start line.
    pub base: String,
    /// Every log line, as it arrives.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server on `data` (the SQLite store of that data dir) and waits for its
    /// "listening on" line. The first start imports the bundled catalog.
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    /// [`Server::start`] with more `serve` arguments. The scheduled sync is off unless `extra`
    /// turns it on: tests never reach the real MSRC API.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kbgap"))
            .arg("--data-dir")
            .arg(data)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-per-minute",
                "100000",
                "--rate-per-hour",
                "1000000",
            ])
            .args(extra)
            .env("KBGAP_LOG", "info")
            .env("KBGAP_SYNC_INTERVAL", "off")
            .env_remove("KBGAP_DB")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start kbgap serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut early = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            early.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(early));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server { child, base, log }
    }

    /// SIGKILL: no graceful shutdown, no flush.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token from kbgap's own issuer in `data`, with `roles`.
pub fn token(data: &Path, roles: &str) -> String {
    token_on(data, &[], roles)
}

/// [`token`] on the store `db_args` name (`--db URL`): on PostgreSQL the signing key is the
/// one shared through the store, not the data dir's.
pub fn token_on(data: &Path, db_args: &[&str], roles: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(data)
        .args(db_args)
        .args(["token", "--roles", roles])
        .env_remove("KBGAP_DB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// All the shared systeminfo corpus files (`fixtures/systeminfo`, copied from
/// `shared/data/wesng/systeminfo`), sorted; `LICENSE.txt` is not one of them.
pub fn corpus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt") && !p.ends_with("LICENSE.txt"))
        .collect();
    v.sort();
    v
}
