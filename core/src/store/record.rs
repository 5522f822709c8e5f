//! Record encodings: versioned JSON, one object per key.

use alloc::collections::BTreeMap;
use alloc::string::String;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The record format version written by this core.
pub const RECORD_VERSION: u32 = 1;

/// A user (SPEC 1). Stored under [`super::layout::user_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Record format version.
    pub v: u32,
    /// Opaque random id (`zusr…`).
    pub user_id: String,
    /// Unique name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// May act on other users' sessions.
    pub is_super_user: bool,
    /// A locked user cannot log in and their sessions do not resolve.
    pub is_locked: bool,
    /// Unix micros.
    pub creation_time: i64,
    /// The generation of the user's sessions: a session is usable only
    /// while it carries this number. `user lock` and `user passwd` count it
    /// up, which ends every session of the user at once (and unlocking
    /// revives none). A counter, not a time: nothing depends on two
    /// processes' clocks agreeing. 0 in records written before the field.
    #[serde(default)]
    pub session_epoch: u64,
}

impl UserRecord {
    /// Whether `session` of this user may still be used: the user is
    /// unlocked, is the very user who logged in (not a later namesake) and
    /// has not ended that generation of sessions.
    pub fn owns_live(&self, session: &SessionRecord) -> bool {
        !self.is_locked
            && self.user_id == session.user_id
            && self.session_epoch == session.user_epoch
    }
}

/// A login session (SPEC 1). Stored under [`super::layout::session_key`];
/// the UST itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Record format version.
    pub v: u32,
    /// Owner's user id.
    pub user_id: String,
    /// Owner's user name (locates the user record).
    pub username: String,
    /// `current_app` at login.
    pub current_app: String,
    /// Unix micros.
    pub creation_time: i64,
    /// Unix micros; the session is dead from this instant on.
    pub expiration_time: i64,
    /// Peer address at login.
    pub remote_addr: String,
    /// User-Agent at login.
    pub user_agent: String,
    /// The owner's [`UserRecord::session_epoch`] at login.
    #[serde(default)]
    pub user_epoch: u64,
}

/// A session attribute (SPEC 1). Stored under [`super::layout::attr_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrRecord {
    /// Record format version.
    pub v: u32,
    /// Attribute name.
    pub name: String,
    /// The value, or its envelope when `is_encrypted`.
    pub value: String,
    /// Whether `value` is an envelope (SPEC 4).
    pub is_encrypted: bool,
    /// Unix micros.
    pub creation_time: i64,
    /// Unix micros.
    pub last_modified: i64,
    /// Unix micros of the attribute's own expiry; `None` = never.
    pub expiration_time: Option<i64>,
}

impl AttrRecord {
    /// Live iff its own expiry is in the future (the session's liveness is
    /// checked separately).
    pub fn is_live(&self, now: i64) -> bool {
        self.expiration_time.is_none_or(|at| at > now)
    }
}

/// The index of a session's attributes (stored under
/// [`super::layout::index_key`]): what every decision but `get` needs to
/// know of them, so that no decision reads the values of a session. Every
/// attribute write updates it in the same write set, with the index as read
/// as its precondition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrIndex {
    /// Record format version.
    pub v: u32,
    /// Name → the attribute's metadata. May still list attributes that
    /// have expired; writes drop those.
    #[serde(rename = "a")]
    pub attrs: BTreeMap<String, IndexEntry>,
}

/// One attribute in the [`AttrIndex`]: `[creation_time, expiration_time,
/// is_encrypted]`, compact because a session may hold 10 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry(
    /// Unix micros of creation.
    pub i64,
    /// Unix micros of the attribute's own expiry; `None` = never.
    pub Option<i64>,
    /// Whether the value is stored encrypted.
    pub bool,
);

impl IndexEntry {
    /// Live iff its own expiry is in the future (its session's liveness is
    /// checked separately).
    pub fn is_live(&self, now: i64) -> bool {
        self.1.is_none_or(|at| at > now)
    }
}

impl AttrIndex {
    /// An empty index of the current format.
    pub fn new() -> Self {
        Self {
            v: RECORD_VERSION,
            attrs: BTreeMap::new(),
        }
    }

    /// The live entry of `name`, if any.
    pub fn live(&self, name: &str, now: i64) -> Option<&IndexEntry> {
        self.attrs.get(name).filter(|e| e.is_live(now))
    }

    /// The names of the live attributes, in byte (= code point) order.
    pub fn live_names(&self, now: i64) -> impl Iterator<Item = &str> {
        self.attrs
            .iter()
            .filter(move |(_, e)| e.is_live(now))
            .map(|(name, _)| name.as_str())
    }

    /// Forgets the attributes that have expired.
    pub fn prune(&mut self, now: i64) {
        self.attrs.retain(|_, e| e.is_live(now));
    }
}

/// Encodes a record.
pub fn encode<T: Serialize>(record: &T) -> String {
    // Records are plain structs of strings, integers and booleans:
    // serialization cannot fail.
    serde_json::to_string(record).unwrap_or_default()
}

/// Decodes a record; an unreadable or unknown-version record is an internal
/// error (stored data is sessattr's own).
pub fn decode<'a, T: Deserialize<'a> + Versioned>(text: &'a str) -> Result<T, Error> {
    let record: T = serde_json::from_str(text).map_err(|_| Error::Internal)?;
    if record.version() == RECORD_VERSION {
        Ok(record)
    } else {
        Err(Error::Internal)
    }
}

/// A record that carries a format version.
pub trait Versioned {
    /// The record's `v` field.
    fn version(&self) -> u32;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version(&self) -> u32 {
                self.v
            }
        }
    )*};
}
versioned!(UserRecord, SessionRecord, AttrRecord, AttrIndex);

#[cfg(test)]
mod tests {
    use super::*;

    fn attr() -> AttrRecord {
        AttrRecord {
            v: RECORD_VERSION,
            name: "color".into(),
            value: "blue".into(),
            is_encrypted: false,
            creation_time: 1,
            last_modified: 2,
            expiration_time: Some(10),
        }
    }

    #[test]
    fn attr_round_trips() {
        let text = encode(&attr());
        assert_eq!(decode::<AttrRecord>(&text), Ok(attr()));
    }

    #[test]
    fn unknown_version_and_garbage_are_internal_errors() {
        let mut future = attr();
        future.v = 2;
        assert_eq!(decode::<AttrRecord>(&encode(&future)), Err(Error::Internal));
        assert_eq!(decode::<AttrRecord>("{"), Err(Error::Internal));
    }

    #[test]
    fn the_index_is_compact_and_knows_what_is_live() {
        let mut index = AttrIndex::new();
        index
            .attrs
            .insert("a".into(), IndexEntry(1, Some(10), true));
        index.attrs.insert("b".into(), IndexEntry(2, None, false));
        assert_eq!(
            encode(&index),
            r#"{"v":1,"a":{"a":[1,10,true],"b":[2,null,false]}}"#
        );
        assert_eq!(decode::<AttrIndex>(&encode(&index)), Ok(index.clone()));
        assert!(index.live("a", 9).is_some() && index.live("a", 10).is_none());
        assert_eq!(index.live_names(10).collect::<alloc::vec::Vec<_>>(), ["b"]);
        index.prune(10);
        assert_eq!(index.attrs.len(), 1);
    }

    #[test]
    fn liveness_is_strictly_before_expiry() {
        let record = attr();
        assert!(record.is_live(9));
        assert!(!record.is_live(10));
        let forever = AttrRecord {
            expiration_time: None,
            ..attr()
        };
        assert!(forever.is_live(i64::MAX));
    }
}
