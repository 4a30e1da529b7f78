//! The sync client against a real HTTP server on 127.0.0.1 serving the MSRC updates index of
//! 2026-07-06 and the bundled documents.
//!
//! The first path segment of the base URL selects the server's behaviour: `plain`, `gzip` and `zstd`
//! bodies, `fail500` and `truncated` for 2020-Mar, `badindex` for a broken index.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kbgap_catalog::sync::{self, IndexEntry, SyncError};
use kbgap_catalog::{CatalogError, bundled};

const INDEX: &str = include_str!("fixtures/updates-index.json");

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn index(State(log): State<Arc<Log>>, Path(mode): Path<String>) -> Response {
    log.push("updates".into());
    if mode == "badindex" {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            "{\"value\": [{\"ID\": 3",
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], INDEX).into_response()
}

async fn document(
    State(log): State<Arc<Log>>,
    Path((mode, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    log.push(id.clone());
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some("application/xml") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let name = format!("{id}.xml.zst");
    let Some((_, zst)) = bundled::files().iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let xml = zstd::decode_all(*zst).unwrap();
    let xml_type = [(header::CONTENT_TYPE, "application/xml")];
    match (mode.as_str(), id.as_str()) {
        ("fail500", "2020-Mar") => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        ("truncated", "2020-Mar") => (xml_type, xml[..xml.len() / 2].to_vec()).into_response(),
        ("zstd", _) => (xml_type, zst.to_vec()).into_response(),
        ("gzip", _) => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&xml).unwrap();
            ([(header::CONTENT_ENCODING, "gzip")], gz.finish().unwrap()).into_response()
        }
        _ => (xml_type, xml).into_response(),
    }
}

/// Starts the server on an ephemeral port; returns its root URL and request log.
async fn server() -> (String, Arc<Log>) {
    let log = Arc::new(Log::default());
    let app = Router::new()
        .route("/{mode}/cvrf/v3.0/updates", get(index))
        .route("/{mode}/cvrf/v3.0/cvrf/{id}", get(document))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

/// What a store holding every document of the index would pass as `stored`.
fn stored_from_index(entries: &[IndexEntry]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|e| (e.id.clone(), e.current_release().unwrap()))
        .collect()
}

#[tokio::test]
async fn fetches_the_index() {
    let (root, log) = server().await;
    let client = reqwest::Client::new();
    let entries = sync::fetch_index(&client, &format!("{root}/plain"))
        .await
        .unwrap();
    assert_eq!(entries.len(), 190);
    assert_eq!(entries[0].id, "1999-Sep");
    assert_eq!(
        entries[0].document_title.as_deref(),
        Some("Mariner Release Notes")
    );
    let june = entries.iter().find(|e| e.id == "2026-Jun").unwrap();
    assert_eq!(
        june.current_release_date.as_deref(),
        Some("2026-07-05T14:46:17Z")
    );
    assert_eq!(
        june.current_release().as_deref(),
        Some("2026-07-05T14:46:17")
    );
    assert_eq!(
        june.cvrf_url.as_deref(),
        Some("https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/2026-Jun")
    );
    assert_eq!(log.take(), ["updates"]);
}

#[tokio::test]
async fn index_dates_match_the_documents_they_announce() {
    // The sync compares the index with stored documents: both must use one date format.
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let entries = sync::fetch_index(&client, &format!("{root}/plain"))
        .await
        .unwrap();
    for id in ["2017-May-B", "2020-Mar", "2026-Jun"] {
        let doc = sync::fetch_document(&client, &format!("{root}/plain"), id)
            .await
            .unwrap();
        let entry = entries.iter().find(|e| e.id == id).unwrap();
        assert_eq!(
            entry.current_release().as_deref(),
            Some(doc.info.current_release.as_str())
        );
        assert!(!entry.is_newer_than(Some(&doc.info.current_release)));
    }
}

#[tokio::test]
async fn fetches_plain_gzip_and_zstd_bodies() {
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let expected = kbgap_catalog::read_path(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/msrc-cvrf/2020-Mar.xml.zst"),
    )
    .unwrap();
    for mode in ["plain", "gzip", "zstd"] {
        let doc = sync::fetch_document(&client, &format!("{root}/{mode}"), "2020-Mar")
            .await
            .unwrap();
        assert_eq!(doc, expected, "{mode}");
    }
}

#[tokio::test]
async fn fetches_only_newer_documents() {
    let (root, log) = server().await;
    let client = reqwest::Client::new();
    let base = format!("{root}/plain");
    let mut stored = stored_from_index(&sync::fetch_index(&client, &base).await.unwrap());
    stored.insert("2020-Mar".into(), "2020-04-01T07:00:00".into()); // an older revision
    stored.remove("2026-Jun"); // never imported
    log.take();

    let mut calls = Vec::new();
    let docs = sync::fetch_newer(&client, &base, &stored, |done, total| {
        calls.push((done, total))
    })
    .await
    .unwrap();
    let ids: Vec<_> = docs.iter().map(|d| d.info.id.as_str()).collect();
    assert_eq!(ids, ["2020-Mar", "2026-Jun"], "in index order");
    assert_eq!(calls, [(0, 2), (1, 2), (2, 2)]);
    let mut requests = log.take();
    requests.sort();
    assert_eq!(requests, ["2020-Mar", "2026-Jun", "updates"]);
}

#[tokio::test]
async fn nothing_to_fetch_when_up_to_date() {
    let (root, log) = server().await;
    let client = reqwest::Client::new();
    let base = format!("{root}/plain");
    let stored = stored_from_index(&sync::fetch_index(&client, &base).await.unwrap());
    log.take();
    let mut calls = Vec::new();
    let docs = sync::fetch_newer(&client, &base, &stored, |d, t| calls.push((d, t)))
        .await
        .unwrap();
    assert!(docs.is_empty());
    assert_eq!(calls, [(0, 0)]);
    assert_eq!(log.take(), ["updates"]);
}

#[tokio::test]
async fn an_http_error_fails_the_whole_sync_and_names_the_url() {
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let base = format!("{root}/fail500");
    let mut stored = stored_from_index(&sync::fetch_index(&client, &base).await.unwrap());
    for id in ["2017-May-B", "2020-Mar", "2026-Jun", "2005-Mar"] {
        stored.remove(id);
    }
    let err = sync::fetch_newer(&client, &base, &stored, |_, _| {})
        .await
        .unwrap_err();
    let url = format!("{base}/cvrf/v3.0/cvrf/2020-Mar");
    assert!(
        matches!(&err, SyncError::Status { url: u, .. } if *u == url),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{url}: HTTP 500 Internal Server Error")
    );
}

#[tokio::test]
async fn a_truncated_document_fails_the_sync_with_its_url_and_position() {
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let base = format!("{root}/truncated");
    let mut stored = stored_from_index(&sync::fetch_index(&client, &base).await.unwrap());
    stored.remove("2020-Mar");
    stored.remove("2017-May-B");
    let err = sync::fetch_newer(&client, &base, &stored, |_, _| {})
        .await
        .unwrap_err();
    let url = format!("{base}/cvrf/v3.0/cvrf/2020-Mar");
    let SyncError::Document(CatalogError::Xml {
        input, position, ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*input, url);
    assert!(position.line > 1);
    assert!(
        err.to_string()
            .starts_with(&format!("{url}: XML error at line ")),
        "{err}"
    );
}

#[tokio::test]
async fn a_broken_index_names_its_url() {
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let base = format!("{root}/badindex");
    let err = sync::fetch_newer(&client, &base, &HashMap::new(), |_, _| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{base}/cvrf/v3.0/updates: invalid updates index: "
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_document_and_an_unreachable_server_name_the_url() {
    let (root, _) = server().await;
    let client = reqwest::Client::new();
    let err = sync::fetch_document(&client, &format!("{root}/plain"), "1998-Jan")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{root}/plain/cvrf/v3.0/cvrf/1998-Jan: HTTP 404 Not Found")
    );

    // A port nobody listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = sync::fetch_index(&client, &format!("http://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Request { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "http://{addr}/cvrf/v3.0/updates: request failed: "
        )),
        "{err}"
    );
}
