//! Engine benchmarks on the real bundled catalog: compile, snapshot load, one machine, a fleet.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::fleet::Fleet;
use kbgap_core::engine::{MachineState, Options, evaluate};
use kbgap_core::{Device, Document, KbId};

fn device(version: &str, ubr: Option<u32>, product: &str, kbs: &[u32]) -> Device {
    Device {
        os_version: Some(version.parse().unwrap()),
        ubr,
        products: vec![product.into()],
        installed_kbs: kbs.iter().map(|&k| KbId::new(k).unwrap()).collect(),
        ..Device::default()
    }
}

/// Realistic states: a few OS versions, each at several patch levels.
fn realistic_states(cat: &Catalog) -> Vec<MachineState> {
    let oses = [
        (
            "10.0.19045",
            "Windows 10 Version 22H2 for x64-based Systems",
        ),
        (
            "10.0.19044",
            "Windows 10 Version 21H2 for x64-based Systems",
        ),
        (
            "10.0.22631",
            "Windows 11 Version 23H2 for x64-based Systems",
        ),
        (
            "10.0.26100",
            "Windows 11 Version 24H2 for x64-based Systems",
        ),
        ("10.0.20348", "Windows Server 2022"),
        ("10.0.17763", "Windows Server 2019"),
    ];
    let mut out = Vec::new();
    for (ver, name) in oses {
        let os = cat.products_named(name)[0];
        let mut revs: Vec<u32> = (0..cat.kbs().len() as u32)
            .filter_map(|k| cat.cumulative_revision(k, os))
            .collect();
        revs.sort_unstable();
        for rev in revs.iter().rev().take(12) {
            out.push(cat.machine_state(&device(ver, Some(*rev), name, &[])).state);
        }
    }
    out
}

fn benches(c: &mut Criterion) {
    let docs: Vec<Document> = kbgap_catalog::bundled::read_all()
        .map(|d| d.unwrap())
        .collect();
    let mut g = c.benchmark_group("catalog");
    g.sample_size(10);
    g.bench_function("compile_190_documents", |b| {
        b.iter(|| Catalog::compile(black_box(&docs)))
    });
    let cat = Catalog::compile(&docs);
    let snap = cat.to_snapshot();
    g.bench_function("load_snapshot", |b| {
        b.iter_batched(
            || snap.clone(),
            |s| Catalog::from_snapshot(black_box(s)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let recent = realistic_states(&cat)[1].clone();
    // What `kbgap scan` does after reading its file: load, then evaluate one machine (which
    // decodes the fix rows of the machine's products).
    g.bench_function("load_snapshot_and_evaluate", |b| {
        b.iter_batched(
            || snap.clone(),
            |s| {
                let cat = Catalog::from_snapshot(black_box(s)).unwrap();
                evaluate(&cat, &recent, Options::default()).missing.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let w10 = "Windows 10 Version 22H2 for x64-based Systems";
    let old = cat
        .machine_state(&device("10.0.19045", Some(2129), w10, &[]))
        .state;
    c.bench_function("evaluate/one_month_behind", |b| {
        b.iter(|| evaluate(&cat, black_box(&recent), Options::default()))
    });
    c.bench_function("evaluate/three_years_behind", |b| {
        b.iter(|| evaluate(&cat, black_box(&old), Options::default()))
    });

    let states = realistic_states(&cat);
    let mut fleet = Fleet::new();
    let ids: Vec<String> = (0..1_000_000).map(|i| format!("{i:040x}")).collect();
    for (i, id) in ids.iter().enumerate() {
        fleet.upsert(&cat, id, states[i % states.len()].clone());
    }
    let mut g = c.benchmark_group("fleet_1m");
    g.sample_size(10);
    g.bench_function("1000_updates", |b| {
        let mut n = 0usize;
        b.iter(|| {
            for _ in 0..1000 {
                n = n.wrapping_add(7919);
                fleet.upsert(
                    &cat,
                    &ids[n % ids.len()],
                    states[(n / 3) % states.len()].clone(),
                );
            }
        })
    });
    g.bench_function("software_query_windows_10", |b| {
        b.iter(|| fleet.software_missing(&cat, black_box("windows_10")))
    });
    // The answer is kept until a machine changes group: one update, then the query afresh.
    g.bench_function("software_query_windows_10_after_an_update", |b| {
        let mut n = 0usize;
        b.iter(|| {
            n = n.wrapping_add(7919);
            fleet.upsert(
                &cat,
                &ids[n % ids.len()],
                states[(n / 3) % states.len()].clone(),
            );
            fleet.software_missing(&cat, black_box("windows_10"))
        })
    });
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
