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
    // Which copy is newer and why, the release dates first.
    assert!(
        stdout(&o).contains("2020-Mar revision 1: not imported, the stored copy is newer: the stored copy \
             (revision 11) was released 2020-04-01, after this one (released 2020-03-10); nothing changed"),
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

fn corpus(name: &str) -> String {
    root()
        .join("fixtures/systeminfo")
        .join(name)
        .display()
        .to_string()
}

const XP: &str = "xp_sp3_x86_professional_en-us_systeminfo.txt";
const WIN10: &str = "10_22H2_x64_enterprise_en-us_systeminfo.txt";

/// A real Windows XP systeminfo: accepted, the finding in plain words, exit 3.
#[test]
fn scan_of_windows_xp_says_it_is_out_of_support_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let o = kbgap(dir.path(), &["scan", &corpus(XP)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // The table wraps the finding to the width: compare the words.
    let out = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains(
            "out of support: Windows XP Service Pack 3 (5.1.2600) is out of support: Microsoft ended \
             its support in April 2014, and MSRC's security-update documents (from 2016) cover no XP \
             release. No security update is listed for it, so kbgap cannot tell what it misses; \
             upgrade it to a supported Windows release."
        ),
        "{out}"
    );
    assert!(!out.contains("nothing missing"), "{out}");

    // JSON: the device says why, the value is empty, stderr names the file and the finding.
    let o = kbgap(dir.path(), &["scan", "--format", "json", &corpus(XP)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = json(&o);
    assert!(
        r["device"]["endOfSupport"]
            .as_str()
            .unwrap()
            .starts_with("Windows XP Service Pack 3 (5.1.2600) is out of support"),
        "{r}"
    );
    assert_eq!(r["device"]["products"], serde_json::json!([]));
    assert_eq!(r["value"], serde_json::json!([]));
    assert!(
        stderr(&o).contains(XP) && stderr(&o).contains("is out of support"),
        "{}",
        stderr(&o)
    );
}

/// Over several files: an error (2) wins, then out of support (3), then missing KBs (1).
#[test]
fn scan_exit_code_precedence_over_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let o = kbgap(dir.path(), &["scan", &corpus(WIN10), &corpus(XP)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let bad = dir.path().join("garbage.txt");
    std::fs::write(&bad, [0u8, 159, 146, 150, 0, 1, 2, 3, 255, 254, 0, 0]).unwrap();
    let o = kbgap(
        dir.path(),
        &["scan", &corpus(XP), bad.to_str().unwrap(), &corpus(WIN10)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = kbgap(dir.path(), &["scan", &corpus(WIN10)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn help_documents_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["scan", "--help"][..]] {
        let o = kbgap(dir.path(), args);
        assert!(o.status.success());
        let text = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("2 error, 3"), "{args:?}: {text}");
        assert!(text.contains("out of support"), "{args:?}: {text}");
    }
}

/// `device.installedKbs` is a list of digit strings, as the machine report spells KBs.
#[test]
fn scan_json_installed_kbs_are_digit_strings() {
    let dir = tempfile::tempdir().unwrap();
    let o = kbgap(dir.path(), &["scan", "--format", "json", &corpus(WIN10)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    let kbs = r["device"]["installedKbs"].as_array().unwrap();
    assert!(!kbs.is_empty());
    for kb in kbs {
        let s = kb
            .as_str()
            .unwrap_or_else(|| panic!("{kb} is not a string"));
        assert!(
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
    }
    // The systeminfo file's own hotfix list, in order.
    let text = std::fs::read_to_string(corpus(WIN10)).unwrap();
    let listed: Vec<String> = text
        .split("KB")
        .skip(1)
        .filter_map(|t| {
            let d: String = t.chars().take_while(char::is_ascii_digit).collect();
            (!d.is_empty()).then_some(d)
        })
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_by_key(|k| k.parse::<u32>().unwrap());
    listed_sorted.dedup();
    let got: Vec<&str> = kbs.iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(got, listed_sorted);
}

/// Software kbgap does not evaluate is named in one warning; the .NET runtime that matched and
/// the OS itself are not.
#[test]
fn scan_names_software_it_does_not_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let mut software: Vec<String> = vec![
        r#"{"vendor":"Microsoft Corporation","name":"Microsoft .NET Framework 4.8.1","version":"4.8.09032"}"#.into(),
        r#"{"vendor":"Microsoft Corporation","name":"Microsoft Windows 11 Enterprise","version":null}"#.into(),
        r#"{"vendor":"Google LLC","name":"Google Chrome","version":"126.0.6478.127"}"#.into(),
    ];
    for n in 1..=11 {
        software.push(format!(
            r#"{{"vendor":"Contoso","name":"Contoso Tool {n:02}","version":"1.{n}"}}"#
        ));
    }
    let report = format!(
        r#"{{"computerDnsName":"pc1","osName":"Microsoft Windows 11 Enterprise","osVersion":"10.0.26100",
            "ubr":4946,"installationType":"Client","architecture":"x64","installedKbs":[],
            "software":[{}]}}"#,
        software.join(",")
    );
    let file = dir.path().join("pc1.json");
    std::fs::write(&file, report).unwrap();
    let o = kbgap(
        dir.path(),
        &["scan", "--format", "json", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    let warnings: Vec<&str> = r["device"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("not evaluated"))
        .collect();
    assert_eq!(
        warnings,
        [
            "12 programs in the software inventory are not evaluated (no MSRC product of that name in \
             the catalog): \"Google Chrome\", \"Contoso Tool 01\", \"Contoso Tool 02\", \"Contoso Tool 03\", \
             \"Contoso Tool 04\", \"Contoso Tool 05\", \"Contoso Tool 06\", \"Contoso Tool 07\", \
             \"Contoso Tool 08\", \"Contoso Tool 09\" and 2 more"
        ]
    );
    // The matched .NET runtime is evaluated: its KBs can be among the answer's products.
    assert!(
        r["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["productsNames"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == ".net_framework")),
        "{}",
        r["value"]
    );
}

/// An `--os-version` kbgap's own table does not know is looked up in the catalog before it is
/// refused, and the refusal says so; a release the table knows is identified as before.
#[test]
fn scan_os_version_unknown_to_the_table_asks_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let qfe = corpus("10_1809_x64_pro_en-us_20190307_qfe.txt");
    let o = kbgap(
        dir.path(),
        &[
            "scan",
            "--os-version",
            "10.0.27000",
            "--architecture",
            "x64",
            "--installation-type",
            "Client",
            &qfe,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "build 10.0.27000 is not a Windows release kbgap knows, and no OS product of the catalog \
             names it in a FixedBuild"
        ),
        "{}",
        stderr(&o)
    );
    let o = kbgap(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--os-version",
            "10.0.28000",
            "--architecture",
            "x64",
            "--installation-type",
            "Client",
            &qfe,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        json(&o)["device"]["products"],
        serde_json::json!(["Windows 11 version 26H1 for x64-based Systems"])
    );
}

/// `kbgap machines import` stores an out-of-support machine instead of refusing it.
#[test]
fn machines_import_stores_windows_xp() {
    let dir = tempfile::tempdir().unwrap();
    let o = kbgap(
        dir.path(),
        &["machines", "import", &corpus(XP), &corpus(WIN10)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 reports stored"), "{}", stdout(&o));
}

#[test]
fn token_machine_binding_needs_the_inventory_submit_role_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let o = kbgap(
        tmp.path(),
        &[
            "token",
            "--roles",
            "Inventory.Submit,Machine.Read.All",
            "--machine",
            "pc-01",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--roles Inventory.Submit"),
        "{}",
        stderr(&o)
    );
    let o = kbgap(
        tmp.path(),
        &["token", "--roles", "Inventory.Submit", "--machine", "pc-01"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().split('.').count(), 3, "a JWT");
}
