//! Small closed vocabularies: severity, CPU architecture, installation type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// MSRC's severity rating, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// "Low".
    Low,
    /// "Moderate".
    Moderate,
    /// "Important".
    Important,
    /// "Critical".
    Critical,
}

impl Severity {
    /// Parses MSRC's wording, ignoring case and surrounding space; anything else is `None`.
    pub fn from_msrc(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Self::Low),
            "moderate" => Some(Self::Moderate),
            "important" => Some(Self::Important),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
    /// The MSRC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Moderate => "Moderate",
            Self::Important => "Important",
            Self::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CPU architecture as Windows and MSRC product names distinguish them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// 32-bit x86 ("32-bit Systems", "X86-based PC").
    X86,
    /// x64 ("x64-based Systems", "x64-based PC").
    X64,
    /// ARM64.
    Arm64,
    /// Itanium ("Itanium-Based Systems").
    Ia64,
}

impl Architecture {
    /// The short name used in kbgap's JSON (`x86`, `x64`, `arm64`, `ia64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86 => "x86",
            Self::X64 => "x64",
            Self::Arm64 => "arm64",
            Self::Ia64 => "ia64",
        }
    }
}

impl FromStr for Architecture {
    type Err = String;
    /// Accepts kbgap's short names and the common spellings (`amd64`, `x86_64`, `i386`, `aarch64`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x86" | "i386" | "i686" | "32-bit" => Ok(Self::X86),
            "x64" | "amd64" | "x86_64" | "x86-64" => Ok(Self::X64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            "ia64" | "itanium" => Ok(Self::Ia64),
            other => Err(format!(
                "unknown architecture {other:?} (expected x64, x86, arm64 or ia64)"
            )),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Windows is installed: decides between "Windows Server 2022" and its "(Server Core
/// installation)" product, and between client and server products on a shared build (26100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InstallationType {
    /// A client (workstation) edition.
    Client,
    /// A server with the desktop experience.
    Server,
    /// A Server Core installation.
    #[serde(rename = "Server Core")]
    ServerCore,
}

impl InstallationType {
    /// The spelling used in the registry and kbgap's JSON (`Client`, `Server`, `Server Core`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "Client",
            Self::Server => "Server",
            Self::ServerCore => "Server Core",
        }
    }
    /// Whether this is a server installation (with or without the desktop).
    pub fn is_server(self) -> bool {
        !matches!(self, Self::Client)
    }
}

impl FromStr for InstallationType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', '-'], " ")
            .as_str()
        {
            "client" | "workstation" => Ok(Self::Client),
            "server" => Ok(Self::Server),
            "server core" | "servercore" => Ok(Self::ServerCore),
            other => Err(format!(
                "unknown installation type {other:?} (expected Client, Server or Server Core)"
            )),
        }
    }
}

impl fmt::Display for InstallationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
