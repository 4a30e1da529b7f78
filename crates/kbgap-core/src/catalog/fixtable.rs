//! The fix table: each product's rows, stored compactly in a snapshot and decoded the first time
//! the product is used.
//!
//! The table is most of a catalog (220,000 rows over 7,000 products), while `kbgap scan` evaluates
//! a handful of products: decoding every row up front was most of a scan's start-up time. Rows are
//! fixed-width, so a product's rows are found by offset without reading the others.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use super::{Fix, KbIx};
use crate::kinds::{ServicingKind, Severity};
use crate::risk::Impact;

/// Bytes per encoded row: vuln, kb, native revision (0 = none), CVSS bits, severity, flags,
/// servicing kind, impact (0 = none), CVSS vector index + 1 (0 = none).
const ROW: usize = 24;
const FLAG_OTHER_BRANCH: u8 = 1;
const FLAG_CVSS: u8 = 2;

/// One product's rows, decoded.
#[derive(Debug, Clone, Default)]
pub(super) struct ProductRows {
    /// Every row, sorted by (vulnerability, KB).
    pub(super) all: Vec<Fix>,
    /// `all` as (KB, row) sorted, built when first asked for: `describe` reads one KB's
    /// rows at a time.
    by_kb: OnceLock<Vec<(KbIx, u32)>>,
}

impl ProductRows {
    fn new(all: Vec<Fix>) -> Self {
        Self {
            all,
            by_kb: OnceLock::new(),
        }
    }

    /// The rows of one KB, in row order.
    pub(super) fn of_kb(&self, kb: KbIx) -> impl Iterator<Item = &Fix> + '_ {
        let index = self.by_kb.get_or_init(|| {
            let mut v: Vec<(KbIx, u32)> = (self.all.iter().enumerate())
                .map(|(i, f)| (f.kb, i as u32))
                .collect();
            v.sort_unstable();
            v
        });
        let start = index.partition_point(|&(k, _)| k < kb);
        index[start..]
            .iter()
            .take_while(move |&&(k, _)| k == kb)
            .map(move |&(_, i)| &self.all[i as usize])
    }
}

/// Every product's rows: decoded already (a catalog compiled in this process) or encoded in the
/// snapshot bytes it was loaded from.
#[derive(Debug, Clone, Default)]
pub(super) struct FixTable {
    /// The snapshot the rows are read from (empty for a compiled catalog).
    raw: Arc<Vec<u8>>,
    /// Byte offset of the first row in `raw`.
    rows_at: usize,
    /// Row index where each product's rows start, plus one final entry: the row count.
    starts: Vec<u32>,
    decoded: Vec<OnceLock<ProductRows>>,
}

/// Why the fix section of a snapshot was refused.
#[derive(Debug, thiserror::Error)]
#[error("fix table: {0}")]
pub struct FixTableError(&'static str);

impl FixTable {
    /// A table of rows compiled in this process.
    pub(super) fn from_rows(rows: Vec<Vec<Fix>>) -> Self {
        let mut starts = Vec::with_capacity(rows.len() + 1);
        let mut n = 0u32;
        let decoded = rows
            .into_iter()
            .map(|r| {
                starts.push(n);
                n += r.len() as u32;
                OnceLock::from(ProductRows::new(r))
            })
            .collect();
        starts.push(n);
        Self {
            raw: Arc::default(),
            rows_at: 0,
            starts,
            decoded,
        }
    }

    /// One product's rows.
    pub(super) fn product(&self, product: usize) -> &ProductRows {
        self.decoded[product].get_or_init(|| {
            let (from, to) = (self.starts[product], self.starts[product + 1]);
            let rows =
                &self.raw[self.rows_at + from as usize * ROW..self.rows_at + to as usize * ROW];
            ProductRows::new(rows.chunks_exact(ROW).map(decode).collect())
        })
    }

    /// Number of rows over every product.
    pub(super) fn len(&self) -> usize {
        self.starts.last().map_or(0, |&n| n as usize)
    }

    /// Appends the section: product count, row starts, rows.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend((self.decoded.len() as u32).to_le_bytes());
        for s in &self.starts {
            out.extend(s.to_le_bytes());
        }
        out.reserve(self.len() * ROW);
        for p in 0..self.decoded.len() {
            for f in &self.product(p).all {
                encode(f, out);
            }
        }
    }

    /// Reads the section starting at `at` in `raw`, checking every row against the catalog's
    /// sizes so that a damaged snapshot is refused here rather than indexing out of bounds later.
    pub(super) fn decode_section(
        raw: Arc<Vec<u8>>,
        at: usize,
        products: usize,
        vulns: usize,
        kbs: usize,
    ) -> Result<Self, FixTableError> {
        let bytes = &raw[at..];
        let word = |i: usize| -> Option<u32> {
            let b = bytes.get(i * 4..i * 4 + 4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if word(0) != Some(products as u32) {
            return Err(FixTableError("product count differs from the catalog's"));
        }
        let starts = (1..=products + 1)
            .map(word)
            .collect::<Option<Vec<u32>>>()
            .ok_or(FixTableError("truncated row index"))?;
        if starts[0] != 0 || starts.windows(2).any(|w| w[0] > w[1]) {
            return Err(FixTableError("row index is not ascending"));
        }
        let rows_at = at + 4 * (products + 2);
        let rows = &raw[rows_at.min(raw.len())..];
        if rows.len() != starts[products] as usize * ROW {
            return Err(FixTableError("row count differs from the index"));
        }
        let valid = rows.chunks_exact(ROW).all(|r| {
            let f = decode(r);
            (f.vuln as usize) < vulns
                && (f.kb as usize) < kbs
                && r[16] <= 4
                && (r[18] as usize) < ServicingKind::ALL.len()
        });
        if !valid {
            return Err(FixTableError("a row names an unknown vulnerability or KB"));
        }
        Ok(Self {
            raw,
            rows_at,
            starts,
            decoded: (0..products).map(|_| OnceLock::new()).collect(),
        })
    }
}

fn encode(f: &Fix, out: &mut Vec<u8>) {
    out.extend(f.vuln.to_le_bytes());
    out.extend(f.kb.to_le_bytes());
    out.extend(f.native_revision.map_or(0, NonZeroU32::get).to_le_bytes());
    out.extend(f.cvss.unwrap_or(0.0).to_le_bytes());
    out.push(f.severity.map_or(0, |s| s as u8 + 1));
    let mut flags = 0;
    if f.other_branch {
        flags |= FLAG_OTHER_BRANCH;
    }
    if f.cvss.is_some() {
        flags |= FLAG_CVSS;
    }
    out.push(flags);
    out.push(f.kind as u8);
    out.push(f.impact.map_or(0, |i| i as u8 + 1));
    out.extend(f.vector.map_or(0, |v| v + 1).to_le_bytes());
}

fn decode(r: &[u8]) -> Fix {
    let word = |i: usize| [r[i], r[i + 1], r[i + 2], r[i + 3]];
    let flags = r[17];
    Fix {
        vuln: u32::from_le_bytes(word(0)),
        kb: u32::from_le_bytes(word(4)),
        native_revision: NonZeroU32::new(u32::from_le_bytes(word(8))),
        cvss: (flags & FLAG_CVSS != 0).then(|| f32::from_le_bytes(word(12))),
        severity: match r[16] {
            1 => Some(Severity::Low),
            2 => Some(Severity::Moderate),
            3 => Some(Severity::Important),
            4 => Some(Severity::Critical),
            _ => None,
        },
        other_branch: flags & FLAG_OTHER_BRANCH != 0,
        kind: ServicingKind::ALL
            .get(r[18] as usize)
            .copied()
            .unwrap_or(ServicingKind::Standalone),
        impact: (r[19] as usize)
            .checked_sub(1)
            .and_then(|i| Impact::ALL.get(i).copied()),
        vector: u32::from_le_bytes(word(20)).checked_sub(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<Fix>> {
        let fix = |vuln, kb, other_branch, severity, cvss, rev| Fix {
            vuln,
            kb,
            severity,
            cvss,
            vector: cvss.map(|_| vuln),
            impact: severity.map(|_| Impact::Spoofing),
            native_revision: NonZeroU32::new(rev),
            other_branch,
            kind: if other_branch {
                ServicingKind::SafeOs
            } else {
                ServicingKind::CumulativeUpdate
            },
        };
        vec![
            vec![
                fix(0, 1, false, Some(Severity::Critical), Some(9.8), 2129),
                fix(1, 0, true, None, None, 0),
                fix(1, 1, false, Some(Severity::Low), Some(3.1), 0),
            ],
            vec![],
            vec![fix(2, 1, false, Some(Severity::Moderate), None, 7)],
        ]
    }

    fn encoded(t: &FixTable) -> Arc<Vec<u8>> {
        let mut out = b"head".to_vec();
        t.encode(&mut out);
        Arc::new(out)
    }

    #[test]
    fn rows_survive_encoding_and_lazy_decoding() {
        let compiled = FixTable::from_rows(rows());
        let raw = encoded(&compiled);
        let loaded = FixTable::decode_section(raw, 4, 3, 3, 2).unwrap();
        assert_eq!(loaded.len(), 4);
        assert!(loaded.decoded.iter().all(|d| d.get().is_none()));
        for p in 0..3 {
            assert_eq!(loaded.product(p).all, compiled.product(p).all);
        }
        assert_eq!(loaded.product(0).all.len(), 3);
        let kb1: Vec<u32> = loaded.product(0).of_kb(1).map(|f| f.vuln).collect();
        assert_eq!(kb1, [0, 1]);
        let kb0: Vec<_> = loaded.product(0).of_kb(0).collect();
        assert_eq!(
            kb0.len(),
            1,
            "other-branch rows are kept, decided by presence"
        );
        assert_eq!(kb0[0].kind, ServicingKind::SafeOs);
    }

    #[test]
    fn damaged_sections_are_refused() {
        let raw = encoded(&FixTable::from_rows(rows()));
        let err = |raw: Vec<u8>, vulns| {
            FixTable::decode_section(Arc::new(raw), 4, 3, vulns, 2)
                .unwrap_err()
                .to_string()
        };
        assert!(err(raw[..raw.len() - 1].to_vec(), 3).contains("row count"));
        assert!(err(raw.to_vec(), 2).contains("unknown vulnerability"));
        assert!(err(raw[..10].to_vec(), 3).contains("truncated"));
        assert!(FixTable::decode_section(raw, 4, 4, 3, 2).is_err());
    }
}
