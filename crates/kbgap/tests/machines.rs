//! `kbgap machines list|delete|purge`: the built binary on a store holding fresh and old
//! machines.
//!
//! Fresh machines are imported with `kbgap machines import`. Old ones cannot be: the store sets
//! `last_seen` to the time of the import (a report's own `lastSeen` is kept in the report, not
//! used as the store's clock), so a machine "not seen for 40 days" is one whose report was
//! stored 40 days ago. That is what the tests do, through the SQLite backend's public API and
//! the `now` argument every `Store::upsert_machines` takes — the store's injectable clock —
//! rather than through a test-only flag in the product or SQL written behind the store's back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use kbgap_inventory::{Format, Inventory};
use kbgap_store::{DEFAULT_SQLITE_FILE, Store};
use kbgap_store_sqlite::SqliteStore;
use serde_json::Value;

fn kbgap(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("KBGAP_DB")
        .env("COLUMNS", "80")
        .env("NO_COLOR", "1")
        .output()
        .expect("run kbgap")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Words joined by single spaces: summaries wrap at 80 columns, and a test checks their words.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn report(name: &str, build: u32) -> String {
    format!(
        r#"{{"computerDnsName":"{name}","osName":"Microsoft Windows 10 Enterprise",
            "osVersion":"10.0.{build}","ubr":5371,"installationType":"Client",
            "architecture":"x64","installedKbs":["KB5034441"]}}"#
    )
}

fn write_report(dir: &Path, name: &str, build: u32) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, report(name, build)).unwrap();
    path
}

/// Stores `name` as reported `days` ago, through the store's own API (see the module docs).
fn store_aged(data: &Path, name: &str, days: i64) {
    let Inventory::Device(device) =
        kbgap_inventory::read(report(name, 19045).as_bytes(), name, Format::Report).unwrap()
    else {
        panic!("a report is a device");
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&data.join(DEFAULT_SQLITE_FILE))
            .await
            .unwrap();
        let then = Utc::now() - TimeDelta::days(days);
        store.upsert_machine(device, then).await.unwrap();
        store.close().await;
    });
}

/// A data dir with PC-01 and SRV-02 imported now, WS-OLD seen 40 days ago, WS-ANCIENT 120.
fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let files = [
        write_report(data, "PC-01", 19045),
        write_report(data, "SRV-02", 17763),
    ];
    let files: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    ok(kbgap(data, &[&["machines", "import"], &files[..]].concat()));
    store_aged(data, "WS-OLD", 40);
    store_aged(data, "WS-ANCIENT", 120);
    dir
}

/// Computer names `machines list --format json` gives with `flags`, in order.
fn names(data: &Path, flags: &[&str]) -> Vec<String> {
    let out = ok(kbgap(
        data,
        &[&["machines", "list", "--format", "json"], flags].concat(),
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    (v["value"].as_array().unwrap().iter())
        .map(|m| m["computerDnsName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn list_hides_a_machine_unseen_for_40_days_and_inactive_shows_it() {
    let dir = fleet();
    let data = dir.path();
    let table = ok(kbgap(data, &["machines", "list"]));
    assert!(
        table.contains("PC-01") && table.contains("SRV-02"),
        "{table}"
    );
    assert!(
        !table.contains("WS-OLD"),
        "inactive is hidden by default: {table}"
    );
    assert!(
        flat(&table).contains("2 active machines; 2 inactive not shown"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");

    let inactive = ok(kbgap(data, &["machines", "list", "--inactive"]));
    assert!(
        inactive.contains("WS-OLD") && inactive.contains("WS-ANCIENT"),
        "{inactive}"
    );
    assert!(!inactive.contains("PC-01"), "{inactive}");
    assert!(
        flat(&inactive).contains("2 inactive machines"),
        "{inactive}"
    );
    assert!(
        inactive.contains(" 40  inactive"),
        "age in days and status: {inactive}"
    );

    assert_eq!(
        names(data, &["--all"]),
        ["PC-01", "SRV-02", "WS-ANCIENT", "WS-OLD"]
    );
    let v: Value = serde_json::from_str(&ok(kbgap(
        data,
        &["machines", "list", "--inactive", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(v["value"][1]["healthStatus"], "Inactive");
    assert_eq!(v["value"][1]["lastSeenDays"], 40);

    let csv = ok(kbgap(
        data,
        &["machines", "list", "--all", "--format", "csv"],
    ));
    assert!(csv.starts_with("id,computerDnsName,"), "{csv}");
    assert_eq!(csv.lines().count(), 5, "{csv}");

    let both = kbgap(data, &["machines", "list", "--inactive", "--all"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "--inactive and --all exclude each other"
    );
}

#[test]
fn delete_by_name_is_case_insensitive_and_by_id_works() {
    let dir = fleet();
    let data = dir.path();
    let out = ok(kbgap(data, &["machines", "delete", "pc-01", "ws-old"]));
    assert!(out.contains("PC-01") && out.contains("WS-OLD"), "{out}");
    assert!(flat(&out).contains("2 machines deleted from"), "{out}");
    assert_eq!(names(data, &["--all"]), ["SRV-02", "WS-ANCIENT"]);

    let v: Value =
        serde_json::from_str(&ok(kbgap(data, &["machines", "list", "--format", "json"]))).unwrap();
    let id = v["value"][0]["id"].as_str().unwrap().to_uppercase();
    let out = ok(kbgap(data, &["machines", "delete", &id]));
    assert!(flat(&out).contains("1 machine deleted"), "{out}");
    assert_eq!(names(data, &["--all"]), ["WS-ANCIENT"]);
}

#[test]
fn delete_of_an_unknown_name_deletes_nothing_and_exits_2() {
    let dir = fleet();
    let data = dir.path();
    let o = kbgap(data, &["machines", "delete", "PC-01", "nobody", "ghost"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("\"nobody\" and \"ghost\""),
        "names the unknown ones: {err}"
    );
    assert!(flat(&err).contains("nothing was deleted"), "{err}");
    assert!(!stdout(&o).contains("deleted"), "{}", stdout(&o));
    assert_eq!(names(data, &["--all"]).len(), 4, "PC-01 is still there");
}

#[test]
fn purge_dry_run_deletes_nothing_and_purge_deletes_exactly_the_old_ones() {
    let dir = fleet();
    let data = dir.path();
    let dry = ok(kbgap(
        data,
        &["machines", "purge", "--older-than", "12w", "--dry-run"],
    ));
    assert!(
        dry.contains("WS-ANCIENT") && !dry.contains("WS-OLD"),
        "{dry}"
    );
    assert!(flat(&dry).contains("1 machine not seen since"), "{dry}");
    assert!(flat(&dry).contains("dry run: nothing was deleted"), "{dry}");
    assert_eq!(names(data, &["--all"]).len(), 4);

    let out = ok(kbgap(data, &["machines", "purge", "--older-than", "840h"]));
    assert!(
        out.contains("WS-ANCIENT") && out.contains("WS-OLD"),
        "{out}"
    );
    assert!(flat(&out).contains("2 machines not seen since"), "{out}");
    assert_eq!(names(data, &["--all"]), ["PC-01", "SRV-02"]);

    let none = ok(kbgap(data, &["machines", "purge", "--older-than", "90d"]));
    assert!(flat(&none).contains("0 machines not seen since"), "{none}");
}

#[test]
fn a_10d_purge_without_force_is_refused() {
    let dir = fleet();
    let data = dir.path();
    let o = kbgap(data, &["machines", "purge", "--older-than", "10d"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        flat(&err).contains("--older-than 10d is under 30 days"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(names(data, &["--all"]).len(), 4, "nothing was deleted");

    let forced = ok(kbgap(
        data,
        &["machines", "purge", "--older-than", "10d", "--force"],
    ));
    assert!(
        flat(&forced).contains("2 machines not seen since"),
        "{forced}"
    );

    let bad = kbgap(data, &["machines", "purge", "--older-than", "90"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("90d (days)"), "{}", stderr(&bad));
}
