//! `kbgap scan` for people (issue 11): the built binary on real systeminfo files, its table at a
//! given width, its order and filters, standard input, CSV rows, English counts; and `token`
//! refusing a role kbgap does not know.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

const WIN10: &str = "10_22H2_x64_enterprise_en-us_systeminfo.txt";
const WIN7: &str = "7_sp1_x64_enterprise_en-us_A_systeminfo.txt";

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/systeminfo")
        .join(name)
        .display()
        .to_string()
}

/// One data dir for every test, its bundled catalog imported once before any test reads it.
fn data() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let o = run(dir.path(), &["catalog", "stats"], &[], None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        dir
    })
    .path()
}

fn run(data: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kbgap"));
    c.arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("KBGAP_DB");
    c.env_remove("COLUMNS").env_remove("NO_COLOR");
    c.envs(env.iter().copied());
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run kbgap");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn kbgap(args: &[&str]) -> Output {
    run(data(), args, &[], None)
}

fn at_width(width: usize, args: &[&str]) -> String {
    let o = run(data(), args, &[("COLUMNS", &width.to_string())], None);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    String::from_utf8(o.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    let o = kbgap(&[&["scan", "--format", "json"], args].concat());
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

fn ids(v: &Value) -> Vec<String> {
    (v["value"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn the_table_fits_60_80_and_120_columns_for_both_files_with_all_and_cves() {
    for file in [fixture(WIN10), fixture(WIN7)] {
        for extra in [&[][..], &["--all"], &["--cves"], &["--all", "--cves"]] {
            let args = [&["scan"], extra, &[file.as_str()]].concat();
            for width in [60, 80, 120] {
                let out = at_width(width, &args);
                assert!(
                    out.contains("to install") || out.contains("not satisfied"),
                    "{out}"
                );
                assert!(
                    widest(&out) <= width,
                    "{args:?} at {width}: {}",
                    widest(&out)
                );
                assert!(!out.contains('\x1b'), "no colour in a pipe");
            }
        }
    }
}

#[test]
fn wider_terminals_get_more_columns() {
    let narrow = at_width(80, &["scan", &fixture(WIN7)]);
    let wide = at_width(120, &["scan", &fixture(WIN7)]);
    let header = |t: &str| t.lines().find(|l| l.starts_with("KB ")).unwrap().to_owned();
    assert!(!header(&narrow).contains("REASON"), "{narrow}");
    assert!(header(&wide).contains("REASON"), "{wide}");
    assert!(wide.lines().count() < narrow.lines().count());
    // The sentence on 21 rows is printed once, as a note.
    let sentence = "standalone update: not installed, and no installed KB contains it";
    assert_eq!(wide.matches(sentence).count(), 1, "{wide}");
}

#[test]
fn cves_are_listed_below_their_kb_several_a_line() {
    let v = json(&["--cves", &fixture(WIN10)]);
    let total: usize = (v["value"].as_array().unwrap().iter())
        .map(|e| e["cves"].as_array().unwrap().len())
        .sum();
    assert!(total > 2000, "{total}");
    let out = at_width(80, &["scan", "--cves", &fixture(WIN10)]);
    let cve_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("CVE-"))
        .collect();
    let listed: usize = cve_lines.iter().map(|l| l.matches("CVE-").count()).sum();
    assert_eq!(listed, total);
    assert!(
        cve_lines.len() * 4 <= total,
        "several CVEs a line: {}",
        cve_lines.len()
    );
}

#[test]
fn the_table_sorts_by_priority_and_json_keeps_release_order() {
    let file = fixture(WIN7);
    let release = json(&[&file]);
    assert_eq!(ids(&release), ids(&json(&["--sort", "release", &file])));
    let priority = json(&["--sort", "priority", &file]);
    assert_ne!(
        ids(&priority),
        ids(&release),
        "Win7's order changes by priority"
    );
    let mut sorted = ids(&release);
    sorted.sort();
    let mut same = ids(&priority);
    same.sort();
    assert_eq!(sorted, same, "sorting keeps every KB");
    // Non-increasing (exploited, severity, CVSS, CVEs closed).
    let rank = ["Low", "Moderate", "Important", "Critical"];
    let key = |e: &Value| {
        (
            e["exploitedCves"].as_array().unwrap().len(),
            rank.iter()
                .position(|r| e["maxSeverity"] == *r)
                .map_or(0, |p| p + 1),
            (e["maxCvss"].as_f64().unwrap_or(-1.0) * 10.0) as i64,
            e["openCvesClosed"].as_i64().unwrap(),
        )
    };
    let keys: Vec<_> = priority["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert!(keys.windows(2).all(|w| w[0] >= w[1]), "{keys:?}");
    // The table shows the priority order by default.
    let table = at_width(120, &["scan", &file]);
    let shown: Vec<String> = (table.lines())
        .filter_map(|l| {
            l.strip_prefix("KB")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(shown, ids(&priority));
}

#[test]
fn min_severity_and_exploited_only_narrow_the_list() {
    let file = fixture(WIN7);
    let all = json(&[&file]);
    let entries = all["value"].as_array().unwrap();
    let critical = json(&["--min-severity", "critical", &file]);
    let expected: Vec<&Value> = entries
        .iter()
        .filter(|e| e["maxSeverity"] == "Critical")
        .collect();
    assert!(!expected.is_empty() && expected.len() < entries.len());
    assert_eq!(
        critical["value"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
    let important = json(&["--min-severity", "important", &file]);
    let n = important["value"].as_array().unwrap().len();
    assert!(n >= expected.len() && n < entries.len(), "{n}");
    let exploited = json(&["--exploited-only", &file]);
    let expected: Vec<&Value> = (entries.iter())
        .filter(|e| !e["exploitedCves"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(
        exploited["value"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
    // The exit code counts what is shown: nothing left is 0.
    let o = kbgap(&[
        "scan",
        "--exploited-only",
        "--min-severity",
        "critical",
        &file,
    ]);
    let left = expected.iter().any(|e| e["maxSeverity"] == "Critical");
    assert_eq!(o.status.code(), Some(i32::from(left)));
}

#[test]
fn dash_reads_standard_input() {
    let bytes = std::fs::read(fixture(WIN10)).unwrap();
    let o = run(
        data(),
        &["scan", "--format", "json", "-"],
        &[],
        Some(&bytes),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let piped: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(piped["value"], json(&[&fixture(WIN10)])["value"]);
    let o = run(data(), &["scan", "--format", "csv", "-"], &[], Some(&bytes));
    assert!(String::from_utf8_lossy(&o.stdout).contains(",<stdin>,"));
}

#[test]
fn csv_rows_carry_machine_os_source_and_say_why_a_file_failed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.txt");
    std::fs::write(&bad, [0u8, 159, 146, 150, 0, 1, 2, 3, 255]).unwrap();
    let win10 = fixture(WIN10);
    let o = kbgap(&["scan", "--format", "csv", &win10, bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "an error wins");
    let mut r = csv::Reader::from_reader(&o.stdout[..]);
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    assert_eq!(&h[0], "computerDnsName", "the old columns first");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let kb_rows: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("status")] == "missing")
        .collect();
    assert_eq!(kb_rows.len(), 2);
    for row in kb_rows {
        assert_eq!(&row[0], "DESKTOP-92B51CV");
        assert_eq!(
            &row[col("osName")],
            "Windows 10 Version 22H2 for x64-based Systems"
        );
        assert_eq!(&row[col("source")], win10);
    }
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("status")] == "error")
        .collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    assert_eq!(&failed[0][col("source")], bad.to_str().unwrap());
    assert!(
        failed[0][col("detail")].contains("garbage.txt"),
        "{:?}",
        failed[0]
    );
}

#[test]
fn counts_read_as_english() {
    let out = at_width(120, &["scan", &fixture(WIN10)]);
    assert!(out.contains(", 1 KB installed"), "{out}");
    assert!(
        out.contains("DESKTOP-92B51CV: 2 KBs to install, closing 2128 open CVEs"),
        "{out}"
    );
    let one = at_width(
        120,
        &["scan", "--min-severity", "critical", &fixture(WIN10)],
    );
    assert!(
        one.contains("DESKTOP-92B51CV: 1 KB to install (Critical only; 2 in all)"),
        "{one}"
    );
    assert!(!one.contains("1 KBs") && !out.contains("1 KBs"), "{one}");
}

#[test]
fn quiet_silences_warnings() {
    let loud = kbgap(&["scan", &fixture(WIN7)]);
    assert!(String::from_utf8_lossy(&loud.stdout).contains("warning: Windows 7 left support"));
    let quiet = kbgap(&["-q", "scan", &fixture(WIN7)]);
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("warning"));
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("warning"));
    assert_eq!(loud.status.code(), quiet.status.code());
}

#[test]
fn token_refuses_a_role_kbgap_does_not_know() {
    let o = kbgap(&["token", "--roles", "Machine.Read.All,Machine.Raed.All"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown role Machine.Raed.All"), "{err}");
    assert!(
        err.contains("Software.Read.All") && err.contains("Vulnerability.Read.All"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no token");
    let ok = kbgap(&["token", "--roles", "Machine.Read.All,Software.Read.All"]);
    assert!(ok.status.success());
}

#[test]
fn exploited_cves_are_counted_once_and_marked_first_under_their_kb() {
    let file = fixture(WIN7);
    let v = json(&["--cves", &file]);
    let entries = v["value"].as_array().unwrap();
    let mut exploited: Vec<&str> = (entries.iter())
        .flat_map(|e| e["exploitedCves"].as_array().unwrap())
        .map(|c| c.as_str().unwrap())
        .collect();
    exploited.sort_unstable();
    exploited.dedup();
    assert!(
        !exploited.is_empty(),
        "Windows 7 misses fixes of exploited CVEs"
    );
    let out = at_width(80, &["scan", "--cves", &file]);
    let summary = format!("WIN7SP1X64: {} KBs to install", entries.len());
    let line = out.lines().find(|l| l.starts_with(&summary)).unwrap();
    assert!(
        line.ends_with(&format!(", {} exploited", exploited.len())),
        "{line}"
    );
    // Under the first KB, its exploited CVEs come first, each marked.
    let first = &entries[0];
    let n = first["exploitedCves"].as_array().unwrap().len();
    let tokens: Vec<&str> = (out.lines())
        .skip_while(|l| !l.starts_with(&format!("KB{}", first["id"].as_str().unwrap())))
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with("CVE-"))
        .take_while(|l| l.trim_start().starts_with("CVE-"))
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(tokens.len(), first["cves"].as_array().unwrap().len());
    assert!(
        tokens[..n]
            .iter()
            .all(|t| t.ends_with("[KEV]") || t.ends_with("[E]"))
    );
    assert!(
        tokens[n..].iter().all(|t| !t.contains('[')),
        "{:?}",
        &tokens[n..]
    );
    let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("[KEV] in CISA's Known Exploited Vulnerabilities catalog"));
}

#[test]
fn the_summary_counts_each_open_cve_once() {
    let o = kbgap(&["scan", "--format", "json", "--cves", &fixture(WIN7)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v["value"].as_array().unwrap();
    let distinct: std::collections::BTreeSet<&str> = (entries.iter())
        .flat_map(|e| {
            e["cves"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
        })
        .collect();
    let summed: i64 = entries
        .iter()
        .map(|e| e["openCvesClosed"].as_i64().unwrap())
        .sum();
    assert!(
        summed > distinct.len() as i64,
        "some CVE is closed by two KBs here"
    );
    let out = at_width(120, &["scan", &fixture(WIN7)]);
    let want = format!("closing {} open CVEs", distinct.len());
    assert!(out.contains(&want), "{want} not in {out}");
}
