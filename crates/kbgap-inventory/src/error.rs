//! Errors of the inventory readers.
//!
//! Every error names the file it came from and, where there is one, the line or field at fault:
//! an admin who feeds kbgap a hundred files must be able to find the bad one and the bad line
//! without a debugger. No reader returns a partial machine state next to an error.

use crate::osid::IdentifyError;

/// Why an inventory file could not be turned into a machine state or a hotfix list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// The file holds nothing but whitespace (or a byte-order mark).
    #[error("{file}: the file is empty (no text besides whitespace or a byte-order mark)")]
    Empty {
        /// The source file name.
        file: String,
    },
    /// The bytes are not text in any encoding kbgap reads.
    #[error("{file}: binary data (near byte {offset}), not a text or JSON inventory")]
    Binary {
        /// The source file name.
        file: String,
        /// Byte offset of the first byte that cannot be text.
        offset: usize,
    },
    /// Text, but none of the formats kbgap reads.
    #[error(
        "{file}: not a recognised inventory (expected systeminfo output, a wmic qfe / Get-HotFix / \
         Windows Update history list, osquery results JSON or a kbgap machine report)"
    )]
    UnknownFormat {
        /// The source file name.
        file: String,
    },
    /// A systeminfo output that stops before a field kbgap needs.
    #[error(
        "{file}: truncated systeminfo output: it stops at line {line}{after} before the {missing} field"
    )]
    Truncated {
        /// The source file name.
        file: String,
        /// The last line of the file that carries text.
        line: usize,
        /// `(after "OS Name")`-style context, empty when unknown.
        after: String,
        /// The first required field that is missing ("OS Version", "System Type", "Hotfix(s)").
        missing: &'static str,
    },
    /// A field is present but its value cannot be understood.
    #[error("{file}: line {line} ({field}): {message}")]
    Field {
        /// The source file name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The field, by its English systeminfo label or JSON key.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A JSON document that does not fit the expected shape.
    #[error("{file}: {location}: {message}")]
    Json {
        /// The source file name.
        file: String,
        /// `field "architecture"` or `line 3, column 7`.
        location: String,
        /// What is wrong (serde's wording, or ours).
        message: String,
    },
    /// The facts were read but name no OS kbgap can identify (a release outside MSRC's coverage
    /// is not an error: it is identified with its end-of-support reason).
    #[error("{file}: {location}: {error}")]
    Os {
        /// The source file name.
        file: String,
        /// Where the OS facts came from (`line 4 (OS Version)`, `field "osVersion"`, `options`).
        location: String,
        /// Why the OS could not be identified.
        error: IdentifyError,
    },
    /// A field over its limit (see [`crate::limits`]).
    #[error("{file}: field {field:?} has {actual} {unit}; at most {limit} are accepted")]
    Limit {
        /// The source file name.
        file: String,
        /// The field, as the JSON report names it (`osName`, `software[3].name`).
        field: String,
        /// The limit.
        limit: usize,
        /// What the report had.
        actual: usize,
        /// `characters` or `items`.
        unit: &'static str,
    },
    /// A fact needed to identify the OS is neither in the file nor given as an option.
    #[error("{file}: the {fact} is unknown: {hint}")]
    MissingFact {
        /// The source file name.
        file: String,
        /// The missing fact ("OS version", "architecture", "installation type").
        fact: &'static str,
        /// How to supply it.
        hint: &'static str,
    },
}

/// The kind of an [`InventoryError`], for callers that branch on it (tests, exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`InventoryError::Empty`].
    Empty,
    /// [`InventoryError::Binary`].
    Binary,
    /// [`InventoryError::UnknownFormat`].
    UnknownFormat,
    /// [`InventoryError::Truncated`].
    Truncated,
    /// [`InventoryError::Field`].
    Field,
    /// [`InventoryError::Json`].
    Json,
    /// A build number kbgap does not know (a future or preview release).
    UnknownBuild,
    /// A known release that has no MSRC product for the given architecture or installation type.
    NoProduct,
    /// [`InventoryError::MissingFact`].
    MissingFact,
    /// [`InventoryError::Limit`].
    Limit,
}

impl InventoryError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Empty { .. } => ErrorKind::Empty,
            Self::Binary { .. } => ErrorKind::Binary,
            Self::UnknownFormat { .. } => ErrorKind::UnknownFormat,
            Self::Truncated { .. } => ErrorKind::Truncated,
            Self::Field { .. } => ErrorKind::Field,
            Self::Json { .. } => ErrorKind::Json,
            Self::Os { error, .. } => match error {
                IdentifyError::UnknownBuild { .. } => ErrorKind::UnknownBuild,
                IdentifyError::NoProduct { .. } => ErrorKind::NoProduct,
            },
            Self::MissingFact { .. } => ErrorKind::MissingFact,
            Self::Limit { .. } => ErrorKind::Limit,
        }
    }

    /// The source file name the error is about.
    pub fn file(&self) -> &str {
        match self {
            Self::Empty { file }
            | Self::Binary { file, .. }
            | Self::UnknownFormat { file }
            | Self::Truncated { file, .. }
            | Self::Field { file, .. }
            | Self::Json { file, .. }
            | Self::Os { file, .. }
            | Self::MissingFact { file, .. }
            | Self::Limit { file, .. } => file,
        }
    }
}
