//! Fetching newer documents from the MSRC CVRF API.
//!
//! MSRC revises old documents for years (the 2020-Mar document reached revision 12 in 2026), so a
//! sync compares every document's `CurrentReleaseDate` in the updates index with the stored one
//! and fetches those that changed. [`fetch_newer`] is all-or-nothing: it returns every changed
//! document parsed, or an error, so that the caller can replace them in one transaction and a
//! failed sync leaves the stored catalog exactly as it was.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kbgap_core::Document;
use reqwest::header::ACCEPT;
use reqwest::{Client, Url};
use serde::Deserialize;

use crate::error::CatalogError;
use crate::value::normalize_date;

/// The public MSRC API base URL.
pub const DEFAULT_BASE: &str = "https://api.msrc.microsoft.com";

/// How many documents are downloaded at once: enough to hide latency, few enough to stay polite.
const CONCURRENCY: usize = 4;

/// How long a sync waits for a TCP (and TLS) connection to a source.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a sync waits for the next bytes of an answer: a server that accepts the connection
/// and then says nothing is given up on after this, not after the whole-request timeout.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest one request may take in all, however steadily its answer arrives: a sync holds
/// the store's sync lock, so a server dripping bytes must not hold it forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// One entry of the MSRC updates index (`GET {base}/cvrf/v3.0/updates`).
///
/// Values are kept as the API sends them (dates end in `Z`); [`IndexEntry::current_release`]
/// gives the date in the format of [`kbgap_core::DocumentInfo::current_release`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexEntry {
    /// Document ID, e.g. `2026-Jun`.
    #[serde(rename = "ID")]
    pub id: String,
    /// Alias (in practice equal to the ID).
    #[serde(default)]
    pub alias: Option<String>,
    /// Title, e.g. "June 2026 Security Updates".
    #[serde(default)]
    pub document_title: Option<String>,
    /// First publication, e.g. `2026-06-09T07:00:00Z`.
    #[serde(default)]
    pub initial_release_date: Option<String>,
    /// Latest revision's date, e.g. `2026-07-05T14:46:17Z`.
    #[serde(default)]
    pub current_release_date: Option<String>,
    /// The document's URL on the MSRC API.
    #[serde(default)]
    pub cvrf_url: Option<String>,
}

impl IndexEntry {
    /// The current release date as `YYYY-MM-DDTHH:MM:SS` (UTC), when the index gives a valid one.
    pub fn current_release(&self) -> Option<String> {
        self.current_release_date
            .as_deref()
            .and_then(normalize_date)
    }

    /// Whether this entry is newer than the stored current release date of the same document
    /// (`None`: not stored). An entry or stored value without a usable date counts as newer:
    /// fetching once too often is better than missing a revision.
    pub fn is_newer_than(&self, stored: Option<&str>) -> bool {
        let Some(stored) = stored else { return true };
        match (self.current_release(), normalize_date(stored)) {
            (Some(index), Some(stored)) => index > stored,
            _ => true,
        }
    }
}

#[derive(Deserialize)]
struct Index {
    value: Vec<IndexEntry>,
}

/// Why a sync failed. Every variant names the URL it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The base URL (or a URL built from it) is not a valid HTTP URL.
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl {
        /// The offending URL.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The request could not be sent or its body could not be received.
    #[error("{url}: request failed: {detail}")]
    Request {
        /// The requested URL.
        url: String,
        /// The error and its causes ("connection refused" …).
        detail: String,
    },
    /// Connected, but the server sent nothing for [`READ_TIMEOUT`] (or the connection could
    /// not be made within [`CONNECT_TIMEOUT`]).
    #[error("{url}: gave up after {secs} s: {detail}")]
    Timeout {
        /// The requested URL.
        url: String,
        /// The timeout that expired, in seconds.
        secs: u64,
        /// Which wait expired.
        detail: &'static str,
    },
    /// The server answered with a non-success status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The requested URL.
        url: String,
        /// Status code and reason, e.g. "500 Internal Server Error".
        status: String,
    },
    /// The updates index is not the expected JSON.
    #[error("{url}: invalid updates index: {detail}")]
    Index {
        /// The index URL.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A document could not be parsed; the [`CatalogError`] names its URL.
    #[error(transparent)]
    Document(#[from] CatalogError),
    /// A download task failed unexpectedly.
    #[error("{url}: download task failed: {detail}")]
    Task {
        /// The document URL.
        url: String,
        /// The task error.
        detail: String,
    },
}

/// `{base}/cvrf/v3.0/…`, with every segment percent-encoded as needed.
fn api_url(base: &str, segments: &[&str]) -> Result<Url, SyncError> {
    let invalid = |reason: String| SyncError::InvalidUrl {
        url: base.to_owned(),
        reason,
    };
    let mut url = Url::parse(base).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("unsupported scheme {:?}", url.scheme())));
    }
    url.path_segments_mut()
        .map_err(|()| invalid("cannot be a base URL".to_owned()))?
        .pop_if_empty()
        .extend(["cvrf", "v3.0"])
        .extend(segments);
    Ok(url)
}

/// An error with its chain of causes, which is where reqwest puts the useful part.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let msg = c.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = c.source();
    }
    s
}

/// A timeout in words: which wait expired. `None` for other errors.
fn timeout_error(url: &Url, e: &reqwest::Error, took: Duration) -> Option<SyncError> {
    if !e.is_timeout() {
        return None;
    }
    let (secs, detail) = if e.is_connect() {
        (CONNECT_TIMEOUT.as_secs(), "could not connect")
    } else if took + Duration::from_secs(1) >= REQUEST_TIMEOUT {
        (
            REQUEST_TIMEOUT.as_secs(),
            "the answer did not complete in time",
        )
    } else {
        (
            READ_TIMEOUT.as_secs(),
            "connected, but the server sent nothing for that long (is the URL right, or is a proxy holding the connection?)",
        )
    };
    Some(SyncError::Timeout {
        url: url.to_string(),
        secs,
        detail,
    })
}

/// GETs `url` and returns the body of a successful answer.
pub(crate) async fn get(
    client: &Client,
    url: &Url,
    accept: &str,
) -> Result<impl AsRef<[u8]> + Send + 'static, SyncError> {
    let started = Instant::now();
    let request_error = |e: reqwest::Error| {
        timeout_error(url, &e, started.elapsed()).unwrap_or_else(|| SyncError::Request {
            url: url.to_string(),
            detail: chain(&e.without_url()),
        })
    };
    let response = client
        .get(url.clone())
        .header(ACCEPT, accept)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SyncError::Status {
            url: url.to_string(),
            status: status.to_string(),
        });
    }
    response.bytes().await.map_err(request_error)
}

/// Fetches the updates index: every document MSRC publishes, with its current release date.
pub async fn fetch_index(client: &Client, base: &str) -> Result<Vec<IndexEntry>, SyncError> {
    let url = api_url(base, &["updates"])?;
    let body = get(client, &url, "application/json").await?;
    let index: Index = serde_json::from_slice(body.as_ref()).map_err(|e| SyncError::Index {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    Ok(index.value)
}

/// Fetches and parses one document (`GET {base}/cvrf/v3.0/cvrf/{id}`, `Accept: application/xml`).
/// The body may be plain, gzip or zstd XML; parsing runs on a blocking thread.
pub async fn fetch_document(client: &Client, base: &str, id: &str) -> Result<Document, SyncError> {
    let url = api_url(base, &["cvrf", id])?;
    let body = get(client, &url, "application/xml").await?;
    let name = url.to_string();
    let parsed = tokio::task::spawn_blocking(move || crate::read_bytes(body.as_ref(), &name)).await;
    match parsed {
        Ok(result) => Ok(result?),
        Err(e) => Err(SyncError::Task {
            url: url.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// Fetches the index, then every document that is not stored or whose index `CurrentReleaseDate`
/// is newer than the stored one (`stored`: document ID → stored current release date), and
/// parses them all. Returns all of them, in index order, or the first error; nothing partial.
///
/// `progress(done, total)` is called with `done = 0` once the index is known, then after each
/// document.
pub async fn fetch_newer(
    client: &Client,
    base: &str,
    stored: &HashMap<String, String>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Document>, SyncError> {
    let index = fetch_index(client, base).await?;
    let wanted: Vec<String> = index
        .into_iter()
        .filter(|e| e.is_newer_than(stored.get(&e.id).map(String::as_str)))
        .map(|e| e.id)
        .collect();
    let total = wanted.len();
    progress(0, total);

    let mut results: Vec<Option<Document>> = Vec::new();
    results.resize_with(total, || None);
    let mut tasks = tokio::task::JoinSet::new();
    let spawn = |tasks: &mut tokio::task::JoinSet<_>, i: usize| {
        let (client, base, id) = (client.clone(), base.to_owned(), wanted[i].clone());
        tasks.spawn(async move { (i, fetch_document(&client, &base, &id).await) });
    };
    let mut next = 0;
    while next < total && next < CONCURRENCY {
        spawn(&mut tasks, next);
        next += 1;
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        // Returning early drops `tasks`, which aborts the downloads still running.
        let (i, result) = joined.map_err(|e| SyncError::Task {
            url: base.to_owned(),
            detail: e.to_string(),
        })?;
        results[i] = Some(result?);
        done += 1;
        progress(done, total);
        if next < total {
            spawn(&mut tasks, next);
            next += 1;
        }
    }
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_api_urls() {
        let u = api_url("http://127.0.0.1:8080", &["cvrf", "2017-May-B"]).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/cvrf/v3.0/cvrf/2017-May-B"
        );
        let u = api_url("http://h/prefix/", &["updates"]).unwrap();
        assert_eq!(u.as_str(), "http://h/prefix/cvrf/v3.0/updates");
        let u = api_url("http://h", &["cvrf", "a/b c"]).unwrap();
        assert_eq!(u.as_str(), "http://h/cvrf/v3.0/cvrf/a%2Fb%20c");
        assert!(api_url("not a url", &[]).is_err());
        assert!(api_url("file:///tmp", &[]).is_err());
    }

    #[test]
    fn compares_release_dates() {
        let e = IndexEntry {
            id: "2020-Mar".into(),
            alias: None,
            document_title: None,
            initial_release_date: None,
            current_release_date: Some("2026-07-05T14:46:17Z".into()),
            cvrf_url: None,
        };
        assert!(e.is_newer_than(None));
        assert!(e.is_newer_than(Some("2026-07-05T14:46:16")));
        assert!(!e.is_newer_than(Some("2026-07-05T14:46:17")));
        assert!(!e.is_newer_than(Some("2026-07-06T00:00:00")));
        assert!(e.is_newer_than(Some("garbage")));
    }
}
