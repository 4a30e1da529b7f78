//! From stored machines and engine answers to Defender's response bodies.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use kbgap_core::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use kbgap_core::engine::MissingKb;
use kbgap_core::report::MissingKbEntry;
use kbgap_core::{Architecture, Severity};
use kbgap_store::StoredMachine;

use crate::dto::{
    FixExtension, Machine, PublicAssetDto, PublicProductFixDto, ServicingStatus, Software,
    Vulnerability,
};
use crate::fleet::FleetView;

/// All catalog products are Microsoft's, so every software kbgap serves has this vendor.
pub const VENDOR: &str = "microsoft";

/// A stored machine as Defender's `Machine` entity.
pub fn machine_dto(m: &StoredMachine) -> Machine {
    let d = &m.device;
    let mut out = Machine::new(m.id.as_str(), d.computer_dns_name.clone());
    out.first_seen = Some(m.first_seen);
    out.last_seen = Some(m.last_seen);
    out.os_platform = d.os_name.as_deref().and_then(os_platform);
    out.os_version = d
        .os_version
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.build));
    out.os_build = d.os_version.map(|v| i64::from(v.build));
    out.version = d.display_version.clone();
    if let Some(note) = &d.end_of_support {
        out.servicing_status = ServicingStatus::EndOfSupport;
        out.servicing_note = Some(note.clone());
    }
    if let Some(arch) = d.architecture {
        let (processor, bits) = match arch {
            Architecture::X86 => ("x86", "32-bit"),
            Architecture::X64 => ("x64", "64-bit"),
            Architecture::Arm64 => ("ARM64", "64-bit"),
            Architecture::Ia64 => ("IA64", "64-bit"),
        };
        out.os_processor = Some(processor.to_owned());
        out.os_architecture = Some(bits.to_owned());
    }
    out
}

/// Defender's `osPlatform` from an OS caption: "Microsoft Windows 10 Enterprise" → `Windows10`,
/// "Microsoft Windows Server 2008 R2 Standard" → `WindowsServer2008R2`.
pub fn os_platform(caption: &str) -> Option<String> {
    let words: Vec<&str> = caption.split_whitespace().collect();
    let start = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("windows"))?;
    let rest = &words[start + 1..];
    let mut out = String::from("Windows");
    match rest.first() {
        Some(w) if w.eq_ignore_ascii_case("server") => {
            out.push_str("Server");
            for w in rest.iter().skip(1).take(2) {
                if w.chars().next().is_some_and(|c| c.is_ascii_digit())
                    || w.eq_ignore_ascii_case("r2")
                {
                    out.push_str(&w.to_ascii_uppercase());
                } else {
                    break;
                }
            }
        }
        Some(w) => out.push_str(w),
        None => {}
    }
    Some(out)
}

/// A machine's missing KB as `PublicProductFixDto`: the same entry `kbgap scan` prints, with
/// `machineMissedOn` from the whole fleet.
pub fn machine_fix(
    cat: &Catalog,
    view: &FleetView,
    state: &kbgap_core::engine::MachineState,
    missing: &MissingKb,
    extended: bool,
) -> PublicProductFixDto {
    let entry = MissingKbEntry::new(cat, state, missing, extended);
    let kb = cat.kb(missing.kb);
    let mut dto = PublicProductFixDto::new(
        kb.id,
        entry.name,
        entry.os_build,
        entry.products_names,
        i64::try_from(view.fleet.missed_on(missing.kb)).unwrap_or(i64::MAX),
        entry.cve_addressed,
    );
    if extended {
        dto.extended = Some(FixExtension {
            open_cves_closed: entry.open_cves_closed,
            reason: entry.reason,
            kind: entry.kind,
            supersedes_missing: entry.supersedes_missing,
            max_severity: entry.max_severity.map(|s| s.to_string()),
            cves: entry.cves.unwrap_or_default(),
        });
    }
    dto
}

/// The severity MSRC gives a vulnerability fixed by a KB, the highest over the products.
pub fn severity(cat: &Catalog, products: &[ProductIx], vuln: VulnIx, kb: KbIx) -> Option<Severity> {
    products
        .iter()
        .filter_map(|&p| {
            let fixes = cat.fixes_of(p);
            fixes
                .binary_search_by(|f| (f.vuln, f.kb).cmp(&(vuln, kb)))
                .ok()
                .and_then(|i| fixes.get(i))
                .and_then(|f| f.severity)
        })
        .max()
}

/// A KB's release date (`YYYY-MM-DDTHH:MM:SS`) as a UTC time; the epoch when unreadable.
pub fn release_time(cat: &Catalog, kb: KbIx) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(&cat.kb(kb).release_date, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

/// A vulnerability as Defender's `Vulnerability`. kbgap knows MSRC's title, severity and the
/// release of the fix; the exploit and scoring fields Defender fills from its own feeds are left
/// at their empty values.
pub fn vulnerability_dto(
    cat: &Catalog,
    vuln: VulnIx,
    severity: Option<Severity>,
    exposed_machines: u64,
    published: DateTime<Utc>,
) -> Vulnerability {
    let v = cat.vuln(vuln);
    Vulnerability {
        id: v.id.to_string(),
        name: v.id.to_string(),
        description: Some(v.title.clone()),
        severity: severity.map(|s| s.to_string()),
        cvss_v3: 0.0,
        cvss_vector: None,
        exposed_machines: i64::try_from(exposed_machines).unwrap_or(i64::MAX),
        published_on: published,
        updated_on: published,
        first_detected: None,
        patch_first_available: Some(published),
        public_exploit: false,
        exploit_verified: false,
        exploit_in_kit: false,
        exploit_types: Vec::new(),
        exploit_uris: Vec::new(),
        cve_supportability: None,
        tags: Vec::new(),
        epss: 0.0,
        status: "Active".to_owned(),
    }
}

/// Installed and exposed machine counts of one software.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftwareCounts {
    /// Machines with a product of the software.
    pub installed: u64,
    /// Of those, machines missing a KB for one of its products.
    pub exposed: u64,
}

/// Distinct software names of a machine's applicable products.
pub fn machine_software(cat: &Catalog, products: &[ProductIx]) -> BTreeSet<String> {
    products
        .iter()
        .map(|&p| cat.product(p).software.clone())
        .collect()
}

/// Per software name over the whole fleet: how many machines have it and are exposed.
pub fn software_counts(cat: &Catalog, view: &FleetView) -> BTreeMap<String, SoftwareCounts> {
    let mut out: BTreeMap<String, SoftwareCounts> = BTreeMap::new();
    for id in view.machines.keys() {
        let Some(group) = view.fleet.group_of(id) else {
            continue;
        };
        let exposed: BTreeSet<&str> = group
            .evaluation
            .missing
            .iter()
            .flat_map(|m| m.products.iter())
            .map(|&p| cat.product(p).software.as_str())
            .collect();
        for name in machine_software(cat, &group.state.products) {
            let is_exposed = exposed.contains(name.as_str());
            let c = out.entry(name).or_default();
            c.installed += 1;
            if is_exposed {
                c.exposed += 1;
            }
        }
    }
    out
}

/// A software as Defender's `Software` entity.
pub fn software_dto(name: &str, counts: SoftwareCounts) -> Software {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Software {
        id: format!("{VENDOR}-_-{name}"),
        name: name.to_owned(),
        vendor: VENDOR.to_owned(),
        weaknesses: 0,
        public_exploit: false,
        active_alert: false,
        exposed_machines: as_i64(counts.exposed),
        installed_machines: as_i64(counts.installed),
        impact_score: 0.0,
        is_normalized: true,
        category: None,
    }
}

/// A machine as `PublicAssetDto` (a software's machine references).
pub fn asset_dto(m: &StoredMachine) -> PublicAssetDto {
    PublicAssetDto {
        id: m.id.as_str().to_owned(),
        computer_dns_name: m.device.computer_dns_name.clone(),
        os_platform: m.device.os_name.as_deref().and_then(os_platform),
        asset_criticality_level: None,
        tags: Vec::new(),
        rbac_group_name: None,
        rbac_group_id: Some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_platform_follows_defenders_spelling() {
        assert_eq!(
            os_platform("Microsoft Windows 10 Enterprise").as_deref(),
            Some("Windows10")
        );
        assert_eq!(
            os_platform("Microsoft Windows Server 2008 R2 Standard").as_deref(),
            Some("WindowsServer2008R2")
        );
        assert_eq!(
            os_platform("Microsoft Windows Server 2022 Datacenter").as_deref(),
            Some("WindowsServer2022")
        );
        assert_eq!(os_platform("Linux"), None);
    }
}
