//! `kbgap token`: a bearer token from this kbgap's own issuer.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kbgap_server::auth::{INVENTORY_SUBMIT, LocalIssuer};

use crate::cli::TokenArgs;
use crate::context::Context;

pub fn run(ctx: &Context, args: &TokenArgs) -> Result<()> {
    let issuer = LocalIssuer::load_or_create(&ctx.data_dir)
        .with_context(|| format!("loading the signing key in {}", ctx.data_dir.display()))?;
    let ttl = Duration::from_secs(args.ttl);
    let token = match &args.machine {
        Some(machine) => {
            // A bound token with read roles would read the whole fleet: exactly what binding
            // is meant to prevent.
            if args.roles.iter().any(|r| r != INVENTORY_SUBMIT) {
                bail!(
                    "--machine binds an {INVENTORY_SUBMIT} token: give --roles {INVENTORY_SUBMIT} and no other role"
                );
            }
            issuer.issue_for_machine(machine, &args.tenant, &args.app, ttl)?
        }
        None => issuer.issue(&args.roles, &args.tenant, &args.app, ttl)?,
    };
    println!("{token}");
    Ok(())
}
