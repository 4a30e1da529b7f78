//! What the engine tests share: the bundled catalog, compiled once per test binary, and
//! machines built from real product names.
#![allow(dead_code)]

use std::sync::OnceLock;

use kbgap_core::build::Branch;
use kbgap_core::catalog::{Catalog, KbIx, ProductIx};
use kbgap_core::engine::{Evaluation, MachineState, Options, evaluate};
use kbgap_core::{Device, Document, InstallationType, KbId, OsVersion};

/// The 190 bundled MSRC documents, compiled, with the bundled KEV catalog applied.
pub fn bundled() -> &'static Catalog {
    static CAT: OnceLock<Catalog> = OnceLock::new();
    CAT.get_or_init(|| {
        let docs: Vec<Document> = kbgap_catalog::bundled::read_all()
            .map(|d| d.expect("bundled document"))
            .collect();
        let mut cat = Catalog::compile(&docs);
        cat.apply_kev(&kbgap_catalog::kev::bundled().expect("bundled KEV"));
        cat
    })
}

/// NT version of a Windows build number.
pub fn nt_version(build: u32) -> (u16, u16) {
    match build {
        10240.. => (10, 0),
        9600 => (6, 3),
        9200 => (6, 2),
        7600 | 7601 => (6, 1),
        _ => (6, 0),
    }
}

/// A device running OS product `os` at `ubr` with `kbs` installed (and `extra` products).
pub fn device_on(cat: &Catalog, os: ProductIx, ubr: Option<u32>, kbs: &[KbId]) -> Device {
    let p = cat.product(os);
    let build = p.facts.build.expect("an OS product with a build");
    let (major, minor) = nt_version(build);
    let server = p.normalized.contains("server");
    Device {
        computer_dns_name: "test".into(),
        os_version: Some(OsVersion {
            major,
            minor,
            build,
        }),
        ubr,
        installation_type: Some(if p.facts.server_core {
            InstallationType::ServerCore
        } else if server {
            InstallationType::Server
        } else {
            InstallationType::Client
        }),
        products: vec![p.name.clone()],
        installed_kbs: kbs.iter().copied().collect(),
        ..Device::default()
    }
}

/// The machine state of a device, without warnings.
pub fn state(cat: &Catalog, d: &Device) -> MachineState {
    cat.machine_state(d).state
}

/// Evaluates the frontier.
pub fn frontier(cat: &Catalog, st: &MachineState) -> Evaluation {
    evaluate(cat, st, Options::default())
}

/// KB numbers of an evaluation's entries.
pub fn kb_ids(cat: &Catalog, ev: &Evaluation) -> Vec<KbId> {
    ev.missing.iter().map(|m| cat.kb(m.kb).id).collect()
}

/// The branch of an OS product.
pub fn branch_of(cat: &Catalog, os: ProductIx) -> Branch {
    let build = cat.product(os).facts.build.unwrap();
    let (major, minor) = nt_version(build);
    Branch {
        major,
        minor,
        build,
    }
}

/// A KB's index by number.
pub fn kb(cat: &Catalog, n: u32) -> KbIx {
    cat.kb_ix(KbId::new(n).unwrap())
        .unwrap_or_else(|| panic!("KB{n} is in the catalog"))
}
