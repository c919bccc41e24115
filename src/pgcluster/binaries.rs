//! Finding the PostgreSQL server binaries (initdb, pg_ctl, postgres).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory holding `initdb` and `pg_ctl`, searched in this order:
/// `$SOFTDEL_PG_BINDIR`, `pg_ctl` on `PATH`, `pg_config --bindir`, and the
/// newest `/usr/lib/postgresql/*/bin` (Debian's layout, not on `PATH`).
pub fn find_bindir() -> Option<PathBuf> {
    let candidates = std::env::var_os("SOFTDEL_PG_BINDIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(on_path("pg_ctl"))
        .chain(from_pg_config())
        .chain(debian_bindirs());
    candidates.into_iter().find(|dir| is_server_bindir(dir))
}

fn is_server_bindir(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|bin| dir.join(bin).is_file())
}

/// The directory of `name` on `PATH`, following symlinks: Debian links
/// pg_ctl into /usr/bin while initdb stays beside the real one.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .and_then(|found| std::fs::canonicalize(found).ok())
        .and_then(|real| real.parent().map(Path::to_path_buf))
}

fn from_pg_config() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    output
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

fn debian_bindirs() -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    found.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    found.into_iter().map(|(_, dir)| dir).collect()
}
