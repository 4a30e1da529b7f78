//! Several `kbgap serve` processes on one store stay consistent: two real replicas on one
//! PostgreSQL database (skipped when `KBGAP_TEST_DATABASE_URL` is unset) see each other's
//! reports, deletes and tokens within 2 s, also after losing their notification connection;
//! and on SQLite a running server picks up `kbgap machines import` run by another process.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};

/// How soon a change made through one replica must show on the other.
const WITHIN: Duration = Duration::from_secs(2);

const READ_ROLES: &str = "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All";

/// `kbgap --data-dir DATA [--db URL] ARGS…` as another process.
fn kbgap(data: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbgap"));
    cmd.arg("--data-dir").arg(data).arg("--quiet");
    if let Some(db) = db {
        cmd.args(["--db", db]);
    }
    cmd.args(args)
        .env_remove("KBGAP_DB")
        .env_remove("KBGAP_SIGNING_KEY")
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn token(data: &Path, db: Option<&str>) -> String {
    ok(kbgap(data, db, &["token", "--roles", READ_ROLES]))
        .trim()
        .to_owned()
}

/// A JSON machine report of a Windows 10 22H2 machine at `ubr`.
fn report(name: &str, ubr: u32) -> Value {
    json!({
        "computerDnsName": name,
        "osName": "Microsoft Windows 10 Enterprise",
        "osVersion": "10.0.19045",
        "ubr": ubr,
        "installationType": "Client",
        "architecture": "x64",
        "installedKbs": [],
        "software": [],
    })
}

/// One replica's base URL and a client with a token it accepts.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &Server, token: &str) -> Self {
        Self {
            base: server.base.clone(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = (self.http.get(format!("{}{path}", self.base)))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(status, 200, "GET {path} on {}: {v}", self.base);
        v
    }

    /// Posts a report; gives back the stored machine's id.
    async fn post(&self, report: &Value) -> String {
        let r = (self.http.post(format!("{}/api/inventory", self.base)))
            .bearer_auth(&self.token)
            .json(report)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST to {}", self.base);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// Every listed machine, by id, as the API shows it.
    async fn machines(&self) -> Vec<Value> {
        let v = self.ok("/api/machines").await;
        v["value"].as_array().unwrap().clone()
    }

    async fn has(&self, id: &str) -> bool {
        self.machines().await.iter().any(|m| m["id"] == id)
    }
}

/// Waits (polling every 20 ms) until `check` holds, for at most `limit`; gives back how long.
async fn until<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `serve` on PostgreSQL `db` with a slow poll: what arrives within 2 s came by notification
/// (or by the catch-up after a lost one), not by polling.
fn replica(data: &Path, db: &str) -> Server {
    Server::start_with(data, &["--db", db, "--catalog-poll", "60"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgres_share_reports_deletes_and_tokens() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("skipped: KBGAP_TEST_DATABASE_URL is unset (see .ci/start-postgres.sh)");
        return;
    };
    let scratch = kbgap_store_postgres::ScratchDatabase::create(&base)
        .await
        .unwrap();
    let story = tokio::spawn(replicas_story(scratch.url().to_owned())).await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = story {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn replicas_story(db: String) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // B's data dir already has a key of its own (from a SQLite start): on PostgreSQL the
    // shared key wins, and tokens of B's own key are refused.
    let b_local = token(dir_b.path(), None);
    let a = replica(dir_a.path(), &db);
    let b = replica(dir_b.path(), &db);
    let shared = token(dir_a.path(), Some(&db));
    let (api_a, api_b) = (Api::new(&a, &shared), Api::new(&b, &shared));
    assert_eq!(api_b.ok("/api/machines").await["value"], json!([]));
    let refused = Api::new(&b, &b_local).get("/api/machines").await.0;
    assert_eq!(refused, 401, "a token of B's own data-dir key is refused");
    let logged = b.log.lock().unwrap().join("\n");
    assert!(
        logged.contains("is not the signing key the servers of"),
        "B says its data-dir key is not used:\n{logged}"
    );

    // A report acknowledged by A shows on B: list, getmissingkbs, software.
    let id = api_a.post(&report("replica-one", 7058)).await;
    let took = until(WITHIN, "A's report on B", || api_b.has(&id)).await;
    eprintln!("A → B: {took:?}");
    let path = format!("/api/machines/{id}/getmissingkbs");
    let (on_a, on_b) = (api_a.ok(&path).await, api_b.ok(&path).await);
    assert!(!on_a["value"].as_array().unwrap().is_empty());
    assert_eq!(on_a["value"], on_b["value"], "same KBs and machineMissedOn");
    let sw = "/api/Software/microsoft-_-windows_10/getmissingkbs";
    assert_eq!(api_a.ok(sw).await["value"], api_b.ok(sw).await["value"]);
    let one = "/api/Software/microsoft-_-windows_10";
    assert_eq!(api_b.ok(one).await["installedMachines"], 1);

    // And the other way round.
    let id2 = api_b.post(&report("replica-two", 6456)).await;
    until(WITHIN, "B's report on A", || api_a.has(&id2)).await;
    assert_eq!(api_a.ok(one).await["installedMachines"], 2);

    concurrent_writes_agree(&api_a, &api_b).await;

    // A delete by the CLI, another process, is gone from both.
    ok(kbgap(
        dir_a.path(),
        Some(&db),
        &["machines", "delete", "replica-one"],
    ));
    for api in [&api_a, &api_b] {
        until(WITHIN, "the deleted machine gone", || async {
            api.get(&format!("/api/machines/{id}")).await.0 == 404
        })
        .await;
    }

    lost_notifications_are_caught_up(&db, &b, &api_a, &api_b).await;
    drop((a, b));
}

/// Reports posted to both replicas at once, some for the same machines, end the same on both.
async fn concurrent_writes_agree(api_a: &Api, api_b: &Api) {
    let mut tasks = Vec::new();
    for (side, api) in [(0u32, api_a), (1, api_b)] {
        for worker in 0..3u32 {
            let (base, token) = (api.base.clone(), api.token.clone());
            tasks.push(tokio::spawn(async move {
                let api = Api {
                    base,
                    token,
                    http: reqwest::Client::new(),
                };
                for i in 0..40u32 {
                    // Names 0..20 are posted through both replicas.
                    let name = if i < 20 {
                        format!("shared-{worker}-{i}")
                    } else {
                        format!("side{side}-{worker}-{i}")
                    };
                    api.post(&report(&name, 6000 + side * 100 + i)).await;
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = until(WITHIN, "both replicas list the same machines", || async {
        let (a, b) = (api_a.machines().await, api_b.machines().await);
        a.len() == 2 + 3 * 20 + 2 * 3 * 20 && a == b
    })
    .await;
    eprintln!("concurrent writes converged after {took:?}");
    let sw = "/api/Software/microsoft-_-windows_10/getmissingkbs";
    assert_eq!(api_a.ok(sw).await["value"], api_b.ok(sw).await["value"]);
}

/// B's LISTEN connection is terminated; a report posted meanwhile still reaches B, and later
/// ones arrive by notification again.
async fn lost_notifications_are_caught_up(db: &str, b: &Server, api_a: &Api, api_b: &Api) {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(db).await.unwrap();
    let name = format!("kbgap-notify pid={}", b.child.id());
    let listener_pid = || async {
        let mut c = sqlx::PgConnection::connect(db).await.unwrap();
        let pids: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
                .bind(&name)
                .fetch_all(&mut c)
                .await
                .unwrap();
        pids
    };
    let before = listener_pid().await;
    assert_eq!(before.len(), 1, "B listens on one connection: {before:?}");
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(before[0])
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(killed);
    let id = api_a.post(&report("after-the-cut", 7000)).await;
    let took = until(WITHIN, "a report posted while B was cut off", || {
        api_b.has(&id)
    })
    .await;
    eprintln!("caught up after the cut: {took:?}");
    until(Duration::from_secs(5), "B listening again", || async {
        let now = listener_pid().await;
        now.len() == 1 && now != before
    })
    .await;
    let logged = b.log.lock().unwrap().join("\n");
    assert!(
        logged.contains("notification connection was lost"),
        "B noticed:\n{logged}"
    );
    let id = api_a.post(&report("after-reconnect", 7001)).await;
    until(WITHIN, "a report after B reconnected", || api_b.has(&id)).await;
}

/// On SQLite, `machines import` and `machines delete` run by other processes reach a running
/// server within its poll interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_machines_import_reaches_a_running_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = Server::start_with(data, &["--catalog-poll", "1"]);
    let api = Api::new(&server, &token(data, None));
    assert_eq!(api.machines().await.len(), 0);
    let file = data.join("fleet.ndjson");
    let lines: Vec<String> = (0..25)
        .map(|i| report(&format!("imported-{i:02}"), 6000 + i).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    ok(kbgap(
        data,
        None,
        &["machines", "import", file.to_str().unwrap()],
    ));
    let took = until(
        Duration::from_secs(5),
        "the imported machines listed",
        || async { api.machines().await.len() == 25 },
    )
    .await;
    eprintln!("import reached the server after {took:?}");
    let one = "/api/Software/microsoft-_-windows_10";
    assert_eq!(api.ok(one).await["installedMachines"], 25);
    let first = api.machines().await[0]["id"].as_str().unwrap().to_owned();
    let missed = api
        .ok(&format!("/api/machines/{first}/getmissingkbs"))
        .await;
    assert!(!missed["value"].as_array().unwrap().is_empty());

    ok(kbgap(
        data,
        None,
        &["machines", "delete", "imported-00", "imported-01"],
    ));
    until(
        Duration::from_secs(5),
        "the deleted machines gone",
        || async { api.machines().await.len() == 23 },
    )
    .await;
    assert_eq!(api.ok(one).await["installedMachines"], 23);
    // The server's own reports keep working beside the other process's writes.
    let id = api.post(&report("posted", 7058)).await;
    assert!(api.has(&id).await);
}
