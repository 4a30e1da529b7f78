//! CISA's Known Exploited Vulnerabilities catalog: reading its JSON feed, and the bundled copy.
//!
//! KEV says which vulnerabilities are exploited in the wild according to CISA, with the date by
//! which US federal agencies must remediate them. MSRC's own `Exploited:Yes` misses some of
//! them, so kbgap treats a CVE as exploited when either source says so. The feed is small (about
//! 1 MB), so it is read whole with serde and validated entry by entry.

use kbgap_core::{Kev, KevEntry, VulnId};
use serde::Deserialize;

use crate::error::CatalogError;
use crate::sync::SyncError;
use crate::value::normalize_date;

/// CISA's public feed.
pub const DEFAULT_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";

/// The bundled copy (`data/cisa-kev/`, catalogVersion 2025.08.25), zstd-compressed.
static BUNDLED: &[u8] =
    include_bytes!("../../../data/cisa-kev/known_exploited_vulnerabilities.json.zst");

/// The feed's top level, as CISA writes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Feed {
    catalog_version: String,
    date_released: String,
    vulnerabilities: Vec<FeedEntry>,
}

/// One entry; fields kbgap does not show are not read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    date_added: String,
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
    #[serde(default)]
    vulnerability_name: Option<String>,
}

/// The bundled KEV catalog.
pub fn bundled() -> Result<Kev, CatalogError> {
    let name = "bundled known_exploited_vulnerabilities.json";
    let json = zstd::decode_all(BUNDLED).map_err(|error| CatalogError::Io {
        input: name.to_owned(),
        error,
    })?;
    read_kev(&json, name)
}

/// Reads a KEV feed. `input` names it in errors (a path or a URL). Anything that is not KEV
/// JSON (an HTML error page, another JSON document, an entry without a CVE id or dates) is an
/// error that says what is wrong and where, so a bad feed never replaces a good stored copy.
pub fn read_kev(bytes: &[u8], input: &str) -> Result<Kev, CatalogError> {
    let bad = |reason: String| CatalogError::NotKev {
        input: input.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 text: {e}")))?;
    let start = text.trim_start();
    if !start.starts_with('{') {
        let shown: String = start.chars().take(40).collect();
        return Err(bad(format!("not a JSON object; it starts with {shown:?}")));
    }
    let feed: Feed = serde_json::from_str(text).map_err(|e| bad(format!("{e}")))?;
    let date_released = normalize_date(&feed.date_released).ok_or_else(|| {
        bad(format!(
            "dateReleased {:?} is not a date",
            feed.date_released
        ))
    })?;
    if feed.catalog_version.trim().is_empty() {
        return Err(bad("catalogVersion is empty".into()));
    }
    let mut entries = Vec::with_capacity(feed.vulnerabilities.len());
    for (i, e) in feed.vulnerabilities.into_iter().enumerate() {
        let at = |field: &str, value: &str| {
            bad(format!(
                "vulnerabilities[{i}].{field} {value:?} is not valid"
            ))
        };
        let cve: VulnId = e.cve_id.parse().map_err(|_| at("cveID", &e.cve_id))?;
        let day = |field: &str, value: &str| {
            normalize_date(value)
                .map(|d| d[..10].to_owned())
                .ok_or_else(|| at(field, value))
        };
        entries.push(KevEntry {
            date_added: day("dateAdded", &e.date_added)?,
            due_date: day("dueDate", &e.due_date)?,
            ransomware: (e.known_ransomware_campaign_use.as_deref())
                .is_some_and(|k| k.eq_ignore_ascii_case("known")),
            name: e.vulnerability_name.unwrap_or_default(),
            cve,
        });
    }
    if entries.is_empty() {
        return Err(bad("the catalog lists no vulnerabilities".into()));
    }
    Ok(Kev {
        catalog_version: feed.catalog_version.trim().to_owned(),
        date_released,
        entries,
    })
}

/// Downloads and reads the live feed. All or nothing: an error leaves nothing half-read.
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<Kev, SyncError> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| SyncError::InvalidUrl {
            url: url.to_owned(),
            reason: "expected an http or https URL".into(),
        })?;
    let body = crate::sync::get(client, &parsed, "application/json").await?;
    Ok(read_kev(body.as_ref(), url)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_copy_reads() {
        let kev = bundled().unwrap();
        assert_eq!(kev.catalog_version, "2025.08.25");
        assert_eq!(kev.date_released, "2025-08-25T17:04:19");
        assert_eq!(kev.entries.len(), 1404);
        let clfs = kev
            .entries
            .iter()
            .find(|e| e.cve.as_str() == "CVE-2025-29824")
            .expect("CVE-2025-29824 is in KEV");
        assert_eq!(clfs.date_added, "2025-04-08");
        assert_eq!(clfs.due_date, "2025-04-29");
    }

    #[test]
    fn what_is_not_kev_is_refused_with_a_reason() {
        let err = |b: &str| read_kev(b.as_bytes(), "feed").unwrap_err().to_string();
        assert!(err("<!DOCTYPE html><html>").contains("starts with \"<!DOCTYPE html>"));
        assert!(err("{\"value\": []}").contains("missing field"));
        let bad_cve = r#"{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","vulnerabilities":[{"cveID":"","dateAdded":"2025-01-01","dueDate":"2025-01-22"}]}"#;
        assert!(
            err(bad_cve).contains("vulnerabilities[0].cveID"),
            "{}",
            err(bad_cve)
        );
        let bad_date = bad_cve
            .replace("\"\"", "\"CVE-2025-1234\"")
            .replace("2025-01-22", "soon");
        assert!(
            err(&bad_date).contains("dueDate \"soon\""),
            "{}",
            err(&bad_date)
        );
    }
}
