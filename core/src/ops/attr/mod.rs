//! Session attribute operations (SPEC 2.2): create, set and update
//! ([`write`]), delete ([`delete`]), get, exists and names ([`read`]).
//!
//! Every operation authorizes in the order of SPEC 2.3 ([`begin`]), then
//! reads what it needs of the target session: the attribute index
//! ([`AttrIndex`]: names, creation and expiry times, encryption) for every
//! decision, the attribute records themselves only for `get`. A stored
//! attribute counts only while it is live; the target session is live by
//! then (step 4).

pub mod delete;
pub mod items;
pub mod read;
pub mod write;

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::auth::{LiveSession, check_app, resolve_pair};
use super::{Ctx, Stop};
use crate::crypto::{Place, Scope};
use crate::error::Error;
use crate::http::fields::Fields;
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{AttrIndex, AttrRecord, decode, encode};
use crate::time::format_micros;
use items::{Shape, shape};
pub use write::Write;

/// Steps 1–4 of SPEC 2.3 for an operation that takes `name` or `data`:
/// the app, the shape, then both sessions. Answers the shape and the
/// target session. The target's attribute index is fetched along with the
/// sessions ([`Reads::also_fetch`](crate::ops::reads::Reads::also_fetch)).
pub fn begin<'f>(ctx: &Ctx<'_>, fields: &'f Fields) -> Result<(Shape<'f>, LiveSession), Stop> {
    check_app(ctx, &fields.current_app)?;
    let shape = shape(fields, &ctx.config.limits)?;
    let target = target(ctx, fields)?;
    Ok((shape, target))
}

/// [`begin`] for get, which reads the records of the names asked for, not
/// the index. The record of a single `name` is fetched along with the
/// sessions; a `data` list's records are not: fetched before the caller
/// is authorized, up to 1 000 of them could be read for any request
/// naming a well-formed target UST.
pub fn begin_get<'f>(ctx: &Ctx<'_>, fields: &'f Fields) -> Result<(Shape<'f>, LiveSession), Stop> {
    check_app(ctx, &fields.current_app)?;
    let shape = shape(fields, &ctx.config.limits)?;
    // A name that is not valid is refused later, in SPEC order.
    if let (Some(sid), Shape::Single(_)) = (target_sid(fields), &shape)
        && let Ok(names) = items::name_items(&shape, &ctx.config.limits)
    {
        ctx.reads
            .also_fetch(names.iter().map(|name| layout::attr_key(&sid, name)));
    }
    let (_current, target) = resolve_pair(ctx, &fields.current_ust, &fields.target_ust)?;
    Ok((shape, target))
}

/// Steps 3 and 4: the target session, acted on by a super-user; its
/// attribute index is fetched along with the sessions.
pub fn target(ctx: &Ctx<'_>, fields: &Fields) -> Result<LiveSession, Stop> {
    if let Some(sid) = target_sid(fields) {
        ctx.reads.also_fetch([layout::index_key(&sid)]);
    }
    let (_current, target) = resolve_pair(ctx, &fields.current_ust, &fields.target_ust)?;
    Ok(target)
}

/// The session id of a well-formed `target_ust`.
fn target_sid(fields: &Fields) -> Option<String> {
    match &fields.target_ust {
        Some(Value::String(token)) if crate::ust::is_well_formed(token) => {
            Some(crate::ust::session_id(token))
        }
        _ => None,
    }
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
/// (`None` when there is no record, live or dead). A record whose own name
/// is not the one it is stored under is an error (E008004).
pub fn read_named<'r>(
    ctx: &Ctx<'r>,
    sid: &str,
    names: &[String],
) -> Result<Vec<Option<Stored<'r>>>, Stop> {
    let keys: Vec<String> = names.iter().map(|n| layout::attr_key(sid, n)).collect();
    let texts = ctx.reads.get_all(&keys)?;
    let mut stored = Vec::with_capacity(texts.len());
    for (text, name) in texts.into_iter().zip(names) {
        let record = text.map(stored_record).transpose()?;
        // A record is only ever the one of the name it is stored under: one
        // copied from another name's key is refused like a corrupted
        // envelope (its associated data would name the other attribute).
        if let Some(found) = &record
            && found.record.name != *name
        {
            return Err(if found.record.is_encrypted {
                Error::Crypto
            } else {
                Error::Internal
            }
            .into());
        }
        stored.push(record);
    }
    Ok(stored)
}

/// The attribute index of a session as read: its text (the precondition
/// of the write that replaces it; `None` when there is none yet) and its
/// content.
#[derive(Debug)]
pub struct IndexRead<'r> {
    /// The record exactly as read.
    pub text: Option<&'r str>,
    /// The decoded index (empty when there is none).
    pub index: AttrIndex,
}

/// Reads the attribute index of session `sid`.
pub fn read_index<'r>(ctx: &Ctx<'r>, sid: &str) -> Result<IndexRead<'r>, Stop> {
    let key = layout::index_key(sid);
    let [text] = ctx.reads.get([key.as_str()])?;
    let index = match text {
        Some(text) => decode(text)?,
        None => AttrIndex::new(),
    };
    Ok(IndexRead { text, index })
}

impl IndexRead<'_> {
    /// The precondition on the index key: exactly what was read.
    pub fn expect(&self) -> Expect {
        self.text
            .map_or(Expect::Absent, |text| Expect::Value(String::from(text)))
    }

    /// Ends a write set that changes attributes: the new index (`index`,
    /// pruned of dead entries; deleted when empty) over the one read, and
    /// the check that the session is still the one read.
    pub fn finish(
        &self,
        ctx: &Ctx<'_>,
        target: &LiveSession,
        mut index: AttrIndex,
    ) -> [WriteOp; 2] {
        index.prune(ctx.now);
        let key = layout::index_key(&target.sid);
        let action = if index.attrs.is_empty() {
            WriteAction::Delete
        } else {
            WriteAction::Put {
                value: encode(&index),
                expires_at: Some(target.session.expiration_time),
            }
        };
        let index_op = WriteOp {
            key,
            action,
            expect: self.expect(),
        };
        [index_op, session_guard(target)]
    }
}

/// The precondition that the target session is still the record read: a
/// concurrent logout or renew makes the write set fail and be decided
/// again, so no attribute or index outlives its session or keeps its old
/// expiry.
pub fn session_guard(target: &LiveSession) -> WriteOp {
    WriteOp {
        key: layout::session_key(&target.sid),
        action: WriteAction::Check,
        expect: Expect::Value(target.text.clone()),
    }
}

/// When the store may forget an attribute record: when the attribute or
/// its session (ending at `session_end`) expires, whichever comes first.
pub fn store_expiry(record: &AttrRecord, session_end: i64) -> i64 {
    record
        .expiration_time
        .map_or(session_end, |at| at.min(session_end))
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
