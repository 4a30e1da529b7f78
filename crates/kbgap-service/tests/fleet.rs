//! The fleet view stays what the store holds, on a real SQLite store: a report that takes a
//! computer name from another machine removes that machine from the view as the store removes
//! it, and names are found as the store compares them.

use std::sync::Arc;

use kbgap_core::catalog::Catalog;
use kbgap_core::{Device, MachineId};
use kbgap_service::FleetService;
use kbgap_store::Store;

mod common;

/// A 10.0.19045 machine, with the report's own id when given.
fn device(id: Option<&str>, name: &str) -> Device {
    Device {
        id: id.map(|i| i.parse::<MachineId>().unwrap()),
        ..common::device(name, 19045)
    }
}

async fn service() -> (tempfile::TempDir, Arc<dyn Store>, Arc<FleetService>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let fleet = FleetService::load(store.clone(), Arc::new(Catalog::compile(&[])))
        .await
        .unwrap();
    (dir, store, Arc::new(fleet))
}

/// (id, name) of every machine, in the view and in the store.
async fn both(
    store: &dyn Store,
    fleet: &FleetService,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let view = (fleet.read().machines.values())
        .map(|m| (m.id.to_string(), m.device.computer_dns_name.clone()))
        .collect();
    let stored = (store.machines().await.unwrap().into_iter())
        .map(|m| (m.id.to_string(), m.device.computer_dns_name))
        .collect();
    (view, stored)
}

const ID1: &str = "1111111111111111111111111111111111111111";
const ID2: &str = "2222222222222222222222222222222222222222";

#[tokio::test]
async fn a_new_id_for_a_known_name_takes_the_machine_over_in_the_view_too() {
    let (_dir, store, fleet) = service().await;
    fleet
        .ingest(vec![device(Some(ID1), "PC-01")])
        .await
        .unwrap();
    fleet
        .ingest(vec![device(Some(ID2), "pc-01")])
        .await
        .unwrap();
    let (view, stored) = both(store.as_ref(), &fleet).await;
    assert_eq!(stored, [(ID2.to_owned(), "pc-01".to_owned())]);
    assert_eq!(view, stored);
    assert!(fleet.read().find(ID1).is_none(), "the displaced id is gone");
    assert_eq!(fleet.read().fleet.len(), 1);
}

#[tokio::test]
async fn a_known_id_reporting_another_machines_name_removes_that_machine() {
    let (_dir, store, fleet) = service().await;
    fleet
        .ingest(vec![device(Some(ID1), "A"), device(Some(ID2), "B")])
        .await
        .unwrap();
    fleet.ingest(vec![device(Some(ID1), "B")]).await.unwrap();
    let (view, stored) = both(store.as_ref(), &fleet).await;
    assert_eq!(stored, [(ID1.to_owned(), "B".to_owned())]);
    assert_eq!(view, stored);
    assert!(fleet.read().find("a").is_none(), "the old name is free");
    assert!(fleet.read().find(ID2).is_none());
}

#[tokio::test]
async fn names_are_found_as_the_store_compares_them() {
    let (_dir, store, fleet) = service().await;
    fleet
        .ingest(vec![device(None, "PC-01 "), device(None, "ÉCOLE")])
        .await
        .unwrap();
    for name in ["pc-01", " PC-01", "école", "ÉCOLE"] {
        let found = fleet.read().find(name).map(|m| m.id.clone());
        let stored = store.machine(name).await.unwrap().map(|m| m.id);
        assert!(found.is_some(), "{name:?} not found in the view");
        assert_eq!(found, stored, "{name:?}: view and store disagree");
    }
}
