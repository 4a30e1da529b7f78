//! Reading a scan's inputs: inventory files (or standard input) and the catalog.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use kbgap_core::catalog::Catalog;
use kbgap_core::{Device, OsVersion};
use kbgap_inventory::{Inventory, OsOverrides};

use crate::cli::ScanArgs;
use crate::context::Context;
use kbgap_service::catalog::parse_parallel;

/// How standard input is named in messages and CSV rows.
pub const STDIN_NAME: &str = "<stdin>";

/// One input as read: its name and its bytes, or why it could not be read. Bytes are kept so a
/// second reading (with the catalog, for a build kbgap's own table does not know) needs no
/// second read of standard input, which can be read only once.
pub struct Input {
    pub source: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// A file (or input) that gave no machine, and why.
#[derive(Debug)]
pub struct Failure {
    /// The file name, or `<stdin>`.
    pub source: String,
    /// The error, with its causes.
    pub error: anyhow::Error,
}

/// Reads every file once; `-` is standard input.
pub fn inputs(files: &[PathBuf]) -> Vec<Input> {
    files.iter().map(|p| input(p)).collect()
}

fn input(path: &Path) -> Input {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        let r = std::io::stdin().lock().read_to_end(&mut bytes);
        return Input {
            source: STDIN_NAME.to_owned(),
            bytes: r.map(|_| bytes).map_err(|e| e.to_string()),
        };
    }
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| e.to_string());
    Input { source, bytes }
}

/// The OS facts and overrides given as options.
pub fn overrides(args: &ScanArgs) -> Result<OsOverrides> {
    Ok(OsOverrides {
        os_version: args
            .os_version
            .as_deref()
            .map(str::parse::<OsVersion>)
            .transpose()
            .map_err(|e| anyhow!("--os-version: {e}"))?,
        ubr: args.ubr,
        installation_type: args
            .installation_type
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| anyhow!("--installation-type: {e}"))?,
        architecture: args
            .architecture
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| anyhow!("--architecture: {e}"))?,
        ..OsOverrides::default()
    })
}

fn has_os_facts(o: &OsOverrides) -> bool {
    o.os_version.is_some()
}

/// Reads every input; hotfix lists join the machine read just before them, or become a machine of
/// their own when OS facts are given as options. Gives the machines and the failures, one per
/// failed input; `catalog` identifies builds kbgap's own release table does not know.
pub fn machines(
    inputs: &[Input],
    format: kbgap_inventory::Format,
    o: &OsOverrides,
    catalog: Option<&Catalog>,
) -> (Vec<(String, Device)>, Vec<Failure>) {
    let mut machines: Vec<(String, Device)> = Vec::new();
    let mut failures = Vec::new();
    for input in inputs {
        let source = &input.source;
        let result = (input.bytes.as_ref())
            .map_err(|e| anyhow!("{source}: {e}"))
            .and_then(|bytes| {
                kbgap_inventory::read_with(bytes, source, format, catalog)
                    .map_err(anyhow::Error::from)
            })
            .and_then(|inv| device(inv, source, &mut machines, o, catalog));
        match result {
            Ok(Some(d)) => machines.push((source.clone(), d)),
            Ok(None) => {}
            Err(error) => failures.push(Failure {
                source: source.clone(),
                error,
            }),
        }
    }
    (machines, failures)
}

/// The machine an inventory is, or `None` when it is a hotfix list merged into the one before.
fn device(
    inv: Inventory,
    source: &str,
    machines: &mut [(String, Device)],
    o: &OsOverrides,
    catalog: Option<&Catalog>,
) -> Result<Option<Device>> {
    match inv {
        Inventory::Device(mut d) => {
            if o != &OsOverrides::default() {
                kbgap_inventory::apply_overrides_with(&mut d, o, catalog)?;
            }
            Ok(Some(d))
        }
        Inventory::Hotfixes(list) => match machines.last_mut() {
            Some((_, d)) if !has_os_facts(o) => {
                kbgap_inventory::merge_hotfixes(d, &list);
                Ok(None)
            }
            _ if has_os_facts(o) => Ok(Some(kbgap_inventory::device_from_facts_with(
                o, &list, source, catalog,
            )?)),
            _ => Err(anyhow!(
                "{source}: a hotfix list names no OS; give a systeminfo file before it, or --os-version (with --architecture, --installation-type)"
            )),
        },
    }
}

/// The catalog: the store's, or one compiled from CVRF files given with `--catalog`.
pub async fn catalog(ctx: &Context, paths: &[PathBuf]) -> Result<Catalog> {
    if paths.is_empty() {
        let store = ctx.open_store().await?;
        return ctx.catalog(store.as_ref()).await;
    }
    let files = kbgap_catalog::collect_paths(paths)?;
    let docs = parse_parallel(files.len(), |i| kbgap_catalog::read_path(&files[i]))?;
    // Several revisions of one document: keep the newest, as the store would.
    let mut newest: std::collections::BTreeMap<String, kbgap_core::Document> = Default::default();
    for d in docs {
        match newest.get(&d.info.id) {
            Some(old) if !d.info.newer_than(&old.info) => {}
            _ => {
                newest.insert(d.info.id.clone(), d);
            }
        }
    }
    let docs: Vec<_> = newest.into_values().collect();
    let mut cat = Catalog::compile(&docs);
    cat.apply_kev(&kbgap_catalog::kev::bundled()?);
    Ok(cat)
}
