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
//! The decision reads no attribute record, only the session's attribute
//! index; the write set replaces the index as read (its precondition, so a
//! lost race is re-decided by the embedding), puts the records and checks
//! that the session is unchanged. A many-form call is one write set: all
//! or nothing.

use alloc::vec::Vec;

use super::items::{WriteItem, at_item, write_items};
use super::{begin, place, read_index};
use crate::error::Error;
use crate::http::fields::Fields;
use crate::ops::auth::LiveSession;
use crate::ops::{Ctx, Reply, Stop};
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{AttrRecord, IndexEntry, RECORD_VERSION, encode};
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

/// Runs a create, set or update of `name` or of every `data` item.
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields, mode: Write) -> Result<Reply, Stop> {
    let (shape, target) = begin(ctx, fields)?;
    let items = write_items(fields, &shape, &ctx.config.limits)?;
    ctx.log.names = items.iter().map(|i| i.name.clone()).collect();
    let many = shape.is_many();

    let read = read_index(ctx, &target.sid)?;
    let mut index = read.index.clone();
    index.prune(ctx.now);
    let live_before = index.attrs.len();
    let mut ops = Vec::with_capacity(items.len() + 2);
    for (position, item) in items.iter().enumerate() {
        let old = index.attrs.get(&item.name).copied();
        match (mode, old) {
            (Write::Create, Some(_)) => {
                return Err(at_item(Error::AttrExists, position, many).into());
            }
            (Write::Update, None) => return Err(at_item(Error::NoSuchAttr, position, many).into()),
            _ => {}
        }
        let record = new_record(ctx, &target, item, old).map_err(|e| at_item(e, position, many))?;
        index.attrs.insert(
            record.name.clone(),
            IndexEntry(
                record.creation_time,
                record.expiration_time,
                record.is_encrypted,
            ),
        );
        ops.push(put(&target, record));
    }
    let live_after = index.attrs.len();
    if live_after > live_before && live_after > ctx.config.limits.attrs_per_session {
        return Err(Error::InvalidInput("the session has too many attributes").into());
    }
    if !ops.is_empty() {
        ops.extend(read.finish(ctx, &target, index));
    }
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}

/// The record `item` makes, over the live attribute `old` when there is one.
fn new_record(
    ctx: &mut Ctx<'_>,
    target: &LiveSession,
    item: &WriteItem,
    old: Option<IndexEntry>,
) -> Result<AttrRecord, Error> {
    let is_encrypted = item.encrypt.or(old.map(|o| o.2)).unwrap_or(false);
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
        None => old.and_then(|o| o.1),
    };
    Ok(AttrRecord {
        v: RECORD_VERSION,
        name: item.name.clone(),
        value,
        is_encrypted,
        creation_time: old.map_or(ctx.now, |o| o.0),
        last_modified: ctx.now,
        expiration_time,
    })
}

/// The put of `record`, which the store may forget when the attribute or
/// its session expires, whichever comes first. No precondition of its own:
/// the index's covers every attribute of the session.
fn put(target: &LiveSession, record: AttrRecord) -> WriteOp {
    let expires_at = super::store_expiry(&record, target.session.expiration_time);
    WriteOp {
        key: layout::attr_key(&target.sid, &record.name),
        action: WriteAction::Put {
            value: encode(&record),
            expires_at: Some(expires_at),
        },
        expect: Expect::Any,
    }
}
