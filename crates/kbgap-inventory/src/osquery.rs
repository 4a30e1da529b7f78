//! osquery results, keyed by table: `os_version`, `os_version_windows`, `os_windows`
//! (`kernel_version` carries the UBR), `windows_update_history` (KBs from update titles), and
//! when present `patches` (`hotfix_id`), `programs` (software) and `system_info` (host name).
//!
//! Read as loose JSON because osquery returns every column as a string and column sets vary
//! between osquery versions; each value is checked where it is used.

use serde_json::{Map, Value};

use kbgap_core::catalog::Catalog;
use kbgap_core::{Architecture, Device, InstallationType, InstalledSoftware, OsVersion};

use crate::error::InventoryError;
use crate::hotfixes::{kb_in_text, kb_token};
use crate::osid::{self, OsFacts};

type Row = Map<String, Value>;

const TABLES: [&str; 4] = [
    "os_version",
    "os_windows",
    "os_version_windows",
    "windows_update_history",
];

/// Whether a JSON document is osquery results keyed by table.
pub(crate) fn looks_like(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| TABLES.iter().any(|t| o.contains_key(*t)))
}

/// The rows of a table: an array of objects, or one object.
fn rows<'a>(doc: &'a Value, table: &str) -> Vec<&'a Row> {
    match doc.get(table) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(o)) => vec![o],
        _ => Vec::new(),
    }
}

/// A column as text (osquery gives strings; numbers are accepted too).
fn text(row: &Row, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first non-empty value of a column across tables, in order of preference.
fn first(doc: &Value, sources: &[(&str, &str)]) -> Option<String> {
    sources
        .iter()
        .find_map(|(table, key)| rows(doc, table).into_iter().find_map(|r| text(r, key)))
}

/// `10.0.22000.1098` → version and UBR; `10.0.22000` → version only.
fn split_build(s: &str) -> Option<(OsVersion, Option<u32>)> {
    let parts: Vec<&str> = s.split('.').collect();
    let version: OsVersion = parts.get(..3)?.join(".").parse().ok()?;
    match parts.get(3) {
        None => Some((version, None)),
        Some(ubr) if parts.len() == 4 => Some((version, Some(ubr.parse().ok()?))),
        Some(_) => None,
    }
}

/// osquery's `arch` column: `x86_64`, `64-bit`, `ARM 64-bit Processor`, `32-bit`, `aarch64` ….
fn architecture(s: &str) -> Option<Architecture> {
    let l = s.to_ascii_lowercase();
    if l.contains("arm") || l.contains("aarch64") {
        Some(Architecture::Arm64)
    } else if l.contains("64") {
        Some(Architecture::X64)
    } else if l.contains("32") || l.contains("86") {
        Some(Architecture::X86)
    } else {
        None
    }
}

/// Where each fact may be found, in order of preference: (table, column).
const ARCH: &[(&str, &str)] = &[
    ("os_version", "arch"),
    ("os_windows", "arch"),
    ("system_info", "cpu_type"),
];
const NAME: &[(&str, &str)] = &[
    ("os_version", "name"),
    ("os_windows", "name"),
    ("os_version_windows", "name"),
];
const HOST: &[(&str, &str)] = &[
    ("system_info", "hostname"),
    ("system_info", "computer_name"),
];
const DISPLAY: &[(&str, &str)] = &[
    ("os_windows", "display_version"),
    ("os_version_windows", "display_version"),
];
const KERNEL: &[(&str, &str)] = &[("os_windows", "kernel_version")];
const VERSION: &[(&str, &str)] = &[
    ("os_version", "version"),
    ("os_version_windows", "version"),
    ("os_windows", "version"),
];

/// Reads osquery results into a machine state.
pub fn read(doc: &Value, file: &str, catalog: Option<&Catalog>) -> Result<Device, InventoryError> {
    let (version, ubr) = version_and_ubr(doc, file)?;
    let mut device = Device {
        computer_dns_name: first(doc, HOST).unwrap_or_default(),
        os_name: first(doc, NAME),
        os_version: Some(version),
        ubr,
        architecture: Some(os_architecture(doc, file)?),
        display_version: first(doc, DISPLAY),
        software: software(doc),
        ..Device::default()
    };
    if device.computer_dns_name.is_empty() {
        device.warnings.push(
            "no host name in the results (add the system_info table to the query)".to_owned(),
        );
    }
    device.installed_kbs = kbs(doc, &mut device.warnings);
    identify(&mut device, file, catalog)?;
    Ok(device)
}

fn os_architecture(doc: &Value, file: &str) -> Result<Architecture, InventoryError> {
    let text = first(doc, ARCH);
    text.as_deref()
        .and_then(architecture)
        .ok_or_else(|| InventoryError::Json {
            file: file.to_owned(),
            location: "field \"os_version[0].arch\"".to_owned(),
            message: match &text {
                Some(a) => format!("unknown architecture {a:?}"),
                None => "missing: no table gives the OS architecture".to_owned(),
            },
        })
}

fn version_and_ubr(doc: &Value, file: &str) -> Result<(OsVersion, Option<u32>), InventoryError> {
    let kernel = first(doc, KERNEL).and_then(|s| split_build(&s));
    let version = first(doc, VERSION);
    let parsed = version.as_deref().and_then(split_build);
    let Some((v, ubr)) = kernel.or(parsed) else {
        return Err(InventoryError::Json {
            file: file.to_owned(),
            location: "field \"os_version[0].version\"".to_owned(),
            message: match version {
                Some(v) => format!("{v:?} is not an OS version (expected e.g. 10.0.22621.2861)"),
                None => "missing: no os_version, os_windows or os_version_windows row gives the OS version".to_owned(),
            },
        });
    };
    let patch = first(doc, &[("os_version", "patch")]).and_then(|p| p.parse().ok());
    Ok((v, ubr.or_else(|| parsed.and_then(|(_, u)| u)).or(patch)))
}

/// KBs from `patches.hotfix_id` and from successful installs in `windows_update_history`.
fn kbs(doc: &Value, warnings: &mut Vec<String>) -> std::collections::BTreeSet<kbgap_core::KbId> {
    let mut out: std::collections::BTreeSet<_> = rows(doc, "patches")
        .iter()
        .filter_map(|r| text(r, "hotfix_id"))
        .filter_map(|s| kb_token(&s))
        .collect();
    let mut skipped = 0;
    for row in rows(doc, "windows_update_history") {
        // result_code 2 = succeeded, 3 = succeeded with errors; operation 2 = uninstallation.
        let failed = text(row, "result_code").is_some_and(|c| c != "2" && c != "3");
        let uninstall = text(row, "operation")
            .is_some_and(|o| o == "2" || o.eq_ignore_ascii_case("uninstallation"));
        match text(row, "title").and_then(|t| kb_in_text(&t)) {
            Some(_) if failed || uninstall => skipped += 1,
            Some(kb) => drop(out.insert(kb)),
            None => {}
        }
    }
    if skipped > 0 {
        warnings.push(format!("{skipped} update-history entries were failed installs or uninstalls and were not counted"));
    }
    out
}

fn software(doc: &Value) -> Vec<InstalledSoftware> {
    rows(doc, "programs")
        .into_iter()
        .filter_map(|r| {
            Some(InstalledSoftware {
                vendor: text(r, "publisher").unwrap_or_default(),
                name: text(r, "name")?,
                version: text(r, "version"),
            })
        })
        .collect()
}

/// osquery does not report the installation type: a caption naming a server means a server,
/// assumed a full installation (said in a warning).
fn identify(
    device: &mut Device,
    file: &str,
    catalog: Option<&Catalog>,
) -> Result<(), InventoryError> {
    let server = device
        .os_name
        .as_deref()
        .is_some_and(|n| n.contains("Server"));
    let facts = OsFacts {
        version: device.os_version.unwrap_or(OsVersion {
            major: 0,
            minor: 0,
            build: 0,
        }),
        installation_type: if server {
            InstallationType::Server
        } else {
            InstallationType::Client
        },
        architecture: device.architecture.unwrap_or(Architecture::X64),
        service_pack: None,
    };
    let id = osid::identify_with(&facts, catalog).map_err(|error| InventoryError::Os {
        file: file.to_owned(),
        location: "field \"os_version[0].version\"".to_owned(),
        error,
    })?;
    if id.installation_type == InstallationType::Server && id.end_of_support.is_none() {
        device.warnings.push(format!(
            "osquery results do not tell Server Core from a full installation: assumed a full installation ({}); \
             give the installation type \"Server Core\" if this machine is Server Core",
            id.release
        ));
    }
    device.installation_type = Some(id.installation_type);
    device.products = id.products;
    device.end_of_support = id.end_of_support;
    device.warnings.extend(id.warnings);
    Ok(())
}
