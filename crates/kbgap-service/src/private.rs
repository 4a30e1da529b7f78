//! Files only the service user can read: machine inventories, the signing key and the catalog
//! cache are nobody else's business (issue 13: `kbgap.db` was 0644 in a 0755 folder).
//!
//! kbgap makes what it creates private — the data dir and the cache folder 0700, the SQLite
//! database and cache files 0600 — and leaves modes an administrator set on existing ones
//! alone. On other systems these are no-ops (the folder's ACL applies).

use std::io;
use std::path::Path;

/// Creates `dir` and missing parents, each new one mode 0700; an existing one is left as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a file kbgap just created readable by its owner only.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    set_mode(path, 0o600)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}
