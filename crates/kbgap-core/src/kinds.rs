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

/// How Windows services a KB on one product: decides what covers it, whether it raises the
/// machine's build, and how the engine can tell it is installed (`shared/spec/engine.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServicingKind {
    /// A monthly (or out-of-band) cumulative update of Windows 10/11/Server 2016+: contains
    /// every earlier one, raises the build.
    CumulativeUpdate,
    /// A hotpatch: raises the build only on machines enrolled in hotpatching.
    Hotpatch,
    /// A Monthly Rollup (Windows 7/8.1, Server 2008/2012): contains every earlier rollup.
    MonthlyRollup,
    /// A Security Only update: one month's fixes, without the earlier months'.
    SecurityOnly,
    /// A Preview Rollup (the next rollup's non-security preview).
    PreviewRollup,
    /// An Internet Explorer cumulative update.
    IeCumulative,
    /// A servicing stack update: cumulative among themselves, implied by any later cumulative
    /// update the machine runs.
    ServicingStack,
    /// A Setup dynamic update: changes installation media only, never missing on a running
    /// machine.
    SetupDynamicUpdate,
    /// A Safe OS / WinRE dynamic update: updates the recovery image, not the running OS.
    SafeOs,
    /// A Secure Boot update (the DBX forbidden-signature list and its kin).
    SecureBootDbx,
    /// A .NET Framework update: cumulative per (.NET version, OS product).
    DotNet,
    /// Anything else: a fix that stands on its own.
    Standalone,
}

impl ServicingKind {
    /// The JSON spelling (`CumulativeUpdate`, `SafeOs` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CumulativeUpdate => "CumulativeUpdate",
            Self::Hotpatch => "Hotpatch",
            Self::MonthlyRollup => "MonthlyRollup",
            Self::SecurityOnly => "SecurityOnly",
            Self::PreviewRollup => "PreviewRollup",
            Self::IeCumulative => "IeCumulative",
            Self::ServicingStack => "ServicingStack",
            Self::SetupDynamicUpdate => "SetupDynamicUpdate",
            Self::SafeOs => "SafeOs",
            Self::SecureBootDbx => "SecureBootDbx",
            Self::DotNet => "DotNet",
            Self::Standalone => "Standalone",
        }
    }
    /// In plain words, for tables and reasons.
    pub fn describe(self) -> &'static str {
        match self {
            Self::CumulativeUpdate => "cumulative update",
            Self::Hotpatch => "hotpatch",
            Self::MonthlyRollup => "monthly rollup",
            Self::SecurityOnly => "security-only update",
            Self::PreviewRollup => "preview rollup",
            Self::IeCumulative => "Internet Explorer cumulative update",
            Self::ServicingStack => "servicing stack update",
            Self::SetupDynamicUpdate => "Setup dynamic update",
            Self::SafeOs => "Safe OS (WinRE) dynamic update",
            Self::SecureBootDbx => "Secure Boot update",
            Self::DotNet => ".NET Framework update",
            Self::Standalone => "standalone update",
        }
    }
    /// Every kind, in declaration order (for encodings and tests).
    pub const ALL: [ServicingKind; 12] = [
        Self::CumulativeUpdate,
        Self::Hotpatch,
        Self::MonthlyRollup,
        Self::SecurityOnly,
        Self::PreviewRollup,
        Self::IeCumulative,
        Self::ServicingStack,
        Self::SetupDynamicUpdate,
        Self::SafeOs,
        Self::SecureBootDbx,
        Self::DotNet,
        Self::Standalone,
    ];
    /// Whether a FixedBuild of this kind may be compared with the machine's build. Safe OS and
    /// Secure Boot updates carry OS-like FixedBuilds that say nothing about the running OS.
    pub fn build_decides(self) -> bool {
        !matches!(self, Self::SafeOs | Self::SecureBootDbx)
    }
    /// Whether updates of this kind form one line on a product, each containing the earlier ones
    /// (the servicing model chains them by release, whatever MSRC's Supercedence says).
    pub fn chain(self) -> Option<Chain> {
        match self {
            Self::CumulativeUpdate | Self::Hotpatch => Some(Chain::Os),
            Self::MonthlyRollup | Self::PreviewRollup => Some(Chain::Rollup),
            Self::IeCumulative => Some(Chain::Ie),
            Self::ServicingStack => Some(Chain::ServicingStack),
            Self::SafeOs => Some(Chain::SafeOs),
            Self::SecureBootDbx => Some(Chain::SecureBoot),
            Self::DotNet => Some(Chain::DotNet),
            Self::SecurityOnly | Self::SetupDynamicUpdate | Self::Standalone => None,
        }
    }
}

/// A line of updates on one product in which each contains the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Chain {
    /// Cumulative updates and hotpatches of an OS product.
    Os,
    /// Monthly and preview rollups.
    Rollup,
    /// Internet Explorer cumulative updates.
    Ie,
    /// Servicing stack updates.
    ServicingStack,
    /// Safe OS / WinRE dynamic updates.
    SafeOs,
    /// Secure Boot updates.
    SecureBoot,
    /// .NET Framework updates.
    DotNet,
}

impl fmt::Display for ServicingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
