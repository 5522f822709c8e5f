//! Configuration passed in by the embedding with every step.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Effective configuration. Every field has the SPEC default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Applications allowed in `current_app` (SPEC 2.3; default `["CRM"]`).
    pub apps: Vec<String>,
    /// Limits of SPEC 3.
    pub limits: Limits,
    /// Session lifetime in seconds (default 3600).
    pub session_lifetime_secs: i64,
    /// The keyring for attribute encryption.
    pub keys: Vec<KeyEntry>,
    /// argon2id cost parameters for new password hashes.
    pub argon2: Argon2Params,
}

impl Config {
    /// The key that seals new values, if the keyring has one.
    pub fn primary_key(&self) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.state == KeyState::Primary)
    }

    /// Whether `app` is one of the configured applications (exact bytes).
    pub fn knows_app(&self, app: &str) -> bool {
        self.apps.iter().any(|known| known == app)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            apps: vec![String::from("CRM")],
            limits: Limits::default(),
            session_lifetime_secs: 3600,
            keys: Vec::new(),
            argon2: Argon2Params::default(),
        }
    }
}

/// Limits of SPEC 3.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Limits {
    /// Longest attribute name in bytes (default 191).
    pub name_max_bytes: usize,
    /// Longest value in bytes (default 65 536).
    pub value_max_bytes: usize,
    /// Most items in one `data` list (default 1 000).
    pub data_max_items: usize,
    /// Largest request body in bytes (default 1 MiB).
    pub body_max_bytes: usize,
    /// Most live attributes in one session (default 10 000).
    pub attrs_per_session: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            name_max_bytes: 191,
            value_max_bytes: 65_536,
            data_max_items: 1_000,
            body_max_bytes: 1 << 20,
            attrs_per_session: 10_000,
        }
    }
}

/// One key of the keyring, in the format of the key file. Its `Debug`
/// shows the id and state, never the key.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyEntry {
    /// Short identifier stored in every envelope sealed with this key.
    pub id: String,
    /// 32 key bytes, base64 (standard alphabet).
    pub key: String,
    /// What the key may be used for.
    pub state: KeyState,
}

impl core::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The life stage of a key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Encrypts new values (exactly one key) and decrypts.
    Primary,
    /// Only decrypts values sealed earlier.
    DecryptOnly,
    /// Kept for the record; used for nothing.
    Retired,
}

/// argon2id costs (OWASP defaults: 19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}
