//! Facts read from real MSRC documents.

mod common;

use kbgap_catalog::{collect_paths, read_document, read_path};
use kbgap_core::{KbId, Revision, Severity};

const MAR_2020_AT_0310: &str = "cvrfDocument-2020-Mar.at-2020-03-10.c94bea1.xml.gz";
const MAR_2020_AT_0404: &str = "cvrfDocument-2020-Mar.at-2020-04-04.79cc218.xml.gz";
const AUG_2019_AT_2021: &str = "cvrfDocument-2019-Aug.at-2021-01-02.a1a252a.xml.gz";

#[test]
fn kb4540673_in_the_2020_era_revision() {
    let doc = read_path(&common::fixtures_2020().join(MAR_2020_AT_0310)).unwrap();
    assert_eq!(doc.info.id, "2020-Mar");
    assert_eq!(doc.info.title, "March 2020 Security Updates");
    assert_eq!(doc.info.revision, Revision(vec![1]));
    assert_eq!(doc.info.initial_release, "2020-03-10T07:00:00");
    let fixed = common::vulns_fixed_by(&doc, 4540673);
    assert_eq!(fixed.iter().filter(|v| v.starts_with("CVE-")).count(), 94);
    assert_eq!(fixed.len(), 94, "no advisory in 2020-Mar");
}

#[test]
fn kb4540673_in_the_current_revision() {
    let doc = read_path(&common::bundled("2020-Mar")).unwrap();
    assert_eq!(doc.info.revision, Revision(vec![12]));
    assert_eq!(doc.info.current_release, "2026-02-18T03:08:15");
    let cves = common::vulns_fixed_by(&doc, 4540673);
    assert_eq!(cves.iter().filter(|v| v.starts_with("CVE-")).count(), 92);
}

#[test]
fn revisions_of_2020_mar_are_ordered() {
    let first = read_path(&common::fixtures_2020().join(MAR_2020_AT_0310)).unwrap();
    let april = read_path(&common::fixtures_2020().join(MAR_2020_AT_0404)).unwrap();
    let current = read_path(&common::bundled("2020-Mar")).unwrap();
    assert_eq!(april.info.revision, Revision(vec![11]));
    assert!(april.info.newer_than(&first.info));
    assert!(current.info.newer_than(&april.info));
}

#[test]
fn document_with_a_utf8_bom() {
    let path = common::fixtures_2020().join(AUG_2019_AT_2021);
    let raw = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
    let xml: Vec<u8> = std::io::Read::bytes(raw).map(Result::unwrap).collect();
    assert!(
        xml.starts_with(b"\xEF\xBB\xBF<?xml"),
        "the fixture starts with a BOM"
    );

    let doc = read_path(&path).unwrap();
    assert_eq!(doc.info.id, "2019-Aug");
    assert_eq!(doc.info.revision, Revision(vec![16]));
    // The 2019-Aug revision of 2021 lists KB4540673 for three CVEs and the advisory ADV190023:
    // with 2020-Mar's 94, the 97 CVEs of Microsoft's example.
    let fixed = common::vulns_fixed_by(&doc, 4540673);
    let expected: std::collections::BTreeSet<String> = [
        "ADV190023",
        "CVE-2019-1224",
        "CVE-2019-1225",
        "CVE-2019-1226",
    ]
    .map(String::from)
    .into();
    assert_eq!(fixed, expected);
    let adv = doc
        .vulnerabilities
        .iter()
        .find(|v| v.id.as_str() == "ADV190023")
        .unwrap();
    assert!(!adv.id.is_cve(), "an advisory is not a CVE");

    // Plain XML with the BOM, and zstd over it: same document.
    let plain = kbgap_catalog::read_bytes(&xml, "bom.xml").unwrap();
    assert_eq!(plain, doc);
    let zst = zstd::encode_all(&xml[..], 3).unwrap();
    assert_eq!(kbgap_catalog::read_bytes(&zst, "bom.xml.zst").unwrap(), doc);
}

#[test]
fn kb5094127_in_june_2026() {
    let doc = read_path(&common::bundled("2026-Jun")).unwrap();
    assert_eq!(doc.info.id, "2026-Jun");
    assert_eq!(doc.info.title, "June 2026 Security Updates");
    assert_eq!(doc.info.revision, Revision(vec![1130]));
    assert_eq!(doc.info.initial_release, "2026-06-09T07:00:00");
    assert_eq!(doc.info.current_release, "2026-07-05T14:46:17");

    let kb = KbId::new(5094127).unwrap();
    let fixes: Vec<_> = doc
        .vulnerabilities
        .iter()
        .flat_map(|v| &v.fixes)
        .filter(|f| f.kb == kb)
        .collect();
    assert!(!fixes.is_empty());
    for f in &fixes {
        assert_eq!(f.supersedes, [KbId::new(5087544).unwrap()]);
        assert_eq!(f.sub_type.as_deref(), Some("Security Update"));
        assert_eq!(
            f.url.as_deref(),
            Some("https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB5094127")
        );
    }
    let builds: std::collections::BTreeSet<_> = fixes
        .iter()
        .filter_map(|f| f.fixed_build.as_deref())
        .collect();
    assert_eq!(
        builds,
        ["10.0.19044.7417", "10.0.19045.7417"].into(),
        "one KB, two sibling branches"
    );
    let on_21h2 = fixes
        .iter()
        .find(|f| f.products.iter().any(|p| p.as_str() == "11931"))
        .unwrap();
    assert_eq!(on_21h2.fixed_build.as_deref(), Some("10.0.19044.7417"));
    assert_eq!(common::vulns_fixed_by(&doc, 5094127).len(), 94);

    let dns = doc
        .vulnerabilities
        .iter()
        .find(|v| v.id.as_str() == "CVE-2026-41108")
        .unwrap();
    assert_eq!(
        dns.title,
        "Windows DNS Client Elevation of Privilege Vulnerability"
    );
    let p = "11931".parse().unwrap();
    assert!(dns.severities.contains(&(p, Severity::Important)));
    let p: kbgap_core::ProductId = "11931".parse().unwrap();
    assert!(
        dns.scores
            .iter()
            .any(|(q, s)| *q == p && (*s - 7.0).abs() < 1e-6)
    );

    let product = |id: &str| doc.products.iter().find(|p| p.id.as_str() == id).unwrap();
    assert_eq!(
        product("11931").name,
        "Windows 10 Version 21H2 for x64-based Systems"
    );
    assert_eq!(product("11931").family.as_deref(), Some("Windows"));
    assert_eq!(
        product("12097").name,
        "Windows 10 Version 22H2 for x64-based Systems"
    );
    assert_eq!(product("12097").family.as_deref(), Some("ESU"));
    let mut ids: Vec<_> = doc.products.iter().map(|p| &p.id).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "one entry per ProductID");
}

#[test]
fn only_vendor_fixes_with_numeric_kbs() {
    // 2026-Jun lists Release Notes, Known Issue and CBL-Mariner remediations next to Vendor Fixes.
    let doc = read_path(&common::bundled("2026-Jun")).unwrap();
    let xml = String::from_utf8(common::bundled_xml("2026-Jun")).unwrap();
    assert!(xml.contains(r#"Type="Known Issue""#) && xml.contains(r#"Type="Release Notes""#));
    // Independent count on the raw text: Vendor Fix remediations whose Description is a KB.
    let numeric_vendor_fixes = xml
        .split(r#"Type="Vendor Fix">"#)
        .skip(1)
        .filter_map(|rest| rest.split("</vuln:Remediation>").next())
        .filter_map(|remediation| remediation.split("<vuln:Description>").nth(1))
        .filter_map(|d| d.split('<').next())
        .filter(|d| d.trim().parse::<KbId>().is_ok())
        .count();
    let fixes: usize = doc.vulnerabilities.iter().map(|v| v.fixes.len()).sum();
    assert_eq!(fixes, numeric_vendor_fixes);
}

#[test]
fn invisible_characters_and_doubled_spaces_are_cleaned() {
    // 2024-Oct carries a FixedBuild followed by seven zero-width spaces.
    let xml = common::bundled_xml("2024-Oct");
    assert!(String::from_utf8_lossy(&xml).contains("10.0.19041.5000\u{200B}"));
    let doc = read_path(&common::bundled("2024-Oct")).unwrap();
    let builds: Vec<_> = doc
        .vulnerabilities
        .iter()
        .flat_map(|v| &v.fixes)
        .filter_map(|f| f.fixed_build.as_deref())
        .collect();
    assert!(builds.contains(&"10.0.19041.5000"));
    assert!(builds.iter().all(|b| !b.contains('\u{200B}')));

    // 2016-Dec names "Windows Server 2016  (Server Core installation)" with two spaces.
    let doc = read_path(&common::bundled("2016-Dec")).unwrap();
    assert!(
        doc.products
            .iter()
            .any(|p| p.name == "Windows Server 2016 (Server Core installation)")
    );
    assert!(doc.products.iter().all(|p| !p.name.contains("  ")));
}

#[test]
fn identity_comes_from_content_not_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("2019-Jan.xml.gz");
    std::fs::copy(common::bundled("2020-Mar"), &wrong).unwrap();
    let doc = read_path(&wrong).unwrap();
    assert_eq!(doc.info.id, "2020-Mar");
    assert_eq!(doc.info.title, "March 2020 Security Updates");
    assert_eq!(doc.info.revision, Revision(vec![12]));

    let plain = dir.path().join("whatever");
    std::fs::write(&plain, common::bundled_xml("2020-Mar")).unwrap();
    assert_eq!(read_path(&plain).unwrap(), doc);
}

#[test]
fn reads_any_reader() {
    let file = std::fs::File::open(common::fixtures_2020().join(MAR_2020_AT_0404)).unwrap();
    let doc = read_document(std::io::BufReader::new(file), "stdin").unwrap();
    assert_eq!(doc.info.current_release, "2020-04-01T07:00:00");
}

#[test]
fn collects_documents_from_folders_and_files() {
    let files = collect_paths(&[common::fixtures_2020()]).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [AUG_2019_AT_2021, MAR_2020_AT_0310, MAR_2020_AT_0404]
    );

    let all = collect_paths(&[common::bundled("2026-Jun"), common::data_dir()]).unwrap();
    assert_eq!(all.len(), 191);
    assert_eq!(
        all[0],
        common::bundled("2026-Jun"),
        "files come as given, first"
    );
    assert!(all[1].ends_with("1999-Sep.xml.zst"));
}
