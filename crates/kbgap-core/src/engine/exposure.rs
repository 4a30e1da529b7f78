//! A machine's exposure: what its open CVEs risk, summed up for the fleet views (Defender's
//! machine `exposureLevel` and `riskScore`, the dashboard's "machines by exposure").
//!
//! Computed from an evaluation, never stored: it changes with the catalog (a KEV release) as
//! much as with the machine.

use rustc_hash::FxHashSet;

use super::{Evaluation, MachineState};
use crate::catalog::{Catalog, VulnIx};
use crate::risk::DefenderSeverity;

/// What a machine's open CVEs (those its missing KBs close) risk.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Exposure {
    /// Distinct open CVEs.
    pub open_cves: u32,
    /// Of them, exploited in the wild (MSRC `Exploited:Yes` or CISA KEV).
    pub exploited: u32,
    /// Of them, publicly disclosed or exploited.
    pub public: u32,
    /// Of them, in CISA's KEV catalog.
    pub kev: u32,
    /// The highest Defender severity among them.
    pub max_severity: Option<DefenderSeverity>,
    /// The highest CVSS v3 base score among them.
    pub max_cvss: Option<f32>,
    /// An exploited one is High or Critical.
    pub exploited_high: bool,
}

/// Defender's `exposureLevel` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExposureLevel {
    /// No open CVE.
    None,
    /// Open CVEs, all Low or Medium, none exploited.
    Low,
    /// An open High CVE, none Critical or exploited.
    Medium,
    /// An open Critical CVE, or one exploited in the wild.
    High,
}

/// Defender's `riskScore` values. Defender derives them from alerts, which kbgap has none of;
/// kbgap derives them from how exploitable the open CVEs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskScore {
    /// No open CVE.
    None,
    /// Open CVEs, none publicly disclosed or exploited.
    Informational,
    /// An open CVE publicly disclosed, none exploited.
    Low,
    /// An open CVE exploited in the wild, none of them High or Critical.
    Medium,
    /// An open High or Critical CVE exploited in the wild.
    High,
}

impl Exposure {
    /// Sums up the open CVEs of one evaluation.
    pub fn of(cat: &Catalog, state: &MachineState, eval: &Evaluation) -> Self {
        let mut seen: FxHashSet<VulnIx> = FxHashSet::default();
        let mut out = Exposure::default();
        let mut exploited_severity = None;
        for m in &eval.missing {
            for &v in &m.closes {
                let vuln = cat.vuln(v);
                if !vuln.id.is_cve() || !seen.insert(v) {
                    continue;
                }
                let mut risk = cat.vuln_risk(v, &m.products);
                if risk.severity.is_none() && risk.cvss.is_none() {
                    risk = cat.vuln_risk(v, &state.products);
                }
                let severity = risk.defender_severity();
                out.open_cves += 1;
                out.max_severity = out.max_severity.max(severity);
                out.max_cvss = match (out.max_cvss, risk.cvss) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                if vuln.exploited() {
                    out.exploited += 1;
                    exploited_severity = exploited_severity.max(severity);
                }
                out.public += u32::from(vuln.public_exploit());
                out.kev += u32::from(vuln.kev.is_some());
            }
        }
        out.exploited_high = exploited_severity >= Some(DefenderSeverity::High);
        out
    }

    /// Defender's `exposureLevel`, by the rule documented on [`ExposureLevel`].
    pub fn level(&self) -> ExposureLevel {
        if self.open_cves == 0 {
            ExposureLevel::None
        } else if self.exploited > 0 || self.max_severity == Some(DefenderSeverity::Critical) {
            ExposureLevel::High
        } else if self.max_severity == Some(DefenderSeverity::High) {
            ExposureLevel::Medium
        } else {
            ExposureLevel::Low
        }
    }

    /// Defender's `riskScore`, by the rule documented on [`RiskScore`].
    pub fn risk_score(&self) -> RiskScore {
        if self.open_cves == 0 {
            RiskScore::None
        } else if self.exploited_high {
            RiskScore::High
        } else if self.exploited > 0 {
            RiskScore::Medium
        } else if self.public > 0 {
            RiskScore::Low
        } else {
            RiskScore::Informational
        }
    }
}
