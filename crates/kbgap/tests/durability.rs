//! Durability: every acknowledged report survives `kill -9`, and every answer is the same after
//! a restart. Runs the real `kbgap serve` on 127.0.0.1 with an ephemeral port.

mod common;

use common::{Server, corpus_files, token};
use serde_json::Value;

async fn answers(client: &reqwest::Client, base: &str, tok: &str, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let url = format!("{base}/api/machines/{id}/getmissingkbs");
        out.push(get_json(client, &url, tok).await["value"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_reports_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    let tok = token(
        dir.path(),
        "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All",
    );
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for f in corpus_files() {
        let body = std::fs::read(&f).unwrap();
        let r = post(&client, &base, &tok, "text/plain", body).await;
        if r.status() == 200 {
            ids.push(
                r.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        } else {
            assert_eq!(r.status(), 400, "{}", f.display());
        }
    }
    assert!(
        ids.len() >= 20,
        "most corpus machines are accepted: {}",
        ids.len()
    );
    let before = answers(&client, &base, &tok, &ids).await;
    server.kill(); // SIGKILL: no graceful shutdown, no flush

    let server = Server::start(dir.path());
    let base = server.base.clone();
    let list = get_json(&client, &format!("{base}/api/machines"), &tok).await;
    let mut stored: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    let mut expected = ids.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(stored, expected, "every acknowledged report is there");
    assert_eq!(
        answers(&client, &base, &tok, &ids).await,
        before,
        "every answer is the same"
    );
    drop(server);
}

async fn get_json(client: &reqwest::Client, url: &str, tok: &str) -> Value {
    let r = client.get(url).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    tok: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client
        .post(format!("{base}/api/inventory"))
        .bearer_auth(tok)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn report(name: &str, ubr: u32) -> String {
    serde_json::json!({
        "computerDnsName": name, "osVersion": "10.0.19045", "ubr": ubr,
        "installationType": "Client", "architecture": "x64", "installedKbs": []
    })
    .to_string()
}

/// Concurrent reports share commits (group commit in the server): each acknowledged one is
/// stored exactly once, a host reported many times at once is one machine, and all of it
/// survives `kill -9`.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_reports_are_each_committed_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let base = server.base.clone();
    let tok = token(dir.path(), "Machine.ReadWrite.All,Machine.Read.All");
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..96u32 {
        // 64 distinct hosts, and one host reported 32 times with different UBRs.
        let body = if i < 64 {
            report(&format!("host{i}.corp.example"), 2000 + i)
        } else {
            report("same.corp.example", 3000 + i)
        };
        let (client, base, tok) = (client.clone(), base.clone(), tok.clone());
        tasks.spawn(async move {
            let r = post(&client, &base, &tok, "application/json", body.into()).await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(id) = tasks.join_next().await {
        ids.insert(id.unwrap());
    }
    assert_eq!(ids.len(), 65, "64 hosts and one host reported 32 times");
    server.kill();

    let server = Server::start(dir.path());
    let url = format!("{}/api/machines?$count=true", server.base);
    let list = get_json(&client, &url, &tok).await;
    assert_eq!(list["@odata.count"], 65);
    let stored: std::collections::BTreeSet<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, ids);
}
