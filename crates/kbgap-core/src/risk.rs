//! What a vulnerability risks, beyond "is it open": MSRC's impact, CVSS and exploit status, and
//! CISA's Known Exploited Vulnerabilities catalog.
//!
//! These decide what to deploy first, never whether a KB is missing: the engine's answer is the
//! same with or without them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::VulnId;
use crate::kinds::Severity;

/// MSRC's `Threat Type="Impact"`: what an attacker gains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Impact {
    /// "Remote Code Execution".
    #[serde(rename = "Remote Code Execution")]
    RemoteCodeExecution,
    /// "Elevation of Privilege".
    #[serde(rename = "Elevation of Privilege")]
    ElevationOfPrivilege,
    /// "Information Disclosure".
    #[serde(rename = "Information Disclosure")]
    InformationDisclosure,
    /// "Denial of Service".
    #[serde(rename = "Denial of Service")]
    DenialOfService,
    /// "Security Feature Bypass".
    #[serde(rename = "Security Feature Bypass")]
    SecurityFeatureBypass,
    /// "Spoofing".
    #[serde(rename = "Spoofing")]
    Spoofing,
    /// "Tampering".
    #[serde(rename = "Tampering")]
    Tampering,
    /// "Defense in Depth".
    #[serde(rename = "Defense in Depth")]
    DefenseInDepth,
}

impl Impact {
    /// Every impact, in declaration order (the fix table stores the position).
    pub const ALL: [Impact; 8] = [
        Self::RemoteCodeExecution,
        Self::ElevationOfPrivilege,
        Self::InformationDisclosure,
        Self::DenialOfService,
        Self::SecurityFeatureBypass,
        Self::Spoofing,
        Self::Tampering,
        Self::DefenseInDepth,
    ];

    /// Parses MSRC's wording (case and spacing ignored); anything else is `None`.
    pub fn from_msrc(s: &str) -> Option<Self> {
        let wanted: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        Self::ALL
            .into_iter()
            .find(|i| i.as_str().eq_ignore_ascii_case(&wanted))
    }

    /// MSRC's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RemoteCodeExecution => "Remote Code Execution",
            Self::ElevationOfPrivilege => "Elevation of Privilege",
            Self::InformationDisclosure => "Information Disclosure",
            Self::DenialOfService => "Denial of Service",
            Self::SecurityFeatureBypass => "Security Feature Bypass",
            Self::Spoofing => "Spoofing",
            Self::Tampering => "Tampering",
            Self::DefenseInDepth => "Defense in Depth",
        }
    }
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MSRC's `Threat Type="Exploit Status"` of one vulnerability, e.g.
/// `Publicly Disclosed:No;Exploited:Yes;Latest Software Release:Exploitation Detected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploitStatus {
    /// "Publicly Disclosed:Yes".
    pub publicly_disclosed: bool,
    /// "Exploited:Yes": exploited in the wild.
    pub exploited: bool,
    /// The exploitability assessment for the latest software release ("Exploitation More
    /// Likely", "Exploitation Detected" …), when given and not "N/A".
    pub assessment: Option<String>,
}

impl ExploitStatus {
    /// Parses MSRC's `key:value;key:value` text. Unknown keys are ignored; `None` when the text
    /// says nothing about disclosure, exploitation or exploitability (`DOS:N/A` alone).
    pub fn from_msrc(text: &str) -> Option<Self> {
        let mut status = Self::default();
        let mut said = false;
        for part in text.split(';') {
            let Some((key, value)) = part.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let yes = value.eq_ignore_ascii_case("yes");
            match key.as_str() {
                "publicly disclosed" => (status.publicly_disclosed, said) = (yes, true),
                "exploited" => (status.exploited, said) = (yes, true),
                "latest software release" if !value.eq_ignore_ascii_case("n/a") => {
                    status.assessment = Some(value.to_owned());
                    said = true;
                }
                _ => {}
            }
        }
        said.then_some(status)
    }

    /// Merges what another document says of the same vulnerability: once disclosed or exploited,
    /// always so; the assessment of the newer document wins (`other` is the newer).
    pub fn merge(&mut self, newer: &ExploitStatus) {
        self.publicly_disclosed |= newer.publicly_disclosed;
        self.exploited |= newer.exploited;
        if newer.assessment.is_some() {
            self.assessment.clone_from(&newer.assessment);
        }
    }
}

/// One entry of CISA's Known Exploited Vulnerabilities catalog, reduced to what kbgap shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    /// `cveID`.
    pub cve: VulnId,
    /// `dateAdded` (`YYYY-MM-DD`).
    pub date_added: String,
    /// `dueDate` (`YYYY-MM-DD`): when US federal agencies must have remediated it.
    pub due_date: String,
    /// `knownRansomwareCampaignUse` is "Known".
    pub ransomware: bool,
    /// `vulnerabilityName`.
    pub name: String,
}

/// CISA's Known Exploited Vulnerabilities catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kev {
    /// `catalogVersion`, e.g. `2025.08.25`.
    pub catalog_version: String,
    /// `dateReleased`, as `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub date_released: String,
    /// Every entry with a valid CVE id.
    pub entries: Vec<KevEntry>,
}

/// Defender's vulnerability severity: the four values its API and `$metadata` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DefenderSeverity {
    /// CVSS 0.1–3.9, or MSRC "Low".
    Low,
    /// CVSS 4.0–6.9, or MSRC "Moderate".
    Medium,
    /// CVSS 7.0–8.9, or MSRC "Important".
    High,
    /// CVSS 9.0–10.0, or MSRC "Critical".
    Critical,
}

impl DefenderSeverity {
    /// The band of a CVSS v3 base score (FIRST's qualitative rating scale); 0.0 ("None") and
    /// anything outside 0–10 is `None`.
    pub fn from_cvss(score: f32) -> Option<Self> {
        match score {
            s if (0.1..4.0).contains(&s) => Some(Self::Low),
            s if (4.0..7.0).contains(&s) => Some(Self::Medium),
            s if (7.0..9.0).contains(&s) => Some(Self::High),
            s if (9.0..=10.0).contains(&s) => Some(Self::Critical),
            _ => None,
        }
    }

    /// MSRC's rating in Defender's words.
    pub fn from_msrc(s: Severity) -> Self {
        match s {
            Severity::Low => Self::Low,
            Severity::Moderate => Self::Medium,
            Severity::Important => Self::High,
            Severity::Critical => Self::Critical,
        }
    }

    /// The CVSS band where MSRC gives a score, else MSRC's rating mapped.
    pub fn of(cvss: Option<f32>, msrc: Option<Severity>) -> Option<Self> {
        cvss.and_then(Self::from_cvss).or(msrc.map(Self::from_msrc))
    }

    /// Defender's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }
}

impl fmt::Display for DefenderSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What MSRC says of one vulnerability on a set of products (a machine's, a KB's): the highest
/// severity and CVSS among them, and the impact and vector that go with that score.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProductRisk {
    /// Highest MSRC severity.
    pub severity: Option<Severity>,
    /// Highest CVSS v3 base score.
    pub cvss: Option<f32>,
    /// The CVSS vector of the highest score (index into the catalog's vectors).
    pub vector: Option<u32>,
    /// The impact on the product with the highest severity or score.
    pub impact: Option<Impact>,
}

impl ProductRisk {
    /// Folds in one product's values.
    pub fn add(
        &mut self,
        severity: Option<Severity>,
        cvss: Option<f32>,
        vector: Option<u32>,
        impact: Option<Impact>,
    ) {
        if severity > self.severity {
            self.severity = severity;
        }
        if let Some(c) = cvss
            && self.cvss.is_none_or(|best| c > best)
        {
            self.cvss = Some(c);
            self.vector = vector.or(self.vector);
        }
        if self.impact.is_none() {
            self.impact = impact;
        }
    }

    /// Defender's severity for these values.
    pub fn defender_severity(&self) -> Option<DefenderSeverity> {
        DefenderSeverity::of(self.cvss, self.severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exploit_status_reads_msrc_text() {
        let s = ExploitStatus::from_msrc(
            "Publicly Disclosed:No;Exploited:Yes;Latest Software Release:Exploitation Detected",
        )
        .unwrap();
        assert!(s.exploited && !s.publicly_disclosed);
        assert_eq!(s.assessment.as_deref(), Some("Exploitation Detected"));
        assert_eq!(ExploitStatus::from_msrc("DOS:N/A"), None);
        let s = ExploitStatus::from_msrc(
            "Publicly Disclosed:Yes;Exploited:No;Latest Software Release:N/A",
        )
        .unwrap();
        assert!(s.publicly_disclosed && !s.exploited && s.assessment.is_none());
    }

    #[test]
    fn severity_uses_the_cvss_band_then_msrc() {
        use DefenderSeverity::*;
        assert_eq!(
            DefenderSeverity::of(Some(9.8), Some(Severity::Important)),
            Some(Critical)
        );
        assert_eq!(DefenderSeverity::of(Some(7.0), None), Some(High));
        assert_eq!(DefenderSeverity::of(Some(6.9), None), Some(Medium));
        assert_eq!(DefenderSeverity::of(Some(3.9), None), Some(Low));
        assert_eq!(
            DefenderSeverity::of(Some(0.0), Some(Severity::Moderate)),
            Some(Medium)
        );
        assert_eq!(
            DefenderSeverity::of(None, Some(Severity::Critical)),
            Some(Critical)
        );
        assert_eq!(
            DefenderSeverity::of(None, Some(Severity::Important)),
            Some(High)
        );
        assert_eq!(DefenderSeverity::of(None, Some(Severity::Low)), Some(Low));
        assert_eq!(DefenderSeverity::of(None, None), None);
    }

    #[test]
    fn impacts_parse_every_msrc_spelling() {
        for i in Impact::ALL {
            assert_eq!(Impact::from_msrc(&i.as_str().to_uppercase()), Some(i));
        }
        assert_eq!(
            Impact::from_msrc("Elevation  of Privilege "),
            Some(Impact::ElevationOfPrivilege)
        );
        assert_eq!(Impact::from_msrc("Critical"), None);
    }
}
