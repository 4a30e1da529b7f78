//! The built `kbgap` binary on real files, each test with its own data dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        .output()
        .expect("run kbgap")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

fn fixture2020(name: &str) -> String {
    root()
        .join("fixtures/msrc-cvrf-2020")
        .join(name)
        .display()
        .to_string()
}

const MAR_0310: &str = "cvrfDocument-2020-Mar.at-2020-03-10.c94bea1.xml.gz";
const MAR_0404: &str = "cvrfDocument-2020-Mar.at-2020-04-04.79cc218.xml.gz";
const AUG: &str = "cvrfDocument-2019-Aug.at-2021-01-02.a1a252a.xml.gz";

#[test]
fn microsofts_kb4540673_example_from_the_2020_documents_in_either_order() {
    for order in [[MAR_0310, MAR_0404], [MAR_0404, MAR_0310]] {
        let dir = tempfile::tempdir().unwrap();
        let o = kbgap(
            dir.path(),
            &[
                "catalog",
                "import",
                &fixture2020(order[0]),
                &fixture2020(AUG),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let o = kbgap(dir.path(), &["catalog", "import", &fixture2020(order[1])]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = kbgap(dir.path(), &["kb", "4540673", "--format", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let kb = json(&o);
        assert_eq!(kb["name"], "March 2020 Security Updates");
        assert_eq!(kb["id"], "4540673");
        assert_eq!(kb["cveAddressed"], 97, "order {order:?}");
        assert_eq!(kb["cveAddressedBySoftware"]["edge"], 14);
        let docs: Vec<&str> = kb["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(docs, vec!["2019-Aug", "2020-Mar"]);
        assert!(
            kb["supersededBy"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "4551762")
        );
    }
}

#[test]
fn an_older_revision_changes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        kbgap(dir.path(), &["catalog", "import", &fixture2020(MAR_0404)])
            .status
            .success()
    );
    let o = kbgap(dir.path(), &["catalog", "import", &fixture2020(MAR_0310)]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("older than the stored revision"),
        "{}",
        stdout(&o)
    );
    let o = kbgap(dir.path(), &["catalog", "import", &fixture2020(MAR_0404)]);
    assert!(
        stdout(&o).contains("unchanged"),
        "re-import is idempotent: {}",
        stdout(&o)
    );
}

/// Each bad input fails, names the file, and leaves the stored catalog as it was.
#[test]
fn bad_catalog_input_is_refused_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = tempfile::tempdir().unwrap();
    assert!(
        kbgap(dir.path(), &["catalog", "import", &fixture2020(AUG)])
            .status
            .success()
    );
    let before = json(&kbgap(
        dir.path(),
        &["catalog", "stats", "--format", "json"],
    ));

    let zst = std::fs::read(root().join("data/msrc-cvrf/2020-Mar.xml.zst")).unwrap();
    let gz = std::fs::read(root().join("fixtures/msrc-cvrf-2020").join(MAR_0310)).unwrap();
    let mut xml = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut xml).unwrap();
    let cut = xml.iter().position(|&b| b == b'<').unwrap() + 20_001;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.xml.zst", zst[..zst.len() / 2].to_vec()),
        ("notgzip.xml.gz", b"this is not gzip".to_vec()),
        ("cut.xml", xml[..cut].to_vec()),
        (
            "notcvrf.xml",
            b"<?xml version=\"1.0\"?><feed><entry/></feed>".to_vec(),
        ),
        ("empty.xml", Vec::new()),
    ];
    for (name, bytes) in cases {
        let path = bad.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = kbgap(
            dir.path(),
            &[
                "catalog",
                "import",
                &fixture2020(MAR_0404),
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(
            stderr(&o).contains(name),
            "{name}: error names the file: {}",
            stderr(&o)
        );
        std::fs::remove_file(&path).unwrap();
    }
    let empty_dir = bad.path().join("nothing-here");
    std::fs::create_dir(&empty_dir).unwrap();
    let o = kbgap(
        dir.path(),
        &["catalog", "import", empty_dir.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing-here"), "{}", stderr(&o));

    let after = json(&kbgap(
        dir.path(),
        &["catalog", "stats", "--format", "json"],
    ));
    assert_eq!(before, after, "the catalog is intact and usable");
    assert_eq!(after["documents"], 1);
}

#[test]
fn scan_uses_the_bundled_catalog_and_answers_like_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let file = root().join("fixtures/systeminfo/10_22H2_x64_enterprise_en-us_systeminfo.txt");
    let o = kbgap(
        dir.path(),
        &["scan", "--format", "json", file.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "KBs missing → exit 1: {}",
        stderr(&o)
    );
    let r = json(&o);
    assert_eq!(r["device"]["osVersion"], "10.0.19045");
    assert_eq!(
        r["device"]["products"][0],
        "Windows 10 Version 22H2 for x64-based Systems"
    );
    assert_eq!(r["catalog"]["documents"], 190);
    assert_eq!(r["catalog"]["newest"], "2026-Jul");
    let value = r["value"].as_array().unwrap();
    assert!(!value.is_empty());
    for e in value {
        for key in [
            "id",
            "name",
            "osBuild",
            "productsNames",
            "url",
            "machineMissedOn",
            "cveAddressed",
        ] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
        assert_eq!(e["machineMissedOn"], 1);
    }
    // The stored catalog is reused: stats see the 190 bundled documents.
    let s = json(&kbgap(
        dir.path(),
        &["catalog", "stats", "--format", "json"],
    ));
    assert_eq!(s["documents"], 190);
    // Deterministic, byte for byte.
    let again = kbgap(
        dir.path(),
        &["scan", "--format", "json", file.to_str().unwrap()],
    );
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn scan_errors_exit_2_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.txt");
    std::fs::write(&bad, [0u8, 159, 146, 150, 0, 1, 2, 3, 255, 254, 0, 0]).unwrap();
    let o = kbgap(dir.path(), &["scan", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("garbage.txt"), "{}", stderr(&o));
}
