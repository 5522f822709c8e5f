//! Session attribute operations (SPEC 2.2): create, set and update
//! ([`write`]), delete ([`delete`]), get, exists and names ([`read`]).
//!
//! Every operation authorizes in the order of SPEC 2.3 ([`begin`]), then
//! reads the target session's attributes it needs. A stored record counts
//! only while it is live; the target session is live by then (step 4).

pub mod delete;
pub mod items;
pub mod read;
pub mod write;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::auth::{LiveSession, check_app, resolve_pair};
use super::{Ctx, Stop};
use crate::crypto::{Place, Scope};
use crate::error::Error;
use crate::http::fields::Fields;
use crate::store::layout;
use crate::store::record::{AttrRecord, decode};
use crate::time::format_micros;
use items::{Shape, shape};
pub use write::Write;

/// Steps 1–4 of SPEC 2.3 for an operation that takes `name` or `data`:
/// the app, the shape, then both sessions. Answers the shape and the
/// target session.
pub fn begin<'f>(ctx: &Ctx<'_>, fields: &'f Fields) -> Result<(Shape<'f>, LiveSession), Stop> {
    check_app(ctx, &fields.current_app)?;
    let shape = shape(fields, &ctx.config.limits)?;
    let target = target(ctx, fields)?;
    Ok((shape, target))
}

/// Steps 3 and 4: the target session, acted on by a super-user.
pub fn target(ctx: &Ctx<'_>, fields: &Fields) -> Result<LiveSession, Stop> {
    let (_current, target) = resolve_pair(ctx, &fields.current_ust, &fields.target_ust)?;
    Ok(target)
}

/// An attribute as stored: the record text (the precondition of a write
/// that replaces it) and the record.
#[derive(Debug)]
pub struct Stored<'r> {
    /// The record exactly as read.
    pub text: &'r str,
    /// The decoded record.
    pub record: AttrRecord,
}

impl Stored<'_> {
    /// Live at `now` (its session is live: the caller resolved it).
    pub fn is_live(&self, now: i64) -> bool {
        self.record.is_live(now)
    }
}

/// The stored attributes `names` of session `sid`, in the order of `names`
/// (`None` when there is no record, live or dead).
pub fn read_named<'r>(
    ctx: &Ctx<'r>,
    sid: &str,
    names: &[String],
) -> Result<Vec<Option<Stored<'r>>>, Stop> {
    let keys: Vec<String> = names.iter().map(|n| layout::attr_key(sid, n)).collect();
    let texts = ctx.reads.get_all(&keys)?;
    let mut stored = Vec::with_capacity(texts.len());
    for text in texts {
        stored.push(text.map(stored_record).transpose()?);
    }
    Ok(stored)
}

/// Every stored attribute of session `sid`, live or dead, by name (in byte
/// order of the names, which is code point order).
pub fn read_all<'r>(ctx: &Ctx<'r>, sid: &str) -> Result<BTreeMap<&'r str, Stored<'r>>, Stop> {
    let prefix = layout::attr_prefix(sid);
    let mut all = BTreeMap::new();
    for (key, text) in ctx.reads.scan(&prefix)? {
        let name = key.strip_prefix(prefix.as_str()).ok_or(Error::Internal)?;
        all.insert(name, stored_record(text)?);
    }
    Ok(all)
}

fn stored_record(text: &str) -> Result<Stored<'_>, Error> {
    Ok(Stored {
        text,
        record: decode(text)?,
    })
}

/// Where the values of session `sid` are sealed: the associated data of
/// attribute `name`'s envelope.
pub fn place<'a>(sid: &'a str, name: &'a str) -> Place<'a> {
    Place {
        scope: Scope::Session(sid),
        name,
    }
}

/// The fields of an attribute in a get answer: its value in clear when
/// `decrypt` (the default), else as stored (an envelope when encrypted).
pub fn view(
    ctx: &Ctx<'_>,
    sid: &str,
    record: &AttrRecord,
    decrypt: bool,
) -> Result<Map<String, Value>, Error> {
    let value = if record.is_encrypted && decrypt {
        ctx.keyring
            .open(&record.value, place(sid, &record.name))
            .map_err(|_| Error::Crypto)?
    } else {
        record.value.clone()
    };
    let mut fields = Map::new();
    fields.insert("name".into(), Value::String(record.name.clone()));
    fields.insert("value".into(), Value::String(value));
    fields.insert(
        "creation_time".into(),
        Value::String(format_micros(Some(record.creation_time))),
    );
    fields.insert(
        "last_modified".into(),
        Value::String(format_micros(Some(record.last_modified))),
    );
    fields.insert(
        "expiration_time".into(),
        Value::String(format_micros(record.expiration_time)),
    );
    fields.insert("is_encrypted".into(), Value::Bool(record.is_encrypted));
    Ok(fields)
}
