//! Issued tokens end to end: `kbgap token` records them, `kbgap token list` shows them, and a
//! `kbgap token revoke` made by another process is honoured by a running `kbgap serve` within
//! seconds (its cached verification included), on SQLite and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A data dir, and the PostgreSQL database when the test runs there.
struct Target {
    dir: tempfile::TempDir,
    db: Option<String>,
}

impl Target {
    /// A store holding one catalog document, so the server starts without importing the
    /// bundled catalog.
    fn new(db: Option<String>) -> Self {
        let t = Target {
            dir: tempfile::tempdir().unwrap(),
            db,
        };
        let o = t.kbgap(&[
            "--quiet",
            "catalog",
            "import",
            repo("data/msrc-cvrf/2026-Jan.xml.zst").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        t
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn db_args(&self) -> Vec<&str> {
        self.db.as_deref().map_or(vec![], |u| vec!["--db", u])
    }

    fn kbgap(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kbgap"))
            .arg("--data-dir")
            .arg(self.data())
            .args(self.db_args())
            .args(args)
            .env_remove("KBGAP_DB")
            .env("COLUMNS", "80")
            .output()
            .unwrap()
    }

    fn token(&self, args: &[&str]) -> String {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        let o = self.kbgap(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_owned()
    }

    /// `kbgap token list --all --format json`'s entries.
    fn listed(&self) -> Vec<Value> {
        let o = self.kbgap(&["token", "list", "--all", "--format", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["value"].as_array().unwrap().clone()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `jti` inside a JWT, read from its payload.
fn jti_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["jti"].as_str().unwrap().to_owned()
}

async fn status(client: &reqwest::Client, base: &str, tok: &str) -> (u16, String) {
    let r = client
        .get(format!("{base}/api/machines"))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls until the token is refused; the time it took.
async fn refused_within(
    client: &reqwest::Client,
    base: &str,
    tok: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let (code, body) = status(client, base, tok).await;
        if code == 401 {
            assert!(body.contains("revoked"), "{body}");
            return start.elapsed();
        }
        assert_eq!(code, 200, "{body}");
        assert!(start.elapsed() < limit, "still accepted after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn revocation_story(db: Option<String>) {
    let t = Target::new(db);
    let mut args = t.db_args();
    args.extend(["--catalog-poll", "60"]);
    let server = Server::start_with(t.data(), &args);
    let client = reqwest::Client::new();
    let kept = t.token(&["--roles", "Machine.Read.All"]);
    let doomed = t.token(&["--roles", "Machine.Read.All", "--app", "leaked"]);
    // Verified once, then answered from the verified-token cache.
    for tok in [&kept, &doomed, &doomed] {
        assert_eq!(status(&client, &server.base, tok).await.0, 200);
    }

    let jti = jti_of(&doomed);
    let o = t.kbgap(&["token", "revoke", &jti[..12]]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("revoked token {jti}")),
        "{}",
        stderr(&o)
    );
    let took = refused_within(&client, &server.base, &doomed, Duration::from_secs(5)).await;
    eprintln!("revoked token refused after {took:?}");
    assert_eq!(
        status(&client, &server.base, &kept).await.0,
        200,
        "only that token"
    );

    // A cut-off reaches every token issued before it, recorded or not.
    let o = t.kbgap(&["token", "revoke", "--issued-before", "now"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 recorded token newly revoked"),
        "{}",
        stderr(&o)
    );
    refused_within(&client, &server.base, &kept, Duration::from_secs(5)).await;
    // The cut-off is rounded up to a whole second (`iat` has no finer grain).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = t.token(&["--roles", "Machine.Read.All"]);
    assert_eq!(
        status(&client, &server.base, &fresh).await.0,
        200,
        "issued after the cut-off"
    );

    // A restarted server reads the list before it opens its port.
    drop(server);
    let server = Server::start_with(t.data(), &args);
    assert_eq!(status(&client, &server.base, &doomed).await.0, 401);
    assert_eq!(status(&client, &server.base, &fresh).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_a_running_server_within_5_s_on_sqlite() {
    revocation_story(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_a_running_server_within_5_s_on_postgres() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("skipped: KBGAP_TEST_DATABASE_URL is unset (see .ci/start-postgres.sh)");
        return;
    };
    let scratch = kbgap_store_postgres::ScratchDatabase::create(&base)
        .await
        .unwrap();
    let story = tokio::spawn(revocation_story(Some(scratch.url().to_owned()))).await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = story {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[test]
fn list_and_revoke_behaviour_and_exit_codes() {
    let t = Target {
        dir: tempfile::tempdir().unwrap(),
        db: None,
    };
    let o = t.kbgap(&["token", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no tokens to show"), "{}", stdout(&o));

    let bound = t.token(&[
        "--roles",
        "Inventory.Submit",
        "--machine",
        "PC-01",
        "--app",
        "collector",
    ]);
    let reader = t.token(&[
        "--roles",
        "Machine.Read.All,Software.Read.All",
        "--ttl",
        "2h",
    ]);
    let listed = t.listed();
    assert_eq!(listed.len(), 2);
    // Listed oldest first, then by jti: two tokens signed in one second come in jti order.
    let by_jti = |listed: &[Value], token: &str| {
        let jti = jti_of(token);
        (listed.iter())
            .find(|v| v["jti"] == jti.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{jti} not listed: {listed:?}"))
    };
    let (b, r) = (&by_jti(&listed, &bound), &by_jti(&listed, &reader));
    assert_eq!(b["subject"], "collector");
    assert_eq!(b["roles"], serde_json::json!(["Inventory.Submit"]));
    assert_eq!(b["machine"], "PC-01");
    assert_eq!(b["status"], "active");
    let secs = |v: &Value, k: &str| {
        chrono::DateTime::parse_from_rfc3339(v[k].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    assert_eq!(
        secs(b, "expiresAt") - secs(b, "issuedAt"),
        90 * 86_400,
        "Inventory.Submit default"
    );
    assert_eq!(secs(r, "expiresAt") - secs(r, "issuedAt"), 2 * 3_600);

    // Lifetimes past the role's maximum are refused, and nothing is recorded.
    let o = t.kbgap(&["token", "--roles", "Machine.ReadWrite.All", "--ttl", "30d"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("(7d)"), "{}", stderr(&o));
    assert_eq!(t.listed().len(), 2);

    // The table fits 80 columns and shows ids `revoke` takes.
    let o = t.kbgap(&["token", "list"]);
    let table = stdout(&o);
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    let short = &jti_of(&reader)[..12];
    assert!(table.contains(short), "{table}");
    assert!(table.contains("2 tokens: 2 active"), "{table}");

    let o = t.kbgap(&["token", "revoke", short]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = t.kbgap(&["token", "revoke", &jti_of(&reader)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("already revoked"), "{}", stderr(&o));
    assert_eq!(by_jti(&t.listed(), &reader)["status"], "revoked");

    for (args, expected) in [
        (
            vec!["token", "revoke", "0123456789abcdef"],
            "no issued token",
        ),
        (vec!["token", "revoke", "abc"], "at least 8"),
        (
            vec!["token", "revoke", "--issued-before", "2999-01-01"],
            "in the future",
        ),
        (
            vec!["token", "revoke", "--issued-before", "yesterday"],
            "not a date",
        ),
    ] {
        let o = t.kbgap(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
    let o = t.kbgap(&["token", "revoke"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a jti or --issued-before is required"
    );

    let o = t.kbgap(&["token", "list", "--format", "csv"]);
    let csv = stdout(&o);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("jti,subject,roles,machine,issuedAt,expiresAt,revokedAt,status")
    );
    assert_eq!(lines.count(), 2);
}
