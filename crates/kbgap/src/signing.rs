//! Which key signs and verifies kbgap's own tokens, so that every server of a deployment
//! trusts the tokens any of them (or `kbgap token`) issued.
//!
//! In order: the key file `--signing-key` names (a secret mounted the same on every replica);
//! on PostgreSQL, the key the database holds for all its servers (the first one that needed a
//! key stored its data dir's key, or a new one; the others use that); on SQLite, the data dir's
//! `jwt-signing-key.pem`, created on first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use kbgap_server::auth::{LOCAL_KEY_FILE, LocalIssuer};
use kbgap_store::{Store, StoreUrl};

use crate::context::Context;

/// The local issuer for this command; `store` is the open store when the caller has one.
pub async fn local_issuer(ctx: &Context, store: Option<&Arc<dyn Store>>) -> Result<LocalIssuer> {
    if let Some(path) = &ctx.signing_key {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the signing key {}", path.display()))?;
        return Ok(LocalIssuer::from_pem(&pem, path.clone())?);
    }
    match (&ctx.store_url, store) {
        (StoreUrl::Postgres(_), Some(store)) => shared(store.as_ref(), &ctx.data_dir).await,
        (StoreUrl::Postgres(_), None) => {
            shared(ctx.open_store().await?.as_ref(), &ctx.data_dir).await
        }
        (StoreUrl::Sqlite(_), _) => LocalIssuer::load_or_create(&ctx.data_dir)
            .with_context(|| format!("loading the signing key in {}", ctx.data_dir.display())),
    }
}

/// The key the store shares, offering the data dir's key (an installation that moves to
/// PostgreSQL keeps its tokens valid) or a new one when none is stored yet.
async fn shared(store: &dyn Store, data_dir: &Path) -> Result<LocalIssuer> {
    let file = data_dir.join(LOCAL_KEY_FILE);
    let own = match std::fs::read_to_string(&file) {
        Ok(pem) => {
            LocalIssuer::from_pem(pem.as_bytes(), file.clone())?;
            Some(pem)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let offer = match &own {
        Some(pem) => pem.clone(),
        None => LocalIssuer::generate_pem()?,
    };
    let pem = (store.shared_signing_key(&offer).await)
        .with_context(|| format!("reading the shared signing key from {}", store.describe()))?;
    let source = PathBuf::from(format!("{} (shared signing key)", store.describe()));
    let issuer = LocalIssuer::from_pem(pem.as_bytes(), source)?;
    if own.is_some_and(|own| own != pem) {
        tracing::warn!(
            "{} is not the signing key the servers of {} share; tokens it signed are refused (the shared key, issuer {}, is used)",
            file.display(),
            store.describe(),
            issuer.issuer()
        );
    }
    Ok(issuer)
}
