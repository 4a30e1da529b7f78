//! Compiling stored documents into a [`Catalog`].

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use rustc_hash::{FxHashMap, FxHashSet};

use super::supersedence::Graph;
use super::{Catalog, Fix, Kb, KbIx, KbProduct, Product, ProductIx, Vuln, VulnIx};
use crate::build::Build;
use crate::document::Document;
use crate::ids::{KbId, ProductId, VulnId};
use crate::kinds::{ServicingKind, Severity};
use crate::product::{normalize_name, parse_facts, software_name};
use crate::risk::Impact;

/// Something odd in the data that compiling worked around (reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompileWarning {
    /// The document it was found in.
    pub document: String,
    /// What was wrong and what was done about it.
    pub message: String,
}

/// One raw fix row: a KB fixing a vulnerability on a product, with MSRC's risk values there.
#[derive(Clone, Copy)]
struct Row {
    product: ProductIx,
    vuln: VulnIx,
    kb: KbId,
    severity: Option<Severity>,
    cvss: Option<f32>,
    vector: Option<u32>,
    impact: Option<Impact>,
}

type ProductLists = FxHashMap<ProductIx, Vec<ProductIx>>;

/// What one KB accumulates while documents are read.
#[derive(Default)]
struct KbAcc {
    /// Document id → distinct vulnerabilities it lists this KB for (to find the releasing one).
    docs: BTreeMap<String, FxHashSet<VulnIx>>,
    supersedes: BTreeSet<KbId>,
    builds: BTreeMap<ProductIx, BTreeSet<Build>>,
    /// MSRC's SubTypes per product ([`super::servicing::subtype_key`] form).
    subtypes: BTreeMap<ProductIx, BTreeSet<String>>,
}

#[derive(Default)]
struct Builder {
    products: Vec<Product>,
    product_by_id: FxHashMap<ProductId, ProductIx>,
    vulns: Vec<Vuln>,
    vuln_by_id: FxHashMap<VulnId, VulnIx>,
    kbs: BTreeMap<KbId, KbAcc>,
    rows: Vec<Row>,
    /// Distinct CVSS vectors, and their indexes.
    vectors: Vec<String>,
    vector_ix: FxHashMap<String, u32>,
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

    /// The index of a vulnerability, merging what this (newer) document says of it.
    fn vuln_ix(&mut self, v: &crate::document::Vulnerability) -> VulnIx {
        let ix = match self.vuln_by_id.get(&v.id) {
            Some(&ix) => ix,
            None => {
                let ix = self.vulns.len() as VulnIx;
                self.vulns.push(Vuln {
                    id: v.id.clone(),
                    title: String::new(),
                    exploit: Default::default(),
                    published: None,
                    kev: None,
                    cvss: None,
                });
                self.vuln_by_id.insert(v.id.clone(), ix);
                ix
            }
        };
        let merged = &mut self.vulns[ix as usize];
        merged.title.clone_from(&v.title);
        if let Some(e) = &v.exploit {
            merged.exploit.merge(e);
        }
        if let Some(p) = &v.published
            && merged.published.as_ref().is_none_or(|old| p < old)
        {
            merged.published = Some(p.clone());
        }
        ix
    }

    fn vector_ix(&mut self, vector: &str) -> u32 {
        if let Some(&ix) = self.vector_ix.get(vector) {
            return ix;
        }
        let ix = self.vectors.len() as u32;
        self.vectors.push(vector.to_owned());
        self.vector_ix.insert(vector.to_owned(), ix);
        ix
    }

    fn add_vulnerabilities(&mut self, doc: &Document) {
        for w in &doc.warnings {
            self.warnings.push(super::CompileWarning {
                document: doc.info.id.clone(),
                message: w.clone(),
            });
        }
        for v in &doc.vulnerabilities {
            if v.fixes.is_empty() {
                continue;
            }
            let vix = self.vuln_ix(v);
            let sev: FxHashMap<&ProductId, Severity> =
                v.severities.iter().map(|(p, s)| (p, *s)).collect();
            let cvss: FxHashMap<&ProductId, f32> = v.scores.iter().map(|(p, s)| (p, *s)).collect();
            let impact: FxHashMap<&ProductId, Impact> =
                v.impacts.iter().map(|(p, i)| (p, *i)).collect();
            let vector: FxHashMap<&ProductId, u32> = (v.vectors.iter())
                .map(|(p, s)| (p, self.vector_ix(s)))
                .collect();
            for (p, &score) in &cvss {
                let best = &mut self.vulns[vix as usize].cvss;
                if best.is_none_or(|(b, _)| score > b) {
                    *best = Some((score, vector.get(p).copied()));
                }
            }
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
                    let acc = self.kbs.get_mut(&fix.kb).expect("inserted above");
                    if let Some(t) = fix.sub_type.as_deref() {
                        (acc.subtypes.entry(pix).or_default())
                            .insert(super::servicing::subtype_key(t));
                    }
                    let builds = acc.builds.entry(pix).or_default();
                    if let Some(b) = build {
                        builds.insert(b);
                    }
                    self.rows.push(Row {
                        product: pix,
                        vuln: vix,
                        kb: fix.kb,
                        severity: sev.get(pid).copied(),
                        cvss: cvss.get(pid).copied(),
                        vector: vector.get(pid).copied(),
                        impact: impact.get(pid).copied(),
                    });
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
        let (products_by_name, components, hosted) = self.name_indexes();
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
        let mut subtypes = FxHashMap::default();
        for (id, acc) in &self.kbs {
            let released_in = releasing_document(&acc.docs, &titles);
            let (title, date) = titles
                .get(released_in.as_str())
                .copied()
                .unwrap_or(("", ""));
            edges.extend(acc.supersedes.iter().map(|old| (*id, *old)));
            let kix = kbs.len() as KbIx;
            for (&pix, subs) in &acc.subtypes {
                subtypes.insert((kix, pix), subs.iter().cloned().collect());
            }
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
                        kind: ServicingKind::Standalone,
                    }
                })
                .collect();
            kb_by_id.insert(*id, kix);
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
        let vulns = self.vulns_per_kb_product(&kb_by_id);
        let servicing = super::servicing::classify(&super::servicing::Input {
            products: &self.products,
            kbs: &kbs,
            kb_by_id: &kb_by_id,
            subtypes: &subtypes,
            vulns: &vulns,
            msrc_edges: &edges,
        });
        for (kix, kb) in kbs.iter_mut().enumerate() {
            for kp in &mut kb.products {
                if let Some(&k) = servicing.kinds.get(&(kix as KbIx, kp.product)) {
                    kp.kind = k;
                }
            }
        }

        for &(kix, pix) in &servicing.foreign_revisions {
            let kb = &mut kbs[kix as usize];
            if let Some(kp) = kb.products.iter_mut().find(|kp| kp.product == pix) {
                kp.native_revision = None;
            }
        }
        self.warnings.extend(servicing.warnings);
        edges.retain(|e| !servicing.contradicted.contains(e));
        edges.extend(servicing.edges);
        let supersedence = Graph::from_edges(edges);
        let fixes = super::fixtable::FixTable::from_rows(self.fix_table(&kb_by_id, &kbs));
        let cumulative = raising_updates(&kbs, &self.products, ServicingKind::CumulativeUpdate);
        let hotpatches = raising_updates(&kbs, &self.products, ServicingKind::Hotpatch);
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
            vectors: std::mem::take(&mut self.vectors),
            kev: None,
            fixes,
            supersedence,
            cumulative_by_product: by_product(&cumulative),
            cumulative,
            hotpatch_by_product: by_product(&hotpatches),
            hotpatches,
            lines: servicing.lines,
            closures: lazy(kbs_len),
            warnings: self.warnings,
        }
    }

    /// Distinct vulnerabilities per (KB, product): how the month's main update is told apart.
    fn vulns_per_kb_product(
        &self,
        kb_by_id: &FxHashMap<KbId, KbIx>,
    ) -> FxHashMap<(KbIx, ProductIx), u32> {
        let mut seen: FxHashSet<(KbIx, ProductIx, VulnIx)> = FxHashSet::default();
        let mut out: FxHashMap<(KbIx, ProductIx), u32> = FxHashMap::default();
        for r in &self.rows {
            let kix = kb_by_id[&r.kb];
            if seen.insert((kix, r.product, r.vuln)) {
                *out.entry((kix, r.product)).or_default() += 1;
            }
        }
        out
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
        for &Row {
            product: pix,
            vuln,
            kb,
            severity,
            cvss,
            vector,
            impact,
        } in &self.rows
        {
            let kix = kb_by_id[&kb];
            let kp = kbs[kix as usize]
                .products
                .binary_search_by_key(&pix, |kp| kp.product)
                .ok();
            let kp = kp.map(|i| &kbs[kix as usize].products[i]);
            let kind = kp.map_or(ServicingKind::Standalone, |kp| kp.kind);
            // Safe OS and Secure Boot FixedBuilds say nothing about the running OS.
            let native_revision = kp
                .filter(|kp| kp.kind.build_decides())
                .and_then(|kp| kp.native_revision)
                .and_then(NonZeroU32::new);
            let other_branch = self.products[pix as usize].facts.build.is_some()
                && kp.is_some_and(|kp| kp.native_revision.is_none() && !kp.fixed_builds.is_empty());
            table[pix as usize].push(Fix {
                vuln,
                kb: kix,
                severity,
                cvss,
                vector,
                impact,
                native_revision,
                other_branch,
                kind,
            });
        }
        for fixes in &mut table {
            fixes.sort_by_key(|f| (f.vuln, f.kb));
            // The same (vuln, kb) can be listed by two documents; keep the most informative row.
            fixes.dedup_by(|later, kept| {
                if later.vuln == kept.vuln && later.kb == kept.kb {
                    kept.severity = kept.severity.max(later.severity);
                    if kept.cvss.is_none() {
                        (kept.cvss, kept.vector) = (later.cvss, later.vector);
                    }
                    kept.impact = kept.impact.or(later.impact);
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

/// The updates of a kind (cumulative updates, hotpatches) that raise an OS product's build, with
/// their revision on its own branch. Safe OS and Secure Boot updates are other kinds, so they
/// never raise a machine's effective UBR.
fn raising_updates(
    kbs: &[Kb],
    products: &[Product],
    kind: ServicingKind,
) -> FxHashMap<(KbIx, ProductIx), u32> {
    let mut out = FxHashMap::default();
    for (kix, kb) in kbs.iter().enumerate() {
        for kp in kb.products.iter().filter(|kp| kp.kind == kind) {
            if let (true, Some(rev)) = (
                products[kp.product as usize].facts.is_os,
                kp.native_revision,
            ) {
                out.insert((kix as KbIx, kp.product), rev);
            }
        }
    }
    out
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
