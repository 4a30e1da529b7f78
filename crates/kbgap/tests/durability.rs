//! Durability: every acknowledged report survives `kill -9`, and every answer is the same after
//! a restart. Runs the real `kbgap serve` on 127.0.0.1 with an ephemeral port.

mod common;

use common::{Server, corpus_files, token};
use serde_json::Value;

async fn answers(client: &reqwest::Client, base: &str, tok: &str, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let r = client.get(format!("{base}/api/machines/{id}/getmissingkbs")).bearer_auth(tok).send().await.unwrap();
        assert_eq!(r.status(), 200);
        out.push(r.json::<Value>().await.unwrap()["value"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_reports_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    let tok = token(dir.path(), "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All");
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for f in corpus_files() {
        let body = std::fs::read(&f).unwrap();
        let r = client
            .post(format!("{base}/api/inventory"))
            .bearer_auth(&tok)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(r.status(), 400, "{}", f.display());
        }
    }
    assert!(ids.len() >= 20, "most corpus machines are accepted: {}", ids.len());
    let before = answers(&client, &base, &tok, &ids).await;
    server.kill(); // SIGKILL: no graceful shutdown, no flush

    let server = Server::start(dir.path());
    let base = server.base.clone();
    let list: Value = client.get(format!("{base}/api/machines")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    let mut stored: Vec<String> =
        list["value"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    stored.sort();
    let mut expected = ids.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(stored, expected, "every acknowledged report is there");
    assert_eq!(answers(&client, &base, &tok, &ids).await, before, "every answer is the same");
    drop(server);
}
