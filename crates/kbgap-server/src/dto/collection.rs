//! Defender's response envelopes: `{"@odata.context", "@odata.count"?, "value", "@odata.nextLink"?}`
//! for collections, and `{"@odata.context", …entity}` for single entities.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The content type Defender answers OData JSON with.
pub const ODATA_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

/// `@odata.context` fragments (after `$metadata#`) of what kbgap serves.
pub mod context {
    /// `GET /api/machines`.
    pub const MACHINES: &str = "Machines";
    /// `GET /api/machines/{id}`.
    pub const MACHINE_ENTITY: &str = "Machines/$entity";
    /// `GET /api/Software`.
    pub const SOFTWARE: &str = "Software";
    /// `GET /api/Software/{id}`.
    pub const SOFTWARE_ENTITY: &str = "Software/$entity";
    /// `GET /api/machines/{id}/software`.
    pub const MACHINE_SOFTWARE: &str = "Collection(microsoft.windowsDefenderATP.api.Software)";
    /// Vulnerabilities of a machine.
    pub const MACHINE_VULNERABILITIES: &str =
        "Collection(microsoft.windowsDefenderATP.api.Vulnerability)";
    /// Vulnerabilities of a software.
    pub const SOFTWARE_VULNERABILITIES: &str =
        "Collection(microsoft.windowsDefenderATP.api.PublicVulnerabilityDto)";
    /// Both getmissingkbs endpoints.
    pub const PRODUCT_FIXES: &str =
        "Collection(microsoft.windowsDefenderATP.api.PublicProductFixDto)";
    /// `GET /api/Software/{id}/machineReferences`.
    pub const MACHINE_REFERENCES: &str =
        "Collection(microsoft.windowsDefenderATP.api.PublicAssetDto)";
    /// `GET /api/vulnerabilities/machinesVulnerabilities`.
    pub const MACHINES_VULNERABILITIES: &str =
        "Collection(microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto)";
}

/// A collection answer. Build it with [`crate::odata::ODataQuery::collection`], which fills the
/// context from the called host and the links from the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ODataCollection<T> {
    /// `https://<host>/api/$metadata#<fragment>`.
    #[serde(rename = "@odata.context")]
    pub context: String,
    /// The number of matches, when `$count=true`.
    #[serde(
        rename = "@odata.count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    /// The records.
    pub value: Vec<T>,
    /// The next page, when more remain.
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
}

/// A single-entity answer: the context followed by the entity's own properties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ODataEntity<T> {
    /// `https://<host>/api/$metadata#Machines/$entity`.
    #[serde(rename = "@odata.context")]
    pub context: String,
    /// The entity.
    #[serde(flatten)]
    pub entity: T,
}

/// Records already serialized as one JSON array, with their number: an answer the server keeps
/// between requests.
#[derive(Debug)]
pub struct JsonArray {
    /// The array, `[…]`.
    pub json: String,
    /// How many records it holds.
    pub len: usize,
}

impl JsonArray {
    /// Serializes records.
    pub fn new<T: Serialize>(items: &[T]) -> Result<Self, ApiError> {
        let json = serde_json::to_string(items)
            .map_err(|e| ApiError::internal(format!("serializing a response: {e}")))?;
        Ok(Self {
            json,
            len: items.len(),
        })
    }
}

/// A whole collection (no paging) whose records are already JSON: the same bytes as an
/// [`ODataCollection`] of them, without serializing the records again.
#[derive(Debug)]
pub struct RawCollection {
    /// `https://<host>/api/$metadata#<fragment>`.
    pub context: String,
    /// The number of records, when `$count=true`.
    pub count: Option<u64>,
    /// The records.
    pub value: std::sync::Arc<JsonArray>,
}

impl IntoResponse for RawCollection {
    fn into_response(self) -> Response {
        let mut out = Vec::with_capacity(self.value.json.len() + self.context.len() + 64);
        out.extend_from_slice(b"{\"@odata.context\":");
        // A string always serializes.
        let _ = serde_json::to_writer(&mut out, &self.context);
        if let Some(n) = self.count {
            out.extend_from_slice(format!(",\"@odata.count\":{n}").as_bytes());
        }
        out.extend_from_slice(b",\"value\":");
        out.extend_from_slice(self.value.json.as_bytes());
        out.push(b'}');
        ([(header::CONTENT_TYPE, ODATA_JSON)], out).into_response()
    }
}

fn json_response<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, ODATA_JSON)], bytes).into_response(),
        Err(e) => ApiError::internal(format!("serializing a response: {e}")).into_response(),
    }
}

impl<T: Serialize> IntoResponse for ODataCollection<T> {
    fn into_response(self) -> Response {
        json_response(&self)
    }
}

impl<T: Serialize> IntoResponse for ODataEntity<T> {
    fn into_response(self) -> Response {
        json_response(&self)
    }
}
