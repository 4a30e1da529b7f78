//! Why a CVRF document could not be read.
//!
//! Every variant names its input (a file path, a bundled file name or a URL) first, because the
//! CLI imports many files at once and a message without the file is useless to whoever must fix
//! it. XML errors also carry the position in the decompressed document, so the offending line can
//! be found with `zstd -dc FILE | sed -n LINEp`.

use std::fmt;
use std::io;

/// A position in a decompressed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, counted in bytes from the start of the line.
    pub column: u64,
    /// 0-based byte offset from the start of the document (after any UTF-8 byte order mark).
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {} (byte {})",
            self.line, self.column, self.offset
        )
    }
}

/// A compression format the reader recognises by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain XML.
    None,
    /// gzip (`1F 8B`).
    Gzip,
    /// zstd (`28 B5 2F FD`).
    Zstd,
}

impl Compression {
    /// The format's name, as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "plain",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a CVRF document, file or folder could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The path does not exist.
    #[error("{input}: no such file or folder")]
    NotFound {
        /// The path as given.
        input: String,
    },
    /// The file or folder exists but could not be read.
    #[error("{input}: cannot read: {error}")]
    Io {
        /// The path or name of the input.
        input: String,
        /// The underlying error.
        #[source]
        error: io::Error,
    },
    /// The input holds no bytes at all (or its compressed stream decompresses to nothing).
    #[error("{input}: {}", empty_message(*.compression))]
    Empty {
        /// The path or name of the input.
        input: String,
        /// The compression the input was recognised as.
        compression: Compression,
    },
    /// The compressed stream ends before its end marker: a partial download or copy.
    #[error("{input}: truncated {compression} stream")]
    Truncated {
        /// The path or name of the input.
        input: String,
        /// gzip or zstd.
        compression: Compression,
    },
    /// The compressed stream is damaged.
    #[error("{input}: corrupt {compression} stream: {detail}")]
    Corrupt {
        /// The path or name of the input.
        input: String,
        /// gzip or zstd.
        compression: Compression,
        /// What the decompressor reported.
        detail: String,
    },
    /// The input's name promises a compressed stream, but its bytes are neither compressed nor XML.
    #[error("{input}: not a {expected} stream (starts with {start}; neither gzip, zstd nor XML)")]
    NotCompressed {
        /// The path or name of the input.
        input: String,
        /// The compression the name suggests (`.gz` → gzip, `.zst` → zstd).
        expected: Compression,
        /// The first bytes, in hexadecimal.
        start: String,
    },
    /// The input is neither compressed nor XML.
    #[error("{input}: not an XML document (starts with {start}; neither gzip, zstd nor XML)")]
    NotXml {
        /// The path or name of the input.
        input: String,
        /// The first bytes, in hexadecimal.
        start: String,
    },
    /// The XML is not well formed (or not UTF-8) at some position.
    #[error("{input}: XML error at {position}: {message}")]
    Xml {
        /// The path or name of the input.
        input: String,
        /// Where, in the decompressed document.
        position: Position,
        /// What is wrong.
        message: String,
    },
    /// Well-formed XML, but not an MSRC CVRF document.
    #[error("{input}: not an MSRC CVRF document ({reason})")]
    NotCvrf {
        /// The path or name of the input.
        input: String,
        /// Why, e.g. "root element is <foo>, expected cvrf:cvrfdoc".
        reason: String,
    },
    /// A CVRF document without a field kbgap needs to identify it.
    #[error("{input}: incomplete MSRC CVRF document: {field} is missing")]
    MissingField {
        /// The path or name of the input.
        input: String,
        /// The missing element, e.g. `cvrf:DocumentTracking/cvrf:Identification/cvrf:ID`.
        field: &'static str,
    },
    /// A CVRF document whose identifying field has a value kbgap cannot use.
    #[error("{input}: invalid {field} {value:?}: {reason}")]
    InvalidField {
        /// The path or name of the input.
        input: String,
        /// The element, e.g. `cvrf:CurrentReleaseDate`.
        field: &'static str,
        /// The value found (truncated to 80 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The input is not CISA's Known Exploited Vulnerabilities JSON.
    #[error("{input}: not a CISA KEV catalog ({reason})")]
    NotKev {
        /// The path, name or URL of the input.
        input: String,
        /// What is wrong, e.g. "not a JSON object; it starts with \"<!DOCTYPE html>\"".
        reason: String,
    },
    /// A folder given to import holds no CVRF documents.
    #[error("{input}: no CVRF documents (.xml, .xml.gz, .xml.zst) in this folder")]
    NoDocuments {
        /// The folder as given.
        input: String,
    },
}

fn empty_message(compression: Compression) -> String {
    match compression {
        Compression::None => "empty file".to_owned(),
        c => format!("empty document (the {c} stream decompresses to nothing)"),
    }
}

impl CatalogError {
    /// The file, folder, bundled file name or URL the error is about.
    pub fn input(&self) -> &str {
        match self {
            Self::NotFound { input }
            | Self::Io { input, .. }
            | Self::Empty { input, .. }
            | Self::Truncated { input, .. }
            | Self::Corrupt { input, .. }
            | Self::NotCompressed { input, .. }
            | Self::NotXml { input, .. }
            | Self::Xml { input, .. }
            | Self::NotCvrf { input, .. }
            | Self::MissingField { input, .. }
            | Self::InvalidField { input, .. }
            | Self::NotKev { input, .. }
            | Self::NoDocuments { input } => input,
        }
    }

    /// The position in the decompressed document, for XML errors.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Xml { position, .. } => Some(*position),
            _ => None,
        }
    }
}
