//! The data directory: the store file and the key file.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// File name of the redb store inside the data directory.
pub const STORE_FILE: &str = "sessattr.redb";
/// File name of the key file inside the data directory.
pub const KEY_FILE: &str = "keys.json";

/// An existing data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens the data directory, creating it (mode 0700) and its parents if missing.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if !path.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|source| Error::DataDir {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of the redb store.
    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }

    /// Path of the key file.
    pub fn key_path(&self) -> PathBuf {
        self.path.join(KEY_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_missing_dir_with_mode_0700() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a/b");
        let dir = DataDir::open(&path).expect("open");
        let mode = std::fs::metadata(dir.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(dir.store_path(), path.join("sessattr.redb"));
        assert_eq!(dir.key_path(), path.join("keys.json"));
        // Opening again is fine.
        DataDir::open(&path).expect("reopen");
    }
}
