//! The deploy-first query over synthetic fleets of 100,000 and 1,000,000 machines on the real
//! bundled catalog: machines spread over the states `bench/fleet.py` draws from (seven Windows
//! releases, each at one of its last 24 cumulative updates, most a month or two behind).
//! Targets: ≤ 100 ms at 100,000 machines, ≤ 500 ms at 1,000,000.
//!
//! Also what a writer pays to make the next snapshot (issue 13, F2): cloning the fleet and
//! moving one machine in the clone, at both sizes; it must not grow with the machines.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::MachineState;
use kbgap_core::engine::fleet::Fleet;
use kbgap_core::{Device, Document};
use kbgap_service::queries::{DeployFilter, Scope, deploy_first_groups};

const OSES: [(u32, &str, &str); 7] = [
    (
        30,
        "10.0.19045",
        "Windows 10 Version 22H2 for x64-based Systems",
    ),
    (
        6,
        "10.0.19044",
        "Windows 10 Version 21H2 for x64-based Systems",
    ),
    (
        20,
        "10.0.22631",
        "Windows 11 Version 23H2 for x64-based Systems",
    ),
    (
        20,
        "10.0.26100",
        "Windows 11 Version 24H2 for x64-based Systems",
    ),
    (8, "10.0.20348", "Windows Server 2022"),
    (6, "10.0.17763", "Windows Server 2019"),
    (3, "10.0.26100", "Windows Server 2025"),
];

/// (weight, state) for every OS at each of its last 24 cumulative updates; weights fall off
/// with age like fleet.py's exponential tail.
fn states(cat: &Catalog) -> Vec<(u32, MachineState)> {
    let mut out = Vec::new();
    for (weight, ver, name) in OSES {
        let Some(&os) = cat.products_named(name).first() else {
            continue;
        };
        let mut revs: Vec<u32> = (0..cat.kbs().len() as u32)
            .filter_map(|k| cat.cumulative_revision(k, os))
            .collect();
        revs.sort_unstable();
        for (back, rev) in revs.iter().rev().take(24).enumerate() {
            let d = Device {
                os_version: Some(ver.parse().unwrap()),
                ubr: Some(*rev),
                products: vec![name.into()],
                ..Device::default()
            };
            let w = (weight * 1000) >> back.min(10);
            out.push((w.max(1), cat.machine_state(&d).state));
        }
    }
    out
}

fn fleet(cat: &Catalog, states: &[(u32, MachineState)], n: usize) -> Fleet {
    let total: u64 = states.iter().map(|(w, _)| u64::from(*w)).sum();
    let mut fleet = Fleet::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        // xorshift: deterministic and cheap.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut pick = x % total;
        let state = states
            .iter()
            .find(|(w, _)| {
                let hit = pick < u64::from(*w);
                pick = pick.saturating_sub(u64::from(*w));
                hit
            })
            .map_or(&states[0].1, |(_, s)| s);
        fleet.upsert(cat, &format!("{i:040x}"), state.clone());
    }
    fleet
}

fn benches(c: &mut Criterion) {
    let docs: Vec<Document> = kbgap_catalog::bundled::read_all()
        .map(|d| d.unwrap())
        .collect();
    let mut cat = Catalog::compile(&docs);
    cat.apply_kev(&kbgap_catalog::kev::bundled().unwrap());
    let states = states(&cat);
    let mut g = c.benchmark_group("deploy_first");
    g.sample_size(20);
    for n in [100_000usize, 1_000_000] {
        let built = std::time::Instant::now();
        let f = fleet(&cat, &states, n);
        eprintln!(
            "{n} machines in {} states, built in {:?}",
            f.group_count(),
            built.elapsed()
        );
        let all = DeployFilter::default();
        g.bench_function(format!("{n}_machines"), |b| {
            b.iter(|| deploy_first_groups(&cat, black_box(&f), &all).len())
        });
        let narrow = DeployFilter {
            scope: Scope {
                os_version: Some("Windows 11 Version 24H2".into()),
                ..Scope::default()
            },
            exploited_only: true,
            ..DeployFilter::default()
        };
        g.bench_function(format!("{n}_machines_one_os_exploited"), |b| {
            b.iter(|| deploy_first_groups(&cat, black_box(&f), &narrow).len())
        });
        let (mover, moved) = (format!("{:040x}", n / 2), states[1].1.clone());
        g.bench_function(format!("{n}_machines_clone_and_move_one"), |b| {
            b.iter(|| {
                let mut next = black_box(&f).clone();
                next.upsert(&cat, &mover, moved.clone());
                next.active_len()
            })
        });
    }
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
