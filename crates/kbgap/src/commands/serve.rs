//! `kbgap serve`: Defender's missing-KB API over the store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use kbgap_server::auth::{AuthConfig, Authenticator, OidcIssuer};
use kbgap_server::ratelimit::{EndpointClass, Quota, RateLimitConfig};
use kbgap_server::state::AppState;
use kbgap_server::tls::{DEFAULT_RELOAD_INTERVAL, ReloadingCert, TlsFiles};
use kbgap_server::{ConnectionLimits, FleetService, api_routes};

use kbgap_service::reload::Reloader;
use kbgap_service::replica::Follower;
use kbgap_service::sync::SyncSources;

use crate::cli::ServeArgs;
use crate::commands::catalog::staleness_warning;
use crate::context::Context;

pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    let store = ctx.open_store().await?;
    // Read before the load: a change racing it is then seen by the first poll, not missed.
    let generation = store.catalog_generation().await?;
    let catalog = Arc::new(ctx.catalog(store.as_ref()).await?);
    if let Some(w) = staleness_warning(&catalog) {
        tracing::warn!("{w}");
    }
    let issuer = crate::signing::local_issuer(ctx, Some(&store)).await?;
    let mut auth = AuthConfig {
        local: Some(Arc::new(issuer)),
        extra_audiences: args.oidc_audience.clone(),
        ..AuthConfig::default()
    };
    if let (Some(iss), Some(jwks)) = (&args.oidc_issuer, &args.oidc_jwks_url) {
        auth.oidc.push(OidcIssuer::new(iss.clone(), jwks.clone()));
    }
    let limits = rate_limits(args);
    // Every stored machine is evaluated (once per distinct state) before the port opens, so the
    // first answers are as fast as the rest.
    let fleet = FleetService::load_at(store.clone(), catalog.clone(), Some(generation))
        .await
        .context("loading the machines")?;
    let machine_count = fleet.read().machines.len();
    let fleet = Arc::new(fleet);
    spawn_lifecycle(ctx, args, &fleet);
    let state = AppState::new(Authenticator::new(auth)?, limits)
        .with_fleet(fleet)
        .with_request_timeout(Duration::from_secs(args.request_timeout));
    // A bad certificate stops the start, before the port opens.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(ReloadingCert::load(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })?)),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let newest = catalog
        .newest_document()
        .map_or("none".into(), |d| d.id.clone());
    tracing::info!(
        "kbgap listening on {scheme}://{} — store {} ({machine_count} machines), catalog {} documents (newest {newest}); get a token with `kbgap token --roles Machine.Read.All,Software.Read.All,Vulnerability.Read.All`",
        listener.local_addr()?,
        store.describe(),
        catalog.documents().len(),
    );
    let app = kbgap_server::router_with(state, api_routes());
    let limits = connection_limits(args);
    match tls {
        Some(cert) => {
            kbgap_server::serve_tls(
                listener,
                app,
                limits,
                cert,
                DEFAULT_RELOAD_INTERVAL,
                shutdown_signal(),
            )
            .await?;
        }
        None => kbgap_server::serve_with_limits(listener, app, limits, shutdown_signal()).await?,
    }
    tracing::info!("kbgap stopped");
    Ok(())
}

/// The background work: following other processes' catalog and machine changes, and the
/// scheduled sync.
fn spawn_lifecycle(ctx: &Context, args: &ServeArgs, fleet: &Arc<FleetService>) {
    let cache = ctx.data_dir.join("cache");
    let reloader = Reloader::new(Arc::clone(fleet), cache);
    let follower = Follower::new(Arc::clone(fleet), reloader);
    tokio::spawn(follower.run(Duration::from_secs(args.catalog_poll)));
    match args.sync_interval.0 {
        Some(every) => {
            let sources = SyncSources {
                msrc_url: args.msrc_url.clone(),
                kev_url: args.kev_url.clone(),
            };
            let store = Arc::clone(fleet.store());
            tokio::spawn(kbgap_service::sync::run_schedule(store, sources, every));
        }
        None => tracing::info!("scheduled catalog sync is off (--sync-interval off)"),
    }
}

fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        body_idle_timeout: Duration::from_secs(args.body_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    }
}

/// Defender's documented limits, or the same quotas for every limited endpoint when given.
fn rate_limits(args: &ServeArgs) -> RateLimitConfig {
    let mut limits = RateLimitConfig::defender_defaults();
    if args.rate_per_minute.is_none() && args.rate_per_hour.is_none() {
        return limits;
    }
    let mut quotas = Vec::new();
    quotas.extend(args.rate_per_minute.map(Quota::per_minute));
    quotas.extend(args.rate_per_hour.map(Quota::per_hour));
    let classes: Vec<EndpointClass> = limits
        .quotas
        .iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(c, _)| *c)
        .collect();
    for class in classes {
        limits.set(class, quotas.clone());
    }
    limits
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
