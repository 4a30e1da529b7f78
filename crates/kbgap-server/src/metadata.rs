//! `GET /api/$metadata`: the EDMX document describing what kbgap serves.
//!
//! OData tooling (Power BI, generated clients) reads `$metadata` to learn entity shapes. The
//! document is the live Defender one (`fixtures/mde-api-samples/mde_metadata.xml`) trimmed to
//! the types, functions and sets kbgap serves, with every kept element copied unchanged, so
//! names and types match what clients already know. A test checks it stays a faithful subset.

use axum::http::header;
use axum::response::IntoResponse;

use crate::auth::{Authorized, perm};

/// The EDMX document.
pub const METADATA_XML: &str = include_str!("metadata.xml");

/// Answers `$metadata` to any valid token, as Defender does.
pub async fn metadata(_caller: Authorized<perm::AnyToken>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/xml")], METADATA_XML)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quick_xml::events::{BytesStart, Event};
    use quick_xml::reader::Reader;

    use super::METADATA_XML;

    const LIVE: &str = include_str!("../../../fixtures/mde-api-samples/mde_metadata.xml");

    fn attrs(e: &BytesStart<'_>) -> Vec<(String, String)> {
        e.attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect()
    }

    /// Each schema member (`EntityType/Machine`, `Function/GetMissingKbs#2`) with the ordered list
    /// of its own attributes and its descendants' tags and attributes.
    fn members(xml: &str) -> BTreeMap<String, Vec<String>> {
        let mut r = Reader::from_str(xml);
        r.config_mut().trim_text(true);
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack: Vec<String> = Vec::new();
        let mut current: Option<String> = None;
        loop {
            let (e, empty) = match r.read_event().unwrap() {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(_) => {
                    stack.pop();
                    if stack.last().is_some_and(|s| s == "Schema") {
                        current = None;
                    }
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            let tag = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let a = attrs(&e);
            if stack.last().is_some_and(|s| s == "Schema") {
                let name = a
                    .iter()
                    .find(|(k, _)| k == "Name")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let mut key = format!("{tag}/{name}");
                let mut n = 1;
                while out.contains_key(&key) {
                    n += 1;
                    key = format!("{tag}/{name}#{n}");
                }
                out.insert(key.clone(), vec![format!("{a:?}")]);
                current = Some(key);
            } else if let Some(c) = &current {
                out.get_mut(c).unwrap().push(format!("{tag} {a:?}"));
            }
            if !empty {
                stack.push(tag);
            } else if stack.last().is_some_and(|s| s == "Schema") {
                current = None;
            }
        }
        out
    }

    #[test]
    fn is_well_formed_and_names_what_kbgap_serves() {
        let m = members(METADATA_XML);
        for key in [
            "EntityType/Machine",
            "EntityType/Software",
            "EntityType/PublicProductDto",
            "EntityType/PublicVulnerabilityDto",
            "EntityType/Vulnerability",
            "ComplexType/PublicProductFixDto",
            "ComplexType/PublicAssetDto",
            "ComplexType/PublicAssetVulnerabilityDto",
            "Function/GetMissingKbs",
            "Function/GetMissingKbs#2",
            "EntityContainer/Container",
        ] {
            assert!(m.contains_key(key), "{key} missing from $metadata");
        }
        let fix_fns: Vec<_> = m
            .iter()
            .filter(|(k, _)| k.starts_with("Function/GetMissingKbs"))
            .collect();
        for (_, body) in &fix_fns {
            assert!(body.iter().any(|l| {
                l.contains("Collection(microsoft.windowsDefenderATP.api.PublicProductFixDto)")
            }));
        }
        let bindings: Vec<bool> = ["api.Machine\"", "api.Software\""]
            .iter()
            .map(|b| {
                fix_fns
                    .iter()
                    .any(|(_, body)| body.iter().any(|l| l.contains(b)))
            })
            .collect();
        assert_eq!(bindings, vec![true, true]);
        assert!(METADATA_XML.contains(r#"<Schema Namespace="microsoft.windowsDefenderATP.api""#));
    }

    /// Properties kbgap adds to Defender's types, documented in `metadata.xml` and README.
    const EXTENSIONS: &[(&str, &str)] = &[
        (
            "EntityType/Machine",
            r#"Property [("Name", "servicingStatus"), ("Type", "Edm.String"), ("Nullable", "false")]"#,
        ),
        (
            "EntityType/Machine",
            r#"Property [("Name", "servicingNote"), ("Type", "Edm.String")]"#,
        ),
        // Sent by the live service (the 2023 capture) though its `$metadata` omits them.
        (
            "EntityType/Machine",
            r#"Property [("Name", "osVersion"), ("Type", "Edm.String")]"#,
        ),
        (
            "EntityType/Machine",
            r#"Property [("Name", "defenderAvStatus"), ("Type", "Edm.String")]"#,
        ),
    ];

    #[test]
    fn kbgap_extensions_are_declared() {
        let ours = members(METADATA_XML);
        for (key, line) in EXTENSIONS {
            assert!(
                ours[*key].iter().any(|l| l == line),
                "{key} lacks {line}: {:?}",
                ours[*key]
            );
        }
    }

    #[test]
    fn every_kept_type_is_copied_from_the_live_document() {
        let live = members(LIVE);
        let mut ours = members(METADATA_XML);
        for (key, line) in EXTENSIONS {
            if let Some(body) = ours.get_mut(*key) {
                body.retain(|l| l != line);
            }
        }
        let live_bodies: Vec<&Vec<String>> = live.values().collect();
        for (key, body) in &ours {
            if key.starts_with("EntityContainer") {
                continue;
            }
            if key.starts_with("Function") {
                assert!(
                    live_bodies.contains(&body),
                    "{key} differs from the live document"
                );
                continue;
            }
            let real = live
                .get(key)
                .unwrap_or_else(|| panic!("{key} is not in the live document"));
            // Same header; members in the same order, some navigation properties left out.
            assert_eq!(body[0], real[0], "{key}");
            let mut it = real.iter();
            for line in &body[1..] {
                assert!(
                    it.any(|l| l == line),
                    "{key}: {line} not in the live document (or out of order)"
                );
            }
            let dropped: Vec<_> = real.iter().filter(|l| !body.contains(l)).collect();
            assert!(
                dropped
                    .iter()
                    .all(|l| l.starts_with("NavigationProperty") || l.contains("distributions")),
                "{key} lost {dropped:?}"
            );
        }
    }
}
