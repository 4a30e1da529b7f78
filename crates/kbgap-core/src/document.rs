//! One MSRC security-update document, reduced to what kbgap uses.
//!
//! The catalog crate's CVRF reader produces these; the store persists them (one row per document
//! ID, replaced only by a newer revision); [`crate::catalog::Catalog::compile`] merges them. Only
//! `Vendor Fix` remediations that name a numeric KB are kept: other remediation types ("Release
//! Notes", "Known Issue", CBL-Mariner fixes) never become missing-KB candidates.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{KbId, ProductId, VulnId};
use crate::kinds::Severity;
use crate::risk::{ExploitStatus, Impact};

/// A parsed MSRC CVRF document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Identity and dates, read from the document's content (never from a file name).
    pub info: DocumentInfo,
    /// Every `FullProductName` of the product tree.
    pub products: Vec<DocProduct>,
    /// Every vulnerability with an id.
    pub vulnerabilities: Vec<Vulnerability>,
    /// Values the reader had to drop (a CVSS score that is not a number), in words; the
    /// catalog reports them as compile warnings.
    pub warnings: Vec<String>,
}

/// What identifies a document and its revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// `DocumentTracking/Identification/ID`, e.g. `2020-Mar`, `2017-May-B`.
    pub id: String,
    /// `DocumentTitle`, e.g. "March 2020 Security Updates": Defender's KB `name`.
    pub title: String,
    /// The highest revision number in the document's revision history.
    pub revision: Revision,
    /// `InitialReleaseDate`, as `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub initial_release: String,
    /// `CurrentReleaseDate`, as `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub current_release: String,
}

impl DocumentInfo {
    /// Orders two revisions of the same document: by current release date, then by revision
    /// number. Dates come first because MSRC's revision numbers are not monotonic across years
    /// (2019-Aug was revision 16 in 2020 and revision 6 in 2025).
    pub fn newer_than(&self, other: &DocumentInfo) -> bool {
        match self.current_release.cmp(&other.current_release) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.revision > other.revision,
        }
    }
}

/// A product as one document names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocProduct {
    /// MSRC ProductID.
    pub id: ProductId,
    /// The full product name, with invisible characters removed and spaces collapsed.
    pub name: String,
    /// The `Product Family` branch it sits under ("Windows", "ESU", "Browser" …), when any.
    pub family: Option<String>,
}

/// One vulnerability of a document and the KBs that fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// The CVE (or ADV advisory) id.
    pub id: VulnId,
    /// MSRC's title.
    pub title: String,
    /// Severity per product (`Threat Type="Severity"`).
    pub severities: Vec<(ProductId, Severity)>,
    /// CVSS base score per product.
    pub scores: Vec<(ProductId, f32)>,
    /// CVSS vector per product (`CVSS:3.1/AV:N/…`), beside its score.
    pub vectors: Vec<(ProductId, String)>,
    /// Impact per product (`Threat Type="Impact"`).
    pub impacts: Vec<(ProductId, Impact)>,
    /// `Threat Type="Exploit Status"`, when the document gives one.
    pub exploit: Option<ExploitStatus>,
    /// The vulnerability's first publication (`YYYY-MM-DDTHH:MM:SS`): the earliest date of its
    /// own revision history, when it has one.
    pub published: Option<String>,
    /// `Vendor Fix` remediations with a numeric KB.
    pub fixes: Vec<VendorFix>,
}

/// A `Vendor Fix` remediation: a KB that fixes this vulnerability on some products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorFix {
    /// The KB (from the remediation's `Description`).
    pub kb: KbId,
    /// The remediation's URL, when given.
    pub url: Option<String>,
    /// KBs named in `Supercedence` (MSRC's spelling), scoped by MSRC to these products.
    pub supersedes: Vec<KbId>,
    /// Products this remediation applies to.
    pub products: Vec<ProductId>,
    /// The raw `FixedBuild` value, when given (validated when the catalog is compiled).
    pub fixed_build: Option<String>,
    /// `SubType` ("Security Update", "Monthly Rollup", "Security Only" …).
    pub sub_type: Option<String>,
}

/// A document revision number such as `12`, `12.0` or `3.1`, compared part by part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision(pub Vec<u32>);

impl Revision {
    /// Parses dot-separated numbers; trailing zero parts do not matter (`12` = `12.0`).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = Vec::new();
        for p in s.trim().split('.') {
            parts.push(p.trim().parse().ok()?);
        }
        while parts.len() > 1 && parts.last() == Some(&0) {
            parts.pop();
        }
        Some(Self(parts))
    }
}

impl Ord for Revision {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        for i in 0..n {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = other.0.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Revision {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_compare_numerically() {
        let r = |s| Revision::parse(s).unwrap();
        assert!(r("12.0") > r("9.1"));
        assert_eq!(r("12").cmp(&r("12.0")), Ordering::Equal);
        assert!(r("3.1") > r("3"));
        assert!(Revision::parse("x").is_none());
    }
}
