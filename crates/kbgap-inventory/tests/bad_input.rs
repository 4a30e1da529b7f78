//! Bad input gives an error naming the file and the field or line, never a partial machine and
//! never a panic.

mod common;

use common::*;
use kbgap_inventory::{ErrorKind, Format, InventoryError, read};

fn err(bytes: &[u8], name: &str, format: Format) -> InventoryError {
    match read(bytes, name, format) {
        Ok(v) => panic!("{name}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn binary_file() {
    let png =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00";
    let e = err(png, "logo.png", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Binary);
    assert!(e.to_string().starts_with("logo.png: binary data"), "{e}");
    let mut noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    noise[0] = 0x01;
    assert_eq!(
        err(&noise, "noise.bin", Format::Systeminfo).kind(),
        ErrorKind::Binary
    );
}

#[test]
fn empty_file() {
    for bytes in [
        &b""[..],
        b"\r\n  \r\n",
        b"\xef\xbb\xbf",
        b"\xff\xfe\r\x00\n\x00",
    ] {
        let e = err(bytes, "empty.txt", Format::Auto);
        assert_eq!(e.kind(), ErrorKind::Empty);
        assert!(
            e.to_string().starts_with("empty.txt: the file is empty"),
            "{e}"
        );
    }
}

#[test]
fn systeminfo_cut_after_the_os_name_line() {
    let full = bytes(corpus_dir(), "10_22H2_x64_enterprise_en-us_systeminfo.txt");
    let text = String::from_utf8(full).unwrap();
    let cut: String = text.split_inclusive('\n').take(2).collect();
    assert!(cut.ends_with("Microsoft Windows 10 Enterprise\r\n"));
    let e = err(cut.as_bytes(), "cut.txt", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert_eq!(
        e.to_string(),
        "cut.txt: truncated systeminfo output: it stops at line 2 (after \"OS Name\") before the OS Version field"
    );
}

#[test]
fn systeminfo_cut_before_the_hotfixes() {
    let text = String::from_utf8(bytes(
        corpus_dir(),
        "10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    let cut: String = text.split_inclusive('\n').take(20).collect();
    let e = err(cut.as_bytes(), "cut20.txt", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert!(
        e.to_string().contains("stops at line 20")
            && e.to_string().contains("before the Hotfix(s) field"),
        "{e}"
    );
}

#[test]
fn systeminfo_of_a_build_that_does_not_exist() {
    let text = String::from_utf8(bytes(
        corpus_dir(),
        "10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    let edited = text.replace("10.0.19045 N/A Build 19045", "10.0.19999 N/A Build 19999");
    assert_ne!(edited, text);
    let e = err(edited.as_bytes(), "future.txt", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::UnknownBuild);
    assert_eq!(
        e.to_string(),
        "future.txt: line 3 (OS Version): build 10.0.19999 is not a Windows release kbgap knows (a newer or \
         preview build, or a typo?); refusing to guess its MSRC product"
    );
}

#[test]
fn systeminfo_with_an_unknown_system_type() {
    let text = String::from_utf8(bytes(
        corpus_dir(),
        "10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    let edited = text.replace("x64-based PC", "SPARC-based PC");
    let e = err(edited.as_bytes(), "sparc.txt", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Field);
    assert!(
        e.to_string().starts_with(
            "sparc.txt: line 14 (System Type): unknown system type \"SPARC-based PC\""
        ),
        "{e}"
    );
}

const REPORT: &str = r#"{
  "computerDnsName": "pc1.contoso.com",
  "osName": "Microsoft Windows 10 Enterprise",
  "osVersion": "10.0.19045",
  "ubr": 2130,
  "installationType": "Client",
  "architecture": "x64",
  "installedKbs": ["5094127"],
  "software": []
}"#;

#[test]
fn report_with_a_wrong_type() {
    let bad = REPORT.replace("\"ubr\": 2130", "\"ubr\": \"2130\"");
    let e = err(bad.as_bytes(), "report.json", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Json);
    assert_eq!(
        e.to_string(),
        "report.json: field \"ubr\": invalid type: string \"2130\", expected u32"
    );
    let bad = REPORT.replace("[\"5094127\"]", "\"5094127\"");
    let e = err(bad.as_bytes(), "report.json", Format::Report);
    assert!(
        e.to_string()
            .starts_with("report.json: field \"installedKbs\": invalid type: string"),
        "{e}"
    );
    let bad = REPORT.replace("[\"5094127\"]", "[\"5094127\", \"Release Notes\"]");
    let e = err(bad.as_bytes(), "report.json", Format::Report);
    assert!(
        e.to_string().starts_with(
            "report.json: field \"installedKbs[1]\": \"Release Notes\" is not a valid KB number"
        ),
        "{e}"
    );
}

#[test]
fn report_with_an_unknown_architecture() {
    let bad = REPORT.replace("\"x64\"", "\"sparc\"");
    let e = err(bad.as_bytes(), "report.json", Format::Auto);
    assert_eq!(e.kind(), ErrorKind::Json);
    assert_eq!(
        e.to_string(),
        "report.json: field \"architecture\": unknown architecture \"sparc\" (expected x64, x86, arm64 or ia64)"
    );
}

#[test]
fn report_that_is_not_json() {
    let e = err(
        b"{\"computerDnsName\": \"pc1\",",
        "broken.json",
        Format::Auto,
    );
    assert_eq!(e.kind(), ErrorKind::Json);
    assert!(
        e.to_string()
            .starts_with("broken.json: line 1, column 26: EOF while parsing"),
        "{e}"
    );
    let e = err(
        b"{\"computerDnsName\": \"pc1\"}",
        "partial.json",
        Format::Report,
    );
    assert!(e.to_string().contains("missing field `osVersion`"), "{e}");
}

#[test]
fn text_that_is_no_inventory() {
    let e = err(
        b"Dear admin,\r\nplease patch the servers.\r\n",
        "letter.txt",
        Format::Auto,
    );
    assert_eq!(e.kind(), ErrorKind::UnknownFormat);
    assert!(
        e.to_string()
            .starts_with("letter.txt: not a recognised inventory")
    );
}

#[test]
fn data_after_a_json_document_is_refused() {
    // A valid report is read; the same report with anything after it is refused, whole.
    assert!(read(REPORT.as_bytes(), "one.json", Format::Auto).is_ok());
    for tail in ["\n{}", " garbage", "\n[1]", "\n".repeat(3).as_str()] {
        let text = format!("{REPORT}{tail}");
        let result = read(text.as_bytes(), "two.json", Format::Auto);
        if tail.trim().is_empty() {
            assert!(result.is_ok(), "trailing whitespace is fine");
            continue;
        }
        let e = result.expect_err(tail);
        assert_eq!(e.kind(), ErrorKind::Json);
        let msg = e.to_string();
        let line = if tail.starts_with('\n') { 11 } else { 10 };
        assert!(
            msg.starts_with(&format!("two.json: line {line}, column")),
            "{msg}"
        );
        assert!(
            msg.contains("data after the end of the JSON document"),
            "{msg}"
        );
    }
}
