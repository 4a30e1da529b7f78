//! How a document is stored: `postcard` bytes of [`kbgap_core::Document`], compressed with zstd.
//!
//! postcard is compact and fast to decode, and zstd shrinks it about five times more; both
//! backends store exactly these bytes, with the uncompressed length beside them so
//! decompression allocates once. postcard is not self-describing, so each payload is stored
//! with the number of its format ([`PAYLOAD_FORMAT`]): a payload of another format is reported
//! as [`StoreError::OldFormat`] (and a re-import replaces it) instead of decoding into garbage.

use kbgap_core::Document;

use crate::StoreError;

/// The payload format written by this build. Bump it whenever the serialized shape of
/// [`kbgap_core::Document`] (or anything it contains) changes.
pub const PAYLOAD_FORMAT: i32 = 2;

/// zstd level: 3 is zstd's default, a good trade between import time and size.
const ZSTD_LEVEL: i32 = 3;

/// The largest uncompressed payload accepted on read (the biggest real MSRC document encodes to
/// a few MB); a larger stored length means the row is corrupt, not that we should allocate it.
const MAX_RAW_LEN: usize = 1 << 30;

/// A document ready to store.
#[derive(Debug, Clone)]
pub struct EncodedDocument {
    /// Uncompressed (postcard) length.
    pub raw_len: i64,
    /// zstd-compressed postcard bytes.
    pub payload: Vec<u8>,
}

/// A stored payload as read from a row.
#[derive(Debug, Clone)]
pub struct StoredPayload {
    /// The document id (for error messages).
    pub id: String,
    /// The format it was written with.
    pub format: i32,
    /// Its uncompressed length.
    pub raw_len: i64,
    /// The compressed bytes.
    pub payload: Vec<u8>,
}

/// Encodes one document.
pub fn encode_document(doc: &Document) -> Result<EncodedDocument, StoreError> {
    let raw = postcard::to_allocvec(doc).map_err(|e| {
        StoreError::Invalid(format!("document {}: cannot encode: {e}", doc.info.id))
    })?;
    let payload = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| {
        StoreError::Invalid(format!("document {}: cannot compress: {e}", doc.info.id))
    })?;
    let raw_len = i64::try_from(raw.len())
        .map_err(|_| StoreError::Invalid(format!("document {}: too large", doc.info.id)))?;
    Ok(EncodedDocument { raw_len, payload })
}

/// Decodes one stored payload.
pub fn decode_document(stored: &StoredPayload) -> Result<Document, StoreError> {
    let what = || format!("catalog document {}", stored.id);
    if stored.format != PAYLOAD_FORMAT {
        return Err(StoreError::OldFormat {
            what: what(),
            found: stored.format,
            expected: PAYLOAD_FORMAT,
        });
    }
    let raw_len = usize::try_from(stored.raw_len)
        .ok()
        .filter(|&n| n > 0 && n <= MAX_RAW_LEN)
        .ok_or_else(|| {
            StoreError::corrupt(what(), format!("implausible length {}", stored.raw_len))
        })?;
    let raw = zstd::bulk::decompress(&stored.payload, raw_len)
        .map_err(|e| StoreError::corrupt(what(), format!("zstd: {e}")))?;
    if raw.len() != raw_len {
        return Err(StoreError::corrupt(
            what(),
            format!("{} bytes decompressed, {raw_len} expected", raw.len()),
        ));
    }
    let doc: Document = postcard::from_bytes(&raw)
        .map_err(|e| StoreError::corrupt(what(), format!("postcard: {e}")))?;
    if doc.info.id != stored.id {
        return Err(StoreError::corrupt(
            what(),
            format!("payload holds document {}", doc.info.id),
        ));
    }
    Ok(doc)
}

/// Decodes many payloads, in order. Call it from a blocking context
/// (`tokio::task::spawn_blocking`): decoding a catalog is CPU work.
///
/// One thread on purpose: decoding is bound by allocation (a document is many small strings),
/// and spreading it over this 2-core machine's cores measured slower, not faster — the second
/// thread's malloc arena page-faulted its memory in (4× the system time, 1.8× the resident
/// memory) for no gain.
pub fn decode_documents(stored: &[StoredPayload]) -> Result<Vec<Document>, StoreError> {
    stored.iter().map(decode_document).collect()
}

/// Encodes many documents, in order (see [`decode_documents`] on threads).
pub fn encode_documents(docs: &[&Document]) -> Result<Vec<EncodedDocument>, StoreError> {
    docs.iter().map(|d| encode_document(d)).collect()
}

/// A device as stored: its JSON.
pub fn encode_device(device: &kbgap_core::Device) -> Result<String, StoreError> {
    serde_json::to_string(device).map_err(|e| {
        StoreError::Invalid(format!(
            "machine {}: cannot encode: {e}",
            device.computer_dns_name
        ))
    })
}

/// A stored device's JSON, read back.
pub fn decode_device(id: &str, json: &str) -> Result<kbgap_core::Device, StoreError> {
    let mut device: kbgap_core::Device = serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt(format!("machine {id}"), format!("device JSON: {e}")))?;
    // Stored machines are kept in memory by the million (the fleet view).
    device.shrink_to_fit();
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device read back holds no spare room in its lists (JSON grows one to four elements).
    #[test]
    fn decoded_devices_keep_no_spare_capacity() {
        let device = kbgap_core::Device {
            computer_dns_name: "host".into(),
            products: vec!["Windows 10 Version 22H2 for x64-based Systems".into()],
            software: vec![kbgap_core::InstalledSoftware {
                vendor: "Microsoft Corporation".into(),
                name: "Microsoft .NET Framework 4.8.1".into(),
                version: Some("4.8.09032".into()),
            }],
            warnings: vec!["w".into()],
            machine_tags: vec!["prod".into()],
            ..Default::default()
        };
        let back = decode_device("m", &encode_device(&device).unwrap()).unwrap();
        assert_eq!(back, device);
        assert_eq!(back.products.capacity(), 1);
        assert_eq!(back.software.capacity(), 1);
        assert_eq!(back.warnings.capacity(), 1);
        assert_eq!(back.machine_tags.capacity(), 1);
    }
    use kbgap_core::{DocumentInfo, Revision};

    fn doc(id: &str) -> Document {
        Document {
            info: DocumentInfo {
                id: id.into(),
                title: "t".into(),
                revision: Revision(vec![1]),
                initial_release: "2020-03-10T07:00:00".into(),
                current_release: "2020-03-10T07:00:00".into(),
            },
            products: vec![],
            vulnerabilities: vec![],
            warnings: vec![],
        }
    }

    fn stored(d: &Document) -> StoredPayload {
        let e = encode_document(d).unwrap();
        StoredPayload {
            id: d.info.id.clone(),
            format: PAYLOAD_FORMAT,
            raw_len: e.raw_len,
            payload: e.payload,
        }
    }

    /// A machine as kbgap stored it before `hotpatch`, `winreVersion` and `endOfSupport` existed
    /// (and with KBs as numbers): it still loads, with the new fields at their defaults.
    #[test]
    fn machines_stored_by_older_versions_still_load() {
        let old = r#"{"computerDnsName":"PC1","osName":"Microsoft Windows 10 Enterprise",
            "osVersion":"10.0.19045","ubr":3803,"architecture":"x64","installationType":"Client",
            "products":["Windows 10 Version 22H2 for x64-based Systems"],
            "installedKbs":[5034441,5034122],"warnings":[]}"#;
        let d = decode_device("m1", old).unwrap();
        assert_eq!(d.installed_kbs.len(), 2);
        assert!(!d.hotpatch);
        assert_eq!((d.winre_version, d.end_of_support.as_deref()), (None, None));
        // Stored again, it keeps everything, now with KBs as digit strings.
        let mut d2 = d.clone();
        d2.hotpatch = true;
        d2.winre_version = Some("10.0.19041.5000".parse().unwrap());
        let json = encode_device(&d2).unwrap();
        assert!(
            json.contains(r#""installedKbs":["5034122","5034441"]"#),
            "{json}"
        );
        assert!(
            json.contains(r#""winreVersion":"10.0.19041.5000""#),
            "{json}"
        );
        assert_eq!(decode_device("m1", &json).unwrap(), d2);
    }

    #[test]
    fn round_trips_in_order() {
        let docs: Vec<Document> = (0..7).map(|i| doc(&format!("d{i}"))).collect();
        let payloads: Vec<StoredPayload> = docs.iter().map(stored).collect();
        assert_eq!(decode_documents(&payloads).unwrap(), docs);
    }

    #[test]
    fn damage_is_reported_as_corrupt_with_the_document_id() {
        let good = stored(&doc("2020-Mar"));
        let mut truncated = good.clone();
        truncated.payload.truncate(truncated.payload.len() / 2);
        let mut old_format = good.clone();
        old_format.format = PAYLOAD_FORMAT - 1;
        assert!(matches!(
            decode_document(&old_format),
            Err(StoreError::OldFormat { found, .. }) if found == PAYLOAD_FORMAT - 1
        ));
        let mut wrong_len = good.clone();
        wrong_len.raw_len = -1;
        let mut other_id = good.clone();
        other_id.id = "2020-Apr".into();
        for bad in [truncated, wrong_len, other_id] {
            match decode_document(&bad) {
                Err(StoreError::Corrupt { what, .. }) => assert!(what.contains(&bad.id), "{what}"),
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }
}
