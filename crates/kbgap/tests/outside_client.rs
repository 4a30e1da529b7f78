//! An outside client: `outside_client.py` (Python's `requests`, the way Microsoft's documentation
//! shows) against the real `kbgap serve`, loading the shared systeminfo corpus as machines and
//! checking both getmissingkbs endpoints against `kbgap scan` on the same files.
//!
//! Needs `python3` with `requests` (`.ci/run` installs it). Without it the test fails, unless
//! `KBGAP_SKIP_PYTHON=1` says to skip it — never silently.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, corpus_files, token};

fn python_has_requests() -> bool {
    Command::new("python3")
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn python_requests_client_agrees_with_scan() {
    if std::env::var_os("KBGAP_SKIP_PYTHON").is_some() {
        eprintln!("skipped: KBGAP_SKIP_PYTHON is set");
        return;
    }
    assert!(
        python_has_requests(),
        "python3 with `requests` is needed (pip install requests), or set KBGAP_SKIP_PYTHON=1"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let tok = token(
        dir.path(),
        "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All,Vulnerability.Read.All",
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/outside_client.py");
    let out = Command::new("python3")
        .arg(script)
        .args([
            "--base",
            &server.base,
            "--token",
            &tok,
            "--kbgap",
            env!("CARGO_BIN_EXE_kbgap"),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .args(corpus_files())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("missing-KB entries checked"), "{stdout}");
    println!("{stdout}");
}
