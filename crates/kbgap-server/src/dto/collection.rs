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
