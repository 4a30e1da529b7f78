//! `PublicProductFixDto`: one missing KB, the element of both getmissingkbs answers.

use std::fmt::Write as _;

use kbgap_core::KbId;
use serde::{Deserialize, Serialize};

use super::JsonArray;
use crate::error::ApiError;

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

/// One group's getmissingkbs records, serialized once with the place of every
/// `machineMissedOn` left open. Everything else in them follows from the group's evaluation and
/// the catalog, which no report changes; the counts change with nearly every report, so an
/// answer kept whole would be remade for nearly every request while a fleet reports (at a
/// million machines, that remaking took most of what reading cost). Filling the counts in is a
/// copy of the text.
#[derive(Debug)]
pub struct FixesTemplate<K> {
    /// The text before each record's count, and what that count is of.
    pieces: Vec<(String, K)>,
    /// The text after the last count (`…}]`, or all of `[]`).
    tail: String,
}

/// What a record's count is serialized as while the template is made: no count is negative,
/// and a key followed by this cannot occur inside a JSON string (its quotes would be escaped).
const OPEN_COUNT: &str = "\"machineMissedOn\":-9223372036854775808";

impl<K: Copy> FixesTemplate<K> {
    /// The template of `records`, the count of each being of the matching element of `keys`.
    pub fn new(mut records: Vec<PublicProductFixDto>, keys: &[K]) -> Result<Self, ApiError> {
        if records.len() != keys.len() {
            return Err(ApiError::internal("a template needs one key per record"));
        }
        for r in &mut records {
            r.machine_missed_on = i64::MIN;
        }
        let json = serde_json::to_string(&records)
            .map_err(|e| ApiError::internal(format!("serializing a response: {e}")))?;
        let mut parts = json.split(OPEN_COUNT);
        let mut pieces = Vec::with_capacity(keys.len());
        for key in keys {
            let before = parts.next().unwrap_or_default();
            pieces.push((format!("{before}\"machineMissedOn\":"), *key));
        }
        let tail = parts.next().unwrap_or_default().to_owned();
        if parts.next().is_some() {
            return Err(ApiError::internal("a record held its count twice"));
        }
        Ok(Self { pieces, tail })
    }

    /// The records with each count as `count` says now.
    pub fn fill(&self, count: impl Fn(K) -> u64) -> JsonArray {
        let size = self.pieces.iter().map(|(p, _)| p.len() + 20).sum::<usize>() + self.tail.len();
        let mut json = String::with_capacity(size);
        for (before, key) in &self.pieces {
            json.push_str(before);
            let n = i64::try_from(count(*key)).unwrap_or(i64::MAX);
            // Writing to a String cannot fail.
            let _ = write!(json, "{n}");
        }
        json.push_str(&self.tail);
        JsonArray {
            json,
            len: self.pieces.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filled in, a template is exactly the records serialized with those counts, for plain
    /// and extended records, none, and names that spell the key out inside a string.
    #[test]
    fn a_filled_template_is_the_records_serialized() {
        let kb = |n: &str| -> KbId { n.parse().unwrap() };
        let mut tricky = PublicProductFixDto::new(
            kb("5034122"),
            "\"machineMissedOn\":-9223372036854775808 in a title",
            Some(19045),
            vec!["windows_10".into()],
            0,
            2,
        );
        tricky.extended = Some(FixExtension {
            open_cves_closed: 2,
            reason: "machineMissedOn".into(),
            kind: kbgap_core::ServicingKind::CumulativeUpdate,
            supersedes_missing: vec!["5033372".into()],
            max_severity: Some("Critical".into()),
            max_cvss: Some(9.8),
            exploited_cves: vec![],
            kev_cves: vec![],
            kev_due_date: None,
            cves: vec!["CVE-2024-0001".into()],
        });
        let plain = PublicProductFixDto::new(kb("4540673"), "March", None, vec![], 0, 97);
        let counts = [7u64, 0, u64::MAX];
        for records in [
            vec![],
            vec![plain.clone()],
            vec![tricky, plain.clone(), plain],
        ] {
            let keys: Vec<usize> = (0..records.len()).collect();
            let template = FixesTemplate::new(records.clone(), &keys).unwrap();
            let filled = template.fill(|i| counts[i]);
            let mut expected = records.clone();
            for (r, n) in expected.iter_mut().zip(counts) {
                r.machine_missed_on = i64::try_from(n).unwrap_or(i64::MAX);
            }
            assert_eq!(filled.json, serde_json::to_string(&expected).unwrap());
            assert_eq!(filled.len, records.len());
        }
    }

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
