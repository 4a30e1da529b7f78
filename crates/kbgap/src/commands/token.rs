//! `kbgap token`: a bearer token from this kbgap's own issuer.

use std::time::Duration;

use anyhow::{Context as _, Result};
use kbgap_server::auth::LocalIssuer;

use crate::cli::TokenArgs;
use crate::context::Context;

pub fn run(ctx: &Context, args: &TokenArgs) -> Result<()> {
    let issuer = LocalIssuer::load_or_create(&ctx.data_dir)
        .with_context(|| format!("loading the signing key in {}", ctx.data_dir.display()))?;
    let token = issuer.issue(
        &args.roles,
        &args.tenant,
        &args.app,
        Duration::from_secs(args.ttl),
    )?;
    println!("{token}");
    Ok(())
}
