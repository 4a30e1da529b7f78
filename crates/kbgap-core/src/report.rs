//! The JSON contract: these types map directly to what `kbgap scan`, `kbgap kb` and the server
//! print, so the CLI and the API answer with the same shapes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::{Catalog, KbIx, VulnIx};
use crate::engine::{Evaluation, MachineState, MissingKb};
use crate::ids::KbId;
use crate::kinds::{ServicingKind, Severity};
use crate::risk::Impact;

/// One missing KB in Defender's `PublicProductFixDto` shape, followed by kbgap's own fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingKbEntry {
    /// KB number, digits only.
    pub id: String,
    /// Title of the document that released the KB.
    pub name: String,
    /// OS build number the update is for; null for updates that are not OS updates.
    pub os_build: Option<i64>,
    /// Software names (`windows_10`, `edge` …) of the products in scope that the KB fixes.
    pub products_names: Vec<String>,
    /// Microsoft Update Catalog page.
    pub url: String,
    /// How many machines miss it (1 for a single-machine scan).
    pub machine_missed_on: i64,
    /// Distinct CVE ids (advisories excluded) it fixes on the products in scope.
    pub cve_addressed: i64,
    /// Distinct CVEs open on the machine that installing it closes.
    pub open_cves_closed: i64,
    /// Why it is missing: the rule that decided it, and what it covers.
    pub reason: String,
    /// How Windows services it on the machine (`CumulativeUpdate`, `SafeOs`, `DotNet` …).
    pub kind: ServicingKind,
    /// Missing KBs it makes unnecessary, whether MSRC's Supercedence or the servicing model says
    /// so.
    pub supersedes_missing: Vec<String>,
    /// Highest severity among what it closes.
    pub max_severity: Option<Severity>,
    /// Highest CVSS v3 base score among the CVEs it closes.
    pub max_cvss: Option<f32>,
    /// CVEs it closes that are exploited in the wild (MSRC `Exploited:Yes`, or in CISA's KEV).
    pub exploited_cves: Vec<String>,
    /// CVEs it closes that CISA's Known Exploited Vulnerabilities catalog lists.
    pub kev_cves: Vec<String>,
    /// The earliest KEV due date among them (`YYYY-MM-DD`).
    pub kev_due_date: Option<String>,
    /// With `--cves`: the CVE ids it closes on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cves: Option<Vec<String>>,
    /// With `--cves`: what MSRC and CISA say of each of them, in the order of `cves`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve_details: Option<Vec<CveDetail>>,
}

/// One CVE a missing KB closes, with its risk on the machine's products.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CveDetail {
    /// The CVE id.
    pub id: String,
    /// Highest MSRC severity on the machine's products.
    pub severity: Option<Severity>,
    /// Highest CVSS v3 base score on them.
    pub cvss: Option<f32>,
    /// What an attacker gains.
    pub impact: Option<Impact>,
    /// Exploited in the wild (MSRC `Exploited:Yes`, or in CISA's KEV).
    pub exploited: bool,
    /// Publicly disclosed before a fix was available.
    pub publicly_disclosed: bool,
    /// Listed in CISA's KEV catalog.
    pub kev: bool,
}

/// Number of distinct CVE ids (advisories excluded) among vulnerability indexes. Each index names
/// one id, so this needs no strings: it runs for every entry of every answer the server gives.
pub fn cve_count(cat: &Catalog, vulns: &[VulnIx]) -> usize {
    let mut cves: Vec<VulnIx> = (vulns.iter().copied())
        .filter(|&v| cat.vuln(v).id.is_cve())
        .collect();
    cves.sort_unstable();
    cves.dedup();
    cves.len()
}

/// Distinct CVE ids (advisories excluded) among vulnerability indexes.
pub fn cve_ids(cat: &Catalog, vulns: &[VulnIx]) -> Vec<String> {
    let mut ids: Vec<String> = vulns
        .iter()
        .map(|&v| &cat.vuln(v).id)
        .filter(|id| id.is_cve())
        .map(ToString::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Software names of products, the machine's OS software first, then the others alphabetically
/// (Defender lists `windows_10, edge, internet_explorer`).
pub fn software_names(
    cat: &Catalog,
    m: &MachineState,
    products: &[crate::catalog::ProductIx],
) -> Vec<String> {
    let os: Vec<&str> = m
        .os_products
        .iter()
        .map(|&p| cat.product(p).software.as_str())
        .collect();
    let mut names: Vec<&str> = products
        .iter()
        .map(|&p| cat.product(p).software.as_str())
        .collect();
    names.sort_by_key(|n| (!os.contains(n), *n));
    names.dedup();
    names.into_iter().map(str::to_owned).collect()
}

impl MissingKbEntry {
    /// Builds the entry for one missing KB of one machine.
    pub fn new(cat: &Catalog, m: &MachineState, missing: &MissingKb, with_cves: bool) -> Self {
        let kb = cat.kb(missing.kb);
        let risk = Closed::new(cat, m, missing, with_cves);
        MissingKbEntry {
            id: kb.id.to_string(),
            name: kb.name.clone(),
            os_build: missing.os_build.map(i64::from),
            products_names: software_names(cat, m, &missing.products),
            url: kb.id.catalog_url(),
            machine_missed_on: 1,
            cve_addressed: cve_count(cat, &missing.fixes) as i64,
            open_cves_closed: cve_count(cat, &missing.closes) as i64,
            reason: format!("{}{}", missing.reason, covers(cat, m, missing)),
            kind: missing.kind,
            supersedes_missing: missing
                .supersedes_missing
                .iter()
                .map(ToString::to_string)
                .collect(),
            max_severity: risk.max_severity.or(missing.max_severity),
            max_cvss: risk.max_cvss,
            exploited_cves: risk.exploited,
            kev_cves: risk.kev,
            kev_due_date: risk.kev_due_date,
            cves: with_cves.then(|| cve_ids(cat, &missing.closes)),
            cve_details: risk.details,
        }
    }

    /// Entries for a whole evaluation, in its order.
    pub fn all(cat: &Catalog, m: &MachineState, eval: &Evaluation, with_cves: bool) -> Vec<Self> {
        eval.missing
            .iter()
            .map(|mk| Self::new(cat, m, mk, with_cves))
            .collect()
    }
}

/// The risk of what one missing KB closes on a machine.
struct Closed {
    max_severity: Option<Severity>,
    max_cvss: Option<f32>,
    exploited: Vec<String>,
    kev: Vec<String>,
    kev_due_date: Option<String>,
    details: Option<Vec<CveDetail>>,
}

impl Closed {
    /// Reads the risk of each CVE the KB closes on the products it serves on the machine (the
    /// machine's products when none of those lists it).
    fn new(cat: &Catalog, m: &MachineState, missing: &MissingKb, with_details: bool) -> Self {
        let mut cves: Vec<VulnIx> = (missing.closes.iter().copied())
            .filter(|&v| cat.vuln(v).id.is_cve())
            .collect();
        cves.sort_unstable_by(|&a, &b| cat.vuln(a).id.cmp(&cat.vuln(b).id));
        cves.dedup();
        let mut out = Closed {
            max_severity: None,
            max_cvss: None,
            exploited: Vec::new(),
            kev: Vec::new(),
            kev_due_date: None,
            details: with_details.then(Vec::new),
        };
        for v in cves {
            let mut risk = cat.vuln_risk(v, &missing.products);
            if risk.severity.is_none() && risk.cvss.is_none() {
                risk = cat.vuln_risk(v, &m.products);
            }
            let vuln = cat.vuln(v);
            out.max_severity = out.max_severity.max(risk.severity);
            out.max_cvss = match (out.max_cvss, risk.cvss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if vuln.exploited() {
                out.exploited.push(vuln.id.to_string());
            }
            if let Some(k) = &vuln.kev {
                out.kev.push(vuln.id.to_string());
                if out.kev_due_date.as_ref().is_none_or(|d| k.due_date < *d) {
                    out.kev_due_date = Some(k.due_date.clone());
                }
            }
            if let Some(details) = &mut out.details {
                details.push(CveDetail {
                    id: vuln.id.to_string(),
                    severity: risk.severity,
                    cvss: risk.cvss,
                    impact: risk.impact,
                    exploited: vuln.exploited(),
                    publicly_disclosed: vuln.exploit.publicly_disclosed,
                    kev: vuln.kev.is_some(),
                });
            }
        }
        out
    }
}

/// What `kbgap kb ID` prints: a KB and everything it fixes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KbReport {
    /// KB number, digits only.
    pub id: String,
    /// Title of the document that released it.
    pub name: String,
    /// Release date of that document.
    pub release_date: String,
    /// Microsoft Update Catalog page.
    pub url: String,
    /// IDs of the documents that list it as a Vendor Fix.
    pub documents: Vec<String>,
    /// Distinct CVE ids over all its products.
    pub cve_addressed: usize,
    /// Software name → distinct CVE count.
    pub cve_addressed_by_software: BTreeMap<String, usize>,
    /// Each product it fixes.
    pub products: Vec<KbProductReport>,
    /// KBs it directly supersedes.
    pub supersedes: Vec<String>,
    /// Every KB that transitively supersedes it, sorted.
    pub superseded_by: Vec<String>,
}

/// What an entry covers, in words: "; covers KB4512578 and 31 older cumulative updates".
fn covers(cat: &Catalog, m: &MachineState, missing: &MissingKb) -> String {
    let mut covered: Vec<KbIx> = (missing.supersedes_missing.iter())
        .filter_map(|&id| cat.kb_ix(id))
        .collect();
    covered.sort_by(|&a, &b| (&cat.kb(b).release_date, b).cmp(&(&cat.kb(a).release_date, a)));
    let Some(&newest) = covered.first() else {
        return String::new();
    };
    let kind_of = |kb: KbIx| {
        (m.products.iter())
            .filter_map(|&p| cat.kind_on(kb, p))
            .min()
    };
    let same = covered.iter().all(|&k| kind_of(k) == kind_of(newest));
    let what = match (same, kind_of(newest)) {
        (true, Some(kind)) => kind.to_string(),
        _ => "update".to_owned(),
    };
    match covered.len() {
        1 => format!("; covers KB{}", cat.kb(newest).id),
        2 => format!("; covers KB{} and 1 older {what}", cat.kb(newest).id),
        n => format!(
            "; covers KB{} and {} older {what}s",
            cat.kb(newest).id,
            n - 1
        ),
    }
}

/// One product in a [`KbReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KbProductReport {
    /// MSRC ProductID.
    pub id: String,
    /// Full product name.
    pub name: String,
    /// Software name.
    pub software: String,
    /// FixedBuild on the product's own branch, else the first one given, else null.
    pub fixed_build: Option<String>,
    /// How Windows services the KB on this product.
    pub kind: ServicingKind,
    /// CVE ids (advisories excluded) it fixes on this product.
    pub cves: Vec<String>,
}

impl KbReport {
    /// The report for one KB, or `None` when the catalog has no Vendor Fix with that number.
    pub fn new(cat: &Catalog, id: KbId) -> Option<Self> {
        let ix: KbIx = cat.kb_ix(id)?;
        let kb = cat.kb(ix);
        let mut all: Vec<VulnIx> = Vec::new();
        let mut by_software: BTreeMap<String, Vec<VulnIx>> = BTreeMap::new();
        let mut products = Vec::new();
        for kp in &kb.products {
            let p = cat.product(kp.product);
            let vulns: Vec<VulnIx> = cat
                .fixes_of(kp.product)
                .iter()
                .filter(|f| f.kb == ix)
                .map(|f| f.vuln)
                .collect();
            all.extend(&vulns);
            by_software
                .entry(p.software.clone())
                .or_default()
                .extend(&vulns);
            let native = kp.native_revision.and_then(|r| {
                kp.fixed_builds
                    .iter()
                    .find(|b| Some(b.build) == p.facts.build && b.revision == r)
            });
            products.push(KbProductReport {
                id: p.id.to_string(),
                name: p.name.clone(),
                software: p.software.clone(),
                fixed_build: native.or(kp.fixed_builds.first()).map(ToString::to_string),
                kind: kp.kind,
                cves: cve_ids(cat, &vulns),
            });
        }
        products.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Some(KbReport {
            id: kb.id.to_string(),
            name: kb.name.clone(),
            release_date: kb.release_date.clone(),
            url: kb.id.catalog_url(),
            documents: kb.documents.clone(),
            cve_addressed: cve_count(cat, &all),
            cve_addressed_by_software: by_software
                .into_iter()
                .map(|(k, v)| (k, cve_count(cat, &v)))
                .collect(),
            products,
            supersedes: kb.supersedes.iter().map(ToString::to_string).collect(),
            superseded_by: cat
                .superseded_by(kb.id)
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }
}
