//! kbgap's own token issuer: an ES256 key kept in the data directory.
//!
//! A fresh install must be usable without an identity provider, yet every endpoint needs a
//! token. So on first start kbgap creates a P-256 key (ECDSA keys are generated in pure Rust by
//! `ring`, which `jsonwebtoken` already uses; RSA key generation would need another crate),
//! stores it as PKCS#8 PEM readable by the owner only, and `kbgap token` signs tokens with it.
//!
//! The issuer string is derived from the public key (`https://kbgap.local/<thumbprint>`), not
//! from the data directory's path: moving the directory keeps tokens valid, and a token signed
//! by another installation's key names an issuer this one does not trust, which gives a clearer
//! refusal than a bad signature.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AuthError;

/// The key file's name inside the data directory.
pub const LOCAL_KEY_FILE: &str = "jwt-signing-key.pem";

/// The audience of tokens kbgap issues: Defender's, so clients that check it (PSMDE decodes
/// tokens itself) accept them.
pub const LOCAL_AUDIENCE: &str = "https://api.securitycenter.microsoft.com";

/// The longest lifetime any token may have, whatever its roles: the per-role limits of
/// `lifetime.rs` are lower still for every role but `Inventory.Submit`.
pub const MAX_TTL: Duration = super::lifetime::LONGEST;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// kbgap's own issuer.
pub struct LocalIssuer {
    issuer: String,
    kid: String,
    encoding: EncodingKey,
    decoding: Arc<DecodingKey>,
    x: String,
    y: String,
    key_path: PathBuf,
}

impl std::fmt::Debug for LocalIssuer {
    /// Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("key_path", &self.key_path)
            .finish()
    }
}

/// A token just signed, with what `kbgap token` records of it.
#[derive(Debug, Clone)]
pub struct SignedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `jti`: 32 lowercase hex digits.
    pub jti: String,
    /// `iat`, seconds since the epoch.
    pub issued_at: u64,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

#[derive(Serialize)]
struct IssuedClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    sub: &'a str,
    appid: &'a str,
    tid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kbgap_machine: Option<&'a str>,
    idtyp: &'a str,
    jti: String,
    ver: &'a str,
}

impl LocalIssuer {
    /// Loads `<data_dir>/jwt-signing-key.pem`, creating the directory and a new key (mode 0600)
    /// when there is none. Two processes starting at once end with the same key: the file is
    /// written aside and linked into place only if absent.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, AuthError> {
        let path = data_dir.join(LOCAL_KEY_FILE);
        let io_err = |source| AuthError::KeyFile {
            path: path.clone(),
            source,
        };
        match fs::read(&path) {
            Ok(pem) => return Self::from_pem(&pem, path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        create_private_dir(data_dir).map_err(io_err)?;
        let pem = Self::generate_pem()?;
        let tmp = data_dir.join(format!(
            ".{LOCAL_KEY_FILE}.{:016x}.tmp",
            rand::random::<u64>()
        ));
        write_private(&tmp, pem.as_bytes()).map_err(io_err)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new token signing key");
                Self::from_pem(pem.as_bytes(), path.clone())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = fs::read(&path).map_err(io_err)?;
                Self::from_pem(&existing, path.clone())
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// A new P-256 private key as PKCS#8 PEM, written nowhere (for a key kept elsewhere, such
    /// as the one servers on one database share through it).
    pub fn generate_pem() -> Result<String, AuthError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| AuthError::Signing("generating a P-256 key failed".into()))?;
        Ok(to_pem(doc.as_ref()))
    }

    /// An issuer from a PKCS#8 PEM P-256 private key (`key_path` is only reported).
    pub fn from_pem(pem: &[u8], key_path: PathBuf) -> Result<Self, AuthError> {
        let bad = |reason: &str| AuthError::BadKeyFile {
            path: key_path.clone(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(pem).map_err(|_| bad("not UTF-8 text"))?;
        let start = text
            .find(PEM_BEGIN)
            .ok_or_else(|| bad("no BEGIN PRIVATE KEY line"))?
            + PEM_BEGIN.len();
        let end = text[start..]
            .find(PEM_END)
            .ok_or_else(|| bad("no END PRIVATE KEY line"))?
            + start;
        let b64: String = text[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(b64).map_err(|_| bad("invalid base64"))?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| bad("not a P-256 key"))?;
        let public = pair.public_key().as_ref();
        if public.len() != 65 || public[0] != 0x04 {
            return Err(bad("unexpected public key encoding"));
        }
        let x = URL_SAFE_NO_PAD.encode(&public[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&public[33..65]);
        // RFC 7638 thumbprint: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let issuer = format!(
            "https://kbgap.local/{}",
            hex::encode(&Sha256::digest(public)[..8])
        );
        let decoding =
            DecodingKey::from_ec_components(&x, &y).map_err(|_| bad("unusable public key"))?;
        Ok(Self {
            issuer,
            kid,
            encoding: EncodingKey::from_ec_der(&der),
            decoding: Arc::new(decoding),
            x,
            y,
            key_path,
        })
    }

    /// The `iss` of tokens this issuer signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` of tokens this issuer signs (the key's RFC 7638 thumbprint).
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// Where the private key lives.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The public key as a JWK, for publishing or for verifiers elsewhere.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid, "x": self.x, "y": self.y})
    }

    pub(crate) fn decoding_key(&self) -> Arc<DecodingKey> {
        Arc::clone(&self.decoding)
    }

    /// An application token (like Entra's client-credentials tokens) with these `roles`, for
    /// tenant `tid` and application `appid`, valid from now for `ttl`.
    pub fn issue(
        &self,
        roles: &[String],
        tenant: &str,
        app: &str,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        if let Some(r) = roles
            .iter()
            .find(|r| r.trim().is_empty() || r.contains(char::is_whitespace))
        {
            return Err(AuthError::InvalidRequest(format!("invalid role {r:?}")));
        }
        self.sign(Some(roles), None, None, tenant, app, app, "app", ttl)
            .map(|s| s.token)
    }

    /// An application token with these `roles`, bound to `machine` when given (then `roles`
    /// must be just `Inventory.Submit`), with its `jti` and times for the record.
    pub fn issue_app(
        &self,
        roles: &[String],
        machine: Option<&str>,
        tenant: &str,
        app: &str,
        ttl: Duration,
    ) -> Result<SignedToken, AuthError> {
        if let Some(r) = roles
            .iter()
            .find(|r| r.trim().is_empty() || r.contains(char::is_whitespace))
        {
            return Err(AuthError::InvalidRequest(format!("invalid role {r:?}")));
        }
        let machine = match machine.map(str::trim) {
            Some(m) if m.is_empty() || m.contains(char::is_whitespace) => {
                return Err(AuthError::InvalidRequest(format!(
                    "invalid machine name {m:?}"
                )));
            }
            Some(m) => {
                if roles != [super::roles::INVENTORY_SUBMIT] {
                    return Err(AuthError::InvalidRequest(format!(
                        "a token bound to a machine has the single role {}",
                        super::roles::INVENTORY_SUBMIT
                    )));
                }
                Some(m)
            }
            None => None,
        };
        self.sign(Some(roles), None, machine, tenant, app, app, "app", ttl)
    }

    /// An ingest-only token: the single role `Inventory.Submit`, accepted only for reports of
    /// computer `machine` (see [`crate::auth::Principal::machine`]).
    pub fn issue_for_machine(
        &self,
        machine: &str,
        tenant: &str,
        app: &str,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let machine = machine.trim();
        if machine.is_empty() || machine.contains(char::is_whitespace) {
            return Err(AuthError::InvalidRequest(format!(
                "invalid machine name {machine:?}"
            )));
        }
        let roles = [super::roles::INVENTORY_SUBMIT.to_owned()];
        self.sign(
            Some(&roles),
            None,
            Some(machine),
            tenant,
            app,
            app,
            "app",
            ttl,
        )
        .map(|s| s.token)
    }

    /// A delegated token (acting for `user`) with these `scp` scopes.
    pub fn issue_delegated(
        &self,
        scopes: &[String],
        tenant: &str,
        app: &str,
        user: &str,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        if scopes.is_empty()
            || scopes
                .iter()
                .any(|s| s.trim().is_empty() || s.contains(char::is_whitespace))
        {
            return Err(AuthError::InvalidRequest(
                "delegated tokens need non-empty scopes without spaces".into(),
            ));
        }
        self.sign(
            None,
            Some(scopes.join(" ")),
            None,
            tenant,
            app,
            user,
            "user",
            ttl,
        )
        .map(|s| s.token)
    }

    #[allow(clippy::too_many_arguments)] // private helper behind two narrow public constructors
    fn sign(
        &self,
        roles: Option<&[String]>,
        scp: Option<String>,
        machine: Option<&str>,
        tenant: &str,
        app: &str,
        sub: &str,
        idtyp: &str,
        ttl: Duration,
    ) -> Result<SignedToken, AuthError> {
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(AuthError::InvalidRequest(format!(
                "the lifetime must be between 1 second and {} days",
                MAX_TTL.as_secs() / 86_400
            )));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| AuthError::Signing(e.to_string()))?
            .as_secs();
        let claims = IssuedClaims {
            aud: LOCAL_AUDIENCE,
            iss: &self.issuer,
            iat: now,
            nbf: now,
            exp: now + ttl.as_secs(),
            sub,
            appid: app,
            tid: tenant,
            roles,
            scp,
            kbgap_machine: machine,
            idtyp,
            jti: format!("{:032x}", rand::random::<u128>()),
            ver: "1.0",
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok(SignedToken {
            token,
            jti: claims.jti,
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }
}

fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + 80);
    out.push_str(PEM_BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

/// Creates `dir` and missing parents, new ones readable by the owner only (the data dir holds
/// the key and the machines' inventories).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` readable and writable by the owner only, writes `bytes` and syncs.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let a = LocalIssuer::load_or_create(&data).unwrap();
        let b = LocalIssuer::load_or_create(&data).unwrap();
        assert_eq!(a.issuer(), b.issuer());
        assert_eq!(a.key_id(), b.key_id());
        assert!(a.issuer().starts_with("https://kbgap.local/"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(a.key_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(LOCAL_KEY_FILE)]);
    }

    #[test]
    fn refuses_garbage_key_files_and_bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCAL_KEY_FILE), "hello").unwrap();
        assert!(matches!(
            LocalIssuer::load_or_create(dir.path()),
            Err(AuthError::BadKeyFile { .. })
        ));
        let other = tempfile::tempdir().unwrap();
        let issuer = LocalIssuer::load_or_create(other.path()).unwrap();
        assert!(
            issuer
                .issue(&["Software.Read.All".into()], "t", "a", Duration::ZERO)
                .is_err()
        );
        assert!(
            issuer
                .issue(&["two words".into()], "t", "a", Duration::from_secs(60))
                .is_err()
        );
        assert_eq!(
            issuer
                .issue(&[], "t", "a", Duration::from_secs(60))
                .unwrap()
                .split('.')
                .count(),
            3
        );
    }
}
