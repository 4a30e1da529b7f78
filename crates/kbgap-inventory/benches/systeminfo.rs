//! Reading one systeminfo file, from bytes to a machine with its MSRC products (target: ≤ 1 ms).
//!
//! Four shapes of input: a small ASCII file, a 13 KB Windows 7 file with 245 hotfixes, an OEM
//! code-page file (every candidate decoding is scored) and a UTF-16LE PowerShell capture.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use kbgap_inventory::{Format, read};

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo");
    let files = [
        (
            "ascii_win10_22h2",
            "10_22H2_x64_enterprise_en-us_systeminfo.txt",
        ),
        (
            "ascii_win7_245_kbs",
            "7_sp1_x64_enterprise_en-us_B_systeminfo.txt",
        ),
        (
            "cp850_french_win7",
            "7_sp1_x64_enterprise_fr_systeminfo_cmd.txt",
        ),
        (
            "utf16le_powershell",
            "10_1803_x64_proforworkstations_en-us_A_20190305_systeminfo.txt",
        ),
    ];
    let mut group = c.benchmark_group("read_systeminfo");
    for (id, name) in files {
        let bytes = std::fs::read(dir.join(name)).expect("corpus file");
        group.bench_function(id, |b| {
            b.iter(|| read(black_box(&bytes), name, Format::Auto).expect("reads"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
