//! `kbgap machines …`: load a fleet into the store (`import`), see it (`list`) and retire
//! machines (`delete`, `purge`).

pub mod age;
pub mod list;
pub mod remove;

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use kbgap_core::Device;
use kbgap_inventory::{Format, Inventory};

use crate::context::Context;
use crate::output;

/// Reads every file first (a JSON report per line in `.ndjson`/`.jsonl` files), then stores all
/// machines in one transaction: a bad file stores nothing.
pub async fn import(ctx: &Context, files: &[PathBuf]) -> Result<()> {
    let mut devices: Vec<Device> = Vec::new();
    let bar = output::progress(files.len() as u64, "reading", ctx.quiet);
    for path in files {
        let source = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| source.clone())?;
        let ndjson = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("ndjson" | "jsonl")
        );
        if ndjson {
            let text = String::from_utf8(bytes).map_err(|_| anyhow!("{source}: not UTF-8"))?;
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let name = format!("{source}:{}", n + 1);
                match kbgap_inventory::read(line.as_bytes(), &name, Format::Report)? {
                    Inventory::Device(d) => devices.push(d),
                    Inventory::Hotfixes(_) => unreachable!("a report is a device"),
                }
            }
        } else {
            match kbgap_inventory::read(&bytes, &source, Format::Auto)? {
                Inventory::Device(d) => devices.push(d),
                Inventory::Hotfixes(list) => match devices.last_mut() {
                    Some(d) => kbgap_inventory::merge_hotfixes(d, &list),
                    None => {
                        return Err(anyhow!(
                            "{source}: a hotfix list names no OS; put a systeminfo file before it"
                        ));
                    }
                },
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let store = ctx.open_store().await?;
    let n = devices.len();
    let stored = store
        .upsert_machines(devices, chrono::Utc::now())
        .await
        .context("nothing was stored")?;
    for m in &stored {
        println!("{}  {}", m.id, m.device.computer_dns_name);
    }
    println!("{n} reports stored in {}", store.describe());
    Ok(())
}
