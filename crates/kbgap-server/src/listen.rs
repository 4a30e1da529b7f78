//! Accepting connections with limits a slow or hostile client cannot outlast.
//!
//! `axum::serve` keeps a connection as long as the client does: half a header, a header line
//! every few seconds or a body byte every few seconds held a socket forever, and enough of them
//! exhausted the open-files limit (issue 13, F1). This loop serves the same application with:
//!
//! * a **header timeout** (hyper's `header_read_timeout`): from the moment hyper starts waiting
//!   for a request — a new connection, or the end of the previous response on a kept-alive one —
//!   the whole header must arrive within it, so it is also the idle keep-alive timeout;
//! * a **body idle timeout** (tower-http's `RequestBodyTimeout`): no gap longer than it between
//!   body chunks; together with the request deadline ([`crate::deadline`]) it bounds a body sent
//!   a byte at a time;
//! * a **connection cap**: a permit is taken *before* `accept`, so beyond the cap connections wait
//!   in the kernel's backlog instead of costing a file descriptor each, and are served as soon as
//!   a connection ends (the header timeout guarantees one does);
//! * **backoff** when `accept` itself fails (`EMFILE`, `ENFILE`, `ENOBUFS`): 10 ms doubling to 1 s,
//!   reset by the next success, instead of retrying at once;
//! * refusals hyper makes before the application sees a request (400, 414, 431) answered in
//!   Defender's shape ([`crate::refusal`]);
//! * optionally TLS ([`serve_tls`], [`crate::tls`]): the handshake must end within the header
//!   timeout, and every answer carries `Strict-Transport-Security`.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceBuilder;
use tower::util::{MapRequestLayer, MapResponseLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::extract::ServedOverTls;
use crate::refusal::ShapedRefusals;
use crate::tls::{HSTS, ReloadingCert};

/// Per-connection limits of [`serve_with_limits`]; the defaults are those of `kbgap serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time allowed for a complete request header, counted from the connection's start or the
    /// end of the previous response (so also the idle keep-alive timeout).
    pub header_timeout: Duration,
    /// Longest gap allowed between two chunks of a request body.
    pub body_idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog. Keep it well below the
    /// process's open-files limit (`ulimit -n`), which the store and logs also use.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// Default header timeout: generous for a collector on a slow link, short for a slow-loris.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default body idle timeout.
    pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default connection cap: half of the common 1,024 open-files limit.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_idle_timeout: Self::DEFAULT_BODY_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then stops accepting and
/// waits for open connections to finish their requests.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_inner(listener, app, limits, None, shutdown).await
}

/// [`serve_with_limits`] over TLS with `cert`, whose files are checked for a new certificate
/// every `reload_every`.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    cert: Arc<ReloadingCert>,
    reload_every: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let acceptor = cert.acceptor().map_err(io::Error::other)?;
    let reloader = cert.spawn_reloader(reload_every);
    let served = serve_inner(listener, app, limits, Some(acceptor), shutdown).await;
    reloader.abort();
    served
}

async fn serve_inner(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let hsts = tls.as_ref().map(|_| HeaderValue::from_static(HSTS));
    let over_tls = tls.is_some();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = ServiceBuilder::new()
        .layer(MapResponseLayer::new(move |mut r: Response| {
            if let Some(v) = &hsts {
                r.headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, v.clone());
            }
            r
        }))
        .layer(MapRequestLayer::new(
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                if over_tls {
                    req.extensions_mut().insert(ServedOverTls);
                }
                req
            },
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout))
        .service(app);
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // never closed; ends the loop rather than panicking
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let tcp = match accepted {
            Ok((tcp, _peer)) => {
                backoff.reset();
                tcp
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "accept failed; backing off");
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        // Small JSON answers must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        let service = TowerToHyperService::new(service.clone());
        let watcher = graceful.watcher();
        let Some(acceptor) = tls.clone() else {
            let conn = watcher
                .watch(http.serve_connection(TokioIo::new(ShapedRefusals::new(tcp)), service));
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    // Timeouts and resets end here; they are the client's doing, not ours.
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        let http = http.clone();
        let handshake_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!("TLS handshake timed out"),
            };
            let conn = watcher
                .watch(http.serve_connection(TokioIo::new(ShapedRefusals::new(stream)), service));
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors that concern one connection only: the next `accept` can succeed at once.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Exponential backoff for a failing `accept`: 10 ms, 20 ms, … at most 1 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn next_wait(&mut self) -> Duration {
        let wait = Self::FIRST.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        wait.min(Self::MAX)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..9).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(10));
    }

    #[test]
    fn emfile_is_not_a_per_connection_error() {
        let emfile = io::Error::from_raw_os_error(24);
        assert!(!is_per_connection(&emfile));
        assert!(is_per_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}
