//! TLS for `kbgap serve --tls-cert PEM --tls-key PEM` (rustls, ring), with the certificate
//! reloaded when its files change.
//!
//! Certificates are renewed often (ACME every 60–90 days) and a restart to pick one up drops
//! connections, so the resolver checks the two files' modification times and sizes every few
//! seconds and, when either changed, loads the pair anew; every new handshake then gets the new
//! certificate. A pair that fails to load (a renewal caught half-written, a key that does not
//! match) is logged and the previous one stays in use, so a bad renewal never takes the server
//! down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for a change (the `kbgap serve` default).
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The `Strict-Transport-Security` value sent on every answer over TLS: one year, so browsers
/// and clients that honour it never fall back to plain HTTP.
pub const HSTS: &str = "max-age=31536000";

/// Why a certificate pair could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable, not PEM, or holds no certificate.
    #[error("reading the TLS certificate chain {}: {message}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The key file is unreadable or holds no private key in PEM.
    #[error("reading the TLS private key {}: {message}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the pair (unsupported key type, key not matching the certificate).
    #[error("the TLS key and certificate cannot be used together: {0}")]
    Pair(String),
}

/// The certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What tells a changed file: modification time and size of each.
type Stamp = [(Option<SystemTime>, u64); 2];

fn stamp(files: &TlsFiles) -> Stamp {
    let one = |p: &Path| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
    [one(&files.cert), one(&files.key)]
}

fn provider() -> CryptoProvider {
    ring::default_provider()
}

fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_err = |message: String| TlsError::Cert {
        path: files.cert.clone(),
        message,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        message: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| TlsError::Pair(e.to_string()))
}

/// The server certificate, reloaded from its files when they change.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

impl ReloadingCert {
    /// Loads the pair; fails when it cannot be used (so a bad start is loud).
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let before = stamp(&files);
        let key = load(&files)?;
        Ok(Self {
            files,
            current: RwLock::new((key, before)),
        })
    }

    /// Loads the pair again if either file changed; `Ok(true)` when a new one is in use. On an
    /// error the previous pair stays in use, and the same files are tried again next time.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.files);
        if self.read().1 == now {
            return Ok(false);
        }
        let key = load(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = (key, now);
        Ok(true)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Arc<CertifiedKey>, Stamp)> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A TLS acceptor (TLS 1.2 and 1.3, HTTP/1.1 by ALPN) serving this certificate.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Pair(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Checks the files every `every` until the task is aborted, logging each reload.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let me = Arc::clone(&this);
                match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                    Ok(Ok(true)) => tracing::info!(
                        cert = %this.files.cert.display(),
                        "TLS certificate reloaded"
                    ),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!("{e}; still serving the previous certificate");
                    }
                    Err(e) => tracing::warn!("TLS reload task failed: {e}"),
                }
            }
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.read().0))
    }
}
