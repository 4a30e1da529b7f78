//! The offline copy: 190 documents, all parse, identities match their file names.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use kbgap_catalog::bundled;
use kbgap_catalog::text::is_invisible;

#[test]
fn bundles_190_sorted_documents() {
    let files = bundled::files();
    assert_eq!(files.len(), 190);
    assert!(files.windows(2).all(|w| w[0].0 < w[1].0), "sorted by name");
    assert!(
        files.iter().all(|(name, bytes)| name.ends_with(".xml.zst")
            && bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]))
    );
    assert_eq!(files.first().map(|f| f.0), Some("1999-Sep.xml.zst"));
    assert!(files.iter().any(|f| f.0 == "2026-Jun.xml.zst"));
}

#[test]
fn all_bundled_documents_parse() {
    // Parsed on every core: unoptimised test builds are slow and there are 350 MB of XML.
    let files = bundled::files();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let totals = Mutex::new((0usize, 0usize, 0usize));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some((name, bytes)) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let doc = match kbgap_catalog::read_bytes(bytes, name) {
                        Ok(doc) => doc,
                        Err(e) => {
                            failures.lock().unwrap().push(e.to_string());
                            continue;
                        }
                    };
                    let mut problems = Vec::new();
                    if format!("{}.xml.zst", doc.info.id) != *name {
                        problems.push(format!("{name}: document id {}", doc.info.id));
                    }
                    let dirty =
                        |s: &str| s.contains("  ") || s.trim() != s || s.chars().any(is_invisible);
                    for p in &doc.products {
                        if dirty(&p.name) {
                            problems.push(format!("{name}: product name {:?}", p.name));
                        }
                    }
                    for v in &doc.vulnerabilities {
                        if dirty(&v.title) {
                            problems.push(format!("{name}: title {:?}", v.title));
                        }
                        for f in &v.fixes {
                            if f.fixed_build.as_deref().is_some_and(dirty) || f.products.is_empty()
                            {
                                problems.push(format!("{name}: fix {f:?}"));
                            }
                        }
                    }
                    failures.lock().unwrap().extend(problems);
                    let mut t = totals.lock().unwrap();
                    t.0 += doc.products.len();
                    t.1 += doc.vulnerabilities.len();
                    t.2 += doc
                        .vulnerabilities
                        .iter()
                        .map(|v| v.fixes.len())
                        .sum::<usize>();
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} problems, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    let (products, vulns, fixes) = totals.into_inner().unwrap();
    assert_eq!(
        (products, vulns, fixes),
        (28936, 26274, 104062),
        "products, vulnerabilities, vendor fixes"
    );
}

#[test]
fn read_all_yields_every_document() {
    // Only the first few: `all_bundled_documents_parse` covers the rest, faster.
    let docs: Vec<_> = bundled::read_all()
        .take(5)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs[0].info.id, "1999-Sep");
    assert_eq!(docs.len(), 5);
}
