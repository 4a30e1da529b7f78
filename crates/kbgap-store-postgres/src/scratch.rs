//! Throwaway databases for tests and benches, one per run, as atuin's `tests-database` does:
//! runs never see each other's data and leave nothing behind.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kbgap_store::{StoreError, redact_url};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::error::scrub;

/// A database created with a unique name (`kbgap_test_<pid>_<time>_<n>`) on the server a base
/// URL names, dropped by [`ScratchDatabase::drop_database`]. The base URL's role needs
/// `CREATEDB`; its database (usually `postgres`) is only used to create and drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    base_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates a fresh, empty database.
    pub async fn create(base_url: &str) -> Result<Self, StoreError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "kbgap_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let url = with_database(base_url, &name);
        let me = Self {
            base_url: base_url.to_owned(),
            name,
            url,
        };
        me.admin(&format!("CREATE DATABASE \"{}\"", me.name))
            .await?;
        Ok(me)
    }

    /// The URL of the scratch database (with the base URL's credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops it, closing any connection still open to it.
    pub async fn drop_database(self) -> Result<(), StoreError> {
        self.admin(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .await
    }

    async fn admin(&self, sql: &str) -> Result<(), StoreError> {
        let shown = redact_url(&self.base_url);
        let fail = |e: sqlx::Error| {
            StoreError::Backend(scrub(format!("{sql} on {shown}: {e}"), &self.base_url))
        };
        let options = PgConnectOptions::from_str(&self.base_url).map_err(fail)?;
        let mut conn = PgConnection::connect_with(&options).await.map_err(fail)?;
        sqlx::query(sql).execute(&mut conn).await.map_err(fail)?;
        conn.close().await.map_err(fail)?;
        Ok(())
    }
}

/// `url` with its database (the path) replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return format!("{url}/{name}");
    };
    let rest = &url[start..];
    let authority_end = start + rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let query = url[authority_end..]
        .find('?')
        .map_or("", |q| &url[authority_end + q..]);
    format!("{}/{name}{query}", &url[..authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h", "x"), "postgres://u:p@h/x");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
