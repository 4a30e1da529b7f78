//! Bytes to text: byte-order marks, UTF-16 without a BOM, UTF-8, and the legacy OEM/ANSI code
//! pages admins' files come in (cp437/cp850 from cmd, cp866 for Russian, GBK for Chinese,
//! windows-1252/1251 from editors).
//!
//! Why scoring instead of a charset guesser: a guesser picks by byte statistics and can be fooled
//! by short files (wesng's failures in engine.md §2). Here each candidate decoding is scored by how
//! plausible its characters are (letters of one script, no box-drawing or control characters, no
//! undecodable bytes) and, strongest, by how many systeminfo labels it makes readable.

use encoding_rs::{Encoding, GBK, IBM866, WINDOWS_1251, WINDOWS_1252};

/// Text decoded from a file, and the encoding that was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, without a byte-order mark, line endings untouched.
    pub text: String,
    /// The encoding that was used ("UTF-16LE", "cp850", "GBK" …).
    pub encoding: &'static str,
}

/// Why bytes are not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Nothing but whitespace or a BOM.
    Empty,
    /// Binary data; the offset of the first byte that cannot be text.
    Binary(usize),
}

/// Decodes an inventory file to text.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let decoded = decode_any(bytes)?;
    let text = decoded.text.replace('\u{feff}', "");
    if text.trim().is_empty() {
        return Err(DecodeError::Empty);
    }
    if let Some(i) = text
        .char_indices()
        .find(|(_, c)| is_binary_char(*c))
        .map(|(i, _)| i)
    {
        return Err(DecodeError::Binary(i.min(bytes.len())));
    }
    Ok(Decoded {
        text,
        encoding: decoded.encoding,
    })
}

fn decode_any(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return Ok(Decoded {
            text: String::from_utf8_lossy(rest).into_owned(),
            encoding: "UTF-8",
        });
    }
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return Ok(Decoded {
            text: utf16(rest, true),
            encoding: "UTF-16LE",
        });
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return Ok(Decoded {
            text: utf16(rest, false),
            encoding: "UTF-16BE",
        });
    }
    if let Some(d) = utf16_without_bom(bytes) {
        return Ok(d);
    }
    if let Some(i) = bytes.iter().position(|b| *b == 0) {
        return Err(DecodeError::Binary(i));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        let encoding = if s.is_ascii() { "ASCII" } else { "UTF-8" };
        return Ok(Decoded {
            text: s.to_owned(),
            encoding,
        });
    }
    Ok(best_legacy(bytes))
}

/// UTF-16 without a BOM, including wmic's ASCII "Please wait while WMIC is being installed."
/// prefix followed by UTF-16LE output (seen in the XP captures).
fn utf16_without_bom(bytes: &[u8]) -> Option<Decoded> {
    let first_nul = bytes.iter().position(|b| *b == 0)?;
    // The NUL is the high byte of a UTF-16LE unit: the unit starts one byte earlier.
    let start = first_nul.checked_sub(1)?;
    let (prefix, rest) = bytes.split_at(start);
    let (le, be) = nul_ratio(rest);
    if prefix.is_ascii() && le > 0.3 && be < 0.05 {
        let text = format!("{}{}", String::from_utf8_lossy(prefix), utf16(rest, true));
        let encoding = if prefix.is_empty() {
            "UTF-16LE"
        } else {
            "ASCII + UTF-16LE"
        };
        return Some(Decoded { text, encoding });
    }
    let (le, be) = nul_ratio(bytes);
    if be > 0.3 && le < 0.05 {
        return Some(Decoded {
            text: utf16(bytes, false),
            encoding: "UTF-16BE",
        });
    }
    None
}

/// Share of NUL high bytes for little- and big-endian readings of the first 4 KiB.
fn nul_ratio(bytes: &[u8]) -> (f64, f64) {
    let sample = &bytes[..bytes.len().min(4096)];
    let pairs = sample.chunks_exact(2);
    let n = pairs.len().max(1) as f64;
    let (mut le, mut be) = (0usize, 0usize);
    for p in pairs {
        le += usize::from(p[1] == 0 && p[0] != 0);
        be += usize::from(p[0] == 0 && p[1] != 0);
    }
    (le as f64 / n, be as f64 / n)
}

fn utf16(bytes: &[u8], little_endian: bool) -> String {
    let units = bytes.chunks_exact(2).map(|p| {
        if little_endian {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{fffd}'))
        .collect()
}

/// A legacy code page the file may be in.
enum Candidate {
    Oem(&'static str, &'static [char; 128]),
    Ansi(&'static Encoding),
}

/// Decodes with every plausible legacy code page and keeps the best-scoring text. Order breaks
/// ties: cmd's OEM code pages first, since `systeminfo > file` in cmd writes them.
fn best_legacy(bytes: &[u8]) -> Decoded {
    let candidates = [
        Candidate::Oem("cp850", &oem_cp::code_table::DECODING_TABLE_CP850),
        Candidate::Oem("cp437", &oem_cp::code_table::DECODING_TABLE_CP437),
        Candidate::Ansi(IBM866),
        Candidate::Ansi(GBK),
        Candidate::Ansi(WINDOWS_1252),
        Candidate::Ansi(WINDOWS_1251),
    ];
    let mut best: Option<(i64, Decoded)> = None;
    for c in candidates {
        let (text, encoding) = match c {
            Candidate::Oem(name, table) => {
                (oem_cp::decode_string_complete_table(bytes, table), name)
            }
            Candidate::Ansi(enc) => (
                enc.decode_without_bom_handling(bytes).0.into_owned(),
                oem_name(enc),
            ),
        };
        let score = score(&text);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, Decoded { text, encoding }));
        }
    }
    best.map(|(_, d)| d).unwrap_or_else(|| Decoded {
        text: String::from_utf8_lossy(bytes).into_owned(),
        encoding: "UTF-8",
    })
}

fn oem_name(enc: &'static Encoding) -> &'static str {
    if enc == IBM866 { "cp866" } else { enc.name() }
}

/// How plausible a decoding is: label hits weigh most, then letters against junk characters.
fn score(text: &str) -> i64 {
    let mut score = 0i64;
    let mut prev = ' ';
    for c in text.chars() {
        score += char_score(prev, c);
        prev = c;
    }
    score + 50 * crate::labels::label_hits(text) as i64
}

fn char_score(prev: char, c: char) -> i64 {
    if c.is_ascii() {
        return 0;
    }
    let lower_before = prev.is_lowercase();
    if prev.is_ascii_digit() && c.is_alphabetic() {
        return -3; // "32ÿ503 MB": a digit-group separator read as a letter
    }
    match c {
        '\u{fffd}' => -20,
        '\u{a0}' => 0,
        // Latin-1 letters; an uppercase one right after a lowercase letter is a mis-decoding.
        'À'..='Þ' if c != '×' => {
            if lower_before {
                -3
            } else {
                1
            }
        }
        'ß'..='ÿ' if c != '÷' => 2,
        'А'..='я' | 'Ё' | 'ё' => {
            if c.is_uppercase() && lower_before {
                -3
            } else {
                2
            }
        }
        '\u{4e00}'..='\u{9fff}' => 2,
        '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}' => 1,
        _ => -4,
    }
}

/// Control characters other than tab, line feed, carriage return and form feed do not occur in
/// text inventories.
fn is_binary_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}' | '\u{85}')) || c == '\u{fffd}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_utf16_without_bom() {
        let le: Vec<u8> = "Host Name: X\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(decode(&le).unwrap().encoding, "UTF-16LE");
        let mut bom = vec![0xff, 0xfe];
        bom.extend_from_slice(&le);
        assert_eq!(decode(&bom).unwrap().text, "Host Name: X\r\n");
        let mut mixed = b"Please wait.".to_vec();
        mixed.extend_from_slice(&le);
        assert_eq!(decode(&mixed).unwrap().text, "Please wait.Host Name: X\r\n");
    }

    #[test]
    fn empty_and_binary() {
        assert_eq!(decode(b"").unwrap_err(), DecodeError::Empty);
        assert_eq!(
            decode(b"\xff\xfe\r\x00\n\x00").unwrap_err(),
            DecodeError::Empty
        );
        assert!(matches!(
            decode(b"\x7fELF\x02\x01\x01\x00\x00\x00").unwrap_err(),
            DecodeError::Binary(_)
        ));
        assert!(matches!(
            decode(b"PK\x03\x04\x14\x00\x08\x08\x08\x00").unwrap_err(),
            DecodeError::Binary(_)
        ));
    }

    #[test]
    fn legacy_code_pages() {
        let cp850 = b"Versi\xa2n del sistema operativo:             10.0.17763 N/D Compilaci\xa2n 17763\r\n";
        let d = decode(cp850).unwrap();
        assert!(d.text.contains("Versión"), "{}", d.text);
        let cp1252 = b"Configuraci\xf3n del sistema operativo:       Estaci\xf3n de trabajo independiente\r\n";
        let d = decode(cp1252).unwrap();
        assert!(
            d.text.contains("Configuración"),
            "{} {}",
            d.encoding,
            d.text
        );
    }
}
