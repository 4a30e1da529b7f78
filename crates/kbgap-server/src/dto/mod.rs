//! Typed response bodies, field for field as Defender sends them.
//!
//! Property names and order follow the live `$metadata` (`fixtures/mde-api-samples/`) and, for
//! `Machine`, the captured live bodies, which also carry a few properties `$metadata` omits
//! (`osVersion`, `defenderAvStatus`). Serde structs rather than `json!` values keep the order
//! stable and let the compiler check every field (see `style.md` §(a) 11).

mod collection;
mod fix;
mod machine;
mod software;
mod vulnerability;

pub use collection::{JsonArray, ODataCollection, ODataEntity, RawCollection, context};
pub use fix::{FixExtension, FixesTemplate, PublicProductFixDto};
pub use machine::{
    DeviceValue, ExposureLevel, HealthStatus, Machine, MachineIpAddress, ManagedBy,
    ManagedByStatus, OnboardingStatus, RiskScore, ServicingStatus, VmMetadata,
};
pub use software::{MachineReference, PublicAssetDto, Software};
pub use vulnerability::{MachineVulnerability, Vulnerability};

/// Defender's time format: RFC 3339 in UTC with a `Z` and only the fractional digits needed
/// (`2023-05-04T17:40:05.684607Z`).
pub mod mde_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes a time.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    /// Deserializes any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for optional times (`null` when absent).
    pub mod option {
        use super::*;

        /// Serializes an optional time.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Deserializes an optional time.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let s: Option<String> = Option::deserialize(d)?;
            s.map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}
