//! Risk data on the real documents: MSRC's severity, CVSS, impact and exploit status, and
//! CISA's KEV, as the catalog and the missing-KB entries carry them.

mod common;

use common::bundled;
use kbgap_core::catalog::{Catalog, VulnIx};
use kbgap_core::engine::{Options, evaluate};
use kbgap_core::report::MissingKbEntry;
use kbgap_core::{DefenderSeverity, Impact, Severity};

fn vuln(cat: &Catalog, id: &str) -> VulnIx {
    (0..cat.vulns().len() as VulnIx)
        .find(|&v| cat.vuln(v).id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} is in the catalog"))
}

fn product(cat: &Catalog, name: &str) -> u32 {
    cat.products_named(name)[0]
}

#[test]
fn cve_2025_29824_is_exploited_per_msrc_and_listed_in_kev() {
    let cat = bundled();
    let v = cat.vuln(vuln(cat, "CVE-2025-29824"));
    assert!(v.exploit.exploited, "2025-Apr says Exploited:Yes");
    assert!(!v.exploit.publicly_disclosed);
    assert_eq!(
        v.exploit.assessment.as_deref(),
        Some("Exploitation Detected")
    );
    let kev = v.kev.as_ref().expect("CISA lists it");
    assert_eq!(
        (kev.date_added.as_str(), kev.due_date.as_str()),
        ("2025-04-08", "2025-04-29")
    );
    assert!(v.exploited() && v.public_exploit());
    assert_eq!(v.published.as_deref(), Some("2025-04-08T07:00:00"));
    let info = cat.kev().expect("KEV applied");
    assert_eq!(
        (info.catalog_version.as_str(), info.entries),
        ("2025.08.25", 1404)
    );
    assert!(
        info.in_catalog > 100,
        "{} KEV CVEs have a catalog KB",
        info.in_catalog
    );
}

#[test]
fn severity_cvss_vector_and_impact_are_per_product() {
    let cat = bundled();
    let clfs = vuln(cat, "CVE-2025-29824");
    let w10 = product(cat, "Windows 10 Version 22H2 for x64-based Systems");
    let r = cat.vuln_risk(clfs, &[w10]);
    assert_eq!(r.severity, Some(Severity::Important));
    assert_eq!(r.cvss, Some(7.8));
    assert_eq!(r.impact, Some(Impact::ElevationOfPrivilege));
    assert_eq!(
        cat.vector(r.vector.expect("a vector")),
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/E:F/RL:O/RC:C"
    );
    assert_eq!(r.defender_severity(), Some(DefenderSeverity::High));

    // 2025-Jul rates CVE-2025-49683 Low on Windows 10 1809 and Important on Server 2008 SP2.
    let vhd = vuln(cat, "CVE-2025-49683");
    let low = product(cat, "Windows 10 Version 1809 for 32-bit Systems");
    let important = product(cat, "Windows Server 2008 for 32-bit Systems Service Pack 2");
    assert_eq!(cat.vuln_risk(vhd, &[low]).severity, Some(Severity::Low));
    assert_eq!(
        cat.vuln_risk(vhd, &[important]).severity,
        Some(Severity::Important)
    );
    assert_eq!(
        cat.vuln_risk(vhd, &[low, important]).severity,
        Some(Severity::Important)
    );
}

#[test]
fn most_fix_rows_carry_a_score_and_a_severity() {
    let cat = bundled();
    let (mut rows, mut scored, mut rated) = (0usize, 0usize, 0usize);
    for p in 0..cat.products().len() as u32 {
        for f in cat.fixes_of(p) {
            rows += 1;
            scored += usize::from(f.cvss.is_some() && f.vector.is_some());
            rated += usize::from(f.severity.is_some());
        }
    }
    assert!(
        scored * 100 >= rows * 90,
        "{scored} of {rows} rows have a CVSS score"
    );
    assert!(
        rated * 100 >= rows * 95,
        "{rated} of {rows} rows have a severity"
    );
}

#[test]
fn entries_rank_what_they_close() {
    let cat = bundled();
    let w10 = product(cat, "Windows 10 Version 22H2 for x64-based Systems");
    // Years behind: build 19045.2130 (October 2022).
    let device = common::device_on(cat, w10, Some(2130), &[]);
    let state = cat.machine_state(&device).state;
    let ev = evaluate(cat, &state, Options::default());
    let entries = MissingKbEntry::all(cat, &state, &ev, true);
    let cu = entries
        .iter()
        .find(|e| e.kind == kbgap_core::ServicingKind::CumulativeUpdate)
        .expect("a cumulative update");
    assert!(cu.exploited_cves.iter().any(|c| c == "CVE-2025-29824"));
    assert!(cu.kev_cves.iter().all(|c| cu.exploited_cves.contains(c)));
    assert!(cu.kev_cves.len() > 10, "{:?}", cu.kev_cves);
    assert_eq!(cu.max_severity, Some(Severity::Critical));
    assert!(cu.max_cvss.is_some_and(|c| c >= 9.0), "{:?}", cu.max_cvss);
    let earliest = cu.kev_due_date.as_deref().expect("a KEV due date");
    let details = cu.cve_details.as_ref().expect("--cves gives details");
    assert_eq!(
        details.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        cu.cves
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "details follow the order of cves"
    );
    let clfs = details.iter().find(|d| d.id == "CVE-2025-29824").unwrap();
    assert!(clfs.exploited && clfs.kev);
    assert_eq!(clfs.cvss, Some(7.8));
    let exploited: Vec<&str> = (details.iter())
        .filter(|d| d.exploited)
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(exploited, cu.exploited_cves);
    for c in &cu.kev_cves {
        let v = cat.vuln(vuln(cat, c));
        assert!(v.kev.as_ref().unwrap().due_date.as_str() >= earliest);
    }
}
