//! One machine's state as the engine sees it: the output of every inventory reader and the input
//! of the engine. Serialized, it is the `device` member of `kbgap scan --format json` and the body
//! of the stored machine.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::build::Branch;
use crate::ids::{KbId, MachineId};
use crate::kinds::{Architecture, InstallationType};

/// What kbgap knows about one machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Defender-style machine id, when the report carried one (the store assigns one otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MachineId>,
    /// Host name (systeminfo's "Host Name"), or DNS name when known.
    pub computer_dns_name: String,
    /// The OS caption ("Microsoft Windows 10 Enterprise").
    pub os_name: Option<String>,
    /// `major.minor.build` ("10.0.19045").
    pub os_version: Option<OsVersion>,
    /// Update build revision, when the source carries it (registry, osquery); systeminfo does not.
    pub ubr: Option<u32>,
    /// Service pack level (Windows 7 SP1 → 1), when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_pack: Option<u32>,
    /// CPU architecture of the OS.
    pub architecture: Option<Architecture>,
    /// Client, Server or Server Core.
    pub installation_type: Option<InstallationType>,
    /// DisplayVersion ("22H2"), informational only: products are identified from the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_version: Option<String>,
    /// The exact MSRC full product names of the OS (and of software mapped to MSRC products).
    pub products: Vec<String>,
    /// Installed KBs, sorted, without duplicates.
    pub installed_kbs: BTreeSet<KbId>,
    /// Installed software from the inventory (uninstall keys, osquery `programs`, the report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software: Vec<InstalledSoftware>,
    /// System locale ("en-us;English (United States)"), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// When the machine last reported (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Things the reader noticed and the user should know ("Server Core could not be told apart
    /// from a full installation; assumed full").
    pub warnings: Vec<String>,
}

impl Device {
    /// The branch the machine's OS is on (`10.0.19045`), when known.
    pub fn branch(&self) -> Option<Branch> {
        self.os_version.map(|v| Branch {
            major: v.major,
            minor: v.minor,
            build: v.build,
        })
    }
}

/// An NT version with build number: `10.0.19045`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsVersion {
    /// NT major version.
    pub major: u16,
    /// NT minor version.
    pub minor: u16,
    /// Build number.
    pub build: u32,
}

impl std::fmt::Display for OsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

impl std::str::FromStr for OsVersion {
    type Err = String;
    /// Parses `10.0.19045` (a fourth part, the UBR, is refused: it belongs in `ubr`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let bad =
            || format!("{s:?} is not an OS version (expected major.minor.build, e.g. 10.0.19045)");
        if parts.len() != 3 {
            return Err(bad());
        }
        let major = parts[0].parse().map_err(|_| bad())?;
        let minor = parts[1].parse().map_err(|_| bad())?;
        let build = parts[2].parse().map_err(|_| bad())?;
        Ok(Self {
            major,
            minor,
            build,
        })
    }
}

impl Serialize for OsVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One installed program.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstalledSoftware {
    /// Publisher ("Microsoft Corporation").
    pub vendor: String,
    /// Display name ("Microsoft .NET Framework 4.8.1").
    pub name: String,
    /// Display version, when known.
    #[serde(default)]
    pub version: Option<String>,
}
