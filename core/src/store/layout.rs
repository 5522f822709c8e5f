//! Store key layout.
//!
//! Every key of one session carries the session id inside `{…}` — a Redis
//! Cluster hash tag — so a session's records live on one slot and one
//! atomic script can write them together.
//!
//! | key | record |
//! |---|---|
//! | `sa:s:{SID}` | [`super::record::SessionRecord`] |
//! | `sa:a:{SID}:NAME` | [`super::record::AttrRecord`] |
//! | `sa:i:{SID}` | [`super::record::AttrIndex`] |
//! | `sa:user:USERNAME` | [`super::record::UserRecord`] |
//!
//! `SID` is the session id: a SHA-256 of the UST ([`crate::ust::session_id`]),
//! so the store holds no usable token.

use alloc::format;
use alloc::string::String;

/// Key of a session record.
pub fn session_key(sid: &str) -> String {
    format!("sa:s:{{{sid}}}")
}

/// Prefix under which every attribute of a session is stored.
pub fn attr_prefix(sid: &str) -> String {
    format!("sa:a:{{{sid}}}:")
}

/// Key of one attribute of a session.
pub fn attr_key(sid: &str, name: &str) -> String {
    format!("sa:a:{{{sid}}}:{name}")
}

/// Prefix of every user record.
pub const USER_PREFIX: &str = "sa:user:";

/// Key of the index of a session's attributes.
pub fn index_key(sid: &str) -> String {
    format!("sa:i:{{{sid}}}")
}

/// Key of a user record.
pub fn user_key(username: &str) -> String {
    format!("{USER_PREFIX}{username}")
}

/// The Redis Cluster hash tag of `key`: the text inside its first `{…}`
/// when that is not empty, else the whole key. Every write set of the core
/// keeps to one tag, so it can be applied on one cluster slot.
pub fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.find('}')
            && close > 0
        {
            return &rest[..close];
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_keys_share_the_session_hash_tag_and_prefix() {
        let key = attr_key("ab12", "color");
        assert_eq!(key, "sa:a:{ab12}:color");
        assert!(key.starts_with(&attr_prefix("ab12")));
        assert_eq!(session_key("ab12"), "sa:s:{ab12}");
        assert_eq!(index_key("ab12"), "sa:i:{ab12}");
    }

    #[test]
    fn a_name_with_separators_stays_inside_its_session() {
        assert!(!attr_key("ab12", "x}:y").starts_with(&attr_prefix("ab")));
    }

    #[test]
    fn hash_tags_follow_redis_cluster() {
        assert_eq!(hash_tag("sa:a:{ab12}:color"), "ab12");
        assert_eq!(hash_tag("sa:s:{ab12}"), "ab12");
        assert_eq!(hash_tag("sa:user:bob"), "sa:user:bob");
        assert_eq!(hash_tag("x{}y{z}"), "x{}y{z}");
        assert_eq!(hash_tag("x{open"), "x{open");
    }
}
