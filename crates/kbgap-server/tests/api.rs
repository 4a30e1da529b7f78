//! The resource endpoints over real HTTP (127.0.0.1, ephemeral port) on a real store: SQLite in
//! a temporary directory always, PostgreSQL when `KBGAP_TEST_DATABASE_URL` names a server.
//!
//! The catalog is compiled from the bundled documents once per test binary; that is slow in
//! debug builds, so run these with `--release`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Options, evaluate};
use kbgap_core::report::MissingKbEntry;
use kbgap_inventory::{Format, Inventory};
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_store::Store;
use serde_json::Value;
use tokio::sync::oneshot;

fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let docs: Vec<_> = kbgap_catalog::bundled::read_all()
                .collect::<Result<_, _>>()
                .expect("bundled documents read");
            let mut cat = Catalog::compile(&docs);
            cat.apply_kev(&kbgap_catalog::kev::bundled().expect("bundled KEV"));
            Arc::new(cat)
        })
        .clone()
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo")
}

/// The systeminfo fixtures that parse as machines MSRC covers, in file-name order (the XP-era
/// ones, accepted as out of support, have their own test).
fn machines() -> Vec<(String, Vec<u8>, Device)> {
    let dir = fixtures_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            match kbgap_inventory::read(&bytes, "t", Format::Auto) {
                Ok(Inventory::Device(d)) if d.end_of_support.is_none() => Some((
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    bytes,
                    d,
                )),
                _ => None,
            }
        })
        .collect()
}

struct Api {
    base: String,
    client: reqwest::Client,
    local: Arc<LocalIssuer>,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    async fn start(store: Arc<dyn Store>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalIssuer::load_or_create(dir.path()).unwrap();
        let config = AuthConfig::local(local);
        let local = config.local.clone().unwrap();
        let fleet = FleetService::load(store, catalog()).await.unwrap();
        let state = AppState::new(
            Authenticator::new(config).unwrap(),
            RateLimitConfig::unlimited(),
        )
        .with_fleet(Arc::new(fleet));
        let app = router_with(state, api_routes());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve_app(listener, app, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            local,
            _dir: dir,
            shutdown: Some(tx),
            handle,
        }
    }

    fn token(&self, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| (*s).to_owned()).collect();
        self.local
            .issue(&roles, "tenant-1", "app-1", Duration::from_secs(600))
            .unwrap()
    }

    async fn get_as(&self, path: &str, roles: &[&str]) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(roles))
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str, roles: &[&str]) -> Value {
        let resp = self.get_as(path, roles).await;
        assert_eq!(resp.status().as_u16(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    async fn post(&self, body: Vec<u8>, content_type: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/inventory", self.base))
            .bearer_auth(self.token(&["Machine.ReadWrite.All"]))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn machine_count(&self) -> u64 {
        let v = self
            .json("/api/machines?$count=true", &["Machine.Read.All"])
            .await;
        v["@odata.count"].as_u64().unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.await.unwrap().unwrap();
    }
}

async fn error_code(resp: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(resp.status().as_u16(), status);
    let v: Value = resp.json().await.unwrap();
    (
        v["error"]["code"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

fn ids(v: &Value) -> Vec<String> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The whole contract story on one store.
async fn story(store: Arc<dyn Store>) {
    let cat = catalog();
    let api = Api::start(store.clone()).await;
    let fixtures = machines();
    assert!(
        fixtures.len() >= 20,
        "only {} fixtures parse",
        fixtures.len()
    );
    eprintln!("{} systeminfo fixtures parse as machines", fixtures.len());

    // Ingest every systeminfo file as text/plain; the last report of a computer name wins.
    let mut by_id: BTreeMap<String, (String, Device)> = BTreeMap::new();
    for (name, bytes, device) in &fixtures {
        let resp = api.post(bytes.clone(), "text/plain").await;
        assert_eq!(resp.status().as_u16(), 200, "ingest {name}");
        let m: Value = resp.json().await.unwrap();
        let id = m["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 40);
        assert!(
            m["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("Machines/$entity")
        );
        by_id.insert(id, (name.clone(), device.clone()));
    }
    let names: BTreeSet<String> = fixtures
        .iter()
        .map(|(_, _, d)| d.computer_dns_name.to_ascii_lowercase())
        .collect();
    assert_eq!(by_id.len(), names.len());
    assert_eq!(api.machine_count().await, names.len() as u64);

    // Machine getmissingkbs equals what `kbgap scan` computes for the same device.
    let kb_roles = &["Software.Read.All"];
    for (id, (name, device)) in &by_id {
        let state = cat.machine_state(device).state;
        let ev = evaluate(&cat, &state, Options::default());
        let want = MissingKbEntry::all(&cat, &state, &ev, false);
        let got = api
            .json(&format!("/api/machines/{id}/getmissingkbs"), kb_roles)
            .await;
        let got = got["value"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g["id"], w.id.as_str(), "{name}");
            assert_eq!(g["name"], w.name.as_str(), "{name}");
            assert_eq!(g["cveAddressed"], w.cve_addressed, "{name}");
            assert_eq!(g["productsNames"], serde_json::json!(w.products_names));
            assert!(g["machineMissedOn"].as_i64().unwrap() >= 1);
        }
    }

    // Software getmissingkbs, with Defender's casing of the path.
    let sw = api
        .json(
            "/api/Software/microsoft-_-windows_10/getmissingkbs",
            kb_roles,
        )
        .await;
    let fixes = sw["value"].as_array().unwrap();
    assert!(!fixes.is_empty());
    for f in fixes {
        assert!(f["machineMissedOn"].as_i64().unwrap() >= 1);
        assert_eq!(f["productsNames"], serde_json::json!(["windows_10"]));
    }

    // 404s in Defender's form.
    let (code, msg) = error_code(
        api.get_as(
            &format!("/api/machines/{}/getmissingkbs", "0".repeat(40)),
            kb_roles,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(code, "ResourceNotFound");
    assert_eq!(msg, format!("Machine {} was not found", "0".repeat(40)));
    let (code, _) = error_code(
        api.get_as(
            "/api/Software/microsoft-_-no_such_thing/getmissingkbs",
            kb_roles,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(code, "ResourceNotFound");

    // 401 without a token, 403 with the wrong role.
    let resp = api
        .client
        .get(format!("{}/api/machines", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 401).await.0, "Unauthorized");
    let resp = api.get_as("/api/machines", &["Software.Read.All"]).await;
    assert_eq!(error_code(resp, 403).await.0, "Forbidden");
    let resp = api.post(b"x".to_vec(), "text/plain").await;
    assert_eq!(resp.status().as_u16(), 400);
    // A JSON report followed by anything is refused whole, and stores nothing.
    let before = api.machine_count().await;
    let two = br#"{"computerDnsName":"twice-1","osVersion":"10.0.19045","ubr":2130,"installationType":"Client","architecture":"x64","installedKbs":[]}
{"computerDnsName":"twice-2"}"#;
    let resp = api.post(two.to_vec(), "application/json").await;
    let (code, message) = error_code(resp, 400).await;
    assert_eq!(code, "InvalidInput", "{message}");
    assert!(
        message.contains("data after the end of the JSON document"),
        "{message}"
    );
    assert_eq!(api.machine_count().await, before);
    let resp = api
        .client
        .post(format!("{}/api/inventory", api.base))
        .bearer_auth(api.token(&["Machine.Read.All"]))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 403).await.0, "Forbidden");

    // Re-ingest: same id, no duplicate, lastSeen moves.
    let count = api.machine_count().await;
    let (_, bytes, _) = fixtures.last().unwrap();
    let first: Value = api
        .post(bytes.clone(), "text/plain")
        .await
        .json()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again: Value = api
        .post(bytes.clone(), "text/plain")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["firstSeen"], again["firstSeen"]);
    assert!(again["lastSeen"].as_str().unwrap() > first["lastSeen"].as_str().unwrap());
    assert_eq!(api.machine_count().await, count);

    // A bad report: 400 InvalidInput naming the field, nothing stored.
    let bad = br#"{"computerDnsName":"BAD-1","osVersion":"banana","installationType":"Client","architecture":"x64","installedKbs":[]}"#;
    let (code, msg) = error_code(api.post(bad.to_vec(), "application/json").await, 400).await;
    assert_eq!(code, "InvalidInput");
    assert!(msg.contains("osVersion"), "{msg}");
    let ndjson = format!(
        "{}\n{}\n",
        r#"{"computerDnsName":"BULK-1","osName":"Microsoft Windows 10 Enterprise","osVersion":"10.0.19045","ubr":3570,"installationType":"Client","architecture":"x64","installedKbs":[]}"#,
        "{not json"
    );
    let (code, _) = error_code(
        api.post(ndjson.into_bytes(), "application/x-ndjson").await,
        400,
    )
    .await;
    assert_eq!(code, "InvalidInput");
    assert_eq!(api.machine_count().await, count);

    // NDJSON bulk: two reports, an OData collection back.
    let line = |n: &str| {
        format!(
            r#"{{"computerDnsName":"{n}","osName":"Microsoft Windows 10 Enterprise","osVersion":"10.0.19045","ubr":3570,"installationType":"Client","architecture":"x64","installedKbs":["KB5034122"]}}"#
        )
    };
    // machineMissedOn follows the fleet: BULK-1's answer (kept between requests) is renewed
    // when BULK-2 joins its group below, and stays when a known machine reports its state again.
    let resp = api
        .post(line("BULK-1").into_bytes(), "application/json")
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let bulk1: Value = resp.json().await.unwrap();
    let kbs_path = format!(
        "/api/machines/{}/getmissingkbs?$count=true",
        bulk1["id"].as_str().unwrap()
    );
    let missed = |v: &Value| -> Vec<(String, i64)> {
        (v["value"].as_array().unwrap().iter())
            .map(|f| {
                let id = f["id"].as_str().unwrap().to_owned();
                (id, f["machineMissedOn"].as_i64().unwrap())
            })
            .collect()
    };
    let before = api.json(&kbs_path, kb_roles).await;
    assert!(!missed(&before).is_empty());
    assert_eq!(
        before["@odata.count"].as_u64(),
        Some(missed(&before).len() as u64)
    );
    let body = format!("{}\n{}\n", line("BULK-1"), line("BULK-2"));
    let resp = api.post(body.into_bytes(), "application/x-ndjson").await;
    assert_eq!(resp.status().as_u16(), 200);
    let bulk: Value = resp.json().await.unwrap();
    assert_eq!(bulk["value"].as_array().unwrap().len(), 2);
    assert_eq!(api.machine_count().await, count + 2);
    let joined: Vec<(String, i64)> = (missed(&before).into_iter())
        .map(|(kb, n)| (kb, n + 1))
        .collect();
    assert_eq!(missed(&api.json(&kbs_path, kb_roles).await), joined);
    let resp = api
        .post(line("BULK-2").into_bytes(), "application/json")
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(missed(&api.json(&kbs_path, kb_roles).await), joined);

    // $filter, by name, and paging to the end.
    let v = api
        .json(
            "/api/machines?$filter=computerDnsName eq 'BULK-2'",
            &["Machine.Read.All"],
        )
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let id2 = v["value"][0]["id"].as_str().unwrap().to_owned();
    let by_name = api
        .json("/api/machines/bulk-2", &["Machine.Read.All"])
        .await;
    assert_eq!(by_name["id"], id2.as_str());
    let v = api
        .json(
            "/api/machines?$filter=startswith(computerDnsName,'BULK')",
            &["Machine.Read.All"],
        )
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    let resp = api
        .get_as("/api/machines?$filter=nope eq", &["Machine.Read.All"])
        .await;
    assert_eq!(error_code(resp, 400).await.0, "ODataError");
    let mut seen = 0;
    let mut next = Some(format!("{}/api/machines?$top=5", api.base));
    while let Some(url) = next {
        let v: Value = api
            .client
            .get(&url)
            .bearer_auth(api.token(&["Machine.Read.All"]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen += v["value"].as_array().unwrap().len() as u64;
        next = v["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, count + 2);

    // machinesVulnerabilities agrees with getmissingkbs.
    let mut rows_seen = 0;
    for id in by_id.keys() {
        let kbs: BTreeSet<String> = ids(&api
            .json(&format!("/api/machines/{id}/getmissingkbs"), kb_roles)
            .await)
        .into_iter()
        .collect();
        let rows = api
            .json(
                &format!(
                    "/api/vulnerabilities/machinesVulnerabilities?$filter=machineId eq '{id}'"
                ),
                &["Vulnerability.Read.All"],
            )
            .await;
        for r in rows["value"].as_array().unwrap() {
            rows_seen += 1;
            let kb = r["fixingKbId"].as_str().unwrap();
            assert!(kbs.contains(kb), "{kb} not missing on {id}");
        }
    }
    assert!(rows_seen > 0);
    eprintln!("{rows_seen} machinesVulnerabilities rows checked");

    // The neighbours answer with their shapes.
    let id = by_id.keys().next().unwrap();
    let sw = api
        .json(&format!("/api/machines/{id}/software"), kb_roles)
        .await;
    assert!(!sw["value"].as_array().unwrap().is_empty());
    api.json(
        &format!("/api/machines/{id}/vulnerabilities"),
        &["Vulnerability.Read.All"],
    )
    .await;
    let all = api.json("/api/Software", kb_roles).await;
    assert!(ids(&all).contains(&"microsoft-_-windows_10".to_owned()));
    let one = api
        .json("/api/Software/microsoft-_-windows_10", kb_roles)
        .await;
    assert!(one["installedMachines"].as_i64().unwrap() >= 1);
    let refs = api
        .json(
            "/api/Software/microsoft-_-windows_10/machineReferences",
            kb_roles,
        )
        .await;
    assert_eq!(
        refs["value"].as_array().unwrap().len() as i64,
        one["installedMachines"].as_i64().unwrap()
    );
    let vulns = api
        .json(
            "/api/Software/microsoft-_-windows_10/vulnerabilities",
            &["Vulnerability.Read.All"],
        )
        .await;
    assert!(!vulns["value"].as_array().unwrap().is_empty());
    api.stop().await;

    // A restart reloads the same fleet from the store.
    let api = Api::start(store).await;
    assert_eq!(api.machine_count().await, count + 2);
    api.stop().await;
}

/// Windows XP and Server 2003 (real systeminfo outputs) are accepted, stored and listed with
/// `servicingStatus` and `servicingNote`; their getmissingkbs is empty; the list filters on it;
/// a restart keeps them. A report's software that kbgap does not evaluate is named in a warning
/// stored with the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_support_machines_are_stored_listed_and_filterable() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let api = Api::start(store.clone()).await;
    let roles = &["Machine.Read.All"];
    let mut ids = BTreeMap::new();
    for name in [
        "xp_sp3_x86_professional_en-us_systeminfo.txt",
        "srv_2003r2_sp2_x86_standard_en-us_systeminfo.txt",
        "10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ] {
        let bytes = std::fs::read(fixtures_dir().join(name)).unwrap();
        let resp = api.post(bytes, "text/plain").await;
        assert_eq!(resp.status().as_u16(), 200, "ingest {name}");
        let m: Value = resp.json().await.unwrap();
        ids.insert(name, m);
    }
    let xp = &ids["xp_sp3_x86_professional_en-us_systeminfo.txt"];
    assert_eq!(xp["servicingStatus"], "EndOfSupport");
    let note = xp["servicingNote"].as_str().unwrap();
    assert!(
        note.starts_with("Windows XP Service Pack 3 (5.1.2600) is out of support: Microsoft ended its support in April 2014"),
        "{note}"
    );
    assert_eq!(xp["osVersion"], "5.1.2600");
    let win10 = &ids["10_22H2_x64_enterprise_en-us_systeminfo.txt"];
    assert_eq!(win10["servicingStatus"], "Supported");
    assert_eq!(win10["servicingNote"], Value::Null);

    // Listed, and filterable on the status.
    let names = |v: &Value| -> BTreeSet<String> {
        (v["value"].as_array().unwrap().iter())
            .map(|m| m["computerDnsName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = api.json("/api/machines", roles).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 3);
    let eos = api
        .json(
            "/api/machines?$filter=servicingStatus eq 'EndOfSupport'",
            roles,
        )
        .await;
    let expected: BTreeSet<String> = [
        xp["computerDnsName"].as_str().unwrap().to_owned(),
        ids["srv_2003r2_sp2_x86_standard_en-us_systeminfo.txt"]["computerDnsName"]
            .as_str()
            .unwrap()
            .to_owned(),
    ]
    .into();
    assert_eq!(names(&eos), expected);
    for m in eos["value"].as_array().unwrap() {
        assert!(
            m["servicingNote"]
                .as_str()
                .unwrap()
                .contains("is out of support")
        );
    }
    let supported = api
        .json(
            "/api/machines?$filter=servicingStatus eq 'Supported'",
            roles,
        )
        .await;
    assert_eq!(supported["value"].as_array().unwrap().len(), 1);
    let noted = api
        .json(
            "/api/machines?$filter=contains(servicingNote,'Server 2003')",
            roles,
        )
        .await;
    assert_eq!(noted["value"].as_array().unwrap().len(), 1);

    // Nothing can be listed for an unsupported OS: an empty answer, not an error.
    let xp_id = xp["id"].as_str().unwrap();
    let kbs = api
        .json(
            &format!("/api/machines/{xp_id}/getmissingkbs"),
            &["Software.Read.All"],
        )
        .await;
    assert_eq!(kbs["value"], serde_json::json!([]));
    let one = api.json(&format!("/api/machines/{xp_id}"), roles).await;
    assert_eq!(one["servicingStatus"], "EndOfSupport");

    // Documented in $metadata.
    let resp = api.get_as("/api/$metadata", roles).await;
    let xml = resp.text().await.unwrap();
    assert!(
        xml.contains(r#"<Property Name="servicingStatus" Type="Edm.String" Nullable="false" />"#)
    );
    assert!(xml.contains(r#"<Property Name="servicingNote" Type="Edm.String" />"#));

    // Software kbgap does not evaluate is named in a warning stored with the machine; a .NET
    // runtime that matched a catalog product is not.
    let report = r#"{"computerDnsName":"SW-1","osVersion":"10.0.26100","ubr":4946,
        "installationType":"Client","architecture":"x64","installedKbs":[],
        "software":[
          {"vendor":"Google LLC","name":"Google Chrome","version":"126.0.6478.127"},
          {"vendor":"Microsoft Corporation","name":"Microsoft .NET Framework 4.8.1","version":"4.8.09032"},
          {"vendor":"Igor Pavlov","name":"7-Zip 23.01 (x64)","version":"23.01"}]}"#;
    let resp = api
        .post(report.as_bytes().to_vec(), "application/json")
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    api.stop().await;

    let stored = store.machines().await.unwrap();
    let sw1 = stored
        .iter()
        .find(|m| m.device.computer_dns_name == "SW-1")
        .unwrap();
    let warned: Vec<&String> = (sw1.device.warnings.iter())
        .filter(|w| w.contains("not evaluated"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", sw1.device.warnings);
    assert!(
        warned[0].starts_with("2 programs in the software inventory are not evaluated"),
        "{}",
        warned[0]
    );
    assert!(warned[0].contains(r#""Google Chrome""#) && warned[0].contains("7-Zip"));
    assert!(!warned[0].contains(".NET"), "{}", warned[0]);

    // A restart reloads the out-of-support machines with their status.
    let api = Api::start(store).await;
    let eos = api
        .json(
            "/api/machines?$filter=servicingStatus eq 'EndOfSupport'",
            roles,
        )
        .await;
    assert_eq!(names(&eos), expected);
    api.stop().await;
}

/// Every row of a paged collection, following `@odata.nextLink`.
async fn all_rows(api: &Api, path: &str, roles: &[&str]) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(p) = next.take() {
        let page = api.json(&p, roles).await;
        rows.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["@odata.nextLink"]
            .as_str()
            .map(|l| l.trim_start_matches(&api.base).to_owned());
    }
    rows
}

/// `$metadata`'s property names per entity or complex type, base types' first.
fn declared(xml: &str) -> BTreeMap<String, Vec<String>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut types, mut bases) = (BTreeMap::new(), BTreeMap::new());
    let mut current: Option<String> = None;
    let attr = |e: &quick_xml::events::BytesStart<'_>, n: &str| {
        e.try_get_attribute(n)
            .unwrap()
            .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
    };
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.local_name().as_ref() {
                    b"EntityType" | b"ComplexType" => {
                        let name = attr(&e, "Name").unwrap();
                        if let Some(b) = attr(&e, "BaseType") {
                            bases.insert(name.clone(), b.rsplit('.').next().unwrap().to_owned());
                        }
                        types.entry(name.clone()).or_insert_with(Vec::new);
                        current = Some(name);
                    }
                    b"Property" => {
                        let t = current.clone().unwrap();
                        types.get_mut(&t).unwrap().push(attr(&e, "Name").unwrap());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for name in types.keys() {
        let mut props = Vec::new();
        let mut t = Some(name.clone());
        while let Some(n) = t {
            let mut own = types[&n].clone();
            own.extend(props);
            props = own;
            t = bases.get(&n).cloned();
        }
        out.insert(name.clone(), props);
    }
    out
}

/// The keys of a served object, without OData annotations.
fn keys(v: &Value) -> Vec<String> {
    (v.as_object().unwrap().keys())
        .filter(|k| !k.starts_with('@'))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_fields_come_from_msrc_and_kev_and_metadata_declares_what_is_served() {
    let roles = &[
        "Machine.Read.All",
        "Vulnerability.Read.All",
        "Software.Read.All",
    ];
    let four = ["Low", "Medium", "High", "Critical"];
    let sqlite = |dir: &tempfile::TempDir| {
        let path = dir.path().join("kbgap.db");
        async move { Arc::new(kbgap_store_sqlite::SqliteStore::open(&path).await.unwrap()) }
    };

    // Per corpus file, alone on a server (several files share a computer name): severity in
    // Defender's four values, CVSS from MSRC, exposure from them.
    let fixtures = machines();
    let mut clfs_seen = false;
    for (name, bytes, _) in &fixtures {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::start(sqlite(&dir).await).await;
        let resp = api.post(bytes.clone(), "text/plain").await;
        assert_eq!(resp.status().as_u16(), 200, "ingest {name}");
        let m: Value = resp.json().await.unwrap();
        let id = m["id"].as_str().unwrap().to_owned();
        let rows = all_rows(&api, &format!("/api/machines/{id}/vulnerabilities"), roles).await;
        let rated = (rows.iter())
            .filter(|r| r["severity"].as_str().is_some_and(|s| four.contains(&s)))
            .count();
        let scored = rows
            .iter()
            .filter(|r| r["cvssV3"].as_f64().unwrap() > 0.0)
            .count();
        let n = rows.len().max(1);
        eprintln!(
            "{name}: {} open CVEs, {:.1}% with a severity, {:.1}% with a CVSS score",
            rows.len(),
            100.0 * rated as f64 / n as f64,
            100.0 * scored as f64 / n as f64
        );
        assert!(
            rated * 100 >= rows.len() * 99,
            "{name}: {rated} of {} rated",
            rows.len()
        );
        assert!(
            scored * 100 >= rows.len() * 95,
            "{name}: {scored} of {} scored",
            rows.len()
        );
        for r in &rows {
            assert_eq!(r["status"], "RemediationRequired");
            if r["cvssV3"].as_f64().unwrap() > 0.0 {
                assert!(
                    r["cvssVector"].as_str().unwrap().starts_with("CVSS:3"),
                    "{r}"
                );
            }
            if r["exploitVerified"] == true {
                assert_eq!(r["publicExploit"], true, "exploited implies publicExploit");
            }
        }
        if let Some(clfs) = rows.iter().find(|r| r["id"] == "CVE-2025-29824") {
            clfs_seen = true;
            assert_eq!(clfs["exploitVerified"], true);
            assert_eq!(clfs["severity"], "High", "CVSS 7.8 is High");
            assert_eq!(clfs["cvssV3"], 7.8);
            assert!(
                clfs["publishedOn"]
                    .as_str()
                    .unwrap()
                    .starts_with("2025-04-08")
            );
            assert!(
                clfs["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == "CISA KEV")
            );
        }
        // A machine with open CVEs is exposed; one exploited makes it High.
        let m = api.json(&format!("/api/machines/{id}"), roles).await;
        let exploited = rows.iter().any(|r| r["exploitVerified"] == true);
        let want = match (rows.is_empty(), exploited) {
            (true, _) => "None",
            (false, true) => "High",
            (false, false) => m["exposureLevel"].as_str().unwrap(),
        };
        assert_eq!(m["exposureLevel"], want, "{name}");
        assert_ne!(
            m["riskScore"],
            if rows.is_empty() { "High" } else { "None" }
        );
        api.stop().await;
    }
    assert!(
        clfs_seen,
        "a corpus machine misses the fix for CVE-2025-29824"
    );
    eprintln!("{} corpus machines checked", fixtures.len());

    // The whole corpus on one server.
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(sqlite(&dir).await).await;
    let mut ids = BTreeMap::new();
    for (name, bytes, _) in &fixtures {
        let resp = api.post(bytes.clone(), "text/plain").await;
        assert_eq!(resp.status().as_u16(), 200, "ingest {name}");
        let m: Value = resp.json().await.unwrap();
        ids.insert(m["id"].as_str().unwrap().to_owned(), name.clone());
    }

    // machinesVulnerabilities: never an empty severity, and $filter on it returns the expected rows.
    let all = all_rows(&api, "/api/vulnerabilities/machinesVulnerabilities", roles).await;
    let empty = all.iter().filter(|r| r["severity"] == "").count();
    assert!(
        empty * 100 <= all.len(),
        "{empty} of {} rows without severity",
        all.len()
    );
    let mut want: Vec<String> = (all.iter())
        .filter(|r| r["severity"] == "High")
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let high = all_rows(
        &api,
        "/api/vulnerabilities/machinesVulnerabilities?$filter=severity%20eq%20'High'",
        roles,
    )
    .await;
    let mut got: Vec<String> = high
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    got.sort();
    assert!(!got.is_empty());
    assert_eq!(got, want);
    eprintln!(
        "machinesVulnerabilities: {} rows, {} High",
        all.len(),
        got.len()
    );

    // Machines filter on exposure; software counts what is open on it.
    let exposed = all_rows(
        &api,
        "/api/machines?$filter=exposureLevel%20eq%20'High'",
        roles,
    )
    .await;
    assert!(!exposed.is_empty());
    assert!(exposed.iter().all(|m| m["exposureLevel"] == "High"));
    let software = all_rows(&api, "/api/Software", roles).await;
    let w10 = software.iter().find(|s| s["name"] == "windows_10").unwrap();
    assert!(w10["weaknesses"].as_i64().unwrap() > 100, "{w10}");
    assert_eq!(w10["publicExploit"], true);
    let impact = w10["impactScore"].as_f64().unwrap();
    assert!(impact > 0.0 && impact <= 10.0, "{impact}");

    // $metadata declares exactly what is served.
    let token = api.token(&[]);
    let xml = (api.client.get(format!("{}/api/$metadata", api.base)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let declared = declared(&xml);
    let (id, _) = ids.iter().next().unwrap();
    let served = [
        (
            "Machine",
            api.json(&format!("/api/machines/{id}"), roles).await,
        ),
        (
            "Vulnerability",
            all_rows(&api, &format!("/api/machines/{id}/vulnerabilities"), roles).await[0].clone(),
        ),
        ("Software", w10.clone()),
        ("PublicAssetVulnerabilityDto", all[0].clone()),
        (
            "PublicProductFixDto",
            api.json(&format!("/api/machines/{id}/getmissingkbs"), roles)
                .await["value"][0]
                .clone(),
        ),
    ];
    for (entity, value) in served {
        let mut got = keys(&value);
        let mut want = declared[entity].clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{entity}: served keys vs $metadata");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
        .await
        .unwrap();
    story(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_postgres() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("KBGAP_TEST_DATABASE_URL is not set: skipping the PostgreSQL contract test");
        return;
    };
    let scratch = kbgap_store_postgres::ScratchDatabase::create(&base)
        .await
        .unwrap();
    let store = kbgap_store_postgres::PgStore::connect(scratch.url())
        .await
        .unwrap();
    story(Arc::new(store)).await;
    scratch.drop_database().await.unwrap();
}
