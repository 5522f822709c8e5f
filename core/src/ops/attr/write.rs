//! Create (POST), set (PUT) and update (PATCH): one decision with three
//! policies for a name that has, or has not, a live attribute.
//!
//! | live attribute of the name | create | set | update |
//! |---|---|---|---|
//! | none (absent, or dead) | new | new | E009002 |
//! | one | E009001 | changed | changed |
//!
//! A **new** attribute is plain unless `encrypt` says otherwise and never
//! expires unless `expiration` says otherwise. A **changed** one keeps its
//! `creation_time`, its encryption and its expiry unless the request sets
//! them; `last_modified` becomes now and the value is sealed again when it
//! stays encrypted, so `is_encrypted` always tells the truth.
//!
//! Every put carries the record it replaces (or absence) as its
//! precondition, and the write set checks that the session is unchanged
//! ([`session_guard`]), so a lost race is re-decided by the embedding; a
//! many-form call is one write set: all or nothing.

use alloc::string::String;
use alloc::vec::Vec;

use super::items::{WriteItem, at_item, write_items};
use super::{Stored, begin, place, read_all, read_named};
use crate::error::Error;
use crate::http::fields::Fields;
use crate::ops::auth::LiveSession;
use crate::ops::{Ctx, Reply, Stop};
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{AttrRecord, RECORD_VERSION, encode};
use crate::time::MICROS_PER_SEC;

/// Which write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// POST: only names without a live attribute.
    Create,
    /// PUT: any name (upsert).
    Set,
    /// PATCH: only names with a live attribute.
    Update,
}

impl Write {
    /// Whether this write may add attributes to the session (and so must
    /// see all of them, to count them against the limit).
    fn may_add(self) -> bool {
        self != Self::Update
    }
}

/// Runs a create, set or update of `name` or of every `data` item.
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields, mode: Write) -> Result<Reply, Stop> {
    let (shape, target) = begin(ctx, fields)?;
    let items = write_items(fields, &shape, &ctx.config.limits)?;
    ctx.log.names = items.iter().map(|i| i.name.clone()).collect();
    let many = shape.is_many();

    // What is stored under each item's name (names are unique in a call).
    let (stored, live_count): (Vec<Option<Stored<'_>>>, usize) = if mode.may_add() {
        let mut all = read_all(ctx, &target.sid)?;
        let live = all.values().filter(|s| s.is_live(ctx.now)).count();
        let named = items.iter().map(|i| all.remove(i.name.as_str())).collect();
        (named, live)
    } else {
        (read_named(ctx, &target.sid, &ctx.log.names)?, 0)
    };

    let mut ops = Vec::with_capacity(items.len());
    let mut added = 0usize;
    for (index, (item, stored)) in items.iter().zip(stored).enumerate() {
        let live = stored.as_ref().filter(|s| s.is_live(ctx.now));
        match (mode, live) {
            (Write::Create, Some(_)) => return Err(at_item(Error::AttrExists, index, many).into()),
            (Write::Update, None) => return Err(at_item(Error::NoSuchAttr, index, many).into()),
            (_, None) => added += 1,
            (_, Some(_)) => {}
        }
        let old = live.map(|s| &s.record);
        let record = new_record(ctx, &target, item, old).map_err(|e| at_item(e, index, many))?;
        let expect = stored.map_or(Expect::Absent, |s| Expect::Value(String::from(s.text)));
        ops.push(put(&target, record, expect));
    }
    if added > 0 && live_count.saturating_add(added) > ctx.config.limits.attrs_per_session {
        return Err(Error::InvalidInput("the session has too many attributes").into());
    }
    if !ops.is_empty() {
        ops.push(session_guard(&target));
    }
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}

/// The record `item` makes, over the live record `old` when there is one.
fn new_record(
    ctx: &mut Ctx<'_>,
    target: &LiveSession,
    item: &WriteItem,
    old: Option<&AttrRecord>,
) -> Result<AttrRecord, Error> {
    let is_encrypted = item
        .encrypt
        .or(old.map(|o| o.is_encrypted))
        .unwrap_or(false);
    let value = if is_encrypted {
        ctx.keyring
            .seal(
                &item.value,
                place(&target.sid, &item.name),
                &mut ctx.entropy,
            )
            .map_err(|_| Error::Crypto)?
    } else {
        item.value.clone()
    };
    let expiration_time = match item.expiration {
        Some(secs) => Some(ctx.now.saturating_add(secs.saturating_mul(MICROS_PER_SEC))),
        None => old.and_then(|o| o.expiration_time),
    };
    Ok(AttrRecord {
        v: RECORD_VERSION,
        name: item.name.clone(),
        value,
        is_encrypted,
        creation_time: old.map_or(ctx.now, |o| o.creation_time),
        last_modified: ctx.now,
        expiration_time,
    })
}

/// The precondition that the target session is still the record read: a
/// concurrent logout or renew makes the write set fail and be decided
/// again, so no attribute outlives its session or keeps its old expiry.
pub fn session_guard(target: &LiveSession) -> WriteOp {
    WriteOp {
        key: layout::session_key(&target.sid),
        action: WriteAction::Check,
        expect: Expect::Value(target.text.clone()),
    }
}

/// The put of `record`, which the store may forget when the attribute or
/// its session expires, whichever comes first.
fn put(target: &LiveSession, record: AttrRecord, expect: Expect) -> WriteOp {
    let session_end = target.session.expiration_time;
    let expires_at = record
        .expiration_time
        .map_or(session_end, |at| at.min(session_end));
    WriteOp {
        key: layout::attr_key(&target.sid, &record.name),
        action: WriteAction::Put {
            value: encode(&record),
            expires_at: Some(expires_at),
        },
        expect,
    }
}
