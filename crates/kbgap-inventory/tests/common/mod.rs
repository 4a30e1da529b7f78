//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use kbgap_core::{Architecture, Device, InstallationType};
use kbgap_inventory::{Format, HotfixList, Inventory, InventoryError, read};

/// The real systeminfo / qfe / update-history corpus (wesng's validation files).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo")
}

/// Synthetic captures in languages and encodings the corpus lacks (see fixtures/README.md).
pub fn local_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn bytes(dir: PathBuf, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn read_file(dir: PathBuf, name: &str) -> Result<Inventory, InventoryError> {
    read(&bytes(dir, name), name, Format::Auto)
}

pub fn device(dir: PathBuf, name: &str) -> Device {
    match read_file(dir, name) {
        Ok(Inventory::Device(d)) => d,
        other => panic!("{name}: expected a device, got {other:?}"),
    }
}

pub fn hotfixes(dir: PathBuf, name: &str) -> HotfixList {
    match read_file(dir, name) {
        Ok(Inventory::Hotfixes(l)) => l,
        other => panic!("{name}: expected a hotfix list, got {other:?}"),
    }
}

pub fn kbs(d: &Device) -> Vec<u32> {
    d.installed_kbs.iter().map(|k| k.get()).collect()
}

pub fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

/// Asserts the OS facts and products of a device.
pub fn assert_os(
    d: &Device,
    product: &str,
    version: &str,
    arch: Architecture,
    it: InstallationType,
) {
    assert_eq!(d.products, [product], "{}", d.computer_dns_name);
    assert_eq!(
        d.os_version.map(|v| v.to_string()).as_deref(),
        Some(version)
    );
    assert_eq!(d.architecture, Some(arch));
    assert_eq!(d.installation_type, Some(it));
}
