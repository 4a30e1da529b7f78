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
use kbgap_service::webhook::{Webhook, WebhookConfig};

use crate::cli::ServeArgs;
use crate::commands::catalog::staleness_warning;
use crate::context::Context;

pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    raise_open_files(args.max_connections);
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
    let webhook = start_webhook(args)?;
    spawn_lifecycle(ctx, args, &fleet, webhook.clone());
    let authenticator = Authenticator::new(auth)?;
    follow_revocations(fleet.store(), &authenticator).await?;
    let state = AppState::new(authenticator, limits)
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
        "kbgap listening on {scheme}://{} — store {} ({machine_count} machines), catalog {} documents (newest {newest}); get a token with `{}`",
        listener.local_addr()?,
        store.describe(),
        catalog.documents().len(),
        token_hint(ctx),
    );
    // The dashboard shares the listener; its session cookie is Secure under TLS.
    let dashboard =
        kbgap_dashboard::routes(kbgap_dashboard::DashboardConfig { tls: tls.is_some() });
    let app = kbgap_server::router_with(state, api_routes().merge(dashboard));
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
    if let Some(webhook) = webhook {
        // Events of the last batch window go out now rather than being lost with the process.
        if webhook.drain(WEBHOOK_DRAIN).await {
            tracing::info!("webhook deliveries sent");
        } else {
            tracing::warn!(
                "webhook deliveries still waiting after {} s were not sent",
                WEBHOOK_DRAIN.as_secs()
            );
        }
    }
    tracing::info!("kbgap stopped");
    Ok(())
}

/// How long a stopping server waits for its webhook deliveries.
const WEBHOOK_DRAIN: Duration = Duration::from_secs(10);

/// Loads the store's token revocations before the port opens (a revoked token is never
/// accepted, not even by a fresh start) and follows them: other processes revoke.
async fn follow_revocations(
    store: &Arc<dyn kbgap_store::Store>,
    auth: &Authenticator,
) -> Result<()> {
    let list = Arc::clone(auth.revocations());
    list.load(store.as_ref())
        .await
        .context("reading token revocations")?;
    let poll = kbgap_service::tokens::DEFAULT_POLL;
    tokio::spawn(kbgap_service::tokens::follow(Arc::clone(store), list, poll));
    Ok(())
}

/// The `kbgap token` command a newcomer runs next: roles to post inventory
/// (`Machine.ReadWrite.All`, which includes `Machine.Read.All`) and to read every answer, and
/// this server's data dir when it is not the default (the token is signed with its key).
fn token_hint(ctx: &Context) -> String {
    let mut hint = String::from("kbgap");
    if ctx.data_dir != crate::context::default_data_dir() {
        let dir = ctx.data_dir.display().to_string();
        let plain = (dir.chars()).all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c));
        if plain {
            hint.push_str(&format!(" --data-dir {dir}"));
        } else {
            hint.push_str(&format!(" --data-dir '{}'", dir.replace('\'', "'\\''")));
        }
    }
    hint.push_str(" token --roles ");
    hint.push_str(TOKEN_HINT_ROLES);
    hint
}

/// What the start line's token hint grants: every endpoint's role.
const TOKEN_HINT_ROLES: &str = "Machine.ReadWrite.All,Software.Read.All,Vulnerability.Read.All";

/// The background work: following other processes' catalog and machine changes, the
/// scheduled sync, and the daily fleet snapshot.
fn spawn_lifecycle(
    ctx: &Context,
    args: &ServeArgs,
    fleet: &Arc<FleetService>,
    webhook: Option<Webhook>,
) {
    let cache = ctx.data_dir.join("cache");
    let mut reloader = Reloader::new(Arc::clone(fleet), cache);
    if let Some(webhook) = webhook {
        fleet.set_webhook(webhook.clone());
        reloader = reloader.with_webhook(webhook);
    }
    let follower = Follower::new(Arc::clone(fleet), reloader);
    tokio::spawn(follower.run(Duration::from_secs(args.catalog_poll)));
    // Today's fleet counts now, then at every UTC midnight: the dashboard's posture trend.
    tokio::spawn(kbgap_service::history::run_daily(Arc::clone(fleet)));
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

/// `--webhook`: checked before the port opens, so a bad URL stops the start.
fn start_webhook(args: &ServeArgs) -> Result<Option<Webhook>> {
    let (Some(url), Some(secret)) = (&args.webhook, &args.webhook_secret) else {
        return Ok(None);
    };
    let mut config = WebhookConfig::new(url.clone(), secret.clone());
    config.batch_window = Duration::from_secs(args.webhook_batch);
    let webhook = Webhook::start(config)?;
    // Only the origin: a chat webhook's path is itself a secret.
    let origin =
        reqwest::Url::parse(url).map_or(String::new(), |u| u.origin().ascii_serialization());
    tracing::info!("webhook deliveries go to {origin}");
    Ok(Some(webhook))
}

fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        body_idle_timeout: Duration::from_secs(args.body_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    }
}

/// Open files a server needs besides its connections: the database pool, the store's files,
/// the catalog cache, TLS files, the change feed, and some to spare.
const FILES_BESIDES_CONNECTIONS: u64 = 256;

/// Raises this process's open-files limit (the soft one, up to the hard one) to fit
/// `--max-connections`: with the common default of 1,024 a server at its cap would fail
/// `accept` and its own file opens with "Too many open files". Says so when the hard limit is
/// too low to fit.
fn raise_open_files(max_connections: u64) {
    let wanted = max_connections.saturating_add(FILES_BESIDES_CONNECTIONS);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got >= wanted => tracing::debug!("open-files limit {got}"),
        Ok(got) => tracing::warn!(
            "--max-connections {max_connections} needs about {wanted} open files, but this process may open {got}: raise the hard limit (systemd LimitNOFILE=, `ulimit -Hn`) or lower --max-connections"
        ),
        Err(e) => tracing::warn!("could not raise the open-files limit: {e}"),
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
