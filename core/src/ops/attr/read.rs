//! Get, exists and names: answers from the target session's live
//! attributes (get from their records, exists and names from the index);
//! they write nothing.
//!
//! Single form (`name`): get answers `found` and, when found, the
//! attribute's fields beside it; exists answers `result: bool`. Many form
//! (`data`, even of one name): `result` maps each name to its attribute (or
//! `null`) for get, to a bool for exists. Names answers the sorted names.

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::items::{Shape, at_item, name_items};
use super::{begin, begin_get, read_index, read_named, target, view};
use crate::http::fields::{Fields, opt_bool};
use crate::ops::auth::check_app;
use crate::ops::{Ctx, Reply, Stop};
use crate::store::record::AttrRecord;

/// GET `/zato/sso/session/attr`; `decrypt` (default true) chooses between
/// the value in clear and the value as stored.
pub fn get(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    let (shape, target) = begin_get(ctx, fields)?;
    let decrypt = opt_bool(&fields.decrypt, "decrypt must be true or false")?.unwrap_or(true);
    let found = live_named(ctx, &shape, &target.sid)?;
    let many = shape.is_many();
    let mut reply = Reply::default();
    let mut result = Map::new();
    for (index, (name, record)) in found.into_iter().enumerate() {
        let attr = match record {
            Some(record) => Some(
                view(ctx, &target.sid, &record, decrypt).map_err(|e| at_item(e, index, many))?,
            ),
            None => None,
        };
        match (many, attr) {
            (true, attr) => {
                result.insert(name, attr.map_or(Value::Null, Value::Object));
            }
            (false, Some(fields)) => {
                reply.fields = fields;
                reply.fields.insert("found".into(), Value::Bool(true));
            }
            (false, None) => {
                reply.fields.insert("found".into(), Value::Bool(false));
            }
        }
    }
    if many {
        reply.fields.insert("result".into(), Value::Object(result));
    }
    Ok(reply)
}

/// GET `/zato/sso/session/attr/exists`, answered from the index.
pub fn exists(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    let (shape, target) = begin(ctx, fields)?;
    let names = name_items(&shape, &ctx.config.limits)?;
    ctx.log.names.clone_from(&names);
    let index = read_index(ctx, &target.sid)?.index;
    let live = |name: &str| Value::Bool(index.live(name, ctx.now).is_some());
    let result = match shape {
        Shape::Single(name) => live(name),
        Shape::Many(_) => Value::Object(
            names
                .iter()
                .map(|name| (name.clone(), live(name)))
                .collect(),
        ),
    };
    let mut reply = Reply::default();
    reply.fields.insert("result".into(), result);
    Ok(reply)
}

/// GET `/zato/sso/session/attr/names`, answered from the index. Takes
/// neither `name` nor `data` (they are not read at all).
pub fn names(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let target = target(ctx, fields)?;
    let index = read_index(ctx, &target.sid)?.index;
    let names: Vec<Value> = index
        .live_names(ctx.now)
        .map(|name| Value::String(String::from(name)))
        .collect();
    let mut reply = Reply::default();
    reply.fields.insert("result".into(), Value::Array(names));
    Ok(reply)
}

/// Each name of the call with its live record, if it has one.
fn live_named(
    ctx: &mut Ctx<'_>,
    shape: &Shape<'_>,
    sid: &str,
) -> Result<Vec<(String, Option<AttrRecord>)>, Stop> {
    let names = name_items(shape, &ctx.config.limits)?;
    ctx.log.names.clone_from(&names);
    let stored = read_named(ctx, sid, &names)?;
    Ok(names
        .into_iter()
        .zip(stored)
        .map(|(name, stored)| {
            let live = stored.filter(|s| s.is_live(ctx.now)).map(|s| s.record);
            (name, live)
        })
        .collect())
}
