//! The HTTP foundation over real HTTP: health, errors, request ids, `$metadata`, paths, OData.

mod common;

use common::{Options, error_body, start};

#[tokio::test]
async fn healthz_needs_no_token() {
    let s = start(Options::default()).await;
    for path in ["/healthz", "/HealthZ"] {
        let r = s.get(path, None).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("request-id"));
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"status": "ok"})
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_404_in_defenders_shape() {
    let s = start(Options::default()).await;
    for path in [
        "/api/nothing",
        "/",
        "/api/machines/abc/frobnicate",
        "/api/vulnerabilities/nothing",
    ] {
        let (code, msg) = error_body(s.get(path, None).await, 404).await;
        assert_eq!(code, "ResourceNotFound");
        assert!(msg.contains(path), "{msg}");
    }
    s.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_in_defenders_shape() {
    let s = start(Options::default()).await;
    let r = s.client.post(s.url("/healthz")).send().await.unwrap();
    let (code, msg) = error_body(r, 405).await;
    assert_eq!(code, "MethodNotAllowed");
    assert_eq!(msg, "The method POST is not allowed on /healthz.");
    s.stop().await;
}

#[tokio::test]
async fn request_ids_are_unique_and_on_every_response() {
    let s = start(Options::default()).await;
    let a = s.get("/healthz", None).await.headers()["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let b = s.get("/healthz", None).await.headers()["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    // A client-sent id is not trusted.
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "mine")
        .header("request-id", "mine")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["request-id"], "mine");
    s.stop().await;
}

#[tokio::test]
async fn panics_become_500_without_internals() {
    let s = start(Options::default()).await;
    let token = s.token(&[]);
    let (code, msg) = error_body(s.get("/api/test/panic", Some(&token)).await, 500).await;
    assert_eq!(code, "InternalServerError");
    assert!(
        !msg.contains("secret") && !msg.contains("/var/lib"),
        "{msg}"
    );
    // The server keeps serving.
    assert_eq!(s.get("/healthz", None).await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn bad_json_bodies_are_400_invalid_request_body() {
    let s = start(Options::default()).await;
    let send = |body: &'static str, ct: &'static str| {
        s.client
            .post(s.url("/api/test/json"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let (code, msg) = error_body(
        send("{\"name\": 3}", "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(code, "InvalidRequestBody");
    assert!(msg.contains("name"), "{msg}");
    let (code, _) = error_body(send("{not json", "application/json").await.unwrap(), 400).await;
    assert_eq!(code, "InvalidRequestBody");
    let (code, msg) = error_body(send("{}", "text/plain").await.unwrap(), 400).await;
    assert_eq!(code, "InvalidRequestBody");
    assert!(msg.contains("Content-Type"), "{msg}");
    let ok = send(
        "{\"name\":\"x\",\"count\":2,\"extra\":true}",
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn metadata_needs_a_token_and_is_well_formed_xml() {
    let s = start(Options::default()).await;
    let (code, _) = error_body(s.get("/api/$metadata", None).await, 401).await;
    assert_eq!(code, "Unauthorized");
    // Any valid token will do, even without roles; the path ignores case and `$` may be encoded.
    let token = s.token(&[]);
    for path in ["/api/$metadata", "/API/%24Metadata"] {
        let r = s.get(path, Some(&token)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/xml");
        let xml = r.text().await.unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut names = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Eof => break,
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                    if let Some(a) = e.try_get_attribute("Name").unwrap() {
                        names.push(String::from_utf8(a.value.to_vec()).unwrap());
                    }
                }
                _ => {}
            }
        }
        for want in [
            "Machine",
            "Software",
            "PublicProductFixDto",
            "PublicAssetDto",
            "PublicVulnerabilityDto",
            "PublicAssetVulnerabilityDto",
            "GetMissingKbs",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in $metadata");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn literal_path_segments_ignore_case_but_ids_keep_theirs() {
    let s = start(Options::default()).await;
    let token = s.token(&["Software.Read.All"]);
    for path in [
        "/api/machines/AbC123/getmissingkbs",
        "/API/Machines/AbC123/GetMissingKbs",
        "/api/MACHINES/AbC123/GETMISSINGKBS?unknown=1",
    ] {
        let r = s.get(path, Some(&token)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["machineId"],
            "AbC123",
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn odata_filters_pages_and_links_over_http() {
    let s = start(Options::default()).await;
    let token = s.token(&["Machine.Read.All"]);
    // Follow @odata.nextLink to the end, as Microsoft's samples do.
    let mut url = Some(
        s.url("/api/Machines?$filter=osPlatform%20eq%20'windows10'&$top=5&$count=true&ignored=yes"),
    );
    let mut ids = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let r = s.client.get(&u).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["@odata.context"],
            format!("http://{}/api/$metadata#Machines", s.addr)
        );
        assert_eq!(body["@odata.count"], 13);
        for m in body["value"].as_array().unwrap() {
            assert_eq!(m["osPlatform"], "Windows10");
            ids.push(m["id"].as_str().unwrap().to_owned());
        }
        url = body
            .get("@odata.nextLink")
            .and_then(|l| l.as_str())
            .map(str::to_owned);
        pages += 1;
        assert!(pages <= 3);
    }
    assert_eq!((ids.len(), pages), (13, 3));
    let mut dedup = ids.clone();
    dedup.dedup();
    assert_eq!(dedup, ids);

    // The host the client called, and a proxy's scheme, shape the links.
    let r = s
        .client
        .get(s.url("/api/machines?$top=20"))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "kbgap.example.com")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["@odata.context"],
        "https://kbgap.example.com/api/$metadata#Machines"
    );
    assert_eq!(
        body["@odata.nextLink"],
        "https://kbgap.example.com/api/machines?$top=20&$skip=20"
    );
    assert!(body.get("@odata.count").is_none());

    for (q, want) in [
        (
            "$filter=osPlatform%20eq",
            "Invalid filter: syntax error at position 13",
        ),
        (
            "$filter=nope%20eq%201",
            "Invalid filter: property 'nope' is not a property of Machine",
        ),
        ("$top=10001", "'$top'"),
        ("$skip=x", "'$skip'"),
    ] {
        let (code, msg) = error_body(
            s.get(&format!("/api/machines?{q}"), Some(&token)).await,
            400,
        )
        .await;
        assert_eq!(code, "ODataError", "{q}");
        assert!(msg.contains(want), "{q}: {msg}");
    }
    s.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut s = start(Options::default()).await;
    let client = s.client.clone();
    let url = s.url("/api/test/slow");
    let inflight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    s.signal_shutdown();
    let r = inflight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<String>().await.unwrap(), "done");
    let addr = s.addr;
    s.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener() {
    let s = start(Options::default()).await;
    let token = s.token(&["Software.Read.All"]);
    s.get("/api/Machines/abc/GetMissingKbs", Some(&token)).await;
    s.get("/api/unknown/path/12345", None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(kbgap_server::metrics::serve_metrics(
        listener,
        s.metrics.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    let text = s
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"kbgap_http_requests_total{method="GET",route="/api/machines/{id}/getmissingkbs",status="200"} 1"#),
        "{text}"
    );
    // Unmatched paths share one label; raw paths never become labels.
    assert!(
        text.contains(r#"route="<unmatched>",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("12345"));
    // The API listener does not serve metrics.
    assert_eq!(s.get("/metrics", None).await.status(), 404);
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    s.stop().await;
}
