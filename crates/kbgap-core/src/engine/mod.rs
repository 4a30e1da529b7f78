//! The missing-KB engine: catalog × machine state → the KBs to install, and why.
//!
//! Rules (see `shared/spec/engine.md` and ARCHITECTURE.md):
//! 1. Applicable products: the machine's OS product, the components that ship inside it (IE 11,
//!    EdgeHTML), and products its software inventory shows (.NET Framework by release).
//! 2. A FixedBuild decides where MSRC gives one on the machine's own branch; the machine's
//!    effective UBR is raised by every installed cumulative update.
//! 3. Elsewhere KB presence decides, through the directed, transitive supersedence closure.
//! 4. A CVE is open on a product when none of its KBs for that product is satisfied.
//! 5. Only the frontier is reported: KBs whose work no other missing KB already covers.

pub(crate) mod bits;
mod evaluate;
pub mod fleet;
mod frontier;
mod resolve;

use serde::Serialize;

use crate::build::{Branch, Build};
use crate::catalog::{KbIx, ProductIx, VulnIx};
use crate::ids::KbId;
use crate::kinds::Severity;

pub use evaluate::evaluate;
pub use resolve::Resolution;

/// A machine reduced to what the engine needs; built by [`crate::catalog::Catalog::machine_state`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MachineState {
    /// The machine's OS branch (`10.0.19045`), when known.
    pub branch: Option<Branch>,
    /// The reported UBR, when known.
    pub ubr: Option<u32>,
    /// Applicable catalog products, sorted, without duplicates.
    pub products: Vec<ProductIx>,
    /// The OS products among them.
    pub os_products: Vec<ProductIx>,
    /// Installed KBs, sorted, without duplicates.
    pub installed: Vec<KbId>,
}

/// How to evaluate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report every unsatisfied KB, not only the frontier.
    pub all: bool,
}

/// Why a KB is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Reason {
    /// The machine's (effective) build is below the KB's FixedBuild on its branch.
    BelowFixedBuild {
        /// The machine's effective build.
        machine: Build,
        /// The KB's FixedBuild on that branch.
        fixed: Build,
    },
    /// No FixedBuild to compare with: the KB is not installed and no installed KB supersedes it.
    NotInstalled,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::BelowFixedBuild { machine, fixed } => {
                write!(f, "build {machine} is below the fixed build {fixed}")
            }
            Reason::NotInstalled => f.write_str("not installed, and no installed KB supersedes it"),
        }
    }
}

/// One KB the machine misses.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingKb {
    /// The KB.
    pub kb: KbIx,
    /// The machine's products it fixes, sorted.
    pub products: Vec<ProductIx>,
    /// Distinct vulnerabilities (CVEs and advisories) it fixes on the machine's products, sorted.
    pub fixes: Vec<VulnIx>,
    /// Distinct vulnerabilities open on the machine that installing it closes, sorted.
    pub closes: Vec<VulnIx>,
    /// Other missing KBs that installing it makes unnecessary, sorted.
    pub supersedes_missing: Vec<KbId>,
    /// Why it is missing.
    pub reason: Reason,
    /// Highest severity among the open vulnerabilities it closes (else among all it fixes).
    pub max_severity: Option<Severity>,
    /// The OS build number it is for, when it fixes the machine's OS product.
    pub os_build: Option<u32>,
}

/// The engine's answer for one machine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// The effective UBR: the reported UBR raised by installed cumulative updates.
    pub effective_ubr: Option<u32>,
    /// Missing KBs, newest release first, then by KB number.
    pub missing: Vec<MissingKb>,
    /// Distinct vulnerabilities open on the machine.
    pub open: Vec<VulnIx>,
}
