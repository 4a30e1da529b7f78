//! The collector's output as Windows PowerShell 5.1 writes it (`fixtures/collector/`: UTF-16LE
//! with a BOM, CRLF, ConvertTo-Json's layout) is valid against
//! `schemas/machine-report.schema.json` and reads as the machine it describes.
//!
//! The validator below covers exactly the keywords the schema uses, and the first test fails if
//! the schema starts using another: a keyword it skipped would make "valid" mean nothing.

use std::path::PathBuf;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn schema() -> Value {
    let text = std::fs::read_to_string(repo("schemas/machine-report.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const FIXTURE: &str = "fixtures/collector/win11-24h2-ltsc.report.json";

/// Keywords `validate` enforces, and the annotations it may ignore.
const ENFORCED: [&str; 13] = [
    "type",
    "required",
    "properties",
    "items",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "maxItems",
    "minimum",
    "maximum",
    "format",
    "$schema",
];
const ANNOTATIONS: [&str; 4] = ["$id", "title", "description", "default"];

fn keywords(schema: &Value, out: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    for (k, v) in obj {
        out.push(k.clone());
        match k.as_str() {
            "properties" => v
                .as_object()
                .unwrap()
                .values()
                .for_each(|s| keywords(s, out)),
            "items" => keywords(v, out),
            _ => {}
        }
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

/// The schema's errors for `v`, each naming the path.
fn validate(s: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let mut fail = |what: String| errors.push(format!("{path}: {what}"));
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => panic!("type {t}"),
        };
        if !types.iter().any(|t| type_ok(t, v)) {
            fail(format!("not of type {types:?}"));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        fail(format!("{v} is not one of {allowed:?}"));
    }
    if let Some(text) = v.as_str() {
        let chars = text.chars().count() as u64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            fail(format!("longer than {max}"));
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            fail(format!("shorter than {min}"));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(p).unwrap().is_match(text)
        {
            fail(format!("{text:?} does not match {p}"));
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time")
            && chrono_like_rfc3339(text).is_none()
        {
            fail(format!("{text:?} is not an RFC 3339 date-time"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            fail(format!("{n} is below the minimum"));
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            fail(format!("{n} is above the maximum"));
        }
    }
    if let Some(items) = v.as_array() {
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            fail(format!("more than {max} items"));
        }
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                validate(item, x, &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                errors.push(format!("{path}: required {r} is missing"));
            }
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, x) in obj {
                if let Some(ps) = props.get(k) {
                    validate(ps, x, &format!("{path}.{k}"), errors);
                }
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, checked by shape and field ranges.
fn chrono_like_rfc3339(s: &str) -> Option<()> {
    let re = regex::Regex::new(
        r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
    )
    .unwrap();
    let c = re.captures(s)?;
    let n = |i: usize| c[i].parse::<u32>().ok();
    let ok = (1..=12).contains(&n(2)?)
        && (1..=31).contains(&n(3)?)
        && n(4)? < 24
        && n(5)? < 60
        && n(6)? < 61;
    ok.then_some(())
}

fn errors_of(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(&schema(), doc, "$", &mut errors);
    errors
}

/// The fixture as text: it is UTF-16LE with a BOM, as PowerShell 5.1's `>` writes it.
fn fixture_text() -> String {
    let bytes = std::fs::read(repo(FIXTURE)).unwrap();
    assert_eq!(
        &bytes[..2],
        b"\xff\xfe",
        "PowerShell 5.1 writes UTF-16LE with a BOM"
    );
    let units: Vec<u16> = (bytes[2..].chunks_exact(2))
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[test]
fn the_validator_knows_every_keyword_the_schema_uses() {
    let mut used = Vec::new();
    keywords(&schema(), &mut used);
    let unknown: Vec<&String> = (used.iter())
        .filter(|k| !ENFORCED.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the schema uses {unknown:?}: teach validate()"
    );
}

#[test]
fn the_collector_fixture_is_valid_against_the_schema() {
    let text = fixture_text();
    assert!(text.contains("\r\n"), "CRLF line ends");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(errors_of(&doc), Vec::<String>::new());
}

#[test]
fn the_validator_refuses_what_the_schema_forbids() {
    let doc: Value = serde_json::from_str(&fixture_text()).unwrap();
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        edit(&mut d);
        errors_of(&d)
    };
    type Edit<'a> = &'a dyn Fn(&mut Value);
    let cases: [(Edit<'_>, &str); 8] = [
        (&|d| d["osVersion"] = "10.0".into(), "$.osVersion"),
        (
            &|d| d["installationType"] = "Workstation".into(),
            "$.installationType",
        ),
        (
            &|d| d["installedKbs"][1] = "KBabc".into(),
            "$.installedKbs[1]",
        ),
        (
            &|d| d["computerDnsName"] = "x".repeat(256).into(),
            "$.computerDnsName",
        ),
        (&|d| d["ubr"] = (-1).into(), "$.ubr"),
        (
            &|d| d["lastSeen"] = "2024-13-01T00:00:00Z".into(),
            "$.lastSeen",
        ),
        (
            &|d| d["software"][0]["name"] = Value::Null,
            "$.software[0].name",
        ),
        (
            &|d| drop(d.as_object_mut().unwrap().remove("architecture")),
            "architecture is missing",
        ),
    ];
    for (edit, expected) in cases {
        let errors = broken(edit);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected}: {errors:?}"
        );
    }
}

#[test]
fn the_collector_fixture_reads_as_its_machine() {
    let bytes = std::fs::read(repo(FIXTURE)).unwrap();
    let inv = kbgap_inventory::read(&bytes, FIXTURE, kbgap_inventory::Format::Auto).unwrap();
    let kbgap_inventory::Inventory::Device(d) = inv else {
        panic!("{inv:?}")
    };
    assert_eq!(d.computer_dns_name, "WINXI24H2LTSC");
    assert_eq!(
        d.products,
        ["Windows 11 Version 24H2 for x64-based Systems"]
    );
    let kbs: Vec<u32> = d.installed_kbs.iter().map(|k| k.get()).collect();
    assert_eq!(kbs, [5037589, 5037783, 5039449]);
    assert_eq!(d.software.len(), 3);
}
