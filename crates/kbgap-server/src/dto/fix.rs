//! `PublicProductFixDto`: one missing KB, the element of both getmissingkbs answers.

use kbgap_core::KbId;
use serde::{Deserialize, Serialize};

/// A KB a machine (or the machines with a software) misses. Fields in `$metadata` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicProductFixDto {
    /// The KB number without "KB" (`"4540673"`).
    pub id: String,
    /// The title of the MSRC document that released the KB ("March 2020 Security Updates").
    pub name: String,
    /// The OS build the update is for; `null` for updates that are not OS updates.
    pub os_build: Option<i64>,
    /// Software names (`windows_10`, `edge`) the KB fixes, within the endpoint's scope.
    pub products_names: Vec<String>,
    /// The Microsoft Update Catalog search page for the KB.
    pub url: String,
    /// How many machines miss the KB (among those with the software, on the software endpoint).
    pub machine_missed_on: i64,
    /// How many distinct CVEs the KB fixes for the products in scope.
    pub cve_addressed: i64,
    /// kbgap's fields beyond Defender's, present only when the client asks with
    /// `kbgapExtended=true`: strict clients see exactly Defender's field set by default.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub extended: Option<FixExtension>,
}

impl PublicProductFixDto {
    /// A fix for `kb`, with `id` and `url` derived from it.
    pub fn new(
        kb: KbId,
        name: impl Into<String>,
        os_build: Option<i64>,
        products_names: Vec<String>,
        machine_missed_on: i64,
        cve_addressed: i64,
    ) -> Self {
        Self {
            id: kb.to_string(),
            name: name.into(),
            os_build,
            products_names,
            url: kb.catalog_url(),
            machine_missed_on,
            cve_addressed,
            extended: None,
        }
    }
}

/// Why kbgap says the KB is missing, and what installing it closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixExtension {
    /// CVEs open on the machine that this KB closes.
    pub open_cves_closed: i64,
    /// The rule that decided it, in one line ("the newest cumulative update for 10.0.19045 …").
    pub reason: String,
    /// How Windows services it on the machine (`CumulativeUpdate`, `SafeOs`, `DotNet` …).
    pub kind: kbgap_core::ServicingKind,
    /// Missing KBs this one supersedes (installing it makes them moot).
    pub supersedes_missing: Vec<String>,
    /// The highest MSRC severity among the CVEs it closes.
    pub max_severity: Option<String>,
    /// The highest CVSS v3 base score among them.
    pub max_cvss: Option<f32>,
    /// Of them, the CVEs exploited in the wild (MSRC `Exploited:Yes` or CISA KEV).
    pub exploited_cves: Vec<String>,
    /// Of them, the CVEs in CISA's KEV catalog.
    pub kev_cves: Vec<String>,
    /// The earliest KEV due date among those (`YYYY-MM-DD`).
    pub kev_due_date: Option<String>,
    /// The CVE ids it closes, sorted.
    pub cves: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_metadata_order_matching_the_documented_sample() {
        let kb: KbId = "4540673".parse().unwrap();
        let fix = PublicProductFixDto::new(
            kb,
            "March 2020 Security Updates",
            None,
            vec![
                "windows_10".into(),
                "edge".into(),
                "internet_explorer".into(),
            ],
            1,
            97,
        );
        let json = serde_json::to_string(&fix).unwrap();
        assert_eq!(
            json,
            r#"{"id":"4540673","name":"March 2020 Security Updates","osBuild":null,"productsNames":["windows_10","edge","internet_explorer"],"url":"https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB4540673","machineMissedOn":1,"cveAddressed":97}"#
        );
    }

    #[test]
    fn extended_fields_follow_defenders() {
        let kb: KbId = "5034122".parse().unwrap();
        let mut fix = PublicProductFixDto::new(
            kb,
            "January 2024 Security Updates",
            Some(19045),
            vec!["windows_10".into()],
            3,
            2,
        );
        fix.extended = Some(FixExtension {
            open_cves_closed: 2,
            reason: "r".into(),
            kind: kbgap_core::ServicingKind::CumulativeUpdate,
            supersedes_missing: vec![],
            max_severity: Some("Critical".into()),
            max_cvss: Some(9.8),
            exploited_cves: vec!["CVE-2024-0002".into()],
            kev_cves: vec!["CVE-2024-0002".into()],
            kev_due_date: Some("2024-01-30".into()),
            cves: vec!["CVE-2024-0001".into(), "CVE-2024-0002".into()],
        });
        let v: serde_json::Value = serde_json::to_value(&fix).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 17);
        let back: PublicProductFixDto = serde_json::from_value(v).unwrap();
        assert_eq!(back, fix);
    }
}
