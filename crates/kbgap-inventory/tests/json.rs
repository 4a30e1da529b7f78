//! osquery results, the kbgap machine report and its JSON Schema.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use kbgap_core::Architecture::X64;
use kbgap_core::InstallationType::{Client, ServerCore};
use kbgap_inventory::{Format, Inventory, read};

fn osquery(name: &str) -> kbgap_core::Device {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osquery");
    let bytes = std::fs::read(dir.join(name)).unwrap();
    match read(&bytes, name, Format::Auto) {
        Ok(Inventory::Device(d)) => d,
        other => panic!("{other:?}"),
    }
}

#[test]
fn osquery_windows_11_21h2() {
    let d = osquery("windows_11_21H2.osquery-results.json");
    assert_eq!(d.input_format, Some(kbgap_core::InputFormat::Osquery));
    common::assert_os(
        &d,
        "Windows 11 version 21H2 for x64-based Systems",
        "10.0.22000",
        X64,
        Client,
    );
    assert_eq!(d.ubr, Some(1098));
    assert_eq!(d.display_version.as_deref(), Some("21H2"));
    assert_eq!(
        d.os_name.as_deref(),
        Some("Microsoft Windows 11 Enterprise")
    );
    let kbs = common::kbs(&d);
    assert!(
        kbs.contains(&5016629) && kbs.contains(&5012170) && kbs.contains(&2267602),
        "{kbs:?}"
    );
}

#[test]
fn osquery_windows_11_22h2() {
    let d = osquery("windows_11_22H2_2861.osquery-results.json");
    common::assert_os(
        &d,
        "Windows 11 Version 22H2 for x64-based Systems",
        "10.0.22621",
        X64,
        Client,
    );
    assert_eq!(d.ubr, Some(2861));
    assert_eq!(d.display_version.as_deref(), Some("22H2"));
}

#[test]
fn osquery_patches_programs_and_failed_updates() {
    let doc = r#"{
      "system_info": [{"hostname": "srv1.contoso.com"}],
      "os_version": [{"name": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348.2227", "arch": "64-bit"}],
      "patches": [{"hotfix_id": "KB5034129"}, {"hotfix_id": "File 1"}],
      "windows_update_history": [
        {"title": "2024-01 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5034129)", "result_code": "2"},
        {"title": "2024-02 Cumulative Update (KB5034770)", "result_code": "4"}
      ],
      "programs": [{"name": "7-Zip 23.01 (x64)", "version": "23.01", "publisher": "Igor Pavlov"}]
    }"#;
    let Ok(Inventory::Device(d)) = read(doc.as_bytes(), "srv1.json", Format::Auto) else {
        panic!()
    };
    assert_eq!(d.computer_dns_name, "srv1.contoso.com");
    assert_eq!(d.products, ["Windows Server 2022"]);
    assert_eq!(d.ubr, Some(2227));
    assert_eq!(common::kbs(&d), [5034129]);
    assert_eq!(d.software.len(), 1);
    assert_eq!(d.software[0].vendor, "Igor Pavlov");
    assert!(
        d.warnings.iter().any(|w| w.contains("failed installs")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn machine_report() {
    let doc = r#"{
      "id": "2339ad14a01bd0299afb93dfa2550136057bff96",
      "computerDnsName": "core1.contoso.com",
      "osName": "Microsoft Windows Server 2019 Standard",
      "osVersion": "10.0.17763",
      "ubr": 5329,
      "installationType": "Server Core",
      "architecture": "x64",
      "displayVersion": "1809",
      "installedKbs": ["5034127", "KB5034768", "5034127"],
      "software": [{"vendor": "Microsoft Corporation", "name": "Microsoft .NET Framework 4.8", "version": "4.8.03761"}],
      "lastSeen": "2024-02-20T10:00:00Z",
      "collectorVersion": "1.0"
    }"#;
    let Ok(Inventory::Device(d)) = read(doc.as_bytes(), "core1.json", Format::Auto) else {
        panic!()
    };
    assert_eq!(d.input_format, Some(kbgap_core::InputFormat::Report));
    common::assert_os(
        &d,
        "Windows Server 2019 (Server Core installation)",
        "10.0.17763",
        X64,
        ServerCore,
    );
    assert_eq!(
        d.id.as_ref().map(|i| i.as_str()),
        Some("2339ad14a01bd0299afb93dfa2550136057bff96")
    );
    assert_eq!(d.ubr, Some(5329));
    assert_eq!(common::kbs(&d), [5034127, 5034768]);
    assert_eq!(d.software[0].name, "Microsoft .NET Framework 4.8");
    assert_eq!(d.last_seen.as_deref(), Some("2024-02-20T10:00:00Z"));
    assert!(d.warnings.is_empty());
    assert!(!d.hotpatch, "absent hotpatch means not enrolled");
    assert_eq!(d.winre_version, None);
    assert!(d.machine_tags.is_empty(), "absent machineTags means none");
}

#[test]
fn machine_tags_are_trimmed_and_kept_once_in_their_first_spelling() {
    let doc = r#"{
      "computerDnsName": "pc-07",
      "osVersion": "10.0.19045",
      "installationType": "Client",
      "architecture": "x64",
      "installedKbs": [],
      "machineTags": [" Finance ", "site:Berlin", "", "finance", "  ", "Site:berlin", "Kassel"]
    }"#;
    let Ok(Inventory::Device(d)) = read(doc.as_bytes(), "pc-07.json", Format::Auto) else {
        panic!()
    };
    assert_eq!(d.machine_tags, ["Finance", "site:Berlin", "Kassel"]);
    // Stored as the device's JSON, they come back the same.
    let stored: kbgap_core::Device =
        serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert_eq!(stored.machine_tags, d.machine_tags);

    let null = doc.replace(
        r#"[" Finance ", "site:Berlin", "", "finance", "  ", "Site:berlin", "Kassel"]"#,
        "null",
    );
    let Ok(Inventory::Device(d)) = read(null.as_bytes(), "pc-07.json", Format::Auto) else {
        panic!()
    };
    assert!(d.machine_tags.is_empty());

    let e = read(
        doc.replace(r#""Kassel""#, "7").as_bytes(),
        "pc-07.json",
        Format::Auto,
    )
    .unwrap_err();
    assert!(e.to_string().contains("machineTags[6]"), "{e}");
}

/// A Server 2025 report as the collector builds it on a hotpatch-enrolled machine.
const HOTPATCH_REPORT: &str = r#"{
  "computerDnsName": "hp1.contoso.com",
  "osVersion": "10.0.26100",
  "ubr": 4946,
  "installationType": "Server",
  "architecture": "x64",
  "installedKbs": ["5065426"],
  "hotpatch": true,
  "winreVersion": "10.0.26100.4652"
}"#;

#[test]
fn machine_report_hotpatch_and_winre_version() {
    let Ok(Inventory::Device(d)) = read(HOTPATCH_REPORT.as_bytes(), "hp1.json", Format::Auto)
    else {
        panic!()
    };
    assert_eq!(d.products, ["Windows Server 2025"]);
    assert!(d.hotpatch);
    let winre = d.winre_version.expect("winreVersion read");
    assert_eq!(
        (winre.major, winre.minor, winre.build, winre.revision),
        (10, 0, 26100, 4652)
    );
    // The stored form (the device's JSON) keeps both, the WinRE version as a string.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["hotpatch"], true);
    assert_eq!(json["winreVersion"], "10.0.26100.4652");
    let back: kbgap_core::Device = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
    // null is "not reported".
    let nulls = HOTPATCH_REPORT
        .replace("\"hotpatch\": true", "\"hotpatch\": null")
        .replace("\"10.0.26100.4652\"", "null");
    let Ok(Inventory::Device(d)) = read(nulls.as_bytes(), "hp1.json", Format::Auto) else {
        panic!()
    };
    assert!(!d.hotpatch);
    assert_eq!(d.winre_version, None);
}

#[test]
fn bad_hotpatch_or_winre_version_is_an_error_naming_the_field() {
    let cases = [
        (
            "\"hotpatch\": true",
            "\"hotpatch\": \"yes\"",
            "field \"hotpatch\"",
        ),
        (
            "\"hotpatch\": true",
            "\"hotpatch\": 1",
            "field \"hotpatch\"",
        ),
        (
            "\"10.0.26100.4652\"",
            "\"10.0.26100\"",
            "field \"winreVersion\": \"10.0.26100\" is not a Windows build",
        ),
        (
            "\"10.0.26100.4652\"",
            "\"10.0.26100.x\"",
            "field \"winreVersion\"",
        ),
        ("\"10.0.26100.4652\"", "26100", "field \"winreVersion\""),
    ];
    for (from, to, expected) in cases {
        let doc = HOTPATCH_REPORT.replace(from, to);
        assert_ne!(doc, HOTPATCH_REPORT);
        let e = read(doc.as_bytes(), "hp1.json", Format::Auto).unwrap_err();
        assert_eq!(e.kind(), kbgap_inventory::ErrorKind::Json, "{to}: {e}");
        let text = e.to_string();
        assert!(text.starts_with("hp1.json: "), "{text}");
        assert!(text.contains(expected), "{to}: {text}");
    }
}

#[test]
fn schema_is_valid_json_and_lists_exactly_the_report_keys() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/machine-report.schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let keys: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "id",
        "computerDnsName",
        "osName",
        "osVersion",
        "ubr",
        "installationType",
        "architecture",
        "displayVersion",
        "installedKbs",
        "software",
        "lastSeen",
        "hotpatch",
        "winreVersion",
        "machineTags",
    ]
    .into();
    assert_eq!(keys, expected);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        required,
        [
            "computerDnsName",
            "osVersion",
            "installationType",
            "architecture",
            "installedKbs"
        ]
        .into()
    );
    let arch: Vec<&str> = schema["properties"]["architecture"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(arch, ["x64", "x86", "arm64"]);
}

#[test]
fn collector_script_posts_the_documented_keys() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../collector/kbgap-collect.ps1");
    let script = std::fs::read_to_string(path).unwrap();
    for key in [
        "computerDnsName",
        "osName",
        "osVersion",
        "ubr",
        "installationType",
        "architecture",
        "displayVersion",
        "installedKbs",
        "software",
        "lastSeen",
        "hotpatch",
        "winreVersion",
        "machineTags",
    ] {
        assert!(script.contains(key), "the collector never sets {key}");
    }
    for needle in [
        "Package_for_RollupFix",
        "Get-HotFix",
        "/api/inventory",
        "NDP\\v4\\Full",
        "WOW6432Node",
        "Bearer",
        "[string[]] $Tags",
        "DeviceTagging",
    ] {
        assert!(script.contains(needle), "the collector lacks {needle}");
    }
}
