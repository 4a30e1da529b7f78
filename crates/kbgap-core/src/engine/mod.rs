//! The missing-KB engine: catalog × machine state → the KBs to install, and why.
//!
//! Rules (see `shared/spec/engine.md` and ARCHITECTURE.md):
//! 1. Applicable products: the machine's OS product, the components that ship inside it (IE 11,
//!    EdgeHTML), and products its software inventory shows (.NET Framework by release).
//! 2. A FixedBuild decides where MSRC gives one on the machine's own branch; the machine's
//!    effective UBR is raised only by cumulative updates (hotpatches on enrolled machines).
//! 3. Elsewhere KB presence decides, through the directed, transitive supersedence closure,
//!    to which the servicing model adds its chains (`catalog/servicing.rs`): a newer cumulative
//!    update contains every older one. Safe OS and Secure Boot updates are decided by presence
//!    (or the WinRE version), servicing stack updates by the cumulative update the machine
//!    runs, Setup dynamic updates never apply to a running machine.
//! 4. A CVE is open on a product when none of its KBs for that product is satisfied.
//! 5. Only the frontier is reported: KBs whose work no other missing KB already covers.

pub(crate) mod bits;
mod evaluate;
mod exposure;
pub mod fleet;
mod frontier;
mod installed;
mod reason;
mod resolve;
mod scan;
mod unevaluated;

use crate::build::{Branch, Build};
use crate::catalog::{KbIx, ProductIx, VulnIx};
use crate::ids::KbId;
use crate::kinds::{ServicingKind, Severity};

pub use evaluate::evaluate;
pub use exposure::{Exposure, ExposureLevel, RiskScore};
pub use reason::Reason;
pub use resolve::Resolution;
pub use unevaluated::unevaluated_software;

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
    /// Enrolled in hotpatching: hotpatches raise its build.
    pub hotpatch: bool,
    /// The WinRE image version, when reported: decides Safe OS updates.
    pub winre: Option<Build>,
}

/// How to evaluate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report every unsatisfied KB, not only the frontier.
    pub all: bool,
}

/// One KB the machine misses.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingKb {
    /// The KB.
    pub kb: KbIx,
    /// The machine's products it fixes, or whose open vulnerabilities it closes, sorted.
    pub products: Vec<ProductIx>,
    /// Distinct vulnerabilities (CVEs and advisories) it fixes on the machine's products, sorted.
    pub fixes: Vec<VulnIx>,
    /// Distinct vulnerabilities open on the machine that installing it closes, sorted.
    pub closes: Vec<VulnIx>,
    /// Other missing KBs that installing it makes unnecessary, sorted.
    pub supersedes_missing: Vec<KbId>,
    /// Why it is missing.
    pub reason: Reason,
    /// How Windows services it on the machine (its kind on the machine's OS product, else on
    /// the first product it fixes there).
    pub kind: ServicingKind,
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
