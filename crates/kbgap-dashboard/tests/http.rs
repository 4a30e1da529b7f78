//! The dashboard over real HTTP, without a browser: sign-in and its cookie, roles, the policy
//! headers, languages, exports. The browser test (`browser.rs`) covers what needs rendering.
//! Run with `--release` (the catalog compiles from the bundled documents).

mod common;

use common::{READ_ALL, Server};
use serde_json::Value;

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_roles_headers_languages_and_exports() {
    let s = Server::start().await;

    // Not signed in: to the form, remembering where to go.
    let r = s
        .client
        .get(format!("{}/machines?os=x", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(header(&r, "location"), "/signin?next=%2Fmachines%3Fos%3Dx");
    let r = s
        .client
        .get(format!("{}/signin", s.base))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        header(&r, "content-security-policy"),
        kbgap_dashboard::CONTENT_SECURITY_POLICY_VALUE
    );
    assert!(header(&r, "content-security-policy").contains("default-src 'none'"));
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"<html lang="de">"#) && html.contains("Anmelden"),
        "{html}"
    );
    assert!(!html.contains("<script"), "no script anywhere");

    // Refused tokens.
    let r = s
        .client
        .post(format!("{}/signin", s.base))
        .form(&[("token", "not.a.jwt")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(header(&r, "set-cookie").is_empty());
    let submit = s.token(&["Inventory.Submit"]);
    let r = s
        .client
        .post(format!("{}/signin", s.base))
        .form(&[("token", submit.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // A session: HttpOnly, SameSite=Strict, expiring with the token; never for the API.
    let r = s
        .client
        .post(format!("{}/signin", s.base))
        .form(&[
            ("token", format!("Bearer {}", s.token(READ_ALL))),
            ("next", "//evil.example/".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(header(&r, "location"), "/", "an off-site next is refused");
    let cookie = header(&r, "set-cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3500..=3600).contains(&max_age),
        "expires with the token: {max_age}"
    );
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("kbgap_session=")
        .unwrap()
        .to_owned();
    let api = s
        .client
        .get(format!("{}/api/machines", s.base))
        .header("cookie", format!("kbgap_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status().as_u16(),
        401,
        "a session cookie never authorises /api/*"
    );

    // Every page answers, in the negotiated language.
    let deploy: Value = s
        .page("/?format=json", &session)
        .await
        .json()
        .await
        .unwrap();
    let rows = deploy.as_array().unwrap();
    assert!(!rows.is_empty());
    let kb = rows[0]["kb"].as_str().unwrap().to_owned();
    let cve = rows
        .iter()
        .find_map(|r| {
            r["exploited"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
        })
        .unwrap()
        .to_owned();
    let machines: Value = s
        .page("/machines?format=json", &session)
        .await
        .json()
        .await
        .unwrap();
    let machine = machines[0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/",
        "/posture",
        "/machines",
        &format!("/machines/{machine}"),
        &format!("/kbs/{kb}"),
        &format!("/cves/{cve}"),
        "/health",
    ] {
        let r = s.page(path, &session).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&r, "content-security-policy"),
            kbgap_dashboard::CONTENT_SECURITY_POLICY_VALUE
        );
        let html = r.text().await.unwrap();
        assert!(
            html.contains(r#"<html lang="en">"#) && html.contains(r#"id="signout""#),
            "{path}"
        );
        if path.starts_with("/machines/") {
            // Evidence: the corpus machines were posted as systeminfo files.
            assert!(html.contains("Read from") && html.contains("systeminfo output"));
        }
    }
    assert_eq!(
        s.page("/machines/nonexistent", &session)
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(s.page("/kbs/KB0", &session).await.status().as_u16(), 404);

    // ?lang= is remembered.
    let r = s.page("/posture?lang=zh-CN", &session).await;
    assert!(header(&r, "set-cookie").starts_with("kbgap_lang=zh-CN"));
    assert!(r.text().await.unwrap().contains(r#"<html lang="zh-CN">"#));

    // Exports: CSV and JSON give the same rows; formula cells are defused.
    let r = s.page("/?format=csv", &session).await;
    assert!(header(&r, "content-type").starts_with("text/csv"));
    assert!(header(&r, "content-disposition").contains("attachment"));
    let csv = common::parse_csv(&r.text().await.unwrap());
    assert_eq!(
        &csv[0][..5],
        ["kb", "kind", "released", "products", "machines"]
    );
    assert_eq!(csv.len() - 1, rows.len());
    let machines_col = csv[0].iter().position(|c| c == "machines").unwrap();
    for (cells, row) in csv[1..].iter().zip(rows) {
        assert_eq!(cells[0], row["kb"].as_str().unwrap());
        assert!(cells[0].starts_with("KB"));
        assert_eq!(
            cells[machines_col],
            row["machines"].to_string(),
            "{cells:?}"
        );
    }
    // Sorting changes the order, filters the rows, and exports follow both.
    let by_kb: Value = s
        .page("/?format=json&sort=kbs.kb&dir=asc", &session)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = by_kb
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kb"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let exploited: Value = s
        .page("/?format=json&exploited=1", &session)
        .await
        .json()
        .await
        .unwrap();
    let exploited = exploited.as_array().unwrap();
    assert!(
        exploited.len() < rows.len()
            && exploited
                .iter()
                .all(|r| !r["exploited"].as_array().unwrap().is_empty())
    );
    let hostile = s
        .page("/machines?format=csv&q=%3D", &session)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        common::parse_csv(&hostile).len(),
        1,
        "no machine name contains ="
    );

    // Ingest health lists the refused report with its reason.
    let refused: Value = s
        .page("/health?format=json&table=refused", &session)
        .await
        .json()
        .await
        .unwrap();
    let refused = refused.as_array().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r["status"] == 403 && r["reason"].as_str().unwrap().contains("pc-other")),
        "{refused:?}"
    );

    // Roles: a machines-only token reads machines but not the deploy-first page.
    let narrow = s.sign_in(&["Machine.Read.All"]).await;
    assert_eq!(s.page("/machines", &narrow).await.status().as_u16(), 200);
    let r = s.page("/", &narrow).await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("Software.Read.All"));

    // Signing out ends the session.
    let r = s
        .client
        .post(format!("{}/signout", s.base))
        .header("cookie", format!("kbgap_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    assert_eq!(s.page("/", &session).await.status().as_u16(), 303);
}
