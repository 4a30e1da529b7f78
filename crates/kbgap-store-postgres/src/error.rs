//! sqlx errors as [`StoreError`]s, with what was being done.

use kbgap_store::StoreError;

/// Maps a driver error, prefixed with `context`. A uniqueness violation is a
/// [`StoreError::Conflict`]; anything else a [`StoreError::Backend`]. Statement errors never
/// carry the connection URL; errors of connecting go through [`scrub`] as well.
pub(crate) fn db(context: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("{context}: {d}"))
        }
        _ => StoreError::Backend(format!("{context}: {e}")),
    }
}

/// `message` with every occurrence of the URL's password (as written, and percent-decoded)
/// replaced by `****`.
pub(crate) fn scrub(message: String, url: &str) -> String {
    let Some(password) = password_of(url) else {
        return message;
    };
    let mut out = message;
    for secret in [percent_decode(password), password.to_owned()] {
        if !secret.is_empty() {
            out = out.replace(&secret, "****");
        }
    }
    out
}

fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, p)| p)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `f` on tokio's blocking pool (CPU work must not stall the async runtime).
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("worker task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_scrubbed_as_written_and_decoded() {
        let url = "postgres://kbgap:p%40ss@127.0.0.1/db";
        assert_eq!(
            scrub("bad p@ss and p%40ss".into(), url),
            "bad **** and ****"
        );
        assert_eq!(scrub("nothing".into(), "postgres://h/db"), "nothing");
    }
}
