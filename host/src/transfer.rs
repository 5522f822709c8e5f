//! Moving records between stores: the document of `sessattr store export`
//! and `sessattr store import`.
//!
//! ```json
//! {"format":"sessattr-records","version":1,"records":[
//!   {"key":"sa:user:admin","value":"…","expires_at":null},
//!   {"key":"sa:s:{…}","value":"…","expires_at":1764806400000000}]}
//! ```
//!
//! Records are copied as stored (encrypted values stay sealed, so the
//! target needs the source's key file), in key order, with their store
//! expiry in unix microseconds (`null` = never). Reading a document checks
//! everything before anything is written, and no message of this module
//! ever carries a key or a value: only field names, record positions,
//! JSON types and counts.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use sessattr_core::protocol::{Expect, WriteAction, WriteOp, WriteSet};
use sessattr_core::store::layout;

use crate::Error;
use crate::store::{ApplyOutcome, Store, StoreError, StoredRecord};

/// The `format` field of every records document.
pub const FORMAT: &str = "sessattr-records";
/// The `version` this host writes and reads.
pub const VERSION: i64 = 1;
/// The prefix of every sessattr key; a document holds no other key.
pub const KEY_PREFIX: &str = "sa:";

/// The fields of the document, in the order they are written.
const DOCUMENT_FIELDS: [&str; 3] = ["format", "version", "records"];
/// The fields of one record, in the order they are written.
const RECORD_FIELDS: [&str; 3] = ["key", "value", "expires_at"];

/// The records an export writes, and how many it left out.
#[derive(Debug)]
pub struct Export {
    /// The live records, in key order.
    pub records: Vec<StoredRecord>,
    /// Records stored but past their expiry (not purged yet), left out.
    pub expired: usize,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// Records written.
    pub imported: usize,
    /// Records of the document already expired at import time, skipped.
    pub expired: usize,
}

/// The records of `store` under `prefix` that are live at `now` (unix
/// micros), from one consistent read.
pub fn live_records(store: &dyn Store, prefix: &str, now: i64) -> Result<Export, Error> {
    let all = store.scan_records(prefix)?;
    let total = all.len();
    let records: Vec<StoredRecord> = all.into_iter().filter(|r| r.is_live(now)).collect();
    let expired = total - records.len();
    Ok(Export { records, expired })
}

/// One record as written to a document.
#[derive(Serialize)]
struct RecordOut<'r> {
    key: &'r str,
    value: &'r str,
    expires_at: Option<i64>,
}

/// The document as written.
#[derive(Serialize)]
struct DocumentOut<'r> {
    format: &'static str,
    version: i64,
    records: Vec<RecordOut<'r>>,
}

/// Writes `records` as one document (one line of JSON and a newline).
pub fn write_document(records: &[StoredRecord], out: &mut dyn Write) -> std::io::Result<()> {
    let document = DocumentOut {
        format: FORMAT,
        version: VERSION,
        records: records
            .iter()
            .map(|r| RecordOut {
                key: &r.key,
                value: &r.value,
                expires_at: r.expires_at,
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &document)?;
    out.write_all(b"\n")
}

/// Reads and checks a whole document: valid JSON, an object with exactly
/// `format` (`"sessattr-records"`), `version` (`1`) and `records`; each
/// record an object with exactly `key` (a string starting with `sa:`),
/// `value` (a string) and `expires_at` (an integer or `null`); no key
/// twice. Answers the records in document order.
pub fn parse_document(bytes: &[u8]) -> Result<Vec<StoredRecord>, Error> {
    let root: Node = serde_json::from_slice(bytes).map_err(not_json)?;
    let [format, version, records] = fields(root, DOCUMENT_FIELDS, "the document")?;
    check_format(&format)?;
    check_version(&version)?;
    let Node::Array(items) = records else {
        return Err(invalid(format!(
            "`records` is {}, not a list",
            records.kind()
        )));
    };
    let records = items
        .into_iter()
        .enumerate()
        .map(|(at, item)| record(at, item))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&records)?;
    Ok(records)
}

/// Writes the records of `records` live at `now` into `store` in one write
/// set, each only if its key is absent: all of them, or none when any key
/// is stored already ([`Error::ImportConflict`], with counts only).
pub fn import_records(
    store: &dyn Store,
    records: Vec<StoredRecord>,
    now: i64,
) -> Result<ImportSummary, Error> {
    let total = records.len();
    let ops: Vec<WriteOp> = records
        .into_iter()
        .filter(|r| r.is_live(now))
        .map(put_if_absent)
        .collect();
    let summary = ImportSummary {
        imported: ops.len(),
        expired: total - ops.len(),
    };
    if ops.is_empty() {
        return Ok(summary);
    }
    let keys: Vec<String> = ops.iter().map(|op| op.key.clone()).collect();
    let conflict = |store: &dyn Store| -> Result<ImportSummary, Error> {
        let existing = store.get_many(&keys)?.iter().flatten().count();
        Err(Error::ImportConflict {
            existing,
            total: keys.len(),
        })
    };
    if !store.one_tag_per_write_set() {
        return match store.apply(&WriteSet { ops })? {
            ApplyOutcome::Applied => Ok(summary),
            ApplyOutcome::PreconditionFailed => conflict(store),
        };
    }
    // One write set per hash tag; when one fails, the ones before are
    // taken back (each delete expects exactly what was written).
    let mut groups: BTreeMap<String, Vec<WriteOp>> = BTreeMap::new();
    for op in ops {
        groups
            .entry(layout::hash_tag(&op.key).to_owned())
            .or_default()
            .push(op);
    }
    let mut done: Vec<WriteSet> = Vec::new();
    for ops in groups.into_values() {
        let writes = WriteSet { ops };
        let outcome = store.apply(&writes);
        if matches!(outcome, Ok(ApplyOutcome::Applied)) {
            done.push(writes);
            continue;
        }
        // A failed store call may still have applied its set (an answer
        // that timed out): it is taken back too, like the ones before.
        if outcome.is_err() {
            done.push(writes);
        }
        let taken_back = done
            .iter()
            .all(|applied| store.apply(&take_back(applied)).is_ok());
        return match outcome {
            Err(cause) => Err(Error::ImportInterrupted {
                cause,
                remains: if taken_back {
                    "what it had written was taken back"
                } else {
                    "some of its records may remain in the store, each exactly as in the \
                     document (`store export` shows them)"
                },
            }),
            Ok(_) if taken_back => conflict(store),
            Ok(_) => Err(Error::ImportInterrupted {
                cause: StoreError::Backend("a record to import is held already".into()),
                remains: "some of its records may remain in the store, each exactly as in \
                          the document (`store export` shows them)",
            }),
        };
    }
    Ok(summary)
}

/// Deletes what `writes` put, each only while it holds what was put.
fn take_back(writes: &WriteSet) -> WriteSet {
    let ops = writes
        .ops
        .iter()
        .filter_map(|op| match &op.action {
            WriteAction::Put { value, .. } => Some(WriteOp {
                key: op.key.clone(),
                action: WriteAction::Delete,
                expect: Expect::Value(value.clone()),
            }),
            _ => None,
        })
        .collect();
    WriteSet { ops }
}

/// A put of `record` that holds only while its key is absent.
fn put_if_absent(record: StoredRecord) -> WriteOp {
    WriteOp {
        key: record.key,
        action: WriteAction::Put {
            value: record.value,
            expires_at: record.expires_at,
        },
        expect: Expect::Absent,
    }
}

/// An [`Error::InvalidDocument`].
fn invalid(reason: String) -> Error {
    Error::InvalidDocument { reason }
}

/// The parser's complaint. Syntax errors of serde_json are fixed texts
/// with a position; any other kind could quote input, so only its position
/// is kept.
fn not_json(err: serde_json::Error) -> Error {
    let reason = if err.is_syntax() || err.is_eof() {
        format!("not JSON: {err}")
    } else {
        format!("not JSON at line {}, column {}", err.line(), err.column())
    };
    invalid(reason)
}

/// `node`, an object, as the values of exactly `names`, in that order.
fn fields<const N: usize>(
    node: Node,
    names: [&'static str; N],
    what: &str,
) -> Result<[Node; N], Error> {
    let Node::Object(entries) = node else {
        return Err(invalid(format!("{what} is {}, not an object", node.kind())));
    };
    let mut slots: [Option<Node>; N] = std::array::from_fn(|_| None);
    for (name, value) in entries {
        let Some(at) = names.iter().position(|n| *n == name) else {
            // The unknown name itself is input: it is not repeated.
            return Err(invalid(format!(
                "{what} has an unknown field (allowed: {})",
                names.join(", ")
            )));
        };
        if slots[at].replace(value).is_some() {
            return Err(invalid(format!("{what} gives `{}` twice", names[at])));
        }
    }
    if let Some(at) = slots.iter().position(Option::is_none) {
        return Err(invalid(format!("{what} lacks `{}`", names[at])));
    }
    Ok(slots.map(|slot| slot.unwrap_or(Node::Null)))
}

/// `format` must be [`FORMAT`].
fn check_format(format: &Node) -> Result<(), Error> {
    match format {
        Node::Str(text) if text == FORMAT => Ok(()),
        Node::Str(_) => Err(invalid(format!(
            "`format` is not \"{FORMAT}\": not a sessattr records document"
        ))),
        other => Err(invalid(format!(
            "`format` is {}, not the string \"{FORMAT}\"",
            other.kind()
        ))),
    }
}

/// `version` must be [`VERSION`].
fn check_version(version: &Node) -> Result<(), Error> {
    match version {
        Node::Int(VERSION) => Ok(()),
        Node::Int(other) => Err(invalid(format!(
            "version {other} is not supported (this sessattr reads version {VERSION})"
        ))),
        other => Err(invalid(format!(
            "`version` is {}, not the integer {VERSION}",
            other.kind()
        ))),
    }
}

/// The record at position `at` of `records`.
fn record(at: usize, node: Node) -> Result<StoredRecord, Error> {
    let what = format!("records[{at}]");
    let [key, value, expires_at] = fields(node, RECORD_FIELDS, &what)?;
    let key = match key {
        Node::Str(key) if key.starts_with(KEY_PREFIX) => key,
        Node::Str(_) => {
            return Err(invalid(format!(
                "{what}: `key` does not start with `{KEY_PREFIX}`"
            )));
        }
        other => return Err(wrong_type(&what, "key", "a string", &other)),
    };
    let Node::Str(value) = value else {
        return Err(wrong_type(&what, "value", "a string", &value));
    };
    let expires_at = match expires_at {
        Node::Null => None,
        Node::Int(at) => Some(at),
        other => {
            return Err(wrong_type(
                &what,
                "expires_at",
                "an integer (unix microseconds) or null",
                &other,
            ));
        }
    };
    Ok(StoredRecord {
        key,
        value,
        expires_at,
    })
}

/// "records[3]: `value` must be a string, not an integer".
fn wrong_type(what: &str, field: &str, expected: &str, found: &Node) -> Error {
    invalid(format!(
        "{what}: `{field}` must be {expected}, not {}",
        found.kind()
    ))
}

/// No key may appear twice: one write set cannot put a key twice.
fn check_unique(records: &[StoredRecord]) -> Result<(), Error> {
    let mut keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    let repeated = keys.windows(2).filter(|pair| pair[0] == pair[1]).count();
    if repeated > 0 {
        return Err(invalid(format!(
            "{repeated} record(s) repeat the key of an earlier one"
        )));
    }
    Ok(())
}

/// A JSON value as read, objects keeping every entry in order (so that a
/// field given twice is seen), numbers kept only when they are `i64`.
#[derive(Debug)]
enum Node {
    /// `null`.
    Null,
    /// An integer that fits `i64`.
    Int(i64),
    /// A string.
    Str(String),
    /// A list.
    Array(Vec<Node>),
    /// An object's entries, in document order.
    Object(Vec<(String, Node)>),
    /// A boolean or another number; the document has no use for them.
    Other(&'static str),
}

impl Node {
    /// The JSON type, for messages ("a string").
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Int(_) => "an integer",
            Node::Str(_) => "a string",
            Node::Array(_) => "a list",
            Node::Object(_) => "an object",
            Node::Other(kind) => kind,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Builds a [`Node`] from any JSON value; it refuses none.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other("a boolean"))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(i64::try_from(n).map_or(Node::Other("an integer out of range"), Node::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other("a number with a fraction or exponent"))
    }

    fn visit_str<E>(self, text: &str) -> Result<Node, E> {
        Ok(Node::Str(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Node, E> {
        Ok(Node::Str(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Node>()? {
            entries.push(entry);
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use serde_json::json;

    /// A secret that must never show in a message.
    const SECRET: &str = "pw-hash-Zq81-secret";

    /// A store of one hash tag per write set whose `fail_at`-th apply is
    /// made and then reported as failed (an answer that timed out), and
    /// whose applies after it fail when `down_after`.
    struct Stalls {
        inner: MemoryStore,
        applies: std::sync::atomic::AtomicUsize,
        fail_at: usize,
        down_after: bool,
    }

    impl Store for Stalls {
        fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
            self.inner.get_many(keys)
        }
        fn scan_keys(&self, p: &str, a: Option<&str>, l: usize) -> Result<Vec<String>, StoreError> {
            self.inner.scan_keys(p, a, l)
        }
        fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError> {
            self.inner.scan_records(prefix)
        }
        fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, StoreError> {
            let n = self
                .applies
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if n > self.fail_at && self.down_after {
                return Err(StoreError::Backend("still down".into()));
            }
            let outcome = self.inner.apply(writes)?;
            if n == self.fail_at {
                return Err(StoreError::Backend("timed out".into()));
            }
            Ok(outcome)
        }
        fn one_tag_per_write_set(&self) -> bool {
            true
        }
        fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
            self.inner.purge_expired(now, limit)
        }
    }

    #[test]
    fn an_import_split_by_hash_tag_takes_back_even_the_set_that_timed_out() {
        let records = || {
            ["sa:s:{a}", "sa:s:{b}", "sa:s:{c}", "sa:user:x"]
                .map(|key| record(key, SECRET, None))
                .to_vec()
        };
        let stalls = |down_after| Stalls {
            inner: MemoryStore::new(),
            applies: std::sync::atomic::AtomicUsize::new(0),
            fail_at: 3,
            down_after,
        };
        let store = stalls(false);
        let err = import_records(&store, records(), 0).expect_err("stalled");
        let text = err.to_string();
        assert!(
            text.contains("taken back") && !text.contains(SECRET),
            "{text}"
        );
        assert!(store.inner.scan_records("").expect("scan").is_empty());

        let store = stalls(true);
        let err = import_records(&store, records(), 0).expect_err("stalled");
        assert!(err.to_string().contains("may remain"), "{err}");
    }

    fn record(key: &str, value: &str, expires_at: Option<i64>) -> StoredRecord {
        StoredRecord {
            key: key.into(),
            value: value.into(),
            expires_at,
        }
    }

    fn document(records: serde_json::Value) -> Vec<u8> {
        json!({"format": FORMAT, "version": 1, "records": records})
            .to_string()
            .into_bytes()
    }

    /// The reason `bytes` is refused, which must not quote the secret.
    #[track_caller]
    fn refusal(bytes: &[u8]) -> String {
        match parse_document(bytes) {
            Err(Error::InvalidDocument { reason }) => {
                assert!(!reason.contains(SECRET), "{reason}");
                assert!(!reason.contains("sa:s:"), "a key in {reason}");
                reason
            }
            other => panic!("not refused as invalid: {other:?}"),
        }
    }

    #[test]
    fn writes_and_reads_back_the_format() {
        let records = vec![
            record("sa:a:{s}:x", "v \"quoted\" ✓", Some(1_764_806_400_000_000)),
            record("sa:user:bob", SECRET, None),
        ];
        let mut out = Vec::new();
        write_document(&records, &mut out).expect("write");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert_eq!(
            text,
            concat!(
                r#"{"format":"sessattr-records","version":1,"records":["#,
                r#"{"key":"sa:a:{s}:x","value":"v \"quoted\" ✓","expires_at":1764806400000000},"#,
                r#"{"key":"sa:user:bob","value":"pw-hash-Zq81-secret","expires_at":null}]}"#,
                "\n"
            )
        );
        assert_eq!(parse_document(&out).expect("parse"), records);
        assert_eq!(parse_document(&document(json!([]))).expect("empty"), vec![]);
    }

    #[test]
    fn fields_may_come_in_any_order_and_expiry_may_be_negative() {
        let text = format!(
            r#" {{"records":[{{"expires_at":-5,"value":"","key":"sa:"}}],"version":1,"format":"{FORMAT}"}} "#
        );
        assert_eq!(
            parse_document(text.as_bytes()).expect("parse"),
            vec![record("sa:", "", Some(-5))]
        );
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bytes in [
            &b""[..],
            b"{",
            b"not json",
            b"{\"format\":1} trailing",
            b"\xff\xfe",
        ] {
            assert!(refusal(bytes).starts_with("not JSON"), "{bytes:?}");
        }
        let text = format!("{{\"records\": [\"{SECRET}\" ]]}}");
        assert!(refusal(text.as_bytes()).contains("line 1"));
    }

    #[test]
    fn refuses_a_document_of_another_shape() {
        let cases = [
            (json!([]), "the document is a list, not an object"),
            (
                json!({"format": "other-records", "version": 1, "records": []}),
                "`format` is not \"sessattr-records\"",
            ),
            (
                json!({"format": 1, "version": 1, "records": []}),
                "`format` is an integer",
            ),
            (
                json!({"format": FORMAT, "version": 2, "records": []}),
                "version 2 is not supported",
            ),
            (
                json!({"format": FORMAT, "version": "1", "records": []}),
                "`version` is a string",
            ),
            (
                json!({"format": FORMAT, "version": 1.0, "records": []}),
                "`version` is a number with a fraction",
            ),
            (
                json!({"format": FORMAT, "version": 1}),
                "the document lacks `records`",
            ),
            (
                json!({"format": FORMAT, "version": 1, "records": {}}),
                "`records` is an object, not a list",
            ),
            (
                json!({"format": FORMAT, "version": 1, "records": [], SECRET: 1}),
                "the document has an unknown field (allowed: format, version, records)",
            ),
        ];
        for (doc, expected) in cases {
            let reason = refusal(doc.to_string().as_bytes());
            assert!(reason.contains(expected), "{doc}: {reason}");
        }
        let twice =
            format!(r#"{{"format":"{FORMAT}","format":"{FORMAT}","version":1,"records":[]}}"#);
        assert_eq!(
            refusal(twice.as_bytes()),
            "the document gives `format` twice"
        );
    }

    #[test]
    fn refuses_bad_records_naming_only_position_field_and_type() {
        let ok = json!({"key": "sa:s:{x}", "value": "v", "expires_at": null});
        let cases = [
            (json!(SECRET), "records[1] is a string, not an object"),
            (
                json!({"key": "sa:s:{y}", "value": SECRET}),
                "records[1] lacks `expires_at`",
            ),
            (
                json!({"key": format!("x:{SECRET}"), "value": "v", "expires_at": null}),
                "records[1]: `key` does not start with `sa:`",
            ),
            (
                json!({"key": 5, "value": "v", "expires_at": null}),
                "records[1]: `key` must be a string, not an integer",
            ),
            (
                json!({"key": "sa:s:{y}", "value": 42, "expires_at": null}),
                "records[1]: `value` must be a string, not an integer",
            ),
            (
                json!({"key": "sa:s:{y}", "value": null, "expires_at": null}),
                "records[1]: `value` must be a string, not null",
            ),
            (
                json!({"key": "sa:s:{y}", "value": "v", "expires_at": SECRET}),
                "records[1]: `expires_at` must be an integer (unix microseconds) or null, not a string",
            ),
            (
                json!({"key": "sa:s:{y}", "value": "v", "expires_at": 1.5}),
                "not a number with a fraction or exponent",
            ),
            (
                json!({"key": "sa:s:{y}", "value": "v", "expires_at": u64::MAX}),
                "not an integer out of range",
            ),
            (
                json!({"key": "sa:s:{y}", "value": "v", "expires_at": null, "extra": SECRET}),
                "records[1] has an unknown field (allowed: key, value, expires_at)",
            ),
            (
                json!({"key": "sa:s:{x}", "value": SECRET, "expires_at": 9}),
                "1 record(s) repeat the key of an earlier one",
            ),
        ];
        for (bad, expected) in cases {
            let reason = refusal(&document(json!([ok, bad])));
            assert!(reason.contains(expected), "{bad}: {reason}");
        }
        let twice = format!(
            r#"{{"format":"{FORMAT}","version":1,"records":[{{"key":"sa:k","value":"a","value":"{SECRET}","expires_at":null}}]}}"#
        );
        assert_eq!(refusal(twice.as_bytes()), "records[0] gives `value` twice");
    }

    #[test]
    fn exports_live_records_only() {
        let store = MemoryStore::new();
        let records = vec![
            record("sa:a:1", "a", Some(100)),
            record("sa:a:2", "b", Some(99)),
            record("sa:s:1", "c", None),
        ];
        import_records(&store, records, 0).expect("seed");
        let export = live_records(&store, "sa:", 99).expect("export");
        let keys: Vec<&str> = export.records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!((keys, export.expired), (vec!["sa:a:1", "sa:s:1"], 1));
        let export = live_records(&store, "sa:s:", 99).expect("export");
        assert_eq!((export.records.len(), export.expired), (1, 0));
    }

    #[test]
    fn imports_all_or_nothing_and_skips_the_expired() {
        let store = MemoryStore::new();
        let first = vec![
            record("sa:a:1", "a", Some(100)),
            record("sa:a:2", "b", Some(50)),
            record("sa:s:1", "c", None),
        ];
        let summary = import_records(&store, first.clone(), 50).expect("import");
        assert_eq!(
            summary,
            ImportSummary {
                imported: 2,
                expired: 1
            }
        );
        assert_eq!(store.scan_records("").expect("scan").len(), 2);

        // One key is stored already: nothing of the set is written.
        let second = vec![record("sa:new", "n", None), record("sa:s:1", SECRET, None)];
        let err = import_records(&store, second, 50).expect_err("conflict");
        assert!(matches!(
            err,
            Error::ImportConflict {
                existing: 1,
                total: 2
            }
        ));
        let message = err.to_string();
        assert_eq!(
            message,
            "1 of the 2 records to import already exist in the store; nothing was imported"
        );
        assert_eq!(store.scan_records("").expect("scan").len(), 2);
        assert_eq!(
            store.get_many(&["sa:s:1".into()]).expect("get"),
            vec![Some("c".into())]
        );

        // Again, whole: refused. All expired: nothing to write, no conflict
        // (though `sa:a:1` is stored).
        assert!(import_records(&store, first, 50).is_err());
        let dead = vec![
            record("sa:a:1", "a", Some(100)),
            record("sa:x", "x", Some(3)),
        ];
        let summary = import_records(&store, dead, 1_000).expect("all expired");
        assert_eq!(
            summary,
            ImportSummary {
                imported: 0,
                expired: 2
            }
        );
        assert_eq!(store.scan_records("").expect("scan").len(), 2);
    }
}
