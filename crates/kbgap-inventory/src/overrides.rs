//! OS facts given as options: correcting what a file could not tell (Server Core behind
//! systeminfo, the UBR), building a machine from a hotfix list plus facts, and merging hotfix
//! lists into a machine.

use kbgap_core::catalog::Catalog;
use kbgap_core::{Architecture, Device, InstallationType, OsVersion};

use crate::error::InventoryError;
use crate::hotfixes::HotfixList;
use crate::osid::{self, OsFacts};

/// OS facts given on the command line; `None` keeps what the file said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsOverrides {
    /// `major.minor.build`.
    pub os_version: Option<OsVersion>,
    /// Update build revision.
    pub ubr: Option<u32>,
    /// Client, Server or Server Core (systeminfo cannot tell Server Core apart).
    pub installation_type: Option<InstallationType>,
    /// CPU architecture.
    pub architecture: Option<Architecture>,
    /// Service pack level.
    pub service_pack: Option<u32>,
    /// Host name.
    pub computer_name: Option<String>,
}

/// The warning readers add when they assumed a full server installation; dropped once the
/// installation type is given.
const CORE_ASSUMPTION: &str = "cannot tell Server Core from a full installation";

/// Applies the overrides to a machine read from a file and names its OS products again.
pub fn apply_overrides(device: &mut Device, o: &OsOverrides) -> Result<(), InventoryError> {
    apply_overrides_with(device, o, None)
}

/// [`apply_overrides`], identifying builds newer than kbgap from `catalog`.
pub fn apply_overrides_with(
    device: &mut Device,
    o: &OsOverrides,
    catalog: Option<&Catalog>,
) -> Result<(), InventoryError> {
    let file = device.computer_dns_name.clone();
    set(&mut device.os_version, o.os_version);
    set(&mut device.ubr, o.ubr);
    set(&mut device.architecture, o.architecture);
    set(&mut device.service_pack, o.service_pack);
    if let Some(name) = &o.computer_name {
        device.computer_dns_name.clone_from(name);
    }
    if let Some(it) = o.installation_type {
        device.installation_type = Some(it);
        device.warnings.retain(|w| !w.contains(CORE_ASSUMPTION));
    }
    reidentify(device, &file, catalog)
}

fn set<T: Copy>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// Names the OS products of a machine from its current facts, replacing the old names and the
/// old identification warnings.
fn reidentify(
    device: &mut Device,
    file: &str,
    catalog: Option<&Catalog>,
) -> Result<(), InventoryError> {
    let missing = |fact, hint| InventoryError::MissingFact {
        file: file.to_owned(),
        fact,
        hint,
    };
    let facts = OsFacts {
        version: device.os_version.ok_or_else(|| {
            missing(
                "OS version",
                "give it as an option, e.g. --os-version 10.0.19045",
            )
        })?,
        installation_type: device.installation_type.ok_or_else(|| {
            missing(
                "installation type",
                "give it as an option: Client, Server or Server Core",
            )
        })?,
        architecture: device.architecture.ok_or_else(|| {
            missing(
                "architecture",
                "give it as an option: x64, x86, arm64 or ia64",
            )
        })?,
        service_pack: device.service_pack,
    };
    let id = osid::identify_with(&facts, catalog).map_err(|error| InventoryError::Os {
        file: file.to_owned(),
        location: "options".to_owned(),
        error,
    })?;
    device.installation_type = Some(id.installation_type);
    device.products = id.products;
    device.end_of_support = id.end_of_support;
    for w in id.warnings {
        if !device.warnings.contains(&w) {
            device.warnings.push(w);
        }
    }
    Ok(())
}

/// A machine from a hotfix list and OS facts given as options (the list carries no OS).
///
/// The host name defaults to the list's file name, so results stay tellable apart.
pub fn device_from_facts(
    o: &OsOverrides,
    list: &HotfixList,
    source: &str,
) -> Result<Device, InventoryError> {
    device_from_facts_with(o, list, source, None)
}

/// [`device_from_facts`], identifying builds newer than kbgap from `catalog`.
pub fn device_from_facts_with(
    o: &OsOverrides,
    list: &HotfixList,
    source: &str,
    catalog: Option<&Catalog>,
) -> Result<Device, InventoryError> {
    let mut device = Device {
        computer_dns_name: o
            .computer_name
            .clone()
            .unwrap_or_else(|| file_stem(source).to_owned()),
        os_version: o.os_version,
        ubr: o.ubr,
        service_pack: o.service_pack,
        architecture: o.architecture,
        installation_type: o.installation_type,
        installed_kbs: list.kbs.clone(),
        warnings: list.warnings.clone(),
        input_format: Some(kbgap_core::InputFormat::Hotfixes),
        ..Device::default()
    };
    reidentify(&mut device, source, catalog)?;
    Ok(device)
}

/// Adds a hotfix list's KBs (and warnings) to a machine, e.g. a `wmic qfe` list that names the
/// hotfixes systeminfo stopped listing.
pub fn merge_hotfixes(device: &mut Device, list: &HotfixList) {
    device.installed_kbs.extend(list.kbs.iter().copied());
    for w in &list.warnings {
        if !device.warnings.contains(w) {
            device.warnings.push(w.clone());
        }
    }
    if !list.kbs.is_empty() {
        // The list names the hotfixes systeminfo stopped listing: its warning no longer holds.
        device
            .warnings
            .retain(|w| !w.starts_with("hotfix list incomplete"));
    }
}

fn file_stem(source: &str) -> &str {
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}
