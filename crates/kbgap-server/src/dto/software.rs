//! `Software` (`PublicProductDto`) and `PublicAssetDto` (a machine reference).

use serde::{Deserialize, Serialize};

use crate::odata::{ODataRecord, ODataValue};

/// A software product in the organisation's inventory. Fields in `$metadata` order
/// (`PublicProductDto`; `Software` derives from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Software {
    /// `vendor-_-product` (`microsoft-_-windows_10`).
    pub id: String,
    /// The product half (`windows_10`).
    pub name: String,
    /// The vendor half (`microsoft`).
    pub vendor: String,
    /// Open vulnerabilities (distinct CVEs) on the machines that have it.
    pub weaknesses: i64,
    /// Whether any of those has a public exploit (MSRC's "Exploited" / "Publicly disclosed").
    pub public_exploit: bool,
    /// Always `false`: kbgap has no alerts.
    pub active_alert: bool,
    /// Machines with the software and at least one open vulnerability in it.
    pub exposed_machines: i64,
    /// Machines with the software.
    pub installed_machines: i64,
    /// Defender's impact score; kbgap reports 0 (it has no exposure model).
    pub impact_score: f64,
    /// Whether the name is normalised (always `true`: kbgap's names are MSRC-derived).
    pub is_normalized: bool,
    /// Category (`operating system`, `browser`, …), when known.
    pub category: Option<String>,
}

impl ODataRecord for Software {
    const ENTITY: &'static str = "Software";
    const PROPERTIES: &'static [&'static str] = &[
        "id",
        "name",
        "vendor",
        "weaknesses",
        "publicExploit",
        "activeAlert",
        "exposedMachines",
        "installedMachines",
        "impactScore",
        "isNormalized",
        "category",
    ];

    fn field(&self, name: &str) -> Option<ODataValue<'_>> {
        use ODataValue as V;
        Some(match name {
            "id" => V::str(&self.id),
            "name" => V::str(&self.name),
            "vendor" => V::str(&self.vendor),
            "weaknesses" => V::Int(self.weaknesses),
            "publicExploit" => V::Bool(self.public_exploit),
            "activeAlert" => V::Bool(self.active_alert),
            "exposedMachines" => V::Int(self.exposed_machines),
            "installedMachines" => V::Int(self.installed_machines),
            "impactScore" => V::Double(self.impact_score),
            "isNormalized" => V::Bool(self.is_normalized),
            "category" => V::opt_str(self.category.as_deref()),
            _ => return None,
        })
    }
}

/// A machine as `machineReferences` lists it. Fields in `$metadata` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicAssetDto {
    /// Machine id.
    pub id: String,
    /// Host or DNS name.
    pub computer_dns_name: String,
    /// `Windows10`, …
    pub os_platform: Option<String>,
    /// Asset criticality, unknown to kbgap (`null`).
    pub asset_criticality_level: Option<String>,
    /// Machine tags.
    pub tags: Vec<String>,
    /// Device group name.
    pub rbac_group_name: Option<String>,
    /// Device group id.
    pub rbac_group_id: Option<i64>,
}

/// The name the issue and the endpoint use for [`PublicAssetDto`].
pub type MachineReference = PublicAssetDto;

impl ODataRecord for PublicAssetDto {
    const ENTITY: &'static str = "PublicAssetDto";
    const PROPERTIES: &'static [&'static str] = &[
        "id",
        "computerDnsName",
        "osPlatform",
        "assetCriticalityLevel",
        "tags",
        "rbacGroupName",
        "rbacGroupId",
    ];

    fn field(&self, name: &str) -> Option<ODataValue<'_>> {
        use ODataValue as V;
        Some(match name {
            "id" => V::str(&self.id),
            "computerDnsName" => V::str(&self.computer_dns_name),
            "osPlatform" => V::opt_str(self.os_platform.as_deref()),
            "assetCriticalityLevel" => V::opt_str(self.asset_criticality_level.as_deref()),
            "tags" => V::strings(&self.tags),
            "rbacGroupName" => V::opt_str(self.rbac_group_name.as_deref()),
            "rbacGroupId" => self.rbac_group_id.map_or(V::Null, V::Int),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_sample() {
        let doc: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../fixtures/mde-api-samples/docs_get-software.example.json"
        ))
        .unwrap();
        let mut v = doc["value"][0].clone();
        // The documented sample predates installedMachines, isNormalized and category.
        v["installedMachines"] = 180.into();
        v["isNormalized"] = true.into();
        let s: Software = serde_json::from_value(v).unwrap();
        assert_eq!(s.id, "microsoft-_-edge");
        assert_eq!(s.field("vendor"), Some(ODataValue::str("microsoft")));
    }
}
