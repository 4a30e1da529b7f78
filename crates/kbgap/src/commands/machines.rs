//! `kbgap machines …`: load a fleet into the store (`import`), see it (`list`) and retire
//! machines (`delete`, `purge`).

pub mod age;
pub mod list;
pub mod remove;

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::context::Context;
use crate::output;

/// Reads every file first (a JSON report per line in `.ndjson`/`.jsonl` files), then stores all
/// machines in one transaction: a bad file stores nothing.
pub async fn import(ctx: &Context, files: &[PathBuf]) -> Result<()> {
    let bar = output::progress(files.len() as u64, "reading", ctx.quiet);
    let devices = kbgap_service::intake::read_files(files, None, || bar.inc(1))
        .context("nothing was stored")?;
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
