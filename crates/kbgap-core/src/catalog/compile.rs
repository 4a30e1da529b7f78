//! Compiling stored documents into a [`Catalog`].

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use rustc_hash::{FxHashMap, FxHashSet};

use super::supersedence::Graph;
use super::{Catalog, Fix, Kb, KbIx, KbProduct, Product, ProductIx, Vuln, VulnIx};
use crate::build::Build;
use crate::document::Document;
use crate::ids::{KbId, ProductId, VulnId};
use crate::kinds::Severity;
use crate::product::{normalize_name, parse_facts, software_name};

/// Something odd in the data that compiling worked around (reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompileWarning {
    /// The document it was found in.
    pub document: String,
    /// What was wrong and what was done about it.
    pub message: String,
}

/// One raw fix row: (product, vulnerability, KB, severity, CVSS).
type Row = (ProductIx, VulnIx, KbId, Option<Severity>, Option<f32>);

type ProductLists = FxHashMap<ProductIx, Vec<ProductIx>>;

/// What one KB accumulates while documents are read.
#[derive(Default)]
struct KbAcc {
    /// Document id → distinct vulnerabilities it lists this KB for (to find the releasing one).
    docs: BTreeMap<String, FxHashSet<VulnIx>>,
    supersedes: BTreeSet<KbId>,
    builds: BTreeMap<ProductIx, BTreeSet<Build>>,
}

#[derive(Default)]
struct Builder {
    products: Vec<Product>,
    product_by_id: FxHashMap<ProductId, ProductIx>,
    vulns: Vec<Vuln>,
    vuln_by_id: FxHashMap<VulnId, VulnIx>,
    kbs: BTreeMap<KbId, KbAcc>,
    /// (product, vuln, kb, severity, cvss)
    rows: Vec<Row>,
    /// Per product, the KBs MSRC calls a "Monthly Rollup" for it.
    rollups: BTreeMap<ProductIx, BTreeSet<KbId>>,
    warnings: Vec<super::CompileWarning>,
}

impl Catalog {
    /// Merges documents (one revision per document ID) into an indexed catalog.
    ///
    /// Deterministic: the same documents in any order give the same catalog. Names and titles
    /// come from the newest document that mentions them.
    pub fn compile(docs: &[Document]) -> Catalog {
        let mut order: Vec<&Document> = docs.iter().collect();
        order.sort_by(|a, b| {
            (&a.info.initial_release, &a.info.id).cmp(&(&b.info.initial_release, &b.info.id))
        });
        let mut b = Builder::default();
        for doc in &order {
            b.add_products(doc);
        }
        for doc in &order {
            b.add_vulnerabilities(doc);
        }
        b.finish(order.iter().map(|d| d.info.clone()).collect(), docs)
    }
}

impl Builder {
    fn add_products(&mut self, doc: &Document) {
        for p in &doc.products {
            match self.product_by_id.get(&p.id) {
                Some(&ix) => self.products[ix as usize].name.clone_from(&p.name),
                None => {
                    let ix = self.products.len() as ProductIx;
                    self.products.push(Product {
                        id: p.id.clone(),
                        name: p.name.clone(),
                        normalized: String::new(),
                        facts: Default::default(),
                        software: String::new(),
                        on_os: Vec::new(),
                    });
                    self.product_by_id.insert(p.id.clone(), ix);
                }
            }
        }
    }

    fn vuln_ix(&mut self, id: &VulnId, title: &str) -> VulnIx {
        if let Some(&ix) = self.vuln_by_id.get(id) {
            self.vulns[ix as usize].title = title.to_owned();
            return ix;
        }
        let ix = self.vulns.len() as VulnIx;
        self.vulns.push(Vuln {
            id: id.clone(),
            title: title.to_owned(),
        });
        self.vuln_by_id.insert(id.clone(), ix);
        ix
    }

    fn add_vulnerabilities(&mut self, doc: &Document) {
        for v in &doc.vulnerabilities {
            if v.fixes.is_empty() {
                continue;
            }
            let vix = self.vuln_ix(&v.id, &v.title);
            let sev: FxHashMap<&ProductId, Severity> =
                v.severities.iter().map(|(p, s)| (p, *s)).collect();
            let cvss: FxHashMap<&ProductId, f32> = v.scores.iter().map(|(p, s)| (p, *s)).collect();
            for fix in &v.fixes {
                let acc = self.kbs.entry(fix.kb).or_default();
                acc.docs.entry(doc.info.id.clone()).or_default().insert(vix);
                acc.supersedes
                    .extend(fix.supersedes.iter().copied().filter(|k| *k != fix.kb));
                let build = fix.fixed_build.as_deref().and_then(|raw| {
                    raw.parse::<Build>().map_err(|e| (raw, e)).map_or_else(
                        |(raw, _)| {
                            if raw.starts_with("0.") || raw.matches('.').count() == 3 {
                                self.warnings.push(super::CompileWarning {
                                    document: doc.info.id.clone(),
                                    message: format!(
                                        "KB{}: invalid FixedBuild {raw:?} ignored",
                                        fix.kb
                                    ),
                                });
                            }
                            None
                        },
                        Some,
                    )
                });
                for pid in &fix.products {
                    let Some(&pix) = self.product_by_id.get(pid) else {
                        self.warnings.push(super::CompileWarning {
                            document: doc.info.id.clone(),
                            message: format!("KB{}: unknown ProductID {pid} ignored", fix.kb),
                        });
                        continue;
                    };
                    if fix
                        .sub_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("monthly rollup"))
                    {
                        self.rollups.entry(pix).or_default().insert(fix.kb);
                    }
                    let acc = self.kbs.get_mut(&fix.kb).expect("inserted above");
                    let builds = acc.builds.entry(pix).or_default();
                    if let Some(b) = build {
                        builds.insert(b);
                    }
                    self.rows.push((
                        pix,
                        vix,
                        fix.kb,
                        sev.get(pid).copied(),
                        cvss.get(pid).copied(),
                    ));
                }
            }
        }
    }

    fn finish(
        mut self,
        documents: Vec<crate::document::DocumentInfo>,
        _docs: &[Document],
    ) -> Catalog {
        self.index_products();
        let titles: FxHashMap<&str, (&str, &str)> = documents
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    (d.title.as_str(), d.initial_release.as_str()),
                )
            })
            .collect();
        let mut kbs = Vec::with_capacity(self.kbs.len());
        let mut kb_by_id = FxHashMap::default();
        let mut edges = Vec::new();
        for (id, acc) in &self.kbs {
            let released_in = releasing_document(&acc.docs, &titles);
            let (title, date) = titles
                .get(released_in.as_str())
                .copied()
                .unwrap_or(("", ""));
            edges.extend(acc.supersedes.iter().map(|old| (*id, *old)));
            let products = acc
                .builds
                .iter()
                .map(|(&pix, builds)| {
                    let own = self.products[pix as usize].facts.build;
                    let native_revision = builds
                        .iter()
                        .filter(|b| Some(b.build) == own)
                        .map(|b| b.revision)
                        .max();
                    KbProduct {
                        product: pix,
                        fixed_builds: builds.iter().copied().collect(),
                        native_revision,
                    }
                })
                .collect();
            kb_by_id.insert(*id, kbs.len() as KbIx);
            kbs.push(Kb {
                id: *id,
                name: title.to_owned(),
                released_in,
                release_date: date.to_owned(),
                documents: acc.docs.keys().cloned().collect(),
                supersedes: acc.supersedes.iter().copied().collect(),
                products,
            });
        }
        edges.extend(rollup_chains(&self.rollups, &kbs, &kb_by_id));
        let supersedence = Graph::from_edges(edges);
        let fixes = super::fixtable::FixTable::from_rows(self.fix_table(&kb_by_id, &kbs));
        let cumulative = cumulative_updates(&kbs, &self.products, &kb_by_id, &supersedence);
        let (products_by_name, components, hosted) = self.name_indexes();
        let kbs_len = kbs.len();
        Catalog {
            documents,
            product_by_id: self.product_by_id,
            products: self.products,
            products_by_name,
            components,
            hosted,
            kbs,
            kb_by_id,
            vulns: self.vulns,
            fixes,
            supersedence,
            cumulative_by_product: by_product(&cumulative),
            cumulative,
            closures: lazy(kbs_len),
            warnings: self.warnings,
        }
    }

    fn index_products(&mut self) {
        for p in &mut self.products {
            p.normalized = normalize_name(&p.name);
            p.facts = parse_facts(&p.name);
            p.software = software_name(&p.name);
        }
    }

    fn fix_table(&mut self, kb_by_id: &FxHashMap<KbId, KbIx>, kbs: &[Kb]) -> Vec<Vec<Fix>> {
        let mut table: Vec<Vec<Fix>> = vec![Vec::new(); self.products.len()];
        for &(pix, vuln, kb, severity, cvss) in &self.rows {
            let kix = kb_by_id[&kb];
            let kp = kbs[kix as usize]
                .products
                .binary_search_by_key(&pix, |kp| kp.product)
                .ok();
            let kp = kp.map(|i| &kbs[kix as usize].products[i]);
            let native_revision = kp
                .and_then(|kp| kp.native_revision)
                .and_then(NonZeroU32::new);
            let other_branch = self.products[pix as usize].facts.build.is_some()
                && kp.is_some_and(|kp| kp.native_revision.is_none() && !kp.fixed_builds.is_empty());
            table[pix as usize].push(Fix {
                vuln,
                kb: kix,
                severity,
                cvss,
                native_revision,
                other_branch,
            });
        }
        for fixes in &mut table {
            fixes.sort_by_key(|f| (f.vuln, f.kb));
            // The same (vuln, kb) can be listed by two documents; keep the most informative row.
            fixes.dedup_by(|later, kept| {
                if later.vuln == kept.vuln && later.kb == kept.kb {
                    kept.severity = kept.severity.max(later.severity);
                    kept.cvss = kept.cvss.or(later.cvss);
                    true
                } else {
                    false
                }
            });
            fixes.shrink_to_fit();
        }
        self.rows = Vec::new();
        table
    }

    /// Name index, components shipped inside each OS, and every product hosted on each OS.
    fn name_indexes(
        &mut self,
    ) -> (
        FxHashMap<String, Vec<ProductIx>>,
        ProductLists,
        ProductLists,
    ) {
        let mut by_name: FxHashMap<String, Vec<ProductIx>> = FxHashMap::default();
        for (ix, p) in self.products.iter().enumerate() {
            by_name
                .entry(p.normalized.clone())
                .or_default()
                .push(ix as ProductIx);
        }
        let mut components = ProductLists::default();
        let mut hosted = ProductLists::default();
        for ix in 0..self.products.len() {
            let Some(os) = self.products[ix].facts.on_os.clone() else {
                continue;
            };
            let os_ixs = by_name.get(&os).cloned().unwrap_or_default();
            let fam = &self.products[ix].facts.family;
            let ships_inside =
                fam == "internet explorer 11" || fam.starts_with("microsoft edge (edgehtml");
            for &o in &os_ixs {
                hosted.entry(o).or_default().push(ix as ProductIx);
                if ships_inside {
                    components.entry(o).or_default().push(ix as ProductIx);
                }
            }
            self.products[ix].on_os = os_ixs;
        }
        (by_name, components, hosted)
    }
}

/// The document that released a KB: the one listing it for the most vulnerabilities (a KB is
/// listed again in older documents when old CVEs are revised); ties go to the earliest.
fn releasing_document(
    docs: &BTreeMap<String, FxHashSet<VulnIx>>,
    dates: &FxHashMap<&str, (&str, &str)>,
) -> String {
    docs.iter()
        .max_by(|(a_id, a), (b_id, b)| {
            let da = dates.get(a_id.as_str()).map_or("", |d| d.1);
            let db = dates.get(b_id.as_str()).map_or("", |d| d.1);
            a.len()
                .cmp(&b.len())
                .then_with(|| db.cmp(da))
                .then_with(|| b_id.cmp(a_id))
        })
        .map(|(id, _)| id.clone())
        .unwrap_or_default()
}

/// Which KBs are cumulative updates of an OS product, and at which revision of its branch.
///
/// A KB with a FixedBuild on an OS product's own branch is a cumulative update there when it is
/// part of a chain of such updates: it supersedes, or is superseded by, another KB with an OS
/// FixedBuild (on any branch: KB5094127 continues 22H2's chain through a KB listed only for
/// 21H2). Secure Boot DBX and Safe OS updates carry OS-like FixedBuilds but stand outside every
/// chain, so they never raise a machine's effective UBR.
fn cumulative_updates(
    kbs: &[Kb],
    products: &[Product],
    kb_by_id: &FxHashMap<KbId, KbIx>,
    graph: &Graph,
) -> FxHashMap<(KbIx, ProductIx), u32> {
    let mut native: FxHashMap<(KbIx, ProductIx), u32> = FxHashMap::default();
    let mut has_native: FxHashSet<KbIx> = FxHashSet::default();
    for (kix, kb) in kbs.iter().enumerate() {
        for kp in &kb.products {
            if let (true, Some(rev)) = (
                products[kp.product as usize].facts.is_os,
                kp.native_revision,
            ) {
                native.insert((kix as KbIx, kp.product), rev);
                has_native.insert(kix as KbIx);
            }
        }
    }
    let linked = |kix: KbIx| {
        let id = kbs[kix as usize].id;
        graph
            .supersedes(id)
            .iter()
            .chain(graph.superseded_by(id))
            .filter_map(|k| kb_by_id.get(k))
            .any(|other| *other != kix && has_native.contains(other))
    };
    let chained: FxHashSet<KbIx> = has_native.iter().copied().filter(|&k| linked(k)).collect();
    native.retain(|(k, _), _| chained.contains(k));
    native
}

/// The fix rows that apply on each product's own branch.
/// Empty per-product lazy indexes (`Catalog::kb_fixes`).
/// `n` empty slots for values derived on first use.
pub(super) fn lazy<T>(n: usize) -> Vec<std::sync::OnceLock<T>> {
    (0..n).map(|_| std::sync::OnceLock::new()).collect()
}

/// Cumulative updates per OS product, sorted by revision.
pub(super) fn by_product(
    cumulative: &FxHashMap<(KbIx, ProductIx), u32>,
) -> FxHashMap<ProductIx, Vec<(u32, KbIx)>> {
    let mut out: FxHashMap<ProductIx, Vec<(u32, KbIx)>> = FxHashMap::default();
    for (&(kb, p), &rev) in cumulative {
        out.entry(p).or_default().push((rev, kb));
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

/// Monthly rollups are cumulative by definition, but MSRC's `Supercedence` often skips months, so
/// a chain of rollups breaks (a Windows 7 host with the 2023 rollup would still "miss" 2016
/// rollups). Each rollup of a product is taken to supersede the product's previous rollup.
fn rollup_chains(
    rollups: &BTreeMap<ProductIx, BTreeSet<KbId>>,
    kbs: &[Kb],
    kb_by_id: &FxHashMap<KbId, KbIx>,
) -> Vec<(KbId, KbId)> {
    let mut edges = Vec::new();
    for ids in rollups.values() {
        let mut dated: Vec<(&str, KbId)> = ids
            .iter()
            .map(|id| (kbs[kb_by_id[id] as usize].release_date.as_str(), *id))
            .collect();
        dated.sort_unstable();
        edges.extend(
            dated
                .windows(2)
                .filter(|w| w[0].0 < w[1].0)
                .map(|w| (w[1].1, w[0].1)),
        );
    }
    edges
}
