//! Per-field limits on machine reports (issue 13, F5): over a limit is an error naming the
//! field and the limit; at the limit is accepted.

use kbgap_inventory::limits::{
    MAX_COMPUTER_NAME, MAX_INSTALLED_KBS, MAX_MACHINE_TAG, MAX_MACHINE_TAGS, MAX_OS_NAME,
    MAX_SOFTWARE, MAX_SOFTWARE_TEXT,
};
use kbgap_inventory::{ErrorKind, Format, Inventory, read};
use serde_json::{Value, json};

fn report() -> Value {
    json!({
        "computerDnsName": "pc-01.contoso.com",
        "osName": "Microsoft Windows 10 Enterprise",
        "osVersion": "10.0.19045",
        "ubr": 3803,
        "installationType": "Client",
        "architecture": "x64",
        "installedKbs": ["5034441"],
        "software": [{"vendor": "Microsoft", "name": "Edge", "version": "120.0"}],
    })
}

fn read_report(v: &Value) -> Result<Inventory, kbgap_inventory::InventoryError> {
    read(v.to_string().as_bytes(), "r.json", Format::Report)
}

fn refused(v: &Value, field: &str, limit: usize) {
    let e = read_report(v).expect_err("over the limit");
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("field \"{field}\"")), "{msg}");
    assert!(msg.contains(&format!("at most {limit}")), "{msg}");
}

#[test]
fn long_strings_are_refused_naming_the_field() {
    let mut v = report();
    v["osName"] = json!("x".repeat(MAX_OS_NAME + 1));
    refused(&v, "osName", MAX_OS_NAME);
    v["osName"] = json!("x".repeat(MAX_OS_NAME));
    assert!(read_report(&v).is_ok(), "at the limit is accepted");

    let mut v = report();
    v["computerDnsName"] = json!("a".repeat(MAX_COMPUTER_NAME + 1));
    refused(&v, "computerDnsName", MAX_COMPUTER_NAME);

    let mut v = report();
    v["software"][0]["name"] = json!("n".repeat(MAX_SOFTWARE_TEXT + 1));
    refused(&v, "software[0].name", MAX_SOFTWARE_TEXT);
}

#[test]
fn too_many_kbs_or_programs_are_refused() {
    let mut v = report();
    let kbs: Vec<String> = (0..=MAX_INSTALLED_KBS)
        .map(|i| (1_000_000 + i).to_string())
        .collect();
    v["installedKbs"] = json!(kbs);
    refused(&v, "installedKbs", MAX_INSTALLED_KBS);
    v["installedKbs"] = json!(kbs[..MAX_INSTALLED_KBS]);
    assert!(read_report(&v).is_ok());

    let mut v = report();
    let programs: Vec<Value> = (0..=MAX_SOFTWARE)
        .map(|i| json!({"vendor": "v", "name": format!("p{i}")}))
        .collect();
    v["software"] = json!(programs);
    refused(&v, "software", MAX_SOFTWARE);
}

#[test]
fn too_many_or_too_long_tags_are_refused() {
    let mut v = report();
    let tags: Vec<String> = (0..=MAX_MACHINE_TAGS).map(|i| format!("t{i}")).collect();
    v["machineTags"] = json!(tags);
    refused(&v, "machineTags", MAX_MACHINE_TAGS);
    v["machineTags"] = json!(tags[..MAX_MACHINE_TAGS]);
    assert!(read_report(&v).is_ok(), "at the limit is accepted");
    // Repeats are one tag: they do not count against the limit.
    v["machineTags"] = json!(vec!["same"; MAX_MACHINE_TAGS * 2]);
    assert!(read_report(&v).is_ok());

    let mut v = report();
    v["machineTags"] = json!(["ok", "x".repeat(MAX_MACHINE_TAG + 1)]);
    refused(&v, "machineTags[1]", MAX_MACHINE_TAG);
    v["machineTags"] = json!(["ok", "x".repeat(MAX_MACHINE_TAG)]);
    assert!(read_report(&v).is_ok());
}

#[test]
fn the_schema_documents_the_limits() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/machine-report.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let p = &schema["properties"];
    assert_eq!(p["osName"]["maxLength"], MAX_OS_NAME);
    assert_eq!(p["computerDnsName"]["maxLength"], MAX_COMPUTER_NAME);
    assert_eq!(p["installedKbs"]["maxItems"], MAX_INSTALLED_KBS);
    assert_eq!(p["software"]["maxItems"], MAX_SOFTWARE);
    assert_eq!(p["machineTags"]["maxItems"], MAX_MACHINE_TAGS);
    assert_eq!(p["machineTags"]["items"]["maxLength"], MAX_MACHINE_TAG);
    assert_eq!(
        p["software"]["items"]["properties"]["name"]["maxLength"],
        MAX_SOFTWARE_TEXT
    );
}
