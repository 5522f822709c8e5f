//! The data directory: the store file and the key file.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Error;

/// File name of the redb store inside the data directory.
pub const STORE_FILE: &str = "sessattr.redb";
/// File name of the key file inside the data directory.
pub const KEY_FILE: &str = "keys.json";
/// The key file in TOML, used when there is no `keys.json`.
pub const KEY_FILE_TOML: &str = "keys.toml";

/// An existing data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens the data directory, creating it and its parents if missing.
    /// The directory is made private (mode 0700) whether sessattr created it
    /// or found it (an operator may create it to put `sessattr.toml` in it),
    /// and so is the store file when it exists: it holds password hashes and
    /// the values stored in clear.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let fail = |source| Error::DataDir {
            path: path.to_path_buf(),
            source,
        };
        if !path.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(fail)?;
        }
        make_private(path, 0o700).map_err(fail)?;
        let dir = Self {
            path: path.to_path_buf(),
        };
        let store = dir.store_path();
        if store.exists() {
            make_private(&store, 0o600).map_err(fail)?;
        }
        Ok(dir)
    }

    /// Creates the store file (mode 0600) if it does not exist yet, so that
    /// the store never exists with the process's default mode.
    pub fn prepare_store(&self) -> Result<PathBuf, Error> {
        let store = self.store_path();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&store)
            .and_then(|_| make_private(&store, 0o600))
            .map_err(|source| Error::DataDir {
                path: store.clone(),
                source,
            })?;
        Ok(store)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of the redb store.
    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }

    /// Path of the key file: `keys.json`, or `keys.toml` when only that
    /// one exists.
    pub fn key_path(&self) -> PathBuf {
        let json = self.path.join(KEY_FILE);
        let toml = self.path.join(KEY_FILE_TOML);
        if !json.exists() && toml.exists() {
            toml
        } else {
            json
        }
    }
}

/// Sets `path`'s mode to `mode` unless it is already no more open.
fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_open_dir_and_store_are_made_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("made-by-hand");
        std::fs::create_dir(&path).expect("mkdir");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(path.join(STORE_FILE), b"").expect("store");
        std::fs::set_permissions(
            path.join(STORE_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let dir = DataDir::open(&path).expect("open");
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.store_path()), 0o600);
        let fresh = tmp.path().join("fresh");
        let dir = DataDir::open(&fresh).expect("open");
        assert_eq!(mode(&dir.prepare_store().expect("store")), 0o600);
    }

    #[test]
    fn creates_missing_dir_with_mode_0700() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a/b");
        let dir = DataDir::open(&path).expect("open");
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(dir.store_path(), path.join("sessattr.redb"));
        assert_eq!(dir.key_path(), path.join("keys.json"));
        // Opening again is fine.
        DataDir::open(&path).expect("reopen");
    }
}
