//! The compiled catalog: every stored MSRC document merged into indexed products, KBs and fixes.
//!
//! Documents are merged newest revision only (the store keeps one revision per document ID), and
//! compiled in a deterministic order, so the same documents always give the same catalog. The
//! layout is built for the engine's hot path: for each product, its fixes sorted by vulnerability,
//! so evaluating a machine touches only the few products it runs.

mod builds;
mod compile;
mod fixtable;
mod servicing;
mod snapshot;
mod supersedence;

use std::num::NonZeroU32;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::build::Build;
use crate::document::DocumentInfo;
use crate::ids::{KbId, ProductId, VulnId};
use crate::kinds::{ServicingKind, Severity};
use crate::product::ProductFacts;
use crate::risk::{ExploitStatus, Impact, Kev, KevEntry, ProductRisk};

pub use compile::CompileWarning;
pub use snapshot::SnapshotError;

/// Index of a product in [`Catalog::products`].
pub type ProductIx = u32;
/// Index of a KB in [`Catalog::kbs`].
pub type KbIx = u32;
/// Index of a vulnerability in [`Catalog::vulns`].
pub type VulnIx = u32;

/// A product, merged over every document that names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    /// MSRC ProductID.
    pub id: ProductId,
    /// Full name, as the newest document spells it.
    pub name: String,
    /// The name after [`crate::product::normalize_name`].
    pub normalized: String,
    /// Facts read from the name.
    pub facts: ProductFacts,
    /// Defender-style software name (`windows_10`, `edge`, …).
    pub software: String,
    /// For "X on <OS>" products, the OS products they run on.
    pub on_os: Vec<ProductIx>,
}

/// A vulnerability (CVE or advisory).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vuln {
    /// CVE or ADV id.
    pub id: VulnId,
    /// MSRC title.
    pub title: String,
    /// MSRC's exploit status, merged over the documents that list it: once publicly disclosed
    /// or exploited, always so; the newest document's exploitability assessment.
    pub exploit: ExploitStatus,
    /// First publication: the earliest date of its revision history over all documents.
    pub published: Option<String>,
    /// Its entry in CISA's Known Exploited Vulnerabilities catalog, when listed.
    pub kev: Option<KevEntry>,
    /// The highest CVSS score MSRC gives it on any product, and that score's vector: the score
    /// shown for products MSRC lists it under without one.
    pub cvss: Option<(f32, Option<u32>)>,
}

impl Vuln {
    /// Exploited in the wild: MSRC says `Exploited:Yes`, or CISA's KEV lists it.
    pub fn exploited(&self) -> bool {
        self.exploit.exploited || self.kev.is_some()
    }
    /// Publicly disclosed or exploited: Defender's `publicExploit`.
    pub fn public_exploit(&self) -> bool {
        self.exploit.publicly_disclosed || self.exploited()
    }
}

/// Which CISA KEV catalog a compiled catalog carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevInfo {
    /// `catalogVersion`.
    pub catalog_version: String,
    /// `dateReleased` (`YYYY-MM-DDTHH:MM:SS`).
    pub date_released: String,
    /// Entries in the KEV catalog.
    pub entries: usize,
    /// Of them, vulnerabilities some catalog KB fixes.
    pub in_catalog: usize,
}

/// A KB that is the `Vendor Fix` of at least one vulnerability.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kb {
    /// KB number.
    pub id: KbId,
    /// Title of the document that released it (Defender's `name`).
    pub name: String,
    /// ID of that document.
    pub released_in: String,
    /// Initial release date of that document (`YYYY-MM-DDTHH:MM:SS`).
    pub release_date: String,
    /// IDs of every document listing it as a Vendor Fix, sorted.
    pub documents: Vec<String>,
    /// KBs it directly supersedes (union over all products and documents), sorted.
    pub supersedes: Vec<KbId>,
    /// Products it fixes, with their FixedBuilds, sorted by product.
    pub products: Vec<KbProduct>,
}

/// One product a KB fixes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KbProduct {
    /// The product.
    pub product: ProductIx,
    /// Every valid FixedBuild given for this KB and product, sorted, without duplicates.
    pub fixed_builds: Vec<Build>,
    /// The highest FixedBuild on the product's own branch (`10.0.<product build>`), if any:
    /// the only FixedBuild a machine running this product is ever compared with.
    pub native_revision: Option<u32>,
    /// How Windows services this KB on this product.
    pub kind: ServicingKind,
}

/// One row of the fix table: vulnerability × KB × product.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// The vulnerability fixed.
    pub vuln: VulnIx,
    /// The KB that fixes it.
    pub kb: KbIx,
    /// Severity for this product, when MSRC gives one.
    pub severity: Option<Severity>,
    /// CVSS base score for this product, when MSRC gives one.
    pub cvss: Option<f32>,
    /// The CVSS vector of that score (index into [`Catalog::vector`]).
    pub vector: Option<u32>,
    /// What an attacker gains on this product.
    pub impact: Option<Impact>,
    /// The KB's FixedBuild revision on this product's own branch, when MSRC gives one.
    pub native_revision: Option<NonZeroU32>,
    /// MSRC gives FixedBuilds for this KB and product, but none on the product's own branch
    /// (Windows 11 22H2 lists the 23H2 build of a shared update; Safe OS updates list the WinRE
    /// branch; typos): the row is decided by KB presence, never by the machine's build.
    pub other_branch: bool,
    /// How Windows services the KB on this product.
    pub kind: ServicingKind,
}

/// The merged, indexed catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    documents: Vec<DocumentInfo>,
    products: Vec<Product>,
    product_by_id: FxHashMap<ProductId, ProductIx>,
    products_by_name: FxHashMap<String, Vec<ProductIx>>,
    components: FxHashMap<ProductIx, Vec<ProductIx>>,
    hosted: FxHashMap<ProductIx, Vec<ProductIx>>,
    kbs: Vec<Kb>,
    kb_by_id: FxHashMap<KbId, KbIx>,
    vulns: Vec<Vuln>,
    /// Distinct CVSS vectors, which fix rows name by index.
    vectors: Vec<String>,
    /// The KEV catalog applied by [`Catalog::apply_kev`], when any.
    kev: Option<KevInfo>,
    /// Per product: its fixes sorted by (vuln, kb), decoded on first use; snapshots store it in
    /// a section of its own.
    #[serde(skip)]
    fixes: fixtable::FixTable,
    supersedence: supersedence::Graph,
    /// Cumulative updates: (KB, OS product) → revision on the product's branch.
    cumulative: FxHashMap<(KbIx, ProductIx), u32>,
    /// The same, per OS product: (revision, KB) sorted (derived, not part of snapshots).
    #[serde(skip)]
    cumulative_by_product: FxHashMap<ProductIx, Vec<(u32, KbIx)>>,
    /// Hotpatches: (KB, OS product) → revision; they raise the build of enrolled machines only.
    hotpatches: FxHashMap<(KbIx, ProductIx), u32>,
    /// The same, per OS product (derived).
    #[serde(skip)]
    hotpatch_by_product: FxHashMap<ProductIx, Vec<(u32, KbIx)>>,
    /// Per OS product, the updates that set its servicing level (cumulative updates and
    /// hotpatches, or monthly rollups), oldest first.
    lines: FxHashMap<ProductIx, Vec<KbIx>>,
    warnings: Vec<CompileWarning>,
    /// Per KB: the catalog KBs it transitively supersedes, itself included, built the first time
    /// it is asked for (an evaluation needs those of the machine's installed and cumulative
    /// updates; a server asks again for every new state). Derived, not part of snapshots.
    #[serde(skip)]
    closures: Vec<std::sync::OnceLock<crate::engine::bits::Bits>>,
}

impl Catalog {
    /// The merged documents, ordered by initial release date then ID.
    pub fn documents(&self) -> &[DocumentInfo] {
        &self.documents
    }
    /// The newest document (by initial release date).
    pub fn newest_document(&self) -> Option<&DocumentInfo> {
        self.documents.last()
    }
    /// Every product.
    pub fn products(&self) -> &[Product] {
        &self.products
    }
    /// A product by index.
    pub fn product(&self, ix: ProductIx) -> &Product {
        &self.products[ix as usize]
    }
    /// A product by MSRC ProductID.
    pub fn product_by_id(&self, id: &ProductId) -> Option<ProductIx> {
        self.product_by_id.get(id).copied()
    }
    /// Every product with this full name (compared after normalisation). Several ProductIDs can
    /// share a name ("Windows Server 2016 (Server Core installation)" has two).
    pub fn products_named(&self, name: &str) -> &[ProductIx] {
        self.products_by_name
            .get(&crate::product::normalize_name(name))
            .map_or(&[], Vec::as_slice)
    }
    /// Components that ship inside an OS product (IE 11, EdgeHTML "on" that OS).
    pub fn components_of(&self, os: ProductIx) -> &[ProductIx] {
        self.components.get(&os).map_or(&[], Vec::as_slice)
    }
    /// Every "X on <OS>" product of an OS product (.NET Framework, IE, Office on that OS …).
    pub fn hosted_on(&self, os: ProductIx) -> &[ProductIx] {
        self.hosted.get(&os).map_or(&[], Vec::as_slice)
    }
    /// Every KB.
    pub fn kbs(&self) -> &[Kb] {
        &self.kbs
    }
    /// A KB by index.
    pub fn kb(&self, ix: KbIx) -> &Kb {
        &self.kbs[ix as usize]
    }
    /// A KB's index by number, when it is a Vendor Fix in the catalog.
    pub fn kb_ix(&self, id: KbId) -> Option<KbIx> {
        self.kb_by_id.get(&id).copied()
    }
    /// Every vulnerability.
    pub fn vulns(&self) -> &[Vuln] {
        &self.vulns
    }
    /// A vulnerability by index.
    pub fn vuln(&self, ix: VulnIx) -> &Vuln {
        &self.vulns[ix as usize]
    }
    /// A product's fixes, sorted by (vulnerability, KB).
    pub fn fixes_of(&self, product: ProductIx) -> &[Fix] {
        &self.fixes.product(product as usize).all
    }
    /// The fix rows of one KB on one product, in row order.
    pub fn kb_fixes(&self, kb: KbIx, product: ProductIx) -> impl Iterator<Item = &Fix> + '_ {
        self.fixes.product(product as usize).of_kb(kb)
    }
    /// Number of fix rows (vulnerability × KB × product).
    pub fn fix_count(&self) -> usize {
        self.fixes.len()
    }
    /// Number of distinct CVE ids (advisories excluded) that some KB fixes.
    pub fn cve_count(&self) -> usize {
        self.vulns.iter().filter(|v| v.id.is_cve()).count()
    }
    /// KBs that `kb` directly supersedes, by KB number (some are not Vendor Fixes in the catalog).
    pub fn supersedes(&self, kb: KbId) -> &[KbId] {
        self.supersedence.supersedes(kb)
    }
    /// Every KB that transitively supersedes `kb`, sorted.
    pub fn superseded_by(&self, kb: KbId) -> Vec<KbId> {
        self.supersedence.superseded_by_closure(kb)
    }
    /// Every KB that `kb` transitively supersedes, sorted.
    pub fn supersedes_closure(&self, kb: KbId) -> Vec<KbId> {
        self.supersedence.supersedes_closure(kb)
    }
    /// Every catalog KB that `kb` transitively supersedes, `kb` included, as bits over KB
    /// indexes. The walk goes through KBs outside the catalog too, so a chain with a gap in it
    /// still reaches the older updates.
    pub(crate) fn down_bits(&self, kb: KbIx) -> &crate::engine::bits::Bits {
        self.closures[kb as usize].get_or_init(|| {
            let mut down = rustc_hash::FxHashSet::default();
            self.supersedence
                .extend_down(self.kbs[kb as usize].id, &mut down);
            let mut bits = crate::engine::bits::Bits::new(self.kbs.len());
            for id in down {
                if let Some(ix) = self.kb_ix(id) {
                    bits.set(ix);
                }
            }
            bits
        })
    }
    /// The cumulative updates of an OS product as (revision, KB), by revision.
    pub(crate) fn cumulative_of(&self, os: ProductIx) -> &[(u32, KbIx)] {
        self.cumulative_by_product
            .get(&os)
            .map_or(&[][..], Vec::as_slice)
    }
    /// The hotpatches of an OS product as (revision, KB), by revision.
    pub(crate) fn hotpatches_of(&self, os: ProductIx) -> &[(u32, KbIx)] {
        self.hotpatch_by_product
            .get(&os)
            .map_or(&[][..], Vec::as_slice)
    }
    /// The revision at which `kb` is a hotpatch of OS product `os`.
    pub fn hotpatch_revision(&self, kb: KbIx, os: ProductIx) -> Option<u32> {
        self.hotpatches.get(&(kb, os)).copied()
    }
    /// The updates that set an OS product's servicing level (cumulative updates and hotpatches
    /// on Windows 10/11 and Server 2016+, monthly rollups before), oldest first.
    pub fn servicing_line(&self, os: ProductIx) -> &[KbIx] {
        self.lines.get(&os).map_or(&[][..], Vec::as_slice)
    }
    /// How Windows services `kb` on `product`, when the KB fixes that product.
    pub fn kind_on(&self, kb: KbIx, product: ProductIx) -> Option<ServicingKind> {
        let products = &self.kbs[kb as usize].products;
        (products
            .binary_search_by_key(&product, |kp| kp.product)
            .ok())
        .map(|i| products[i].kind)
    }
    /// The supersedence graph, for closures over many KBs at once.
    pub(crate) fn graph(&self) -> &supersedence::Graph {
        &self.supersedence
    }
    /// The revision at which `kb` is a cumulative update of OS product `os`, if it is one there.
    ///
    /// Only cumulative updates raise a machine's effective UBR; other updates with OS-like
    /// FixedBuilds (Secure Boot DBX, Safe OS) do not. Keyed by product, not build: Windows 11
    /// 24H2 and Server 2025 share build 26100 but not revisions.
    pub fn cumulative_revision(&self, kb: KbIx, os: ProductIx) -> Option<u32> {
        self.cumulative.get(&(kb, os)).copied()
    }
    /// A CVSS vector by index.
    pub fn vector(&self, ix: u32) -> &str {
        self.vectors.get(ix as usize).map_or("", String::as_str)
    }
    /// What MSRC says of a vulnerability on some products (a machine's, a KB's): the highest
    /// severity and CVSS among the fix rows of those products, whatever KB they name. Where
    /// MSRC rates it on them but scores it only on other products, that score is used.
    pub fn vuln_risk(&self, vuln: VulnIx, products: &[ProductIx]) -> ProductRisk {
        let mut risk = ProductRisk::default();
        for &p in products {
            let rows = self.fixes_of(p);
            let start = rows.partition_point(|f| f.vuln < vuln);
            for f in rows[start..].iter().take_while(|f| f.vuln == vuln) {
                risk.add(f.severity, f.cvss, f.vector, f.impact);
            }
        }
        if risk.cvss.is_none()
            && risk.severity.is_some()
            && let Some((score, vector)) = self.vulns[vuln as usize].cvss
        {
            (risk.cvss, risk.vector) = (Some(score), vector);
        }
        risk
    }
    /// The KEV catalog this catalog carries, when one was applied.
    pub fn kev(&self) -> Option<&KevInfo> {
        self.kev.as_ref()
    }
    /// Marks the vulnerabilities CISA's KEV lists (replacing any earlier KEV catalog).
    pub fn apply_kev(&mut self, kev: &Kev) {
        let by_cve: FxHashMap<&VulnId, &KevEntry> =
            kev.entries.iter().map(|e| (&e.cve, e)).collect();
        let mut in_catalog = 0;
        for v in &mut self.vulns {
            v.kev = by_cve.get(&v.id).map(|&e| e.clone());
            in_catalog += usize::from(v.kev.is_some());
        }
        self.kev = Some(KevInfo {
            catalog_version: kev.catalog_version.clone(),
            date_released: kev.date_released.clone(),
            entries: kev.entries.len(),
            in_catalog,
        });
    }
    /// Problems noticed while compiling (invalid FixedBuilds, …), for `catalog stats`.
    pub fn warnings(&self) -> &[CompileWarning] {
        &self.warnings
    }
}
