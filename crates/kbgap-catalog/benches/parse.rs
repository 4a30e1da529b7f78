//! Parsing speed of the CVRF reader over the 190 bundled documents (350 MB of XML, 6.4 MB zstd).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kbgap_catalog::bundled;

fn parse_all_bundled(c: &mut Criterion) {
    let files = bundled::files();
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("all 190 bundled documents", |b| {
        b.iter(|| {
            for (name, bytes) in files {
                black_box(kbgap_catalog::read_bytes(bytes, name).unwrap());
            }
        })
    });
    let (name, june) = files
        .iter()
        .find(|(n, _)| *n == "2026-Jun.xml.zst")
        .copied()
        .unwrap_or(files[0]);
    group.throughput(Throughput::Elements(1));
    group.bench_function("2026-Jun (8 MB of XML)", |b| {
        b.iter(|| black_box(kbgap_catalog::read_bytes(june, name).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, parse_all_bundled);
criterion_main!(benches);
