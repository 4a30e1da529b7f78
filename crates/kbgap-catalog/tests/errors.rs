//! Bad input: every error names the file and, where it applies, the position; nothing panics.

mod common;

use std::path::{Path, PathBuf};

use kbgap_catalog::{CatalogError, Compression, collect_paths, read_bytes, read_path};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// 1-based (line, column) of byte `offset` in `text`.
fn line_col(text: &[u8], offset: usize) -> (u64, u64) {
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line as u64, (offset - line_start + 1) as u64)
}

#[test]
fn truncated_zstd_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(common::bundled("2020-Mar")).unwrap();
    let path = write(dir.path(), "2020-Mar.xml.zst", &real[..real.len() / 2]);
    let err = read_path(&path).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Truncated {
                compression: Compression::Zstd,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: truncated zstd stream", path.display())
    );
    assert_eq!(err.input(), path.display().to_string());
}

#[test]
fn truncated_gzip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(
        common::fixtures_2020().join("cvrfDocument-2020-Mar.at-2020-03-10.c94bea1.xml.gz"),
    )
    .unwrap();
    let path = write(dir.path(), "2020-Mar.xml.gz", &real[..real.len() / 3]);
    let err = read_path(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: truncated gzip stream", path.display())
    );
}

#[test]
fn gz_file_that_is_not_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "x.xml.gz",
        b"PK\x03\x04 this is a zip archive, not gzip",
    );
    let err = read_path(&path).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::NotCompressed {
                expected: Compression::Gzip,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "{}: not a gzip stream (starts with 50 4B 03 04",
            path.display()
        )),
        "{err}"
    );

    // Bytes that start like gzip but are damaged are reported as such.
    let path = write(
        dir.path(),
        "y.xml.gz",
        b"\x1F\x8B\x08\x00garbage garbage garbage",
    );
    let err = read_path(&path).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Corrupt {
                compression: Compression::Gzip,
                ..
            } | CatalogError::Truncated { .. }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn zst_file_that_is_not_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.xml.zst", b"\x00\x01\x02\x03 binary");
    let err = read_path(&path).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: not a zstd stream", path.display())),
        "{err}"
    );
}

#[test]
fn a_plain_document_under_a_compressed_name_is_read_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "2017-May-B.xml.gz",
        &common::bundled_xml("2017-May-B"),
    );
    let doc = read_path(&path).unwrap();
    assert_eq!(doc.info.id, "2017-May-B");
}

#[test]
fn xml_cut_in_the_middle_of_a_tag_gives_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let xml = common::bundled_xml("2026-Jun");
    let tag = xml
        .windows(19)
        .position(|w| w == b"<vuln:Vulnerability")
        .unwrap();
    let cut = &xml[..tag + 12];
    let path = write(dir.path(), "x.xml", cut);
    let err = read_path(&path).unwrap_err();
    let CatalogError::Xml {
        position, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    let (line, column) = line_col(&xml, tag);
    assert_eq!(
        (position.line, position.column, position.offset),
        (line, column, tag as u64),
        "{err}"
    );
    assert_eq!(message, "unexpected end of file inside a tag");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: XML error at line {line}, column {column} (byte {tag}): unexpected end of file inside a tag",
            path.display()
        )
    );
    assert!(line > 3000, "the tag is deep in the document (line {line})");

    // The same cut, compressed: the position is in the decompressed document.
    let compressed = zstd::encode_all(cut, 3).unwrap();
    let err = read_bytes(&compressed, "x.xml.zst").unwrap_err();
    assert_eq!(err.position().map(|p| p.line), Some(line), "{err}");
}

#[test]
fn xml_cut_between_elements_names_the_open_element() {
    let xml = common::bundled_xml("2026-Jun");
    let at = xml
        .windows(14)
        .position(|w| w == b"</vuln:Title>\n")
        .unwrap()
        + 14;
    let err = read_bytes(&xml[..at], "cut.xml").unwrap_err();
    let CatalogError::Xml {
        position, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(position.offset, at as u64);
    assert!(
        message.contains(
            "unexpected end of file: <vuln:Vulnerability> and the element around it are not closed"
        ),
        "{message}"
    );
}

#[test]
fn mismatched_end_tag_gives_its_position() {
    let xml = common::bundled_xml("2017-May-B");
    let text = String::from_utf8(xml).unwrap();
    let broken = text.replacen("</cvrf:DocumentType>", "</cvrf:DocumentTipe>", 1);
    let offset = broken.find("</cvrf:DocumentTipe>").unwrap();
    let err = read_bytes(broken.as_bytes(), "m.xml").unwrap_err();
    let CatalogError::Xml {
        position, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        position.line,
        line_col(broken.as_bytes(), offset).0,
        "{err}"
    );
    assert!(message.contains("DocumentTipe"), "{message}");
}

#[test]
fn well_formed_xml_that_is_not_cvrf() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/mde-api-samples/mde_metadata.xml");
    let err = read_path(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not an MSRC CVRF document (root element is <edmx:Edmx>, expected cvrf:cvrfdoc)",
            path.display()
        )
    );
    let err = read_bytes(b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n", "c.xml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.xml: not an MSRC CVRF document (no root element)"
    );
}

#[test]
fn cvrf_without_identity_is_refused() {
    let ns = r#"xmlns:cvrf="http://www.icasi.org/CVRF/schema/cvrf/1.1""#;
    let no_id =
        format!("<cvrf:cvrfdoc {ns}><cvrf:DocumentTitle>T</cvrf:DocumentTitle></cvrf:cvrfdoc>");
    let err = read_bytes(no_id.as_bytes(), "n.xml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "n.xml: incomplete MSRC CVRF document: cvrf:DocumentTracking/cvrf:Identification/cvrf:ID is missing"
    );
    let no_title = format!(
        "<cvrf:cvrfdoc {ns}><cvrf:DocumentTracking><cvrf:Identification><cvrf:ID>2020-Mar</cvrf:ID>\
         </cvrf:Identification></cvrf:DocumentTracking></cvrf:cvrfdoc>"
    );
    let err = read_bytes(no_title.as_bytes(), "t.xml").unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::MissingField {
                field: "cvrf:DocumentTitle",
                ..
            }
        ),
        "{err:?}"
    );
    let bad_date = String::from_utf8(common::bundled_xml("2017-May-B"))
        .unwrap()
        .replace(
            "<cvrf:CurrentReleaseDate>2017-05-08T07:00:00",
            "<cvrf:CurrentReleaseDate>someday",
        );
    let err = read_bytes(bad_date.as_bytes(), "d.xml").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "d.xml: invalid cvrf:DocumentTracking/cvrf:CurrentReleaseDate \"someday\""
        ),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.xml", b"");
    let err = read_path(&path).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: empty file", path.display()));
    let empty_zst = zstd::encode_all(&b""[..], 3).unwrap();
    let err = read_bytes(&empty_zst, "e.xml.zst").unwrap_err();
    assert_eq!(
        err.to_string(),
        "e.xml.zst: empty document (the zstd stream decompresses to nothing)"
    );
}

#[test]
fn folder_without_documents() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README.txt", b"not a document");
    std::fs::create_dir(dir.path().join("sub.xml")).unwrap();
    let err = collect_paths(&[dir.path().to_path_buf()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no CVRF documents (.xml, .xml.gz, .xml.zst) in this folder",
            dir.path().display()
        )
    );
}

#[test]
fn missing_path() {
    let path = PathBuf::from("/nonexistent/kbgap/2020-Mar.xml.zst");
    let err = collect_paths(std::slice::from_ref(&path)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/kbgap/2020-Mar.xml.zst: no such file or folder"
    );
    let err = read_path(&path).unwrap_err();
    assert!(matches!(err, CatalogError::NotFound { .. }), "{err:?}");
}

#[test]
fn a_folder_is_not_a_document() {
    let err = read_path(&common::data_dir()).unwrap_err();
    assert!(err.to_string().contains("is a folder"), "{err}");
}

#[test]
fn no_cut_or_damage_makes_the_reader_panic() {
    let xml = common::bundled_xml("2005-Mar");
    let full_end = xml
        .windows(15)
        .rposition(|w| w == b"</cvrf:cvrfdoc>")
        .unwrap()
        + 15;
    for cut in 0..xml.len() {
        let result = read_bytes(&xml[..cut], "cut.xml");
        if cut < full_end {
            let err = result.expect_err("a cut document must not parse");
            assert!(err.to_string().starts_with("cut.xml: "), "{err}");
        }
    }
    let compressed = zstd::encode_all(&xml[..], 3).unwrap();
    for cut in 0..compressed.len() {
        assert!(read_bytes(&compressed[..cut], "cut.xml.zst").is_err());
    }
    // Damage: overwrite bytes with characters that break XML and UTF-8.
    for (i, bad) in (0..xml.len())
        .step_by(7)
        .zip([b'<', b'>', b'&', 0xFF, 0xC3, b'"', 0].iter().cycle())
    {
        let mut damaged = xml.clone();
        damaged[i] = *bad;
        if let Err(e) = read_bytes(&damaged, "damaged.xml") {
            assert!(e.to_string().starts_with("damaged.xml: "), "{e}");
        }
    }
}
