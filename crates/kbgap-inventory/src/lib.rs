//! Machine inventories: systeminfo (any language and encoding), hotfix lists, osquery results,
//! kbgap JSON reports — read into one [`Device`] with the exact MSRC product names of its OS.
//!
//! The engine can only be as right as its picture of the machine, and admins already have that
//! picture in a handful of formats. [`read`] detects the format (or takes the one it is told),
//! decodes whatever encoding the file is in, and either returns a complete machine state or an
//! error that names the file and the line or field at fault — never a partial state.
#![warn(missing_docs)]

mod decode;
mod error;
mod hotfixes;
mod labels;
pub mod limits;
pub mod osid;
mod osquery;
mod overrides;
mod report;
mod systeminfo;

use std::str::FromStr;

use kbgap_core::catalog::Catalog;
use kbgap_core::{Device, InputFormat};

pub use decode::{DecodeError, Decoded, decode};
pub use error::{ErrorKind, InventoryError};
pub use hotfixes::HotfixList;
pub use overrides::{
    OsOverrides, apply_overrides, apply_overrides_with, device_from_facts, device_from_facts_with,
    merge_hotfixes,
};

/// The input formats kbgap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Detect the format from the content.
    #[default]
    Auto,
    /// `systeminfo` output.
    Systeminfo,
    /// `wmic qfe`, `Get-HotFix` or a Windows Update history list.
    Hotfixes,
    /// osquery results keyed by table.
    Osquery,
    /// kbgap's JSON machine report.
    Report,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "systeminfo" => Ok(Self::Systeminfo),
            "hotfixes" => Ok(Self::Hotfixes),
            "osquery" => Ok(Self::Osquery),
            "report" => Ok(Self::Report),
            other => Err(format!(
                "unknown input format {other:?} (expected auto, systeminfo, hotfixes, osquery or report)"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Systeminfo => "systeminfo",
            Self::Hotfixes => "hotfixes",
            Self::Osquery => "osquery",
            Self::Report => "report",
        })
    }
}

/// What a file told: a whole machine, or only a list of KBs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one value per file read: boxing would only burden callers
pub enum Inventory {
    /// A machine state with its OS products.
    Device(Device),
    /// KBs without OS facts (wmic qfe, Get-HotFix, Windows Update history).
    Hotfixes(HotfixList),
}

/// Reads one inventory file. `source` names the file in errors and warnings.
///
/// OS identification uses kbgap's compiled release table only; [`read_with`] also asks a catalog.
pub fn read(bytes: &[u8], source: &str, format: Format) -> Result<Inventory, InventoryError> {
    read_with(bytes, source, format, None)
}

/// [`read`], identifying a Windows 10/11/Server build that kbgap's compiled release table does
/// not know from the FixedBuilds of `catalog` (see [`osid::identify_with`]).
pub fn read_with(
    bytes: &[u8],
    source: &str,
    format: Format,
    catalog: Option<&Catalog>,
) -> Result<Inventory, InventoryError> {
    let text = match decode(bytes) {
        Ok(d) => d.text,
        Err(DecodeError::Empty) => {
            return Err(InventoryError::Empty {
                file: source.to_owned(),
            });
        }
        Err(DecodeError::Binary(offset)) => {
            return Err(InventoryError::Binary {
                file: source.to_owned(),
                offset,
            });
        }
    };
    let format = match format {
        Format::Auto => detect(&text).ok_or_else(|| InventoryError::UnknownFormat {
            file: source.to_owned(),
        })?,
        f => f,
    };
    let mut inventory = match format {
        Format::Systeminfo | Format::Auto => {
            systeminfo::read(&text, source, catalog).map(Inventory::Device)
        }
        Format::Hotfixes => hotfixes::read(&text, source).map(Inventory::Hotfixes),
        Format::Report => report::read(&text, source, catalog).map(Inventory::Device),
        Format::Osquery => {
            let mut de = serde_json::Deserializer::from_str(&text);
            let doc: serde_json::Value = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| report::json_error(source, &e))?;
            report::end_of_document(&mut de, source)?;
            osquery::read(&doc, source, catalog).map(Inventory::Device)
        }
    }?;
    if let Inventory::Device(d) = &mut inventory {
        limits::check(d, source)?;
        d.input_format = Some(match format {
            Format::Osquery => InputFormat::Osquery,
            Format::Report => InputFormat::Report,
            // Hotfix lists are never a `Device`; `Auto` was resolved above.
            Format::Systeminfo | Format::Hotfixes | Format::Auto => InputFormat::Systeminfo,
        });
    }
    Ok(inventory)
}

/// Tells the format from the content: JSON by its keys, text by its shape.
fn detect(text: &str) -> Option<Format> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        // The first document decides; the reader refuses anything after it.
        let first = serde_json::Deserializer::from_str(t)
            .into_iter::<serde_json::Value>()
            .next();
        let Some(Ok(doc)) = first else {
            // Malformed JSON: the report reader gives the line and column.
            return Some(Format::Report);
        };
        if osquery::looks_like(&doc) {
            return Some(Format::Osquery);
        }
        return Some(Format::Report);
    }
    if systeminfo::looks_like(text) {
        Some(Format::Systeminfo)
    } else if hotfixes::looks_like(text) {
        Some(Format::Hotfixes)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        for f in [
            Format::Auto,
            Format::Systeminfo,
            Format::Hotfixes,
            Format::Osquery,
            Format::Report,
        ] {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert!("csv".parse::<Format>().is_err());
    }
}
