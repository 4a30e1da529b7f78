//! Paths to the repository's real MSRC documents, shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use kbgap_core::{Document, KbId};

/// `data/msrc-cvrf/`: the 190 bundled documents, as MSRC served them on 2026-07-06.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/msrc-cvrf")
}

/// `fixtures/msrc-cvrf-2020/`: older revisions of 2020-Mar and 2019-Aug.
pub fn fixtures_2020() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/msrc-cvrf-2020")
}

/// A bundled document file, e.g. `bundled("2026-Jun")`.
pub fn bundled(id: &str) -> PathBuf {
    data_dir().join(format!("{id}.xml.zst"))
}

/// The decompressed XML of a bundled document.
pub fn bundled_xml(id: &str) -> Vec<u8> {
    let bytes = std::fs::read(bundled(id)).unwrap();
    zstd::decode_all(&bytes[..]).unwrap()
}

/// Distinct vulnerability ids that list `kb` as a Vendor Fix.
pub fn vulns_fixed_by(doc: &Document, kb: u32) -> BTreeSet<String> {
    let kb = KbId::new(kb).unwrap();
    doc.vulnerabilities
        .iter()
        .filter(|v| v.fixes.iter().any(|f| f.kb == kb))
        .map(|v| v.id.to_string())
        .collect()
}
