//! The contract of issued tokens and revocation, for every backend.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::tokens::{IssuedToken, RevokeOutcome};
use crate::{Store, StoreError};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
}

fn token(jti: &str, issued: i64, roles: &[&str], machine: Option<&str>) -> IssuedToken {
    IssuedToken {
        jti: jti.into(),
        subject: "kbgap-cli".into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        machine: machine.map(str::to_owned),
        issued_at: at(issued),
        expires_at: at(issued) + Duration::days(1),
        revoked_at: None,
    }
}

/// Records, lists, revokes by id and by cut-off, and checks what a server would read.
pub async fn token_story(store: Arc<dyn Store>) {
    assert_eq!(store.revocation_generation().await.unwrap(), 0);
    let fresh = store.revocations(at(0)).await.unwrap();
    assert!(fresh.jtis.is_empty() && fresh.issued_before.is_none());

    let a = token("aa01", 0, &["Machine.Read.All", "Software.Read.All"], None);
    let b = token("bb02", 100, &["Inventory.Submit"], Some("PC-7"));
    let c = token("cc03", 200, &["Inventory.Submit"], None);
    for t in [&c, &a, &b] {
        store.record_token(t).await.unwrap();
    }
    assert!(matches!(
        store.record_token(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.issued_tokens().await.unwrap(),
        [a.clone(), b.clone(), c.clone()]
    );

    assert_eq!(
        store.revoke_token("bb02", at(300)).await.unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(
        store.revoke_token("bb02", at(400)).await.unwrap(),
        RevokeOutcome::AlreadyRevoked(at(300))
    );
    assert!(matches!(
        store.revoke_token("zz99", at(400)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.revocation_generation().await.unwrap(), 1);
    let r = store.revocations(at(400)).await.unwrap();
    assert_eq!(
        (r.generation, r.jtis.as_slice()),
        (1, ["bb02".to_owned()].as_slice())
    );
    // Past its exp a revoked token need not be listed: it is refused anyway.
    assert!(
        store
            .revocations(at(200_000))
            .await
            .unwrap()
            .jtis
            .is_empty()
    );

    // A cut-off marks the recorded tokens before it, not those at or after it.
    assert_eq!(
        store.revoke_issued_before(at(200), at(500)).await.unwrap(),
        1
    );
    let r = store.revocations(at(600)).await.unwrap();
    assert_eq!(r.generation, 2);
    assert_eq!(r.jtis, ["aa01", "bb02"]);
    assert_eq!(r.issued_before, Some(at(200)));
    // An earlier cut-off never moves it back.
    store.revoke_issued_before(at(50), at(700)).await.unwrap();
    let r = store.revocations(at(800)).await.unwrap();
    assert_eq!((r.generation, r.issued_before), (3, Some(at(200))));
    let listed = store.issued_tokens().await.unwrap();
    let revoked: Vec<_> = listed.iter().map(|t| t.revoked_at).collect();
    assert_eq!(revoked, [Some(at(500)), Some(at(300)), None]);
    assert_eq!(listed[1].machine.as_deref(), Some("PC-7"));
}
