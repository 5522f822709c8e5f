//! A running server picks up a changed key file: it checks the file once a
//! second ([`POLL`]) and at once on SIGHUP, and operations started after
//! the change use the new keyring (no restart, no failed request). A file
//! that no longer loads (bad content, wrong mode) is reported and the
//! keyring in use is kept.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sessattr_core::config::{KeyEntry, KeyState};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::keyfile::{self, KeySource};
use crate::service::Service;

/// How often the key file is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// What tells a changed file from an unchanged one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    modified_nanos: i64,
    changed_nanos: i64,
    len: u64,
    inode: u64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = fs::metadata(path).ok()?;
    Some(Fingerprint {
        modified_nanos: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        changed_nanos: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// Starts listening for SIGHUP (so that from now on it no longer ends the
/// process); call it inside the runtime before serving.
pub fn hangups() -> Option<Signal> {
    match signal(SignalKind::hangup()) {
        Ok(stream) => Some(stream),
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGHUP; the key file is still polled");
            None
        }
    }
}

/// Watches `source` for the life of the server (spawn it on the runtime),
/// reloading on each of `hangups` too.
pub async fn watch_keys(service: Arc<Service>, source: KeySource, mut hangups: Option<Signal>) {
    let KeySource::File(path) = source else {
        // The keyring came from the environment: nothing can change it.
        while let Some(stream) = hangups.as_mut() {
            if stream.recv().await.is_none() {
                break;
            }
            tracing::info!(
                "SIGHUP: the keyring comes from ${}; nothing to reload",
                keyfile::KEYS_ENV
            );
        }
        return;
    };
    let mut seen = fingerprint(&path);
    let mut broken = false;
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let hangup = tokio::select! {
            _ = ticks.tick() => false,
            received = async {
                match hangups.as_mut() {
                    Some(stream) => stream.recv().await,
                    None => std::future::pending().await,
                }
            } => received.is_some(),
        };
        let now = fingerprint(&path);
        if hangup || now != seen {
            seen = now;
            broken = !reload(&service, &path, hangup, broken).await;
        }
    }
}

/// Loads the key file and hands it to `service` if it changed; answers
/// whether the file could be used (`was_broken`: the last attempt failed).
async fn reload(service: &Arc<Service>, path: &Path, hangup: bool, was_broken: bool) -> bool {
    let file = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || keyfile::load(&file)).await;
    let keyring = match loaded {
        Ok(Ok(keyring)) => keyring,
        Ok(Err(err)) => {
            tracing::error!(error = %err, "the key file changed but cannot be used; the keyring in use is kept");
            return false;
        }
        Err(_) => {
            tracing::error!("reading the key file failed; the keyring in use is kept");
            return false;
        }
    };
    let current = service.config();
    if let Some(dropped) = dropped_key(&current.keys, &keyring.keys) {
        tracing::error!(
            key_file = %path.display(),
            key_id = %dropped,
            "the key file no longer has a key that stored values may use (only retired keys may be removed); the keyring in use is kept"
        );
        return false;
    }
    if current.keys == keyring.keys {
        if hangup || was_broken {
            tracing::info!(key_file = %path.display(), "the key file is usable; the keyring is unchanged");
        }
        return true;
    }
    let ids: Vec<String> = keyring
        .keys
        .iter()
        .map(|k| format!("{}:{}", k.id, state_name(k.state)))
        .collect();
    service.replace_keys(keyring.keys);
    tracing::info!(
        key_file = %path.display(),
        primary = %keyring.primary_id,
        keys = %ids.join(","),
        "keyring reloaded"
    );
    true
}

/// A key of `current` that may still seal stored values (not retired) but
/// is missing from `next`, if any.
fn dropped_key<'a>(current: &'a [KeyEntry], next: &[KeyEntry]) -> Option<&'a str> {
    current
        .iter()
        .filter(|key| key.state != KeyState::Retired)
        .find(|key| !next.iter().any(|other| other.id == key.id))
        .map(|key| key.id.as_str())
}

/// A key state as the key file spells it.
pub fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Primary => "primary",
        KeyState::DecryptOnly => "decrypt-only",
        KeyState::Retired => "retired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, state: KeyState) -> KeyEntry {
        KeyEntry {
            id: id.into(),
            key: String::new(),
            state,
        }
    }

    #[test]
    fn only_retired_keys_may_leave_the_keyring() {
        let current = [
            key("a", KeyState::Primary),
            key("b", KeyState::DecryptOnly),
            key("c", KeyState::Retired),
        ];
        assert_eq!(
            dropped_key(
                &current,
                &[key("a", KeyState::Primary), key("b", KeyState::DecryptOnly)]
            ),
            None
        );
        assert_eq!(
            dropped_key(&current, &[key("b", KeyState::Primary)]),
            Some("a")
        );
        assert_eq!(
            dropped_key(&current, &[key("n", KeyState::Primary)]),
            Some("a")
        );
        assert_eq!(
            dropped_key(
                &current,
                &[key("a", KeyState::DecryptOnly), key("z", KeyState::Primary)]
            ),
            Some("b")
        );
    }
}
