//! The signature every delivery carries, so a receiver can tell kbgap's POSTs from anyone's and
//! refuse an old one replayed.
//!
//! `X-Kbgap-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, where
//! `<timestamp>` is the `X-Kbgap-Timestamp` header (Unix seconds, when the attempt was made)
//! and `<body>` the exact bytes of the request body. The timestamp is inside the signed text,
//! so it cannot be changed without the secret; a receiver refuses deliveries whose timestamp is
//! more than [`TOLERANCE`] from its clock. Each retry is signed anew with its own timestamp.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "x-kbgap-signature";
/// The header holding the signed Unix timestamp.
pub const TIMESTAMP_HEADER: &str = "x-kbgap-timestamp";
/// The header naming the event (`catalog.missingKbs`, `machines.exploited`).
pub const EVENT_HEADER: &str = "x-kbgap-event";
/// The header holding the delivery id (the same on every retry of one delivery).
pub const DELIVERY_HEADER: &str = "x-kbgap-delivery";
/// How far from the receiver's clock a timestamp may be, in seconds (the suggested check).
pub const TOLERANCE: i64 = 300;

/// The `X-Kbgap-Signature` value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature header is not `sha256=<64 hex digits>`.
    #[error("the signature is not `sha256=<hex>`")]
    Malformed,
    /// The signature does not match the body and timestamp.
    #[error("the signature does not match")]
    Mismatch,
    /// The timestamp is too far from `now`.
    #[error("the timestamp is {0} s from now (more than {TOLERANCE} s)")]
    Stale(i64),
}

/// What a receiver checks: the signature of `body` at `timestamp` (compared in constant time),
/// and that `timestamp` is within [`TOLERANCE`] of `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), VerifyError> {
    let given = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Malformed)?;
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)?;
    let skew = (now - timestamp).abs();
    if skew > TOLERANCE {
        return Err(VerifyError::Stale(skew));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // Python: hmac.new(b"Jefe", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        let expected = "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a";
        assert_eq!(sign(b"Jefe", 1_700_000_000, b"{\"a\":1}"), expected);
    }

    #[test]
    fn refuses_a_changed_body_timestamp_or_secret_and_an_old_timestamp() {
        let sig = sign(b"s3cret", 1_000, b"body");
        assert_eq!(verify(b"s3cret", 1_000, b"body", &sig, 1_010), Ok(()));
        assert_eq!(
            verify(b"s3cret", 1_000, b"bodY", &sig, 1_010),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", 1_001, b"body", &sig, 1_010),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", 1_000, b"body", &sig, 1_010),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", 1_000, b"body", &sig, 1_400),
            Err(VerifyError::Stale(400))
        );
        assert_eq!(
            verify(b"s3cret", 1_000, b"body", "md5=00", 1_000),
            Err(VerifyError::Malformed)
        );
    }
}
