//! `sessattr keys generate | promote | retire | status | rotate`.
//!
//! `generate`, `promote` and `retire` edit the key file (atomically); a
//! running server picks the change up within a second ([`super::watch`]).
//! `status`, `retire` and `rotate` read the store, which a running server
//! may share (redb's multi-process mode), and `rotate` writes through the
//! module like any client, so API traffic goes on meanwhile.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sessattr_core::config::{KeyEntry, KeyState};

use super::budget;
use super::rotate::{self, RotateReport};
use super::watch::{POLL, state_name};
use crate::Error;
use crate::clock::Clock;
use crate::commands::{load_keyring, load_module, open_service};
use crate::datadir::DataDir;
use crate::keyfile::{self, KEYS_ENV, KeySource};
use crate::service::Service;
use crate::settings::Settings;

/// The key file of `data_dir`, refusing when the keyring comes from the
/// environment (there is no file to edit then).
fn key_file(data_dir: &Path) -> Result<PathBuf, Error> {
    match KeySource::choose(DataDir::open(data_dir)?.key_path()) {
        KeySource::File(path) => Ok(path),
        KeySource::Env => Err(Error::KeysFromEnv { var: KEYS_ENV }),
    }
}

/// `keys generate`: adds a fresh decrypt-only key (the file is created
/// first, with a primary key, on a data dir that has none and no data).
/// Answers the new key.
pub fn generate(data_dir: &Path, settings: &Settings) -> Result<KeyEntry, Error> {
    let path = key_file(data_dir)?;
    let _lock = lock_key_file(&path)?;
    let dir = DataDir::open(data_dir)?;
    let store = crate::commands::open_store(&dir, settings)?;
    let mut keys = load_keyring(&dir, store.as_ref())?.keys;
    let entry = keyfile::new_entry(KeyState::DecryptOnly)?;
    keys.push(entry.clone());
    keyfile::save(&path, &keys)?;
    Ok(entry)
}

/// Holds the lock of the key file beside it (`.keys.lock`) until dropped, so
/// that key commands run at the same time edit it one after the other.
fn lock_key_file(path: &Path) -> Result<File, Error> {
    let lock_path = path.with_file_name(".keys.lock");
    let fail = |cause| Error::File {
        path: lock_path.clone(),
        cause,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

/// `keys promote ID`: makes `id` the primary key; the former primary
/// becomes decrypt-only. Answers the former primary's id.
pub fn promote(data_dir: &Path, id: &str) -> Result<String, Error> {
    let path = key_file(data_dir)?;
    let _lock = lock_key_file(&path)?;
    let mut keys = keyfile::load(&path)?.keys;
    let target = find(&keys, id)?;
    match keys[target].state {
        KeyState::Primary => {
            return Err(Error::KeyChange {
                id: id.into(),
                reason: "is the primary key already".into(),
            });
        }
        KeyState::Retired => {
            return Err(Error::KeyChange {
                id: id.into(),
                reason: "is retired; generate a new key instead".into(),
            });
        }
        KeyState::DecryptOnly => {}
    }
    let mut former = String::new();
    for key in &mut keys {
        if key.state == KeyState::Primary {
            key.state = KeyState::DecryptOnly;
            former = key.id.clone();
        }
    }
    keys[target].state = KeyState::Primary;
    keyfile::save(&path, &keys)?;
    Ok(former)
}

/// `keys retire ID`: `id` opens nothing from now on. Refused for the
/// primary key and while any live stored value is sealed by it.
pub fn retire(
    data_dir: &Path,
    settings: &Settings,
    module: Option<&Path>,
    id: &str,
) -> Result<(), Error> {
    let path = key_file(data_dir)?;
    let keys = keyfile::load(&path)?.keys;
    let target = find(&keys, id)?;
    if keys[target].state == KeyState::Primary {
        return Err(Error::KeyChange {
            id: id.into(),
            reason: "is the primary key; promote another key first".into(),
        });
    }
    let service = service(data_dir, settings, module)?;
    let in_use = rotate::walk(&service, false, |_| {})?
        .by_key
        .get(id)
        .copied()
        .unwrap_or(0);
    if in_use > 0 {
        return Err(Error::KeyChange {
            id: id.into(),
            reason: format!(
                "{in_use} stored value(s) still use it; run `sessattr keys rotate` first"
            ),
        });
    }
    // Read again, locked: the file may have changed during the count.
    let _lock = lock_key_file(&path)?;
    let mut keys = keyfile::load(&path)?.keys;
    let target = find(&keys, id)?;
    keys[target].state = KeyState::Retired;
    keyfile::save(&path, &keys)
}

/// One line of `keys status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRow {
    /// The key id.
    pub id: String,
    /// `primary`, `decrypt-only`, `retired`, or `missing` for an id that
    /// seals stored values but is not in the keyring.
    pub state: String,
    /// Live stored values sealed by it.
    pub values: u64,
    /// Encryptions counted for it (never below those made; see
    /// [`budget`]).
    pub encryptions: u64,
}

/// `keys status`: every key of the keyring, and any id that seals stored
/// values without being in it.
pub fn status(
    data_dir: &Path,
    settings: &Settings,
    module: Option<&Path>,
) -> Result<Vec<KeyRow>, Error> {
    let service = service(data_dir, settings, module)?;
    let mut by_key = rotate::walk(&service, false, |_| {})?.by_key;
    let mut rows = Vec::new();
    for key in &service.config().keys {
        rows.push(KeyRow {
            id: key.id.clone(),
            state: state_name(key.state).into(),
            values: by_key.remove(&key.id).unwrap_or(0),
            encryptions: budget::stored_count(service.store().as_ref(), &key.id)?,
        });
    }
    for (id, values) in by_key {
        let encryptions = budget::stored_count(service.store().as_ref(), &id)?;
        rows.push(KeyRow {
            id,
            state: "missing".into(),
            values,
            encryptions,
        });
    }
    Ok(rows)
}

/// `keys rotate`: waits until running servers can have seen a key file
/// changed moments ago, then re-seals every value under the primary key.
pub fn rotate(
    data_dir: &Path,
    settings: &Settings,
    module: Option<&Path>,
) -> Result<RotateReport, Error> {
    if let KeySource::File(path) = KeySource::choose(DataDir::open(data_dir)?.key_path()) {
        wait_for_servers(&path);
    }
    let service = service(data_dir, settings, module)?;
    let report = rotate::rotate(&service);
    service.release_budget();
    report
}

/// Sleeps until two poll periods have passed since `path` changed, so
/// that a server watching it uses the new primary before the walk starts.
fn wait_for_servers(path: &Path) {
    let changed = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let since = changed.and_then(|at| SystemTime::now().duration_since(at).ok());
    let settle = POLL * 2 + Duration::from_millis(200);
    if let Some(since) = since.filter(|since| *since < settle) {
        eprintln!(
            "waiting {:.1} s for running servers to pick up the key file…",
            (settle - since).as_secs_f64()
        );
        std::thread::sleep(settle - since);
    }
}

fn service(data_dir: &Path, settings: &Settings, module: Option<&Path>) -> Result<Service, Error> {
    let runtime = load_module(module, settings.guest.limits())?;
    open_service(data_dir, settings, runtime, Clock::system())
}

fn find(keys: &[KeyEntry], id: &str) -> Result<usize, Error> {
    keys.iter()
        .position(|k| k.id == id)
        .ok_or_else(|| Error::UnknownKey {
            // Shown as given but escaped: no control characters reach a terminal.
            id: id.escape_debug().to_string(),
        })
}
