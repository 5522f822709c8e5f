//! Tests every store implementation must pass.
//!
//! Each write set keeps to one hash tag (`{t}…` keys), as every write set
//! of the core does. Expiries are `base + n ms`: stores that know no time
//! (redb, memory) take any `base`; Redis, which forgets records at their
//! expiry by itself, gets a `base` a day ahead of its clock.

use super::*;
use sessattr_core::protocol::{WriteAction, WriteOp};

pub fn put(key: &str, value: &str, expires_at: Option<i64>, expect: Expect) -> WriteOp {
    WriteOp {
        key: key.into(),
        action: WriteAction::Put {
            value: value.into(),
            expires_at,
        },
        expect,
    }
}

pub fn delete(key: &str, expect: Expect) -> WriteOp {
    WriteOp {
        key: key.into(),
        action: WriteAction::Delete,
        expect,
    }
}

pub fn expire(key: &str, expires_at: Option<i64>, expect: Expect) -> WriteOp {
    WriteOp {
        key: key.into(),
        action: WriteAction::Expire { expires_at },
        expect,
    }
}

pub fn check(key: &str, expect: Expect) -> WriteOp {
    WriteOp {
        key: key.into(),
        action: WriteAction::Check,
        expect,
    }
}

pub fn set(ops: Vec<WriteOp>) -> WriteSet {
    WriteSet { ops }
}

/// Applies each op as a write set of its own (keys of several tags).
fn apply_each(store: &dyn Store, ops: Vec<WriteOp>) {
    for op in ops {
        let out = store.apply(&set(vec![op])).expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
    }
}

fn get(store: &dyn Store, key: &str) -> Option<String> {
    store
        .get_many(&[key.to_owned()])
        .expect("get")
        .pop()
        .flatten()
}

fn expiry_of(store: &dyn Store, key: &str) -> Option<Option<i64>> {
    store
        .scan_records(key)
        .expect("scan")
        .into_iter()
        .find(|r| r.key == key)
        .map(|r| r.expires_at)
}

pub fn preconditions_are_atomic(store: &dyn Store) {
    let out = store
        .apply(&set(vec![
            put("{t}a", "1", None, Expect::Absent),
            put("{t}b", "1", None, Expect::Any),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);

    // `c` would be fine, `a` is not absent: nothing is written.
    let out = store
        .apply(&set(vec![
            put("{t}c", "1", None, Expect::Absent),
            put("{t}a", "2", None, Expect::Absent),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::PreconditionFailed);
    assert_eq!(get(store, "{t}c"), None);
    assert_eq!(get(store, "{t}a").as_deref(), Some("1"));

    // A stale Value precondition fails the whole set, deletes included.
    let out = store
        .apply(&set(vec![
            delete("{t}b", Expect::Any),
            put("{t}a", "3", None, Expect::Value("0".into())),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::PreconditionFailed);
    assert_eq!(get(store, "{t}a").as_deref(), Some("1"));
    assert_eq!(get(store, "{t}b").as_deref(), Some("1"));

    // A matching Value precondition applies everything.
    let out = store
        .apply(&set(vec![
            delete("{t}b", Expect::Value("1".into())),
            put("{t}a", "3", None, Expect::Value("1".into())),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);
    assert_eq!(get(store, "{t}a").as_deref(), Some("3"));
    assert_eq!(get(store, "{t}b"), None);

    // Absent on a deleted key holds again.
    let out = store
        .apply(&set(vec![put("{t}b", "x", None, Expect::Absent)]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);

    // Value precondition on a missing key fails.
    let out = store
        .apply(&set(vec![put(
            "{t}zz",
            "x",
            None,
            Expect::Value("x".into()),
        )]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::PreconditionFailed);
    assert_eq!(get(store, "{t}zz"), None);

    // Records are text of any size and content, kept byte for byte.
    let odd = "é\u{0}\"'\n{}]] --".repeat(1_000);
    let out = store
        .apply(&set(vec![put("{t}odd", &odd, None, Expect::Absent)]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);
    let out = store
        .apply(&set(vec![check("{t}odd", Expect::Value(odd.clone()))]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);
    assert_eq!(get(store, "{t}odd"), Some(odd));
}

pub fn get_and_scan(store: &dyn Store) {
    apply_each(
        store,
        vec![
            put("sa:a:s1:x", "1", None, Expect::Any),
            put("sa:a:s1:y", "2", None, Expect::Any),
            put("sa:a:s10:z", "3", None, Expect::Any),
            put("sa:a:s2:x", "4", None, Expect::Any),
            put("sa:b", "5", None, Expect::Any),
            put("sa:a:s1*", "6", None, Expect::Any),
        ],
    );
    let got = store
        .get_many(&["sa:b".into(), "nope".into(), "sa:a:s1:x".into()])
        .expect("get");
    assert_eq!(got, vec![Some("5".into()), None, Some("1".into())]);
    let scan = store.scan_prefix("sa:a:s1:").expect("scan");
    assert_eq!(
        scan,
        vec![
            ("sa:a:s1:x".into(), "1".into()),
            ("sa:a:s1:y".into(), "2".into())
        ]
    );
    // A prefix is text, not a pattern.
    let starred = store.scan_prefix("sa:a:s1*").expect("scan");
    assert_eq!(starred, vec![("sa:a:s1*".into(), "6".into())]);
    assert!(store.scan_prefix("zz").expect("scan").is_empty());
    assert_eq!(store.scan_prefix("").expect("scan all").len(), 6);
}

/// For stores that keep expired records until they are purged.
pub fn purges_expired(store: &dyn Store) {
    apply_each(
        store,
        vec![
            put("old", "1", Some(100), Expect::Any),
            put("older", "1", Some(50), Expect::Any),
            put("new", "1", Some(1_000), Expect::Any),
            put("never", "1", None, Expect::Any),
            put("moved", "1", Some(10), Expect::Any),
            put("gone", "1", Some(10), Expect::Any),
        ],
    );
    // Re-putting moves the expiry; deleting removes it.
    apply_each(
        store,
        vec![
            put("moved", "2", Some(5_000), Expect::Any),
            delete("gone", Expect::Any),
        ],
    );

    assert_eq!(store.purge_expired(100, 1).expect("purge"), 1);
    assert_eq!(store.purge_expired(100, 10).expect("purge"), 1);
    assert_eq!(store.purge_expired(100, 10).expect("purge"), 0);
    let keys: Vec<String> = store
        .scan_prefix("")
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec!["moved", "never", "new"]);
    assert_eq!(store.purge_expired(i64::MAX, 10).expect("purge"), 2);
    let keys: Vec<String> = store
        .scan_prefix("")
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec!["never"]);
}

pub fn scan_keys_pages_in_key_order(store: &dyn Store) {
    let puts = ["p:a", "p:b", "p:c", "p:d", "q:a"]
        .map(|key| put(key, "v", None, Expect::Any))
        .to_vec();
    apply_each(store, puts);
    assert_eq!(
        store.scan_keys("p:", None, 2).expect("page"),
        ["p:a", "p:b"]
    );
    assert_eq!(
        store.scan_keys("p:", Some("p:b"), 2).expect("page"),
        ["p:c", "p:d"]
    );
    assert!(
        store
            .scan_keys("p:", Some("p:d"), 2)
            .expect("page")
            .is_empty()
    );
    assert_eq!(store.scan_keys("q:", None, 10).expect("page"), ["q:a"]);
}

/// `base`: a time (unix micros, a whole millisecond) the store's own clock
/// has not reached by a day.
pub fn scan_records_carry_expiry(store: &dyn Store, base: i64) {
    let at = |ms: i64| Some(base + ms * 1_000);
    let record = |key: &str, value: &str, expires_at: Option<i64>| StoredRecord {
        key: key.into(),
        value: value.into(),
        expires_at,
    };
    apply_each(
        store,
        vec![
            put("sa:b", "5", at(7), Expect::Any),
            put("sa:a:2", "2", None, Expect::Any),
            put("sa:a:1", "1", at(100), Expect::Any),
            put("sa:a:3", "3", at(5), Expect::Any),
            put("other", "x", None, Expect::Any),
        ],
    );
    // Expire moves or drops an expiry; re-putting replaces it.
    apply_each(
        store,
        vec![
            expire("sa:a:1", None, Expect::Any),
            expire("sa:a:2", at(300), Expect::Any),
            put("sa:a:3", "3b", None, Expect::Any),
        ],
    );
    assert_eq!(
        store.scan_records("sa:a:").expect("scan"),
        vec![
            record("sa:a:1", "1", None),
            record("sa:a:2", "2", at(300)),
            record("sa:a:3", "3b", None),
        ]
    );
    assert!(store.scan_records("zz").expect("scan").is_empty());
    let all = store.scan_records("").expect("scan all");
    let keys: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["other", "sa:a:1", "sa:a:2", "sa:a:3", "sa:b"]);
    assert_eq!(all[4], record("sa:b", "5", at(7)));
    let seven = base + 7_000;
    assert!(!all[4].is_live(seven) && all[4].is_live(seven - 1));
    apply_each(store, vec![delete("other", Expect::Any)]);
    assert_eq!(store.scan_records("").expect("scan all").len(), 4);
    assert_eq!(
        format!("{:?}", record("k", "secret", None)),
        r#"StoredRecord { key: "k", value_bytes: 6, expires_at: None }"#
    );
}

/// `base` as for [`scan_records_carry_expiry`].
pub fn expire_and_check(store: &dyn Store, base: i64) {
    let at = |ms: i64| Some(base + ms * 1_000);
    let out = store
        .apply(&set(vec![
            put("{t}a", "1", at(10), Expect::Any),
            put("{t}b", "1", None, Expect::Any),
            put("{t}c", "1", at(10), Expect::Any),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);
    // Expire moves (or drops) the expiry and keeps the value; on an
    // absent key it does nothing. Check writes nothing at all.
    let out = store
        .apply(&set(vec![
            expire("{t}a", at(1_000), Expect::Value("1".into())),
            expire("{t}b", at(20), Expect::Any),
            expire("{t}c", None, Expect::Any),
            expire("{t}absent", at(5), Expect::Any),
            check("{t}b", Expect::Value("1".into())),
            check("{t}absent", Expect::Absent),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Applied);
    assert_eq!(get(store, "{t}a").as_deref(), Some("1"));
    assert_eq!(get(store, "{t}absent"), None);
    assert_eq!(expiry_of(store, "{t}a"), Some(at(1_000)));
    assert_eq!(expiry_of(store, "{t}b"), Some(at(20)));
    assert_eq!(expiry_of(store, "{t}c"), Some(None), "never expires now");
    assert_eq!(expiry_of(store, "{t}absent"), None);
    // A failing check fails the set.
    let out = store
        .apply(&set(vec![
            put("{t}d", "1", None, Expect::Absent),
            check("{t}c", Expect::Value("other".into())),
        ]))
        .expect("apply");
    assert_eq!(out, ApplyOutcome::PreconditionFailed);
    assert_eq!(get(store, "{t}d"), None);
}
