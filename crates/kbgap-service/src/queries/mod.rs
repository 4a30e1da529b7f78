//! Fleet questions answered as plain rows, for every adapter to shape: the API into Defender's
//! entities, the dashboard into pages, the CLI into tables.
//!
//! Fleet-wide questions aggregate over the fleet's state groups (machines with identical state
//! share one evaluation), so their cost follows the number of distinct states; only filters
//! that look at single machines (last seen) walk the machines, and then only to count them.

pub mod counts;
mod deploy;
mod detail;
mod health;
mod machines;
mod posture;
mod scope;
mod software;

pub use deploy::{DeployFilter, DeployRow, deploy_first, deploy_first_groups};
pub use detail::{
    CveFix, CveRow, CveView, KbView, MachineView, cve_detail, kb_detail, machine_detail,
};
pub use health::{IngestHealth, ingest_health};
pub use machines::{MachineFilter, MachineRow, machine_rows, machines_missing};
pub use posture::{OsPosture, Posture, posture};
pub use scope::{Choices, Scope, choices, os_label};
pub use software::{SoftwareCounts, machine_software, software_counts};
