use std::time::Instant;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{evaluate, Options};
use kbgap_core::report::{KbReport, MissingKbEntry};
use kbgap_core::*;

fn main() {
    let t = Instant::now();
    let docs: Vec<Document> = kbgap_catalog::bundled::read_all().map(|d| d.unwrap()).collect();
    eprintln!("parse {:?}", t.elapsed());
    let t = Instant::now();
    let cat = Catalog::compile(&docs);
    eprintln!("compile {:?}: products {} kbs {} vulns {} fixes {} warnings {}", t.elapsed(), cat.products().len(), cat.kbs().len(), cat.vulns().len(), cat.fix_count(), cat.warnings().len());
    for w in cat.warnings().iter().take(5) { eprintln!("  {w:?}"); }
    let args: Vec<String> = std::env::args().collect();
    let r = KbReport::new(&cat, args.get(1).map_or("4540673", |s| s).parse().unwrap()).unwrap();
    println!("{} {} cves={} by={:?} supersedes={:?} by={:?}", r.id, r.name, r.cve_addressed, r.cve_addressed_by_software, r.supersedes, r.superseded_by.len());
    let mut d = Device::default();
    d.os_version = Some("10.0.19045".parse().unwrap());
    d.ubr = Some(2129);
    d.products = vec!["Windows 10 Version 22H2 for x64-based Systems".into()];
    let res = cat.machine_state(&d);
    let t = Instant::now();
    let ev = evaluate(&cat, &res.state, Options::default());
    eprintln!("eval {:?} eff {:?} open {}", t.elapsed(), ev.effective_ubr, ev.open.len());
    debug_unclosed(&cat, &res.state, &ev);
    snap(&cat);
}
#[allow(dead_code)]
pub fn debug_unclosed(cat: &Catalog, st: &kbgap_core::engine::MachineState, ev: &kbgap_core::engine::Evaluation) {
    let mut closed = std::collections::BTreeSet::new();
    for m in &ev.missing { closed.extend(m.closes.iter().copied()); }
    for &v in &ev.open { if !closed.contains(&v) {
        println!("UNCLOSED {}", cat.vuln(v).id);
        for &p in &st.products { for f in cat.applicable_fixes(p).iter().filter(|f| f.vuln == v) {
            let kb = cat.kb(f.kb);
            println!("   product {} kb {} rev {:?} cum {:?} rel {} sup {:?}", cat.product(p).name, kb.id, f.native_revision, cat.cumulative_revision(f.kb, 19045), kb.release_date, kb.supersedes);
        }}
    }}
}
#[allow(dead_code)]
pub fn snap(cat: &Catalog) {
    let t = Instant::now();
    let b = cat.to_snapshot();
    eprintln!("snapshot {} bytes in {:?}", b.len(), t.elapsed());
    let t = Instant::now();
    let c2 = Catalog::from_snapshot(&b).unwrap();
    eprintln!("load {:?} kbs {}", t.elapsed(), c2.kbs().len());
    let t = Instant::now();
    let z = zstd_len(&b);
    eprintln!("zstd {} {:?}", z, t.elapsed());
}
fn zstd_len(b: &[u8]) -> usize { b.len() }
