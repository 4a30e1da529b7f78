//! One machine, one KB, one CVE: everything a detail page shows, with the machines behind it.

use chrono::{DateTime, Utc};
use kbgap_core::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use kbgap_core::report::{KbReport, MissingKbEntry};
use kbgap_core::{KbId, Severity};
use serde::Serialize;

use super::machines::Summaries;
use super::{MachineRow, Scope, machines_missing};
use crate::FleetView;

/// A machine with everything the engine said about it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineView {
    /// Its row (name, OS, counts).
    pub row: MachineRow,
    /// The OS caption reported ("Microsoft Windows 11 Enterprise").
    pub os_name: Option<String>,
    /// The display version reported ("23H2").
    pub display_version: Option<String>,
    /// Architecture reported.
    pub architecture: Option<String>,
    /// Installation type reported.
    pub installation_type: Option<String>,
    /// MSRC products the machine was matched to.
    pub products: Vec<String>,
    /// First report.
    pub first_seen: DateTime<Utc>,
    /// The system locale reported.
    pub locale: Option<String>,
    /// The inventory format the machine was last read from (unknown for machines stored
    /// before kbgap recorded it).
    pub input_format: Option<kbgap_core::InputFormat>,
    /// What the inventory reader and the engine warned about.
    pub warnings: Vec<String>,
    /// Missing KBs, in the engine's order, with reasons and the CVEs each closes;
    /// `machineMissedOn` is the fleet's count.
    pub missing: Vec<MissingKbEntry>,
    /// Open CVEs.
    pub open_cves: Vec<CveRow>,
    /// KBs the machine reports installed.
    pub installed: Vec<String>,
}

/// A CVE in a list: what MSRC and CISA say of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CveRow {
    /// "CVE-2024-21351".
    pub id: String,
    /// MSRC's title.
    pub title: String,
    /// Highest severity on the products concerned.
    pub severity: Option<Severity>,
    /// Highest CVSS v3 base score on them.
    pub cvss: Option<f32>,
    /// Exploited in the wild.
    pub exploited: bool,
    /// CISA KEV due date, when listed.
    pub kev_due: Option<String>,
}

fn cve_row(cat: &Catalog, v: VulnIx, products: &[ProductIx]) -> CveRow {
    let vuln = cat.vuln(v);
    let risk = cat.vuln_risk(v, products);
    CveRow {
        id: vuln.id.to_string(),
        title: vuln.title.clone(),
        severity: risk.severity,
        cvss: risk.cvss.or(vuln.cvss.map(|(s, _)| s)),
        exploited: vuln.exploited(),
        kev_due: vuln.kev.as_ref().map(|k| k.due_date.clone()),
    }
}

/// A machine by id or computer name, with its evaluation.
pub fn machine_detail(cat: &Catalog, view: &FleetView, id_or_name: &str) -> Option<MachineView> {
    let m = view.find(id_or_name)?;
    let g = view.fleet.group_of(m.id.as_str())?;
    let d = &m.device;
    let mut missing = MissingKbEntry::all(cat, &g.state, &g.evaluation, true);
    for (e, mk) in missing.iter_mut().zip(&g.evaluation.missing) {
        e.machine_missed_on = i64::try_from(view.fleet.missed_on(mk.kb)).unwrap_or(i64::MAX);
    }
    let mut open: Vec<CveRow> = (g.evaluation.open.iter())
        .filter(|&&v| cat.vuln(v).id.is_cve())
        .map(|&v| cve_row(cat, v, &g.state.products))
        .collect();
    open.sort_by(|a, b| b.exploited.cmp(&a.exploited).then(a.id.cmp(&b.id)));
    open.dedup_by(|a, b| a.id == b.id);
    Some(MachineView {
        row: Summaries::default().row(cat, m, g),
        os_name: d.os_name.clone(),
        display_version: d.display_version.clone(),
        architecture: d.architecture.map(|a| a.to_string()),
        installation_type: d.installation_type.map(|t| t.to_string()),
        products: (g.state.products.iter())
            .map(|&p| cat.product(p).name.clone())
            .collect(),
        first_seen: m.first_seen,
        locale: d.locale.clone(),
        input_format: d.input_format,
        warnings: d.warnings.clone(),
        missing,
        open_cves: open,
        installed: d.installed_kbs.iter().map(|k| format!("KB{k}")).collect(),
    })
}

/// A KB: what `kbgap kb` shows, and the machines missing it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KbView {
    /// The catalog's account of the KB.
    pub report: KbReport,
    /// The machines in scope missing it, with the engine's reason.
    pub machines: Vec<KbMachine>,
}

/// A machine missing a KB.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KbMachine {
    /// The machine.
    #[serde(flatten)]
    pub row: MachineRow,
    /// Why the engine says it misses the KB.
    pub reason: String,
}

/// A KB by number, or `None` when the catalog has no Vendor Fix with it.
pub fn kb_detail(
    cat: &Catalog,
    view: &FleetView,
    kb: KbId,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Option<KbView> {
    let report = KbReport::new(cat, kb)?;
    let ix: KbIx = cat.kb_ix(kb)?;
    let machines = (machines_missing(cat, view, ix, scope, now).into_iter())
        .map(|(row, reason)| KbMachine { row, reason })
        .collect();
    Some(KbView { report, machines })
}

/// A CVE with its fixes and the machines it is open on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CveView {
    /// Its headline: severity, CVSS, exploitation, KEV.
    pub cve: CveRow,
    /// The CVSS vector of the highest score.
    pub vector: Option<String>,
    /// Publicly disclosed before a fix.
    pub publicly_disclosed: bool,
    /// MSRC's exploitability assessment.
    pub assessment: Option<String>,
    /// First publication.
    pub published: Option<String>,
    /// CISA's name for it and when it was added, when listed.
    pub kev_name: Option<String>,
    /// CISA: known ransomware campaign use.
    pub ransomware: bool,
    /// The fixing KB per product.
    pub fixes: Vec<CveFix>,
    /// The machines it is open on.
    pub machines: Vec<MachineRow>,
}

/// One product's fix for a CVE.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CveFix {
    /// MSRC product name.
    pub product: String,
    /// The KB.
    pub kb: String,
    /// Severity on this product.
    pub severity: Option<Severity>,
    /// CVSS on this product.
    pub cvss: Option<f32>,
}

/// A CVE (or advisory) by id, any case; `None` when the catalog does not list it.
pub fn cve_detail(cat: &Catalog, view: &FleetView, id: &str) -> Option<CveView> {
    let id = id.trim();
    let v = (cat.vulns().iter()).position(|x| x.id.as_str().eq_ignore_ascii_case(id))? as VulnIx;
    let vuln = cat.vuln(v);
    let mut fixes = Vec::new();
    let mut listed: Vec<ProductIx> = Vec::new();
    for p in 0..cat.products().len() as ProductIx {
        let rows = cat.fixes_of(p);
        let start = rows.partition_point(|f| f.vuln < v);
        for f in rows[start..].iter().take_while(|f| f.vuln == v) {
            listed.push(p);
            fixes.push(CveFix {
                product: cat.product(p).name.clone(),
                kb: format!("KB{}", cat.kb(f.kb).id),
                severity: f.severity,
                cvss: f.cvss,
            });
        }
    }
    fixes.sort_by(|a, b| a.product.cmp(&b.product).then(a.kb.cmp(&b.kb)));
    listed.dedup();
    let risk = cat.vuln_risk(v, &listed);
    let groups: Vec<u32> = (view.fleet.counted_groups())
        .filter(|g| g.evaluation.open.contains(&v))
        .map(|g| g.ix)
        .collect();
    let mut summaries = Summaries::default();
    let machines = if groups.is_empty() {
        Vec::new()
    } else {
        (view.machines.iter())
            .filter_map(|(key, m)| {
                let g = view.fleet.group_of(key)?;
                groups.contains(&g.ix).then(|| summaries.row(cat, m, g))
            })
            .collect()
    };
    Some(CveView {
        cve: cve_row(cat, v, &listed),
        vector: risk.vector.map(|ix| cat.vector(ix).to_owned()),
        publicly_disclosed: vuln.exploit.publicly_disclosed,
        assessment: vuln.exploit.assessment.clone(),
        published: vuln.published.clone(),
        kev_name: vuln
            .kev
            .as_ref()
            .map(|k| format!("{} ({})", k.name, k.date_added)),
        ransomware: vuln.kev.as_ref().is_some_and(|k| k.ransomware),
        fixes,
        machines,
    })
}
