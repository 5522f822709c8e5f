//! DELETE `/zato/sso/session/attr`: removes the named attributes; a name
//! without an attribute (never there, already deleted, or dead) is not an
//! error.

use alloc::vec::Vec;

use super::items::name_items;
use super::{begin, read_named};
use crate::http::fields::Fields;
use crate::ops::{Ctx, Reply, Stop};
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;

/// Deletes `name` or every name of `data`, in one write set. Only keys that
/// hold a record are written; a dead record is removed like a live one.
/// Deletes need no precondition: whatever a concurrent write stored, the
/// delete comes after it.
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    let (shape, target) = begin(ctx, fields)?;
    let names = name_items(&shape, &ctx.config.limits)?;
    ctx.log.names.clone_from(&names);
    let stored = read_named(ctx, &target.sid, &names)?;
    let ops: Vec<WriteOp> = names
        .iter()
        .zip(stored)
        .filter(|(_, stored)| stored.is_some())
        .map(|(name, _)| WriteOp {
            key: layout::attr_key(&target.sid, name),
            action: WriteAction::Delete,
            expect: Expect::Any,
        })
        .collect();
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}
