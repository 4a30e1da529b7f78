//! Which backend a `--db` value names, parsed once at start.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The SQLite file name used when a URL names a directory, or nothing (`sqlite:`).
pub const DEFAULT_SQLITE_FILE: &str = "kbgap.db";

/// A parsed store location. The binary matches on it to open the backend, so this crate needs
/// no dependency on either backend.
///
/// `Debug` and `Display` hide a PostgreSQL password, so the value can be logged.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite database file (created, with its parent directory, when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, as given.
    Postgres(String),
}

impl StoreUrl {
    /// Parses a store location.
    ///
    /// Accepted forms:
    /// - `postgres://…` and `postgresql://…`: kept as given;
    /// - `sqlite://PATH`, `sqlite:PATH` and a bare `PATH`: a SQLite file. A relative path is
    ///   taken relative to `data_dir` (so a configured `KBGAP_DB=kbgap.db` means the same file
    ///   whatever the working directory); an empty path or an existing directory means
    ///   [`DEFAULT_SQLITE_FILE`] in it.
    ///
    /// Refused: other schemes, SQLite URL options (`?mode=…`: kbgap sets SQLite's options
    /// itself) and in-memory SQLite (a pool of in-memory connections would not share data, and a
    /// server would lose everything on exit).
    pub fn parse(s: &str, data_dir: &Path) -> Result<Self, StoreError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(StoreError::Invalid("empty store URL".into()));
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self::Postgres(t.to_owned()));
        }
        let path = if let Some(rest) =
            strip_prefix_ci(t, "sqlite://").or_else(|| strip_prefix_ci(t, "sqlite:"))
        {
            if rest.contains(":memory:") || lower.contains("mode=memory") {
                return Err(StoreError::Invalid(
                    "in-memory SQLite is not supported: give a file path (sqlite://PATH)".into(),
                ));
            }
            if rest.contains('?') {
                return Err(StoreError::Invalid(format!(
                    "{t:?}: SQLite URL options are not supported (kbgap sets WAL, busy timeout and synchronous itself)"
                )));
            }
            rest
        } else if let Some(scheme) = scheme_of(t) {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL scheme {scheme:?}: expected sqlite://PATH, a file path, or postgres://USER:PASSWORD@HOST/DB"
            )));
        } else {
            t
        };
        let mut file = if path.is_empty() {
            data_dir.to_path_buf()
        } else {
            data_dir.join(path)
        };
        if path.is_empty() || file.is_dir() {
            file.push(DEFAULT_SQLITE_FILE);
        }
        Ok(Self::Sqlite(file))
    }

    /// The location with any password replaced by `****`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => redact_url(url),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `prefix` stripped from `s`, ignoring ASCII case.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The scheme of `scheme://…`, if `s` looks like a URL (a Windows path `C:\x` does not).
fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    (first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .then_some(scheme)
}

/// A URL with its password replaced by `****`: the one in `user:password@` and any
/// `password=` query parameter (libpq accepts both).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:****{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StoreUrl, StoreError> {
        StoreUrl::parse(s, Path::new("/data"))
    }

    #[test]
    fn sqlite_forms() {
        let abs = StoreUrl::Sqlite(PathBuf::from("/tmp/x.db"));
        assert_eq!(parse("sqlite:///tmp/x.db").unwrap(), abs);
        assert_eq!(parse("sqlite:/tmp/x.db").unwrap(), abs);
        assert_eq!(parse("SQLITE:/tmp/x.db").unwrap(), abs);
        assert_eq!(parse("/tmp/x.db").unwrap(), abs);
        assert_eq!(
            parse("x.db").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("/data/x.db"))
        );
        assert_eq!(
            parse("sqlite://x.db").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("/data/x.db"))
        );
        assert_eq!(
            parse("sqlite:").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("/data/kbgap.db"))
        );
    }

    #[test]
    fn a_directory_means_the_default_file_in_it() {
        let dir = std::env::temp_dir();
        assert_eq!(
            StoreUrl::parse(dir.to_str().unwrap(), Path::new("/data")).unwrap(),
            StoreUrl::Sqlite(dir.join(DEFAULT_SQLITE_FILE))
        );
    }

    #[test]
    fn postgres_forms_and_refusals() {
        let url = "postgres://kbgap:s3cret@127.0.0.1:5432/kbgap";
        assert_eq!(parse(url).unwrap(), StoreUrl::Postgres(url.into()));
        assert!(matches!(
            parse("postgresql://h/db").unwrap(),
            StoreUrl::Postgres(_)
        ));
        for bad in [
            "",
            "  ",
            "mysql://h/db",
            "sqlite::memory:",
            "sqlite://x.db?mode=rwc",
        ] {
            assert!(
                matches!(parse(bad), Err(StoreError::Invalid(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn passwords_never_show() {
        let u =
            parse("postgres://kbgap:s3cret@127.0.0.1:5432/kbgap?sslmode=disable&password=other")
                .unwrap();
        for shown in [format!("{u:?}"), u.to_string(), u.redacted()] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("other"),
                "{shown}"
            );
            assert!(shown.contains("kbgap:****@127.0.0.1:5432/kbgap"), "{shown}");
            assert!(shown.contains("sslmode=disable&password=****"), "{shown}");
        }
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(redact_url("postgres://u:p:q@h/d"), "postgres://u:****@h/d");
        assert_eq!(redact_url("postgres://u:p@ss@h/d"), "postgres://u:****@h/d");
    }
}
