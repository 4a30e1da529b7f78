//! From stored machines and engine answers to Defender's response bodies.

use chrono::{DateTime, NaiveDateTime, Utc};
use kbgap_core::Architecture;
use kbgap_core::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use kbgap_core::engine::MissingKb;
use kbgap_core::engine::{Exposure, ExposureLevel, RiskScore};
use kbgap_core::report::MissingKbEntry;
use kbgap_core::risk::ProductRisk;
use kbgap_store::StoredMachine;

use crate::dto::{
    FixExtension, Machine, PublicAssetDto, PublicProductFixDto, ServicingStatus, Software,
    Vulnerability,
};
use kbgap_service::FleetView;
use kbgap_service::queries::SoftwareCounts;

/// All catalog products are Microsoft's, so every software kbgap serves has this vendor.
pub const VENDOR: &str = "microsoft";

/// A stored machine as Defender's `Machine` entity; `exposure` (from its group's evaluation)
/// gives `exposureLevel` and `riskScore`.
pub fn machine_dto(m: &StoredMachine, exposure: Option<&Exposure>) -> Machine {
    let d = &m.device;
    let mut out = Machine::new(m.id.as_str(), d.computer_dns_name.clone());
    if let Some(e) = exposure {
        out.exposure_level = match e.level() {
            ExposureLevel::None => crate::dto::ExposureLevel::None,
            ExposureLevel::Low => crate::dto::ExposureLevel::Low,
            ExposureLevel::Medium => crate::dto::ExposureLevel::Medium,
            ExposureLevel::High => crate::dto::ExposureLevel::High,
        };
        out.risk_score = Some(match e.risk_score() {
            RiskScore::None => crate::dto::RiskScore::None,
            RiskScore::Informational => crate::dto::RiskScore::Informational,
            RiskScore::Low => crate::dto::RiskScore::Low,
            RiskScore::Medium => crate::dto::RiskScore::Medium,
            RiskScore::High => crate::dto::RiskScore::High,
        });
    }
    out.first_seen = Some(m.first_seen);
    out.last_seen = Some(m.last_seen);
    out.os_platform = d.os_name.as_deref().and_then(os_platform);
    out.os_version = d
        .os_version
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.build));
    out.os_build = d.os_version.map(|v| i64::from(v.build));
    out.version = d.display_version.clone();
    out.machine_tags = d.machine_tags.clone();
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
            max_cvss: entry.max_cvss,
            exploited_cves: entry.exploited_cves,
            kev_cves: entry.kev_cves,
            kev_due_date: entry.kev_due_date,
            cves: entry.cves.unwrap_or_default(),
        });
    }
    dto
}

/// What MSRC says of a vulnerability on the products a missing KB serves on a machine, or on
/// all the machine's products when none of those lists it (a CVE closed through what the KB
/// contains).
pub fn vuln_risk(
    cat: &Catalog,
    kb_products: &[ProductIx],
    machine_products: &[ProductIx],
    vuln: VulnIx,
) -> ProductRisk {
    let risk = cat.vuln_risk(vuln, kb_products);
    if risk.severity.is_some() || risk.cvss.is_some() {
        risk
    } else {
        cat.vuln_risk(vuln, machine_products)
    }
}

/// A KB's release date (`YYYY-MM-DDTHH:MM:SS`) as a UTC time; the epoch when unreadable.
pub fn release_time(cat: &Catalog, kb: KbIx) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(&cat.kb(kb).release_date, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

/// A `YYYY-MM-DDTHH:MM:SS` date as a UTC time.
fn utc(date: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// A vulnerability open on machines as Defender's `Vulnerability`, from MSRC's and CISA's data:
/// severity from the CVSS band (else MSRC's rating), CVSS and vector, exploitation, first
/// publication. `fix_released` is when the KB that closes it came out. Defender's own feeds
/// (exploit kits, EPSS) have no counterpart and keep their empty values.
pub fn vulnerability_dto(
    cat: &Catalog,
    vuln: VulnIx,
    risk: &ProductRisk,
    exposed_machines: u64,
    fix_released: DateTime<Utc>,
) -> Vulnerability {
    let v = cat.vuln(vuln);
    let published = v.published.as_deref().and_then(utc).unwrap_or(fix_released);
    let mut tags = Vec::new();
    if v.kev.is_some() {
        tags.push("CISA KEV".to_owned());
    }
    Vulnerability {
        id: v.id.to_string(),
        name: v.id.to_string(),
        description: Some(v.title.clone()),
        severity: risk.defender_severity().map(|s| s.to_string()),
        // MSRC writes one decimal; widening the f32 as is would show 7.800000190734863.
        cvss_v3: risk
            .cvss
            .map_or(0.0, |c| (f64::from(c) * 10.0).round() / 10.0),
        cvss_vector: risk.vector.map(|ix| cat.vector(ix).to_owned()),
        exposed_machines: i64::try_from(exposed_machines).unwrap_or(i64::MAX),
        published_on: published,
        updated_on: published.max(fix_released),
        first_detected: None,
        patch_first_available: Some(fix_released),
        public_exploit: v.public_exploit(),
        exploit_verified: v.exploited(),
        exploit_in_kit: false,
        exploit_types: Vec::new(),
        exploit_uris: Vec::new(),
        cve_supportability: Some("Supported".to_owned()),
        tags,
        epss: 0.0,
        // Listed because a machine has it open: remediation (the KB) is required.
        status: "RemediationRequired".to_owned(),
    }
}

/// A software as Defender's `Software` entity.
///
/// `impactScore` is kbgap's own rule (Defender does not publish its formula): the share of the
/// fleet's machines exposed through this software × its highest open CVSS score, 0–10, one
/// decimal (every machine exposed to a CVSS 9.8 CVE gives 9.8).
pub fn software_dto(name: &str, counts: &SoftwareCounts) -> Software {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let share = counts.exposed as f64 / counts.fleet.max(1) as f64;
    let impact = share * f64::from(counts.max_cvss.unwrap_or(0.0));
    Software {
        id: format!("{VENDOR}-_-{name}"),
        name: name.to_owned(),
        vendor: VENDOR.to_owned(),
        weaknesses: as_i64(counts.weaknesses),
        public_exploit: counts.public_exploit,
        active_alert: false,
        exposed_machines: as_i64(counts.exposed),
        installed_machines: as_i64(counts.installed),
        impact_score: (impact * 10.0).round() / 10.0,
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
        tags: m.device.machine_tags.clone(),
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
