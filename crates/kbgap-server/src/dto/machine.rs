//! `Machine`: a device as `GET /api/machines` returns it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::odata::{ODataRecord, ODataValue};

macro_rules! mde_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }
        impl $name {
            /// The member's name as Defender spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }
        }
    };
}

mde_enum!(
    /// `MachineHealthStatus`.
    HealthStatus {
        /// Reporting.
        Active,
        /// Not reporting for a while.
        Inactive,
        /// Partial communication.
        ImpairedCommunication,
        /// No sensor data.
        NoSensorData,
        /// Both of the above.
        NoSensorDataImpairedCommunication,
        /// Unknown.
        Unknown,
    }
);
mde_enum!(
    /// `DeviceValue`.
    DeviceValue {
        /// Default.
        Normal,
        /// Low value.
        Low,
        /// High value.
        High,
    }
);
mde_enum!(
    /// `RiskScore`.
    RiskScore {
        /// No risk.
        None,
        /// Informational.
        Informational,
        /// Low.
        Low,
        /// Medium.
        Medium,
        /// High.
        High,
    }
);
mde_enum!(
    /// `ExposureLevel`: kbgap derives it from the machine's open CVEs.
    ExposureLevel {
        /// Nothing open.
        None,
        /// Low.
        Low,
        /// Medium.
        Medium,
        /// High.
        High,
    }
);
mde_enum!(
    /// `OnboardingStatus`.
    OnboardingStatus {
        /// Not enough information.
        InsufficientInfo,
        /// Reporting to kbgap.
        Onboarded,
        /// Could be onboarded.
        CanBeOnboarded,
        /// Unsupported.
        Unsupported,
    }
);
mde_enum!(
    /// `DeviceManagedBy`.
    ManagedBy {
        /// Unknown.
        Unknown,
        /// Intune.
        Intune,
        /// Configuration Manager.
        SystemCenterConfigurationManager,
        /// Defender for Endpoint.
        MicrosoftDefenderForEndpoint,
    }
);
mde_enum!(
    /// `DeviceManagedByStatus`.
    ManagedByStatus {
        /// Unknown.
        Unknown,
        /// Success.
        Success,
        /// Error.
        Error,
    }
);

mde_enum!(
    /// `servicingStatus` (a kbgap extension): whether MSRC's security-update documents still cover
    /// the machine's OS.
    ServicingStatus {
        /// MSRC covers the OS: getmissingkbs says what the machine misses.
        Supported,
        /// MSRC covers the OS no more (Windows XP, Server 2003, Vista and Server 2008 before
        /// Service Pack 2 …): nothing can be listed for it; `servicingNote` says why.
        EndOfSupport,
    }
);

/// What a machine body without `servicingStatus` (Defender's own) means.
fn supported() -> ServicingStatus {
    ServicingStatus::Supported
}

/// `MachineIpAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineIpAddress {
    /// The address.
    pub ip_address: String,
    /// The interface's MAC address, when known.
    pub mac_address: Option<String>,
    /// `InterfaceType` member (`Ethernet`, `SoftwareLoopback`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `IpInterfaceOperationalStatus` member (`Up`, `Down`, …).
    pub operational_status: Option<String>,
}

/// `VmMetadata` (always `null` in kbgap, which does not know cloud VMs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmMetadata {
    /// VM id.
    pub vm_id: Option<String>,
    /// `vmCloudProvider` member.
    pub cloud_provider: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Subscription id.
    pub subscription_id: Option<String>,
}

/// A machine, in the property order of Defender's live answers (`swimlane_machines` capture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// 40 lowercase hex characters.
    pub id: String,
    /// Defender merges duplicate devices; kbgap never does (`null`).
    pub merged_into_machine_id: Option<String>,
    /// Always `false` in kbgap.
    pub is_potential_duplication: bool,
    /// Always `false` in kbgap.
    pub is_excluded: bool,
    /// `ExclusionReason` member, `null` unless excluded.
    pub exclusion_reason: Option<String>,
    /// Host or DNS name.
    pub computer_dns_name: String,
    /// When kbgap first received a report.
    #[serde(with = "super::mde_time::option")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the last report arrived (or the report's own time).
    #[serde(with = "super::mde_time::option")]
    pub last_seen: Option<DateTime<Utc>>,
    /// `Windows10`, `Windows11`, `WindowsServer2019`, …
    pub os_platform: Option<String>,
    /// `10.0.19045` (Defender often leaves it `null`).
    pub os_version: Option<String>,
    /// `x64`, `x86`, `arm64`.
    pub os_processor: Option<String>,
    /// The display version (`22H2`).
    pub version: Option<String>,
    /// Last internal IP address.
    pub last_ip_address: Option<String>,
    /// Last external IP address.
    pub last_external_ip_address: Option<String>,
    /// The reporting agent's version (kbgap: the collector's).
    pub agent_version: Option<String>,
    /// The OS build number (`19045`).
    pub os_build: Option<i64>,
    /// `Active` when reporting.
    pub health_status: HealthStatus,
    /// Asset value.
    pub device_value: DeviceValue,
    /// Device group id (0 = none).
    pub rbac_group_id: i64,
    /// Device group name.
    pub rbac_group_name: Option<String>,
    /// Risk score.
    pub risk_score: Option<RiskScore>,
    /// Exposure from open vulnerabilities.
    pub exposure_level: ExposureLevel,
    /// Entra-joined, when known.
    pub is_aad_joined: Option<bool>,
    /// Entra device id, when known.
    pub aad_device_id: Option<String>,
    /// Tags.
    pub machine_tags: Vec<String>,
    /// Antivirus status (Defender's; `null` in kbgap).
    pub defender_av_status: Option<String>,
    /// `Onboarded` for every machine that reported.
    pub onboarding_status: OnboardingStatus,
    /// `64-bit` / `32-bit`.
    pub os_architecture: Option<String>,
    /// Management tool.
    pub managed_by: ManagedBy,
    /// Management status.
    pub managed_by_status: ManagedByStatus,
    /// Network interfaces.
    pub ip_addresses: Vec<MachineIpAddress>,
    /// Cloud VM details.
    pub vm_metadata: Option<VmMetadata>,
    /// kbgap extension: `Supported`, or `EndOfSupport` when MSRC covers the machine's OS no more
    /// (its getmissingkbs is then empty, because nothing can be listed).
    #[serde(default = "supported")]
    pub servicing_status: ServicingStatus,
    /// kbgap extension: why the OS is out of support, in plain words; `null` when supported.
    #[serde(default)]
    pub servicing_note: Option<String>,
}

impl Machine {
    /// A machine with kbgap's defaults for what it cannot know.
    pub fn new(id: impl Into<String>, computer_dns_name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            merged_into_machine_id: None,
            is_potential_duplication: false,
            is_excluded: false,
            exclusion_reason: None,
            computer_dns_name: computer_dns_name.into(),
            first_seen: None,
            last_seen: None,
            os_platform: None,
            os_version: None,
            os_processor: None,
            version: None,
            last_ip_address: None,
            last_external_ip_address: None,
            agent_version: None,
            os_build: None,
            health_status: HealthStatus::Active,
            device_value: DeviceValue::Normal,
            rbac_group_id: 0,
            rbac_group_name: None,
            risk_score: Some(RiskScore::None),
            exposure_level: ExposureLevel::None,
            is_aad_joined: None,
            aad_device_id: None,
            machine_tags: Vec::new(),
            defender_av_status: None,
            onboarding_status: OnboardingStatus::Onboarded,
            os_architecture: None,
            managed_by: ManagedBy::Unknown,
            managed_by_status: ManagedByStatus::Unknown,
            ip_addresses: Vec::new(),
            vm_metadata: None,
            servicing_status: ServicingStatus::Supported,
            servicing_note: None,
        }
    }
}

impl ODataRecord for Machine {
    const ENTITY: &'static str = "Machine";
    const PROPERTIES: &'static [&'static str] = &[
        "id",
        "mergedIntoMachineId",
        "isPotentialDuplication",
        "isExcluded",
        "exclusionReason",
        "computerDnsName",
        "firstSeen",
        "lastSeen",
        "osPlatform",
        "osVersion",
        "osProcessor",
        "version",
        "lastIpAddress",
        "lastExternalIpAddress",
        "agentVersion",
        "osBuild",
        "healthStatus",
        "deviceValue",
        "rbacGroupId",
        "rbacGroupName",
        "riskScore",
        "exposureLevel",
        "isAadJoined",
        "aadDeviceId",
        "machineTags",
        "defenderAvStatus",
        "onboardingStatus",
        "osArchitecture",
        "managedBy",
        "managedByStatus",
        "ipAddresses",
        "servicingStatus",
        "servicingNote",
    ];

    fn field(&self, name: &str) -> Option<ODataValue<'_>> {
        use ODataValue as V;
        fn s(v: &Option<String>) -> ODataValue<'_> {
            ODataValue::opt_str(v.as_deref())
        }
        let t = |v: Option<DateTime<Utc>>| v.map_or(V::Null, V::DateTime);
        Some(match name {
            "id" => V::str(&self.id),
            "mergedIntoMachineId" => s(&self.merged_into_machine_id),
            "isPotentialDuplication" => V::Bool(self.is_potential_duplication),
            "isExcluded" => V::Bool(self.is_excluded),
            "exclusionReason" => s(&self.exclusion_reason),
            "computerDnsName" => V::str(&self.computer_dns_name),
            "firstSeen" => t(self.first_seen),
            "lastSeen" => t(self.last_seen),
            "osPlatform" => s(&self.os_platform),
            "osVersion" => s(&self.os_version),
            "osProcessor" => s(&self.os_processor),
            "version" => s(&self.version),
            "lastIpAddress" => s(&self.last_ip_address),
            "lastExternalIpAddress" => s(&self.last_external_ip_address),
            "agentVersion" => s(&self.agent_version),
            "osBuild" => self.os_build.map_or(V::Null, V::Int),
            "healthStatus" => V::str(self.health_status.as_str()),
            "deviceValue" => V::str(self.device_value.as_str()),
            "rbacGroupId" => V::Int(self.rbac_group_id),
            "rbacGroupName" => s(&self.rbac_group_name),
            "riskScore" => self.risk_score.map_or(V::Null, |r| V::str(r.as_str())),
            "exposureLevel" => V::str(self.exposure_level.as_str()),
            "isAadJoined" => self.is_aad_joined.map_or(V::Null, V::Bool),
            "aadDeviceId" => s(&self.aad_device_id),
            "machineTags" => V::strings(&self.machine_tags),
            "defenderAvStatus" => s(&self.defender_av_status),
            "onboardingStatus" => V::str(self.onboarding_status.as_str()),
            "osArchitecture" => s(&self.os_architecture),
            "managedBy" => V::str(self.managed_by.as_str()),
            "managedByStatus" => V::str(self.managed_by_status.as_str()),
            "ipAddresses" => V::Collection(
                self.ip_addresses
                    .iter()
                    .map(|ip| {
                        V::Object(vec![
                            ("ipAddress", V::str(&ip.ip_address)),
                            ("macAddress", s(&ip.mac_address)),
                            ("type", s(&ip.kind)),
                            ("operationalStatus", s(&ip.operational_status)),
                        ])
                    })
                    .collect(),
            ),
            "servicingStatus" => V::str(self.servicing_status.as_str()),
            "servicingNote" => s(&self.servicing_note),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &str = include_str!(
        "../../../../fixtures/mde-api-samples/swimlane_machines.captured-2023-05-04.json"
    );

    #[test]
    fn round_trips_the_live_capture_with_the_same_property_order() {
        let doc: serde_json::Value = serde_json::from_str(CAPTURE).unwrap();
        let raw = &doc["value"][0];
        let m: Machine = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(m.computer_dns_name, "se-pov-desktop");
        assert_eq!(m.os_build, Some(19044));
        assert_eq!(m.exposure_level, ExposureLevel::High);
        assert_eq!(m.servicing_status, ServicingStatus::Supported);
        // Property order: the capture's keys, in the order the live service sent them, then
        // kbgap's two extensions.
        let mut expected = key_order(CAPTURE.split("\"value\"").nth(1).unwrap());
        expected.extend(["servicingStatus".to_owned(), "servicingNote".to_owned()]);
        let ours = key_order(&serde_json::to_string_pretty(&m).unwrap());
        assert_eq!(ours, expected);
    }

    /// Top-level keys of the first object in `text`, in order.
    fn key_order(text: &str) -> Vec<String> {
        let start = text.find('{').unwrap();
        let mut keys = Vec::new();
        let mut depth = 0;
        let mut last = None;
        let mut chars = text[start..].chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    let mut s = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => s.extend(chars.next()),
                            '"' => break,
                            c => s.push(c),
                        }
                    }
                    last = Some(s);
                }
                ':' if depth == 1 => keys.extend(last.take()),
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        keys
    }

    #[test]
    fn filters_see_enums_as_strings_and_tags_as_collections() {
        let mut m = Machine::new("a".repeat(40), "PC1");
        m.machine_tags = vec!["prod".into()];
        assert_eq!(m.field("healthStatus"), Some(ODataValue::str("Active")));
        assert_eq!(
            m.field("machineTags"),
            Some(ODataValue::Collection(vec![ODataValue::str("prod")]))
        );
        assert_eq!(m.field("nope"), None);
        assert_eq!(
            m.field("servicingStatus"),
            Some(ODataValue::str("Supported"))
        );
        assert_eq!(m.field("servicingNote"), Some(ODataValue::Null));
        m.servicing_status = ServicingStatus::EndOfSupport;
        m.servicing_note = Some("Windows XP is out of support".into());
        assert_eq!(
            m.field("servicingStatus"),
            Some(ODataValue::str("EndOfSupport"))
        );
        assert_eq!(
            m.field("servicingNote"),
            Some(ODataValue::str("Windows XP is out of support"))
        );
    }
}
