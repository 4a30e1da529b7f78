//! The compiled-catalog cache file's integrity check.
//!
//! The cache (`<data-dir>/cache/catalog-<key>.bin`) is a snapshot the next run maps back into
//! a catalog without recompiling. A damaged file — a flipped bit on disk, a truncated copy —
//! silently changed scan answers 1 time in 40 (issue 13, F7), so the file is sealed: the
//! snapshot, then its CRC-32 (little-endian), then a magic marker. A file whose marker or
//! checksum does not match is refused, and the caller recompiles. CRC-32 (crc32fast, SIMD)
//! checks the 7 MB snapshot in about a millisecond, which keeps `kbgap scan` fast; it detects
//! every burst error up to 32 bits and accidental damage in general, not deliberate tampering
//! (anyone who can write the cache can write the store beside it).

/// Ends every sealed cache file; the version digit changes if the layout ever does.
const MAGIC: &[u8; 8] = b"KBGAPCK1";
/// Bytes after the snapshot: the checksum and the marker.
const TRAILER: usize = 4 + MAGIC.len();

/// Why a cache file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// Too short, or not ending with the marker: not a sealed cache (an older kbgap's, say).
    #[error(
        "not a sealed catalog cache (no {} marker)",
        String::from_utf8_lossy(MAGIC)
    )]
    NotSealed,
    /// The snapshot's checksum differs from the stored one.
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum {
        /// The CRC-32 in the file.
        stored: u32,
        /// The CRC-32 of the snapshot as read.
        computed: u32,
    },
}

/// The snapshot with its checksum and marker appended.
pub fn seal(mut snapshot: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&snapshot);
    snapshot.reserve_exact(TRAILER);
    snapshot.extend_from_slice(&crc.to_le_bytes());
    snapshot.extend_from_slice(MAGIC);
    snapshot
}

/// The snapshot of a sealed file, checked; truncates in place (no copy of the snapshot).
pub fn unseal(mut file: Vec<u8>) -> Result<Vec<u8>, CacheError> {
    let body_len = file
        .len()
        .checked_sub(TRAILER)
        .ok_or(CacheError::NotSealed)?;
    if &file[file.len() - MAGIC.len()..] != MAGIC {
        return Err(CacheError::NotSealed);
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&file[body_len..body_len + 4]);
    let stored = u32::from_le_bytes(crc);
    let computed = crc32fast::hash(&file[..body_len]);
    if stored != computed {
        return Err(CacheError::Checksum { stored, computed });
    }
    file.truncate(body_len);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_every_single_bit_flip() {
        let snapshot: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let sealed = seal(snapshot.clone());
        assert_eq!(unseal(sealed.clone()).unwrap(), snapshot);
        for bit in 0..sealed.len() * 8 {
            let mut damaged = sealed.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(unseal(damaged).is_err(), "bit {bit} flipped went unnoticed");
        }
    }

    #[test]
    fn unsealed_and_short_files_are_refused() {
        assert_eq!(unseal(b"abc".to_vec()), Err(CacheError::NotSealed));
        assert_eq!(
            unseal(b"an old snapshot without a trailer".to_vec()),
            Err(CacheError::NotSealed)
        );
        let mut truncated = seal(vec![1, 2, 3, 4, 5]);
        truncated.remove(0);
        assert!(matches!(
            unseal(truncated),
            Err(CacheError::Checksum { .. })
        ));
    }
}
