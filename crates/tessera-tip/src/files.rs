//! Where `tip` keeps things, and how: the config file in the user's config directory, the
//! caches in a directory only the owner may enter (0700) with files only the owner may read
//! (0600), written whole (a temporary file renamed into place) and guarded by a lock file so
//! that concurrent invocations do one exchange between them.

use anyhow::{Context, Result, anyhow, bail};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("HOME is not set: tip cannot find its config and cache"))
}

fn xdg(var: &str, fallback: &str) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        // The XDG spec: a relative path is invalid and is ignored.
        Some(v) if Path::new(&v).is_absolute() => Ok(PathBuf::from(v)),
        _ => Ok(home()?.join(fallback)),
    }
}

/// `$XDG_CONFIG_HOME/tip/config.toml` (default `~/.config/tip/config.toml`), or `$TIP_CONFIG`.
pub fn config_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TIP_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(xdg("XDG_CONFIG_HOME", ".config")?
        .join("tip")
        .join("config.toml"))
}

/// `$XDG_CACHE_HOME/tip` (default `~/.cache/tip`).
pub fn cache_root() -> Result<PathBuf> {
    Ok(xdg("XDG_CACHE_HOME", ".cache")?.join("tip"))
}

/// Create `dir` (and its parents) if missing; the directory itself is made 0700, and an
/// existing one must not be open to others.
pub fn private_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    b.mode(0o700);
    match b.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    #[cfg(unix)]
    {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is open to other users (mode {mode:04o}); tip keeps credentials there and \
                 refuses to use it. Run `chmod 700 {}` if that is your own directory.",
                dir.display(),
                dir.display()
            );
        }
        if meta.uid() != effective_uid(dir)? {
            bail!("{} belongs to another user", dir.display());
        }
    }
    Ok(())
}

/// The uid of whoever runs tip: the owner of a file tip just made. (Rust's standard library
/// has no getuid; a fresh file in the private directory tells it.)
#[cfg(unix)]
fn effective_uid(dir: &Path) -> Result<u32> {
    let probe = dir.join(format!(".uid-{}", std::process::id()));
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&probe);
    let uid = match f {
        Ok(f) => f.metadata().map(|m| m.uid()),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&probe);
    uid.with_context(|| format!("cannot write in {}", dir.display()))
}

/// Read a private file: `None` if it does not exist. A file others may read or write, or one
/// tip cannot read, is an error (never silently ignored or trusted).
pub fn read_private(path: &Path) -> Result<Option<Vec<u8>>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !meta.is_file() {
        bail!(
            "{} is not a regular file; tip refuses to use it (remove it)",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable or writable by other users (mode {mode:04o}); it holds \
                 credentials, so tip refuses to use it. Remove it (tip makes a new one) or run \
                 `chmod 600 {}`.",
                path.display(),
                path.display()
            );
        }
    }
    std::fs::read(path)
        .map(Some)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Write `bytes` to `path` whole, readable by the owner only: a temporary file in the same
/// directory, flushed to disk, renamed over the old one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| -> Result<()> {
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        o.mode(0o600);
        let mut f = o
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Remove `path` if it exists.
pub fn remove(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// An exclusive lock on a lock file, held until dropped. Blocks until the lock is free:
/// concurrent `tip` invocations for one profile take turns, and the later ones find what the
/// first one fetched.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

pub async fn lock(path: &Path) -> Result<Lock> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        o.mode(0o600);
        let f = o
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        f.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(Lock { _file: f })
    })
    .await
    .map_err(|e| anyhow!("the lock task failed: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_private_and_whole() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("tip");
        private_dir(&dir).unwrap();
        let p = dir.join("x.json");
        assert!(read_private(&p).unwrap().is_none());
        write_private(&p, b"{}").unwrap();
        assert_eq!(read_private(&p).unwrap().unwrap(), b"{}");
        #[cfg(unix)]
        {
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_private(&p).unwrap_err().to_string();
            assert!(e.contains("readable or writable by other users"), "{e}");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let e = private_dir(&dir).unwrap_err().to_string();
            assert!(e.contains("open to other users"), "{e}");
        }
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
