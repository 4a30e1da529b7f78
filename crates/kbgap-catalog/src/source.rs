//! From raw bytes to a stream of XML: compression sniffing, streaming decompression, BOM removal.
//!
//! The format is decided by the first bytes, never by the file name: the MSRC API may answer with
//! any of them, users rename files, and the bundled copy is zstd. The name is only used to word an
//! error ("`x.xml.gz`: not a gzip stream") when the bytes are neither compressed nor XML.
//!
//! Decompression errors travel through the XML parser as `io::Error`s; they are tagged here so that
//! [`classify_io`] can tell a truncated download from a disk read error afterwards.

use std::io::{self, Cursor, Read};

use crate::error::{CatalogError, Compression};

const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
/// How many decompressed bytes are looked at to decide whether the content is XML.
const PEEK: usize = 64;

/// The compression format announced by a stream's first bytes.
pub(crate) fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// Opens `input` (named `name` in errors): sniffs, decompresses as a stream, strips a UTF-8 BOM,
/// and refuses content that cannot be XML. The result is the document's bytes, ready for the XML
/// parser.
pub(crate) fn open<'a, R: Read + 'a>(
    input: R,
    name: &str,
) -> Result<Box<dyn Read + 'a>, CatalogError> {
    let mut raw = SourceReader(input);
    let head = read_prefix(&mut raw, ZSTD_MAGIC.len()).map_err(|e| classify_io(e, name))?;
    if head.is_empty() {
        return Err(CatalogError::Empty {
            input: name.to_owned(),
            compression: Compression::None,
        });
    }
    let compression = sniff(&head);
    let joined = Cursor::new(head).chain(raw);
    let mut decoded: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(joined),
        Compression::Gzip => Box::new(Tagged {
            inner: flate2::read::MultiGzDecoder::new(joined),
            compression,
        }),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(joined)
                .map_err(|e| classify_io(tag(e, compression), name))?;
            Box::new(Tagged {
                inner: decoder,
                compression,
            })
        }
    };

    let mut peek = read_prefix(&mut decoded, PEEK).map_err(|e| classify_io(e, name))?;
    if peek.is_empty() {
        return Err(CatalogError::Empty {
            input: name.to_owned(),
            compression,
        });
    }
    if peek.starts_with(&UTF8_BOM) {
        peek.drain(..UTF8_BOM.len());
    }
    if let Some(&first) = peek.iter().find(|b| !b.is_ascii_whitespace())
        && first != b'<'
    {
        let start = hex_start(&peek);
        let lower = name.to_ascii_lowercase();
        return Err(match compression {
            Compression::None if lower.ends_with(".gz") => CatalogError::NotCompressed {
                input: name.to_owned(),
                expected: Compression::Gzip,
                start,
            },
            Compression::None if lower.ends_with(".zst") => CatalogError::NotCompressed {
                input: name.to_owned(),
                expected: Compression::Zstd,
                start,
            },
            _ => CatalogError::NotXml {
                input: name.to_owned(),
                start,
            },
        });
    }
    Ok(Box::new(Cursor::new(peek).chain(decoded)))
}

/// Reads up to `n` bytes, fewer only at end of input (a single `read` may return less).
fn read_prefix<R: Read + ?Sized>(r: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let mut len = 0;
    while len < n {
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(k) => len += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

fn hex_start(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
    if shown.is_empty() {
        "nothing".to_owned()
    } else {
        shown.join(" ")
    }
}

/// Marks an error raised by the input itself (disk, network), so that a decompressor passing it
/// through is not blamed for it.
#[derive(Debug)]
struct SourceError(io::Error);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// An error raised by a decompressor.
#[derive(Debug)]
struct DecompressError {
    compression: Compression,
    error: io::Error,
}

impl std::fmt::Display for DecompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} decompression: {}", self.compression, self.error)
    }
}

impl std::error::Error for DecompressError {}

struct SourceReader<R>(R);

impl<R: Read> Read for SourceReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(e.kind(), SourceError(e))
            }
        })
    }
}

struct Tagged<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| tag(e, self.compression))
    }
}

fn tag(e: io::Error, compression: Compression) -> io::Error {
    let passthrough = e.kind() == io::ErrorKind::Interrupted
        || e.get_ref()
            .is_some_and(|inner| inner.is::<SourceError>() || inner.is::<DecompressError>());
    if passthrough {
        e
    } else {
        io::Error::new(
            e.kind(),
            DecompressError {
                compression,
                error: e,
            },
        )
    }
}

/// Turns an I/O error met while reading a document into the [`CatalogError`] that explains it.
pub(crate) fn classify_io(e: io::Error, name: &str) -> CatalogError {
    let input = name.to_owned();
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<DecompressError>() {
            Ok(d) if is_truncation(&d.error) => CatalogError::Truncated {
                input,
                compression: d.compression,
            },
            Ok(d) => CatalogError::Corrupt {
                input,
                compression: d.compression,
                detail: d.error.to_string(),
            },
            Err(inner) => match inner.downcast::<SourceError>() {
                Ok(s) => CatalogError::Io { input, error: s.0 },
                Err(other) => CatalogError::Io {
                    input,
                    error: io::Error::new(kind, other),
                },
            },
        },
        None => CatalogError::Io {
            input,
            error: io::Error::from(kind),
        },
    }
}

/// Whether a decompressor's error means its input stopped before the end of the stream.
fn is_truncation(e: &io::Error) -> bool {
    // flate2 reports a cut gzip stream as UnexpectedEof; zstd reports "incomplete frame" as
    // UnexpectedEof too (older versions as Other), so both are checked.
    e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("incomplete frame")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_all(bytes: &[u8], name: &str) -> Result<Vec<u8>, CatalogError> {
        let mut d = open(bytes, name)?;
        let mut out = Vec::new();
        d.read_to_end(&mut out).map_err(|e| classify_io(e, name))?;
        Ok(out)
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(&[0x28, 0xB5, 0x2F, 0xFD, 0]), Compression::Zstd);
        assert_eq!(sniff(&[0x1F, 0x8B, 8]), Compression::Gzip);
        assert_eq!(sniff(b"<?xml"), Compression::None);
        assert_eq!(sniff(&[0x28, 0xB5]), Compression::None);
    }

    #[test]
    fn decompresses_by_content_not_name() {
        let xml = b"\xEF\xBB\xBF<a/>";
        let z = zstd::encode_all(&xml[..], 3).unwrap();
        assert_eq!(open_all(&z, "x.xml.gz").unwrap(), b"<a/>");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, xml).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(open_all(&gz, "x.xml.zst").unwrap(), b"<a/>");
        assert_eq!(open_all(xml, "x.gz").unwrap(), b"<a/>");
    }

    #[test]
    fn reports_truncation_and_wrong_formats() {
        let xml = "<a>".repeat(10_000);
        let z = zstd::encode_all(xml.as_bytes(), 3).unwrap();
        let err = open_all(&z[..z.len() / 2], "t.xml.zst").unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Truncated {
                    compression: Compression::Zstd,
                    ..
                }
            ),
            "{err}"
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, xml.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let err = open_all(&gz[..gz.len() / 2], "t.xml.gz").unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Truncated {
                    compression: Compression::Gzip,
                    ..
                }
            ),
            "{err}"
        );
        let err = open_all(b"hello world", "t.xml.gz").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.xml.gz: not a gzip stream (starts with 68 65 6C 6C 6F 20 77 6F; neither gzip, zstd nor XML)"
        );
        let err = open_all(b"", "e.xml").unwrap_err();
        assert_eq!(err.to_string(), "e.xml: empty file");
        let err = open_all(&zstd::encode_all(&b""[..], 3).unwrap(), "e.xml.zst").unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Empty {
                    compression: Compression::Zstd,
                    ..
                }
            ),
            "{err}"
        );
    }
}
