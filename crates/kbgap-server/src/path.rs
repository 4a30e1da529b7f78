//! Case-insensitive paths: Defender matches path segment names without regard to case
//! (`/api/Software/…` and `/api/software/…`, `getmissingkbs` and `GetMissingKbs`).
//!
//! axum routes by exact text, so before routing the request's *literal* segments are lowercased
//! by position. Identifiers are left alone: a machine can be addressed by its computer name,
//! whose case must survive (`/api/machines/SOFTWARE` names a computer called SOFTWARE, and stays
//! as it is). The query string is never touched.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// Resources directly under `/api/`.
const API_RESOURCES: &[&str] = &[
    "machines",
    "software",
    "vulnerabilities",
    "$metadata",
    "inventory",
];
/// Sub-resources of `/api/machines/{id}/…` and `/api/software/{id}/…`.
const SUB_RESOURCES: &[&str] = &[
    "getmissingkbs",
    "software",
    "vulnerabilities",
    "machinereferences",
];
/// Under `/api/vulnerabilities/`.
const VULN_RESOURCES: &[&str] = &["machinesvulnerabilities"];

fn canonical(seg: &str, known: &[&'static str]) -> Option<&'static str> {
    // `$` may arrive percent-encoded.
    let seg_dec = seg
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("%24"))
        .map(|_| &seg[3..]);
    known
        .iter()
        .copied()
        .find(|k| match (k.strip_prefix('$'), seg_dec) {
            (Some(rest), Some(dec)) => rest.eq_ignore_ascii_case(dec),
            _ => k.eq_ignore_ascii_case(seg),
        })
}

/// The path with its literal segments in canonical (lowercase) form, or `None` when unchanged.
pub fn normalize(path: &str) -> Option<String> {
    let mut segs: Vec<&str> = path.split('/').collect();
    // segs[0] is "" for an absolute path.
    let mut changed = false;
    let mut set =
        |segs: &mut Vec<&str>, i: usize, known: &[&'static str]| -> Option<&'static str> {
            let c = canonical(segs.get(i)?, known)?;
            if segs[i] != c {
                segs[i] = c;
                changed = true;
            }
            Some(c)
        };
    match set(&mut segs, 1, &["api", "healthz"]) {
        Some("api") => match set(&mut segs, 2, API_RESOURCES) {
            Some("machines" | "software") => {
                set(&mut segs, 4, SUB_RESOURCES);
            }
            Some("vulnerabilities") => {
                set(&mut segs, 3, VULN_RESOURCES);
            }
            _ => {}
        },
        _ => return changed.then(|| segs.join("/")),
    }
    changed.then(|| segs.join("/"))
}

/// Rewrites the request's path (see the module documentation).
pub fn normalize_request(mut req: Request) -> Request {
    let Some(path) = normalize(req.uri().path()) else {
        return req;
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let Ok(pq) = pq.parse::<PathAndQuery>() else {
        return req;
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_literal_segments_only() {
        let cases = [
            (
                "/API/Machines/ABCdef/GetMissingKbs",
                Some("/api/machines/ABCdef/getmissingkbs"),
            ),
            (
                "/api/Software/microsoft-_-edge/getMissingKBs",
                Some("/api/software/microsoft-_-edge/getmissingkbs"),
            ),
            ("/api/Machines/SOFTWARE", Some("/api/machines/SOFTWARE")),
            (
                "/api/Machines/SOFTWARE/Software",
                Some("/api/machines/SOFTWARE/software"),
            ),
            (
                "/api/Vulnerabilities/MachinesVulnerabilities",
                Some("/api/vulnerabilities/machinesvulnerabilities"),
            ),
            ("/api/$METADATA", Some("/api/$metadata")),
            ("/api/%24metadata", Some("/api/$metadata")),
            (
                "/api/Software/x/MachineReferences",
                Some("/api/software/x/machinereferences"),
            ),
            ("/HEALTHZ", Some("/healthz")),
            ("/api/éé/x", None),
            ("/api/%2", None),
            ("/api/machines", None),
            ("/api/unknown/Thing", None),
            ("/Other/Machines", None),
            ("/", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn keeps_the_query_untouched() {
        let req = Request::builder()
            .uri("/API/Machines?$filter=computerDnsName%20eq%20'PC'")
            .body(axum::body::Body::empty())
            .unwrap();
        let req = normalize_request(req);
        assert_eq!(
            req.uri().to_string(),
            "/api/machines?$filter=computerDnsName%20eq%20'PC'"
        );
    }
}
