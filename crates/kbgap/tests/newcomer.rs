//! A newcomer's first steps: the token command `serve` suggests at start can post inventory and
//! read every answer, and `catalog sync` against a server that accepts and never answers gives
//! up within 30 s saying what it waited for.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The command between backticks after "get a token with" in the start line.
fn suggested_token_command(server: &Server) -> Vec<String> {
    let log = server.log.lock().unwrap();
    let line = (log.iter())
        .find(|l| l.contains("get a token with `"))
        .expect("the start line suggests a token command");
    let cmd = line.split("get a token with `").nth(1).unwrap();
    let cmd = cmd.split('`').next().unwrap();
    cmd.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_serve_suggests_posts_inventory_and_reads_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let cmd = suggested_token_command(&server);
    assert_eq!(cmd[0], "kbgap", "{cmd:?}");
    assert!(
        cmd.iter().any(|a| a == "--data-dir"),
        "a non-default data dir is named, or the token would be signed with another key: {cmd:?}"
    );
    // Run exactly what was suggested (the data dir from the hint, not from this test).
    let out = Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .args(&cmd[1..])
        .env_remove("KBGAP_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let client = reqwest::Client::new();
    let base = &server.base;
    let body = std::fs::read(repo(
        "fixtures/systeminfo/10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    let r = (client.post(format!("{base}/api/inventory")))
        .bearer_auth(&tok)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "posting inventory: {}",
        r.text().await.unwrap()
    );
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/api/machines/{id}/getmissingkbs"),
        "/api/machines".to_owned(),
        format!("/api/machines/{id}/software"),
        format!("/api/machines/{id}/vulnerabilities"),
        "/api/Software".to_owned(),
        "/api/vulnerabilities/machinesVulnerabilities".to_owned(),
    ] {
        let r = (client.get(format!("{base}{path}")))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }
}

/// A TCP server on 127.0.0.1 that accepts every connection and never sends a byte.
fn silent_listener() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    addr
}

#[test]
fn sync_against_a_silent_server_gives_up_within_30_s_naming_what_it_waited_for() {
    let addr = silent_listener();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["catalog", "sync", "--base-url"])
        .arg(format!("http://{addr}"))
        .arg("--kev-url")
        .arg(format!("http://{addr}/kev.json"))
        .env_remove("KBGAP_DB")
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(30), "took {took:?}: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        format!("http://{addr}/cvrf/v3.0/updates: gave up after 20 s"),
        format!("http://{addr}/kev.json: gave up after 20 s"),
        "the server sent nothing".to_owned(),
        "unchanged".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} not in: {stderr}");
    }
}
