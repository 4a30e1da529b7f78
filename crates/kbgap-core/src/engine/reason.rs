//! Why a KB is missing, in the words of the rule that decided it.

use std::fmt;

use serde::Serialize;

use crate::build::{Branch, Build};
use crate::kinds::ServicingKind;

/// Why a KB is missing: the rule that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "camelCase")]
pub enum Reason {
    /// The newest update on the machine's servicing line (a cumulative update, hotpatch or
    /// monthly rollup of its OS), which contains every older one.
    NewestOnLine {
        /// Cumulative update, hotpatch or monthly rollup.
        kind: ServicingKind,
        /// The machine's branch.
        branch: Option<Branch>,
        /// The machine's effective build, when its FixedBuild decides.
        machine: Option<Build>,
        /// The KB's FixedBuild on the machine's branch.
        fixed: Option<Build>,
        /// A FixedBuild MSRC gives only for another branch, when that is all it gives.
        other: Option<Build>,
    },
    /// The machine's (effective) build is below the KB's FixedBuild on its branch.
    BelowFixedBuild {
        /// The machine's effective build.
        machine: Build,
        /// The KB's FixedBuild on that branch.
        fixed: Build,
    },
    /// MSRC gives the KB's FixedBuild only for another branch, so presence decides.
    OtherBranch {
        /// That FixedBuild.
        fixed: Build,
    },
    /// A Safe OS / WinRE dynamic update: neither installed nor shown by the WinRE version.
    SafeOs {
        /// The WinRE build it brings.
        fixed: Option<Build>,
        /// The WinRE version the machine reported.
        winre: Option<Build>,
    },
    /// A Secure Boot (DBX) update that is not installed.
    SecureBoot,
    /// A servicing stack update newer than the cumulative update the machine runs.
    ServicingStack,
    /// No FixedBuild to compare with: the KB is not installed and no installed KB contains it.
    NotInstalled {
        /// What kind of update it is.
        kind: ServicingKind,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::NewestOnLine {
                kind,
                branch,
                machine,
                fixed,
                other,
            } => {
                write!(f, "the newest {kind}")?;
                if let Some(b) = branch {
                    write!(f, " for {b}")?;
                }
                match (machine, fixed, other) {
                    (Some(m), Some(x), _) => write!(f, " (build {m} is below {x})"),
                    (_, _, Some(o)) => write!(
                        f,
                        " (MSRC gives its fixed build only as {o}, another branch, so \
                         presence decides: not installed)"
                    ),
                    _ => f.write_str(" (not installed)"),
                }
            }
            Reason::BelowFixedBuild { machine, fixed } => {
                write!(f, "build {machine} is below the fixed build {fixed}")
            }
            Reason::OtherBranch { fixed } => write!(
                f,
                "MSRC gives its fixed build only as {fixed}, another branch, so presence \
                 decides: not installed, and no installed KB contains it"
            ),
            Reason::SafeOs { fixed, winre } => {
                f.write_str("updates the recovery image (WinRE), not the running OS: ")?;
                match (winre, fixed) {
                    (Some(w), Some(x)) => write!(f, "WinRE is at {w}, below {x}")?,
                    (Some(w), None) => write!(f, "not installed (WinRE is at {w})")?,
                    (None, _) => f.write_str("not installed, and no WinRE version reported")?,
                }
                f.write_str("; check with `reagentc /info` and the WinRE image version")?;
                if let Some(x) = fixed {
                    write!(f, " (at least {x})")?;
                }
                Ok(())
            }
            Reason::SecureBoot => f.write_str(
                "updates the Secure Boot forbidden-signature database (DBX), which cumulative \
                 updates do not: not installed",
            ),
            Reason::ServicingStack => f.write_str(
                "servicing stack update released after the cumulative update the machine runs: \
                 not installed",
            ),
            Reason::NotInstalled { kind } => {
                write!(f, "{kind}: not installed, and no installed KB contains it")
            }
        }
    }
}
