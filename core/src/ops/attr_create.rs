//! `POST /zato/sso/session/attr`: create attributes, put-if-absent.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::auth::{LiveSession, check_app, resolve_pair};
use super::write_items::{WriteItem, shape, write_items};
use super::{Ctx, Reply, Stop};
use crate::crypto::{Place, Scope};
use crate::error::{Error, Failure};
use crate::http::fields::Fields;
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{AttrRecord, RECORD_VERSION, decode, encode};
use crate::time::MICROS_PER_SEC;

/// Creates one attribute (`name`) or several (`data`), all or nothing. A
/// live attribute of the same name is E009001; a dead one, purged or not,
/// is replaced (its exact record is the write's precondition).
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let shape = shape(fields, &ctx.config.limits)?;
    let (_current, target) = resolve_pair(ctx, &fields.current_ust, &fields.target_ust)?;
    let items = write_items(fields, &shape, &ctx.config.limits)?;
    ctx.log.names = items.iter().map(|i| i.name.clone()).collect();
    let many = matches!(shape, super::write_items::Shape::Many(_));

    let prefix = layout::attr_prefix(&target.sid);
    let stored = ctx.reads.scan(&prefix)?;
    let existing = existing_attrs(stored, &prefix)?;
    let live = existing
        .values()
        .filter(|(_, r)| r.is_live(ctx.now))
        .count();

    let mut ops = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let expect = match existing.get(item.name.as_str()) {
            Some((_, record)) if record.is_live(ctx.now) => {
                return Err(item_failure(Error::AttrExists, index, many).into());
            }
            Some((text, _)) => Expect::Value(String::from(*text)),
            None => Expect::Absent,
        };
        let op = new_attr(ctx, &target, item, expect).map_err(|e| item_failure(e, index, many))?;
        ops.push(op);
    }
    if live + items.len() > ctx.config.limits.attrs_per_session {
        return Err(Error::InvalidInput("the session has too many attributes").into());
    }
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}

/// Ties an error to its item in the many form only.
fn item_failure(error: Error, index: usize, many: bool) -> Failure {
    if many {
        Failure::at(error, index)
    } else {
        error.into()
    }
}

/// The session's stored attributes by name: (record text, decoded record).
fn existing_attrs<'s>(
    stored: &'s [(String, String)],
    prefix: &str,
) -> Result<BTreeMap<&'s str, (&'s str, AttrRecord)>, Error> {
    let mut map = BTreeMap::new();
    for (key, text) in stored {
        let name = key.strip_prefix(prefix).ok_or(Error::Internal)?;
        map.insert(name, (text.as_str(), decode::<AttrRecord>(text)?));
    }
    Ok(map)
}

/// The put of a new attribute record, sealed when asked, expiring with the
/// attribute or its session, whichever comes first.
fn new_attr(
    ctx: &mut Ctx<'_>,
    target: &LiveSession,
    item: &WriteItem,
    expect: Expect,
) -> Result<WriteOp, Error> {
    let is_encrypted = item.encrypt.unwrap_or(false);
    let value = if is_encrypted {
        let place = Place {
            scope: Scope::Session(&target.sid),
            name: &item.name,
        };
        ctx.keyring
            .seal(&item.value, place, &mut ctx.entropy)
            .map_err(|_| Error::Internal)?
    } else {
        item.value.clone()
    };
    let expiration_time = item
        .expiration
        .map(|secs| ctx.now.saturating_add(secs.saturating_mul(MICROS_PER_SEC)));
    let record = AttrRecord {
        v: RECORD_VERSION,
        name: item.name.clone(),
        value,
        is_encrypted,
        creation_time: ctx.now,
        last_modified: ctx.now,
        expiration_time,
    };
    let session_end = target.session.expiration_time;
    let expires_at = expiration_time.map_or(session_end, |at| at.min(session_end));
    Ok(WriteOp {
        key: layout::attr_key(&target.sid, &item.name),
        action: WriteAction::Put {
            value: encode(&record),
            expires_at: Some(expires_at),
        },
        expect,
    })
}
