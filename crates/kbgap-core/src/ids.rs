//! Identifiers that parse: a value of these types is always well formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}: {reason}")]
pub struct IdError {
    /// Which identifier kind was expected ("KB number", "CVE id", …).
    pub kind: &'static str,
    /// The rejected input (truncated to 80 characters).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl IdError {
    fn new(kind: &'static str, value: &str, reason: &'static str) -> Self {
        let value: String = value.chars().take(80).collect();
        Self {
            kind,
            value,
            reason,
        }
    }
}

/// A Microsoft Knowledge Base article number: the name of an update ("KB5094127" → 5094127).
///
/// Stored as a number so comparisons and hashing are cheap; displayed as digits only, which is
/// how Defender's API spells KB ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KbId(u32);

impl KbId {
    /// A KB id from its number. Zero is not a KB.
    pub fn new(n: u32) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }
    /// The KB number.
    pub fn get(self) -> u32 {
        self.0
    }
    /// The Microsoft Update Catalog search page for this KB (Defender's `url` field).
    pub fn catalog_url(self) -> String {
        format!(
            "https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB{}",
            self.0
        )
    }
}

impl FromStr for KbId {
    type Err = IdError;
    /// Accepts `5094127`, `KB5094127`, `kb5094127` with surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t
            .strip_prefix("KB")
            .or_else(|| t.strip_prefix("kb"))
            .or_else(|| t.strip_prefix("Kb"))
            .unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::new(
                "KB number",
                s,
                "expected digits, optionally prefixed by KB",
            ));
        }
        if digits.len() > 9 {
            return Err(IdError::new("KB number", s, "too many digits"));
        }
        let n: u32 = digits
            .parse()
            .map_err(|_| IdError::new("KB number", s, "out of range"))?;
        Self::new(n).ok_or_else(|| IdError::new("KB number", s, "zero is not a KB"))
    }
}

impl fmt::Display for KbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for KbId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for KbId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Self::new(n).ok_or_else(|| serde::de::Error::custom("KB number 0"))
    }
}

/// A vulnerability id as MSRC lists it: a CVE (`CVE-2020-0796`) or an advisory (`ADV190023`).
///
/// Advisories are not CVEs and never count toward `cveAddressed`; [`VulnId::is_cve`] tells them
/// apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VulnId(String);

impl VulnId {
    /// Whether this is a CVE id (as opposed to an ADV advisory or another vendor id).
    pub fn is_cve(&self) -> bool {
        self.0.starts_with("CVE-")
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VulnId {
    type Err = IdError;
    /// Normalises case and whitespace; accepts `CVE-YYYY-N+`, `ADVnnnnnn` and other MSRC ids made of
    /// letters, digits and dashes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() || t.len() > 64 {
            return Err(IdError::new("vulnerability id", s, "empty or too long"));
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(IdError::new("vulnerability id", s, "unexpected character"));
        }
        if let Some(rest) = t.strip_prefix("CVE-") {
            let mut parts = rest.splitn(2, '-');
            let year = parts.next().unwrap_or("");
            let num = parts.next().unwrap_or("");
            if year.len() != 4
                || !year.bytes().all(|b| b.is_ascii_digit())
                || num.len() < 4
                || !num.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(IdError::new("CVE id", s, "expected CVE-YYYY-NNNN"));
            }
        }
        Ok(Self(t))
    }
}

impl fmt::Display for VulnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An MSRC ProductID (`11929`, `21021-17084`): stable across documents, unlike product names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductId(String);

impl ProductId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProductId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || t.len() > 64 {
            return Err(IdError::new("MSRC product id", s, "empty or too long"));
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(IdError::new("MSRC product id", s, "unexpected character"));
        }
        Ok(Self(t.to_owned()))
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A machine id as Defender spells it: 40 lowercase hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MachineId(String);

impl MachineId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 20 bytes the id spells in hex: a key half the size, and free of the heap, for
    /// tables of a million machines.
    pub fn to_bytes(&self) -> [u8; 20] {
        let mut out = [0u8; 20];
        // The id is 40 lowercase hex digits (see `FromStr`), so this cannot fail.
        let _ = hex::decode_to_slice(&self.0, &mut out);
        out
    }

    /// A machine id from 20 bytes (a SHA-1 digest, for instance).
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(hex::encode(bytes))
    }
}

impl FromStr for MachineId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 40
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(IdError::new(
                "machine id",
                s,
                "expected 40 lowercase hexadecimal characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for MachineId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Defender software id: `vendor-_-product`, e.g. `microsoft-_-windows_10`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SoftwareId {
    /// Lowercase vendor (`microsoft`).
    pub vendor: String,
    /// Lowercase product name (`windows_10`, `.net_framework`).
    pub name: String,
}

impl SoftwareId {
    /// Microsoft software with the given Defender-style name.
    pub fn microsoft(name: &str) -> Self {
        Self {
            vendor: "microsoft".into(),
            name: name.into(),
        }
    }
}

impl FromStr for SoftwareId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (vendor, name) = lower
            .split_once("-_-")
            .ok_or_else(|| IdError::new("software id", s, "expected vendor-_-product"))?;
        if vendor.is_empty() || name.is_empty() || name.contains("-_-") {
            return Err(IdError::new("software id", s, "expected vendor-_-product"));
        }
        Ok(Self {
            vendor: vendor.into(),
            name: name.into(),
        })
    }
}

impl fmt::Display for SoftwareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-_-{}", self.vendor, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_ids_parse_with_or_without_prefix() {
        assert_eq!("KB5094127".parse::<KbId>().unwrap().get(), 5_094_127);
        assert_eq!(" 4540673 ".parse::<KbId>().unwrap().to_string(), "4540673");
        assert!("KB".parse::<KbId>().is_err());
        assert!("0".parse::<KbId>().is_err());
        assert!("Release Notes".parse::<KbId>().is_err());
    }

    #[test]
    fn vuln_ids_tell_cves_from_advisories() {
        assert!("cve-2020-0796".parse::<VulnId>().unwrap().is_cve());
        assert!(!"ADV190023".parse::<VulnId>().unwrap().is_cve());
        assert!("CVE-20-1".parse::<VulnId>().is_err());
    }

    #[test]
    fn machine_ids_are_40_lowercase_hex() {
        assert!(
            "2339ad14a01bd0299afb93dfa2550136057bff96"
                .parse::<MachineId>()
                .is_ok()
        );
        assert!(
            "2339AD14A01BD0299AFB93DFA2550136057BFF96"
                .parse::<MachineId>()
                .is_err()
        );
        assert!("abc".parse::<MachineId>().is_err());
        for id in [
            "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
            "0000000000000000000000000000000000000000",
            "ffffffffffffffffffffffffffffffffffffffff",
        ] {
            let id: MachineId = id.parse().unwrap();
            assert_eq!(MachineId::from_bytes(id.to_bytes()), id);
        }
    }

    #[test]
    fn software_ids_round_trip() {
        let id: SoftwareId = "Microsoft-_-Windows_10".parse().unwrap();
        assert_eq!(id.to_string(), "microsoft-_-windows_10");
        assert!("microsoft_windows".parse::<SoftwareId>().is_err());
    }
}
