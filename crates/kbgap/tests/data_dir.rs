//! The data dir's files: private to the service user, and a damaged catalog cache recompiled
//! rather than trusted (issue 13, F7 and file modes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = "fixtures/systeminfo/10_22H2_x64_enterprise_en-us_systeminfo.txt";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kbgap(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("KBGAP_DB")
        .env("KBGAP_LOG", "debug")
        .current_dir(root())
        .output()
        .expect("run kbgap")
}

fn scan(data: &Path) -> (serde_json::Value, String) {
    let o = kbgap(data, &["scan", "--format", "json", FIXTURE]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    (serde_json::from_slice(&o.stdout).expect("json"), stderr)
}

fn cache_file(data: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

#[test]
fn a_damaged_catalog_cache_is_recompiled_and_the_answer_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (first, _) = scan(&data);
    let path = cache_file(&data);
    let sealed = std::fs::read(&path).unwrap();
    assert!(sealed.ends_with(b"KBGAPCK1"), "the cache is sealed");

    // A good cache is used as it is.
    let (second, log) = scan(&data);
    assert_eq!(second, first);
    assert!(!log.contains("compiled catalog"), "{log}");

    // One flipped bit in the snapshot: refused with a warning, recompiled, same answer.
    let mut damaged = sealed.clone();
    let at = damaged.len() / 3;
    damaged[at] ^= 0x10;
    std::fs::write(&path, &damaged).unwrap();
    let (third, log) = scan(&data);
    assert!(log.contains("is damaged"), "{log}");
    assert!(log.contains("compiled catalog"), "{log}");
    assert_eq!(third, first);
    // ...and the cache is whole again.
    assert_eq!(std::fs::read(cache_file(&data)).unwrap(), sealed);
}

#[cfg(unix)]
#[test]
fn what_kbgap_creates_in_the_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nested/data");
    let o = kbgap(&data, &["token", "--roles", "Machine.Read.All"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&data), 0o700, "data dir made by token");
    assert_eq!(mode(&data.join("jwt-signing-key.pem")), 0o600);

    let data2 = tmp.path().join("data2");
    scan(&data2);
    assert_eq!(mode(&data2), 0o700, "data dir made by scan");
    assert_eq!(mode(&data2.join("kbgap.db")), 0o600);
    assert_eq!(mode(&data2.join("cache")), 0o700);
    assert_eq!(mode(&cache_file(&data2)), 0o600);
    for e in std::fs::read_dir(&data2).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p) & 0o077, 0, "{} is readable by others", p.display());
        }
    }
}
