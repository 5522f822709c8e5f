//! `keys status` and `keys rotate` (the [`Rekey`] command): one page of one
//! session's encrypted attributes at a time, counted by the key that sealed
//! them and, when asked, re-sealed under the primary key.
//!
//! Every re-sealed record is written with the record as read as its
//! precondition, and the session record must be unchanged: a concurrent
//! write, renew or logout makes the write set fail and the page be decided
//! again, so rotation never loses a write and never revives an attribute.
//! A page is all or nothing; an interrupted rotation leaves every value
//! readable (under the old key or the new one) and a new run finishes it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value, json};

use super::attr::{place, read_index, read_named, store_expiry};
use super::{Ctx, Reply, Stop};
use crate::crypto::Keyring;
use crate::error::Error;
use crate::protocol::{Expect, Rekey, WriteAction, WriteOp, WriteSet};
use crate::store::layout;
use crate::store::record::{SessionRecord, decode, encode};

/// What a page found, and did.
#[derive(Debug, Default)]
struct Page {
    /// Whether the session is live (else there is nothing to do: its
    /// records are expired and wait for the sweeper).
    session_live: bool,
    /// Live attributes of the session, per its index.
    attributes: usize,
    /// Of those, the encrypted ones, per its index.
    encrypted: usize,
    /// Attributes of this page looked at.
    checked: usize,
    /// Encrypted values of this page by the id of the key that seals them
    /// once this page is applied (a re-sealed value counts for the primary).
    by_key: BTreeMap<String, u64>,
    /// Values re-sealed under the primary key.
    rewritten: u64,
    /// Values no key of the keyring opens (a retired or unknown key, or
    /// damage): left as they are.
    unreadable: u64,
    /// The last name of this page when more may follow.
    next: Option<String>,
}

impl Page {
    fn into_reply(self, writes: WriteSet) -> Reply {
        let by_key: Map<String, Value> = self
            .by_key
            .into_iter()
            .map(|(id, n)| (id, json!(n)))
            .collect();
        let mut fields = Map::new();
        fields.insert("session_live".into(), json!(self.session_live));
        fields.insert("attributes".into(), json!(self.attributes));
        fields.insert("encrypted".into(), json!(self.encrypted));
        fields.insert("checked".into(), json!(self.checked));
        fields.insert("by_key".into(), Value::Object(by_key));
        fields.insert("rewritten".into(), json!(self.rewritten));
        fields.insert("unreadable".into(), json!(self.unreadable));
        fields.insert("next".into(), json!(self.next));
        Reply {
            fields,
            writes,
            run_again: false,
        }
    }
}

/// Runs one page of [`Rekey`].
pub fn run(ctx: &mut Ctx<'_>, command: &Rekey) -> Result<Reply, Stop> {
    ctx.log.op = String::from(if command.rewrite {
        "keys.rotate"
    } else {
        "keys.status"
    });
    let sid = command.session.as_str();
    let session_key = layout::session_key(sid);
    let [session_text] = ctx.reads.get([session_key.as_str()])?;
    let mut page = Page::default();
    let Some(session_text) = session_text else {
        return Ok(page.into_reply(WriteSet::default()));
    };
    let session: SessionRecord = decode(session_text)?;
    if session.expiration_time <= ctx.now {
        return Ok(page.into_reply(WriteSet::default()));
    }
    page.session_live = true;

    let index = read_index(ctx, sid)?.index;
    let now = ctx.now;
    let live: Vec<(&String, bool)> = index
        .attrs
        .iter()
        .filter(|(_, entry)| entry.is_live(now))
        .map(|(name, entry)| (name, entry.2))
        .collect();
    page.attributes = live.len();
    page.encrypted = live.iter().filter(|(_, encrypted)| *encrypted).count();
    let limit = usize::try_from(command.limit).unwrap_or(usize::MAX);
    let after = command.after.as_deref();
    let names: Vec<(&String, bool)> = live
        .into_iter()
        .filter(|(name, _)| after.is_none_or(|after| name.as_str() > after))
        .take(limit)
        .collect();
    page.checked = names.len();
    if limit > 0 && names.len() == limit {
        page.next = names.last().map(|(name, _)| String::clone(name));
    }
    let sealed: Vec<String> = names
        .iter()
        .filter(|(_, encrypted)| *encrypted)
        .map(|(name, _)| String::clone(name))
        .collect();
    let stored = read_named(ctx, sid, &sealed)?;

    let primary = ctx.keyring.primary_id().map(String::from);
    let mut ops = Vec::new();
    for (name, stored) in sealed.iter().zip(stored) {
        let Some(stored) = stored.filter(|s| s.is_live(now) && s.record.is_encrypted) else {
            continue;
        };
        let key_id = Keyring::envelope_key_id(&stored.record.value)
            .unwrap_or_else(|_| String::from("(malformed)"));
        let stays = !matches!(&primary, Some(primary) if command.rewrite && *primary != key_id);
        if stays {
            *page.by_key.entry(key_id).or_default() += 1;
            continue;
        }
        let Ok(plain) = ctx.keyring.open(&stored.record.value, place(sid, name)) else {
            page.unreadable += 1;
            *page.by_key.entry(key_id).or_default() += 1;
            continue;
        };
        *page
            .by_key
            .entry(primary.clone().unwrap_or_default())
            .or_default() += 1;
        let value = ctx
            .keyring
            .seal(&plain, place(sid, name), &mut ctx.entropy)
            .map_err(|_| Error::Crypto)?;
        let mut record = stored.record;
        record.value = value;
        ops.push(WriteOp {
            key: layout::attr_key(sid, name),
            action: WriteAction::Put {
                value: encode(&record),
                expires_at: Some(store_expiry(&record, session.expiration_time)),
            },
            expect: Expect::Value(String::from(stored.text)),
        });
        page.rewritten += 1;
    }
    if !ops.is_empty() {
        ops.push(WriteOp {
            key: session_key,
            action: WriteAction::Check,
            expect: Expect::Value(String::from(session_text)),
        });
    }
    Ok(page.into_reply(WriteSet { ops }))
}
