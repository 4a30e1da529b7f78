//! kbgap's own JSON machine report: what `collector/kbgap-collect.ps1` posts and what
//! `schemas/machine-report.schema.json` documents.
//!
//! Deserialized strictly (wrong types and unknown architectures are errors that name the field),
//! except that unknown fields are ignored so older kbgap versions read newer collectors' reports.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use kbgap_core::catalog::Catalog;
use kbgap_core::{
    Architecture, Build, Device, InstallationType, InstalledSoftware, KbId, MachineId, OsVersion,
};

use crate::error::InventoryError;
use crate::osid::{self, OsFacts};

/// The report's keys (camelCase in JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    #[serde(default)]
    id: Option<MachineId>,
    computer_dns_name: String,
    #[serde(default)]
    os_name: Option<String>,
    os_version: OsVersion,
    #[serde(default)]
    ubr: Option<u32>,
    installation_type: Parsed<InstallationType>,
    architecture: Parsed<Architecture>,
    #[serde(default)]
    display_version: Option<String>,
    installed_kbs: Vec<Kb>,
    #[serde(default)]
    software: Vec<InstalledSoftware>,
    #[serde(default)]
    last_seen: Option<String>,
    /// Enrolled in hotpatch; `null` or absent means not enrolled.
    #[serde(default)]
    hotpatch: Option<bool>,
    /// The WinRE image version (`10.0.19041.5000`).
    #[serde(default)]
    winre_version: Option<Parsed<Build>>,
    /// Labels for filtering (`null` or absent: none).
    #[serde(default)]
    machine_tags: Option<Vec<String>>,
}

/// A value read from a string through its `FromStr`, so the error says what kbgap expects
/// (`unknown architecture "sparc" (expected x64, x86, arm64 or ia64)`).
#[derive(Debug)]
struct Parsed<T>(T);

impl<'de, T> Deserialize<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(Parsed).map_err(serde::de::Error::custom)
    }
}

/// A KB as the report spells it: `"5094127"`, `"KB5094127"` (or a bare number).
#[derive(Debug)]
struct Kb(KbId);

impl<'de> Deserialize<'de> for Kb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u32),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        };
        text.parse().map(Kb).map_err(serde::de::Error::custom)
    }
}

/// Reads a machine report; `catalog` identifies builds newer than kbgap.
pub fn read(text: &str, file: &str, catalog: Option<&Catalog>) -> Result<Device, InventoryError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let report: Report =
        serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(file, &e))?;
    end_of_document(&mut de, file)?;
    let facts = OsFacts {
        version: report.os_version,
        installation_type: report.installation_type.0,
        architecture: report.architecture.0,
        service_pack: None,
    };
    let id = osid::identify_with(&facts, catalog).map_err(|error| InventoryError::Os {
        file: file.to_owned(),
        location: "field \"osVersion\"".to_owned(),
        error,
    })?;
    Ok(Device {
        id: report.id,
        computer_dns_name: report.computer_dns_name,
        os_name: report.os_name,
        os_version: Some(report.os_version),
        ubr: report.ubr,
        service_pack: None,
        architecture: Some(facts.architecture),
        installation_type: Some(id.installation_type),
        display_version: report.display_version,
        products: id.products,
        installed_kbs: report.installed_kbs.into_iter().map(|k| k.0).collect(),
        software: report.software,
        locale: None,
        last_seen: report.last_seen,
        warnings: id.warnings,
        end_of_support: id.end_of_support,
        hotpatch: report.hotpatch.unwrap_or(false),
        winre_version: report.winre_version.map(|v| v.0),
        machine_tags: machine_tags(report.machine_tags.unwrap_or_default()),
        input_format: Some(kbgap_core::InputFormat::Report),
    })
}

/// Tags as kept: trimmed, empty ones dropped, and a tag repeated (without regard to case) kept
/// once, in its first spelling, so `Prod` and `prod ` are one tag as a filter sees them.
fn machine_tags(raw: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    raw.into_iter()
        .filter_map(|t| {
            let t = t.trim();
            (!t.is_empty() && seen.insert(t.to_lowercase())).then(|| t.to_owned())
        })
        .collect()
}

/// Refuses anything after the document but whitespace (`{…}\n{…}`, `{…} garbage`): a second
/// report would otherwise be dropped without a word.
pub(crate) fn end_of_document(
    de: &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
    file: &str,
) -> Result<(), InventoryError> {
    de.end().map_err(|e| InventoryError::Json {
        file: file.to_owned(),
        location: format!("line {}, column {}", e.line(), e.column()),
        message: "data after the end of the JSON document (one report per request)".to_owned(),
    })
}

/// A serde error with the JSON path of the offending field (`field "software[2].name"`), or the
/// line and column when the document itself is malformed.
pub(crate) fn json_error(
    file: &str,
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> InventoryError {
    let path = e.path().to_string();
    let inner = e.inner();
    let location = if path == "." || path.is_empty() || path.starts_with('?') {
        format!("line {}, column {}", inner.line(), inner.column())
    } else {
        format!("field {path:?}")
    };
    let mut message = inner.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    InventoryError::Json {
        file: file.to_owned(),
        location,
        message,
    }
}
