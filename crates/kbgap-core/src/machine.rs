//! One machine's state as the engine sees it: the output of every inventory reader and the input
//! of the engine. Serialized, it is the `device` member of `kbgap scan --format json` and the body
//! of the stored machine.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::build::{Branch, Build};
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
    /// Installed KBs, sorted, without duplicates. Serialized as digit strings (`["5094127"]`, the
    /// machine report's spelling); numbers are read too (machines stored by older versions).
    #[serde(with = "kb_strings")]
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
    /// The machine is enrolled in hotpatch (the JSON report's `hotpatch`): hotpatch updates raise
    /// its effective build.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hotpatch: bool,
    /// The version of the machine's WinRE image (`10.0.19041.5000`, the JSON report's
    /// `winreVersion`), when reported: decides Safe OS / WinRE dynamic updates.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "build_string"
    )]
    pub winre_version: Option<Build>,
    /// Why MSRC covers this machine's OS no more, in plain words ("Windows XP: Microsoft ended
    /// support on 8 April 2014 …"); `None` when the OS is covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_support: Option<String>,
    /// The machine's tags (the JSON report's `machineTags`, Defender's Machine `machineTags`):
    /// trimmed, without empty or repeated ones (compared without regard to case), in the order
    /// reported. Labels for filtering, never an input of the engine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_tags: Vec<String>,
    /// The inventory format the machine was read from: evidence for whoever doubts an answer
    /// (a systeminfo file carries no update revision; a report or osquery result may).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<InputFormat>,
}

/// The inventory formats a machine state is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// `systeminfo` output.
    Systeminfo,
    /// A hotfix list (`wmic qfe`, `Get-HotFix`, Windows Update history) with the OS given apart.
    Hotfixes,
    /// osquery results.
    Osquery,
    /// kbgap's JSON machine report (the collector's).
    Report,
}

impl InputFormat {
    /// The name `--input-format` and the JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Systeminfo => "systeminfo",
            Self::Hotfixes => "hotfixes",
            Self::Osquery => "osquery",
            Self::Report => "report",
        }
    }
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A KB set as digit strings; reads strings (`"5094127"`, `"KB5094127"`) and numbers.
mod kb_strings {
    use std::collections::BTreeSet;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::KbId;

    pub fn serialize<S: Serializer>(kbs: &BTreeSet<KbId>, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(kbs.len()))?;
        for kb in kbs {
            seq.serialize_element(&kb.to_string())?;
        }
        seq.end()
    }

    /// One KB, a string or a number.
    struct Kb(KbId);

    impl<'de> Deserialize<'de> for Kb {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KbVisitor;
            impl Visitor<'_> for KbVisitor {
                type Value = Kb;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a KB number as a digit string (\"5094127\")")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Kb, E> {
                    v.parse().map(Kb).map_err(E::custom)
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kb, E> {
                    u32::try_from(v)
                        .ok()
                        .and_then(KbId::new)
                        .map(Kb)
                        .ok_or_else(|| E::custom(format!("{v} is not a KB number")))
                }
            }
            d.deserialize_any(KbVisitor)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<KbId>, D::Error> {
        struct SetVisitor;
        impl<'de> Visitor<'de> for SetVisitor {
            type Value = BTreeSet<KbId>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of KB numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeSet::new();
                while let Some(Kb(kb)) = seq.next_element()? {
                    out.insert(kb);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(SetVisitor)
    }
}

/// `Option<Build>` as a `"10.0.19041.5000"` string.
mod build_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::build::Build;

    pub fn serialize<S: Serializer>(b: &Option<Build>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.collect_str(b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Build>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

impl Device {
    /// Gives back the spare capacity of its lists. A list read from JSON keeps the room it grew
    /// to (four elements for one), and a server keeps a device per machine in memory: at a
    /// million machines the spare room of `products` and `software` alone was 280 MB.
    pub fn shrink_to_fit(&mut self) {
        self.products.shrink_to_fit();
        self.software.shrink_to_fit();
        self.warnings.shrink_to_fit();
        self.machine_tags.shrink_to_fit();
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(n: u32) -> KbId {
        KbId::new(n).unwrap()
    }

    #[test]
    fn installed_kbs_are_digit_strings_and_numbers_are_still_read() {
        let d = Device {
            computer_dns_name: "pc1".into(),
            installed_kbs: [kb(5094127), kb(4540673)].into(),
            ..Device::default()
        };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json["installedKbs"],
            serde_json::json!(["4540673", "5094127"])
        );
        assert_eq!(serde_json::from_value::<Device>(json).unwrap(), d);
        // A machine stored before the change: numbers.
        let old = r#"{"computerDnsName":"pc1","osName":null,"osVersion":null,"ubr":null,
            "architecture":null,"installationType":null,"products":[],
            "installedKbs":[5094127,4540673],"warnings":[]}"#;
        assert_eq!(serde_json::from_str::<Device>(old).unwrap(), d);
        for bad in [
            r#"[0]"#,
            r#"["Release Notes"]"#,
            r#"[true]"#,
            r#""5094127""#,
        ] {
            let text = old.replace("[5094127,4540673]", bad);
            let e = serde_json::from_str::<Device>(&text).unwrap_err();
            assert!(e.to_string().contains("KB"), "{bad}: {e}");
        }
    }

    #[test]
    fn hotpatch_winre_and_end_of_support_round_trip_and_default_when_absent() {
        let d = Device {
            computer_dns_name: "srv1".into(),
            hotpatch: true,
            winre_version: Some("10.0.20348.2201".parse().unwrap()),
            end_of_support: Some("Windows XP is out of support".into()),
            ..Device::default()
        };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["hotpatch"], true);
        assert_eq!(json["winreVersion"], "10.0.20348.2201");
        assert_eq!(json["endOfSupport"], "Windows XP is out of support");
        assert_eq!(serde_json::from_value::<Device>(json).unwrap(), d);
        // Defaults are left out, and absent means default.
        let plain = serde_json::to_value(Device::default()).unwrap();
        for key in ["hotpatch", "winreVersion", "endOfSupport"] {
            assert!(plain.get(key).is_none(), "{key} in {plain}");
        }
        let e = serde_json::from_str::<Device>(
            r#"{"computerDnsName":"x","osName":null,"osVersion":null,"ubr":null,"architecture":null,
                "installationType":null,"products":[],"installedKbs":[],"warnings":[],
                "winreVersion":"10.0.20348"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a Windows build"), "{e}");
    }
}
