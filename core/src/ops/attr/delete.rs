//! DELETE `/zato/sso/session/attr`: removes the named attributes; a name
//! without an attribute (never there, already deleted, or dead) is not an
//! error.

use alloc::vec::Vec;

use super::items::name_items;
use super::{begin, read_index};
use crate::http::fields::Fields;
use crate::ops::{Ctx, Reply, Stop};
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;

/// Deletes `name` or every name of `data`, in one write set with the new
/// index. A name the index lists (live or dead) is deleted; a call that
/// finds none of its names writes nothing.
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    let (shape, target) = begin(ctx, fields)?;
    let names = name_items(&shape, &ctx.config.limits)?;
    ctx.log.names.clone_from(&names);
    let read = read_index(ctx, &target.sid)?;
    let mut index = read.index.clone();
    let mut ops: Vec<WriteOp> = names
        .iter()
        .filter(|name| index.attrs.remove(name.as_str()).is_some())
        .map(|name| WriteOp {
            key: layout::attr_key(&target.sid, name),
            action: WriteAction::Delete,
            expect: Expect::Any,
        })
        .collect();
    if !ops.is_empty() {
        ops.extend(read.finish(ctx, &target, index));
    }
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}
