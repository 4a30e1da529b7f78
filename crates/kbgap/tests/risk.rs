//! The risk data through the CLI on real documents: the KEV feed synced from a server on
//! 127.0.0.1 (a bad feed changes nothing), and a document revision that changes an exploit
//! status replacing it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kbgap(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("KBGAP_DB")
        .env_remove("KBGAP_KEV_URL")
        .env_remove("KBGAP_MSRC_URL")
        .output()
        .expect("run kbgap")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stats(data: &Path) -> Value {
    let o = kbgap(data, &["catalog", "stats", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The bundled KEV feed as CISA publishes it, released a week later with one more entry.
fn later_kev() -> String {
    let zst = std::fs::read(root().join("data/cisa-kev/known_exploited_vulnerabilities.json.zst"))
        .unwrap();
    let mut feed: Value = serde_json::from_slice(&zstd::decode_all(&zst[..]).unwrap()).unwrap();
    feed["catalogVersion"] = "2025.09.01".into();
    feed["dateReleased"] = "2025-09-01T15:00:00.000Z".into();
    let mut extra = feed["vulnerabilities"][0].clone();
    extra["cveID"] = "CVE-2025-26663".into();
    extra["dueDate"] = "2025-09-22".into();
    feed["vulnerabilities"].as_array_mut().unwrap().push(extra);
    feed.to_string()
}

/// Serves an empty MSRC updates index and KEV feeds good and bad, on 127.0.0.1.
fn serve(kev: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let json = || [(header::CONTENT_TYPE, "application/json")];
            let app = Router::new()
                .route(
                    "/cvrf/v3.0/updates",
                    get(move || async move { (json(), r#"{"value":[]}"#) }),
                )
                .route("/kev.json", get(move || async move { (json(), kev) }))
                .route(
                    "/html",
                    get(|| async { "<!DOCTYPE html><html><body>Maintenance</body></html>" }),
                )
                .route(
                    "/down",
                    get(|| async { StatusCode::SERVICE_UNAVAILABLE.into_response() }),
                );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

#[test]
fn catalog_sync_fetches_the_kev_feed_and_a_bad_feed_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let s = stats(data);
    assert_eq!(
        s["kevVersion"], "2025.08.25",
        "the bundled copy at first: {s}"
    );
    assert_eq!(s["kevEntries"], 1404);
    let base = serve(later_kev());

    let sync = |kev: &str| {
        kbgap(
            data,
            &[
                "-q",
                "catalog",
                "sync",
                "--base-url",
                &base,
                "--kev-url",
                &format!("{base}{kev}"),
            ],
        )
    };
    let o = sync("/kev.json");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .contains("KEV catalog 2025.09.01 (released 2025-09-01, 1405 entries): stored")
    );
    let s = stats(data);
    assert_eq!(
        (s["kevVersion"].as_str(), s["kevEntries"].as_u64()),
        (Some("2025.09.01"), Some(1405))
    );

    for (path, says) in [("/html", "not a CISA KEV catalog"), ("/down", "503")] {
        let o = sync(path);
        assert_eq!(o.status.code(), Some(2), "{path}");
        let err = text(&o.stderr);
        assert!(
            err.contains(says) && err.contains("the stored KEV catalog is unchanged"),
            "{err}"
        );
        assert_eq!(
            stats(data)["kevVersion"],
            "2025.09.01",
            "{path} left the stored copy"
        );
    }

    // The same through import: a file that is not KEV JSON names itself and changes nothing;
    // an older release is refused and says which copy is newer.
    let bad = data.join("not-kev.json");
    std::fs::write(&bad, "{\"value\": []}").unwrap();
    let o = kbgap(data, &["catalog", "import", "--kev", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not-kev.json: not a CISA KEV catalog"),
        "{}",
        text(&o.stderr)
    );
    let bundled = data.join("kev.json");
    let zst = std::fs::read(root().join("data/cisa-kev/known_exploited_vulnerabilities.json.zst"))
        .unwrap();
    std::fs::write(&bundled, zstd::decode_all(&zst[..]).unwrap()).unwrap();
    let o = kbgap(
        data,
        &["catalog", "import", "--kev", bundled.to_str().unwrap()],
    );
    assert!(o.status.success());
    assert!(
        text(&o.stdout)
            .contains("the stored KEV catalog 2025.09.01 (released 2025-09-01) is newer"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(stats(data)["kevVersion"], "2025.09.01");
}

/// What `scan --cves` says of one CVE on a Windows 10 22H2 machine of March 2025.
fn detail(data: &Path, cve: &str) -> (Value, Value) {
    let report = data.join("w10.json");
    std::fs::write(
        &report,
        r#"{"computerDnsName":"w10","osVersion":"10.0.19045","ubr":5608,"installationType":"Client","architecture":"x64","installedKbs":[]}"#,
    )
    .unwrap();
    let o = kbgap(
        data,
        &[
            "scan",
            "--format",
            "json",
            "--cves",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = (v["value"].as_array().unwrap().iter())
        .find(|e| e["cves"].as_array().unwrap().iter().any(|c| c == cve))
        .unwrap_or_else(|| panic!("no entry closes {cve}: {v}"))
        .clone();
    let d = (entry["cveDetails"].as_array().unwrap().iter())
        .find(|d| d["id"] == cve)
        .unwrap()
        .clone();
    (entry, d)
}

#[test]
fn a_newer_revision_replaces_an_exploit_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let xml = text(
        &zstd::decode_all(
            &std::fs::read(root().join("data/msrc-cvrf/2025-Apr.xml.zst")).unwrap()[..],
        )
        .unwrap(),
    );
    let first = data.join("2025-Apr.xml");
    std::fs::write(&first, &xml).unwrap();
    let o = kbgap(data, &["catalog", "import", first.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cve = "CVE-2025-26663";
    let (entry, d) = detail(data, cve);
    assert_eq!(d["exploited"], false, "2025-Apr says Exploited:No");
    assert!(
        !entry["exploitedCves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == cve)
    );

    // MSRC revises the document: the CVE is now exploited.
    let at = xml.find(&format!("<vuln:CVE>{cve}</vuln:CVE>")).unwrap();
    let status = at + xml[at..].find("Exploited:No").unwrap();
    let mut revised = String::new();
    revised.push_str(&xml[..status]);
    revised.push_str("Exploited:Yes");
    revised.push_str(&xml[status + "Exploited:No".len()..]);
    let revised = revised.replacen(
        "<cvrf:CurrentReleaseDate>2026-06-28T01:58:37</cvrf:CurrentReleaseDate>",
        "<cvrf:CurrentReleaseDate>2026-11-30T08:00:00</cvrf:CurrentReleaseDate>",
        1,
    );
    assert_ne!(revised, xml);
    let second = data.join("2025-Apr-revised.xml");
    std::fs::write(&second, &revised).unwrap();
    let o = kbgap(data, &["catalog", "import", second.to_str().unwrap()]);
    assert!(text(&o.stdout).contains("replaced"), "{}", text(&o.stdout));
    let (entry, d) = detail(data, cve);
    assert_eq!(
        d["exploited"], true,
        "the newer revision's exploit status replaced the old one"
    );
    assert!(
        entry["exploitedCves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == cve)
    );
}
