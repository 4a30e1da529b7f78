//! Inventory in: bytes of one report, an NDJSON batch, or files (a hotfix list attached to the
//! machine before it) turned into devices ready to store. Every report of a batch is read before
//! anything is stored, so a bad one (even the last line) leaves the store as it was.

use std::path::{Path, PathBuf};

use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::unevaluated_software;
use kbgap_inventory::{Format, Inventory};

/// Why a report could not be taken in. The message names the input (file, line, field).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The bytes are not a report kbgap reads, or break a limit.
    #[error(transparent)]
    Inventory(#[from] kbgap_inventory::InventoryError),
    /// A list of hotfixes with no machine to attach it to.
    #[error(
        "{0}: a list of hotfixes has no OS facts; send systeminfo output, osquery results or a kbgap machine report (or, in files, put a systeminfo file before it)"
    )]
    NoMachine(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// An NDJSON input without any report.
    #[error("{0}: no machine report in it")]
    Empty(String),
}

/// One report. With a catalog, a build kbgap's own release table does not know is identified
/// from it, and software it does not evaluate is named in a warning stored with the machine.
pub fn read_report(
    bytes: &[u8],
    source: &str,
    format: Format,
    cat: Option<&Catalog>,
) -> Result<Device, IntakeError> {
    match kbgap_inventory::read_with(bytes, source, format, cat)? {
        Inventory::Device(mut d) => {
            if let Some(cat) = cat
                && !d.software.is_empty()
            {
                let state = cat.machine_state(&d).state;
                let warnings = unevaluated_software(cat, &d, &state);
                d.warnings.extend(warnings);
            }
            Ok(d)
        }
        Inventory::Hotfixes(_) => Err(IntakeError::NoMachine(source.to_owned())),
    }
}

/// One JSON machine report per non-blank line; `source` names the input ("request body"),
/// and errors name its line.
pub fn read_ndjson(
    bytes: &[u8],
    source: &str,
    cat: Option<&Catalog>,
) -> Result<Vec<Device>, IntakeError> {
    let mut devices = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = format!("{source} line {}", n + 1);
        devices.push(read_report(line, &at, Format::Report, cat)?);
    }
    if devices.is_empty() {
        return Err(IntakeError::Empty(source.to_owned()));
    }
    Ok(devices)
}

/// Whether a file holds one report per line (`.ndjson`, `.jsonl`).
fn is_ndjson(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ndjson" | "jsonl")
    )
}

/// Reads inventory files in order: NDJSON files give a device per line, other files one
/// device each, and a hotfix list (`wmic qfe`, `Get-HotFix`) is merged into the device read
/// just before it. `done` is called after each file.
pub fn read_files(
    paths: &[PathBuf],
    cat: Option<&Catalog>,
    mut done: impl FnMut(),
) -> Result<Vec<Device>, IntakeError> {
    let mut devices: Vec<Device> = Vec::new();
    for path in paths {
        let source = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| IntakeError::Io {
            path: path.clone(),
            source,
        })?;
        if is_ndjson(path) {
            devices.extend(read_ndjson(&bytes, &source, cat)?);
        } else {
            match kbgap_inventory::read_with(&bytes, &source, Format::Auto, cat)? {
                Inventory::Device(d) => devices.push(d),
                Inventory::Hotfixes(list) => match devices.last_mut() {
                    Some(d) => kbgap_inventory::merge_hotfixes(d, &list),
                    None => return Err(IntakeError::NoMachine(source)),
                },
            }
        }
        done();
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/systeminfo")
            .join(name)
    }

    #[test]
    fn a_hotfix_list_joins_the_machine_before_it_and_never_stands_alone() {
        let info = fixture("10_22H2_x64_enterprise_en-us_systeminfo.txt");
        let qfe = std::fs::read_dir(fixture(""))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("_qfe.txt"))
            .expect("a qfe fixture");
        let alone = read_files(std::slice::from_ref(&qfe), None, || {}).unwrap_err();
        assert!(matches!(alone, IntakeError::NoMachine(_)), "{alone}");
        let before = read_files(std::slice::from_ref(&info), None, || {}).unwrap();
        let mut files = 0;
        let both = read_files(&[info, qfe], None, || files += 1).unwrap();
        assert_eq!((both.len(), files), (1, 2));
        assert!(both[0].installed_kbs.len() > before[0].installed_kbs.len());
    }

    #[test]
    fn ndjson_errors_name_the_line_and_an_empty_batch_is_refused() {
        let good = br#"{"computerDnsName":"a","osVersion":"10.0.19045","ubr":1,"installationType":"Client","architecture":"x64","installedKbs":[]}"#;
        let mut body = good.to_vec();
        body.extend_from_slice(b"\n\n{\"computerDnsName\": 3}\n");
        let err = read_ndjson(&body, "request body", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("request body line 3"), "{err}");
        assert!(matches!(
            read_ndjson(b"\n \n", "request body", None),
            Err(IntakeError::Empty(_))
        ));
        assert_eq!(read_ndjson(good, "b", None).unwrap().len(), 1);
    }
}
