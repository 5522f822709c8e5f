//! Sessions (SPEC 2.4): logout, renew, details, verify, and the owner of a
//! session. Login is in [`super::login`].

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::attr::read_index;
use super::auth::{LiveSession, check_app, resolve_both, resolve_own, resolve_pair};
use super::{Ctx, Reply, Stop};
use crate::http::fields::Fields;
use crate::protocol::{Expect, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{SessionRecord, encode};
use crate::time::{MICROS_PER_SEC, format_micros};

/// POST `/zato/sso/user/logout`: the session, its index and every
/// attribute the index lists are gone, in one write set.
pub fn logout(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let own = resolve_own(ctx, fields.own_ust())?;
    let read = read_index(ctx, &own.sid)?;
    let delete = |key: String, expect: Expect| WriteOp {
        key,
        action: WriteAction::Delete,
        expect,
    };
    let mut ops: Vec<WriteOp> = read
        .index
        .attrs
        .keys()
        .map(|name| delete(layout::attr_key(&own.sid, name), Expect::Any))
        .collect();
    if read.text.is_some() {
        ops.push(delete(layout::index_key(&own.sid), read.expect()));
    }
    ops.push(delete(
        layout::session_key(&own.sid),
        Expect::Value(own.text),
    ));
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    Ok(reply)
}

/// PATCH `/zato/sso/user/session`: the session lives a full lifetime from
/// now. Its attributes keep their own expiry; the store is told to keep
/// them and the index until the new end of the session (an attribute's own
/// expiry, if sooner).
pub fn renew(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let own = resolve_own(ctx, fields.own_ust())?;
    let lifetime = ctx
        .config
        .session_lifetime_secs
        .saturating_mul(MICROS_PER_SEC);
    let end = ctx.now.saturating_add(lifetime);
    let read = read_index(ctx, &own.sid)?;
    let expire = |key: String, at: i64, expect: Expect| WriteOp {
        key,
        action: WriteAction::Expire {
            expires_at: Some(at),
        },
        expect,
    };
    let mut ops: Vec<WriteOp> = read
        .index
        .attrs
        .iter()
        .filter(|(_, entry)| entry.is_live(ctx.now))
        .map(|(name, entry)| {
            let at = entry.1.map_or(end, |own_end| own_end.min(end));
            expire(layout::attr_key(&own.sid, name), at, Expect::Any)
        })
        .collect();
    if read.text.is_some() {
        ops.push(expire(layout::index_key(&own.sid), end, read.expect()));
    } else {
        // No attribute yet: one created meanwhile (with the old session end
        // as its store expiry) must make this renew be decided again.
        ops.push(WriteOp {
            key: layout::index_key(&own.sid),
            action: WriteAction::Check,
            expect: Expect::Absent,
        });
    }
    let session = SessionRecord {
        expiration_time: end,
        ..own.session
    };
    ops.push(WriteOp {
        key: layout::session_key(&own.sid),
        action: WriteAction::Put {
            value: encode(&session),
            expires_at: Some(end),
        },
        expect: Expect::Value(own.text),
    });
    let mut reply = Reply::default();
    reply.writes.ops = ops;
    reply.fields.insert(
        "expiration_time".into(),
        Value::String(format_micros(Some(end))),
    );
    Ok(reply)
}

/// GET `/zato/sso/user/session`: a super-user reads a session's details.
pub fn details(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let (_current, target) = resolve_pair(ctx, &fields.current_ust, &fields.target_ust)?;
    let session = &target.session;
    let fields = Map::from_iter([
        time_field("creation_time", session.creation_time),
        time_field("expiration_time", session.expiration_time),
        (
            "remote_addr".into(),
            Value::String(session.remote_addr.clone()),
        ),
        (
            "user_agent".into(),
            Value::String(session.user_agent.clone()),
        ),
    ]);
    Ok(Reply {
        fields,
        ..Reply::default()
    })
}

/// POST `/zato/sso/user/session`: a super-user checks whether a session is
/// usable. A bad caller is an error; a bad target is `is_valid: false`.
/// Nothing is renewed.
pub fn verify(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let (_current, target) = resolve_both(ctx, &fields.current_ust, &fields.target_ust)?;
    let mut reply = Reply::default();
    reply
        .fields
        .insert("is_valid".into(), Value::Bool(target.is_ok()));
    Ok(reply)
}

/// GET `/zato/sso/user`: the owner of the caller's own session.
pub fn owner(ctx: &mut Ctx<'_>, fields: &Fields) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let LiveSession { user, .. } = resolve_own(ctx, fields.own_ust())?;
    let fields = Map::from_iter([
        ("user_id".into(), Value::String(user.user_id)),
        ("username".into(), Value::String(user.username)),
        ("is_super_user".into(), Value::Bool(user.is_super_user)),
        time_field("creation_time", user.creation_time),
    ]);
    Ok(Reply {
        fields,
        ..Reply::default()
    })
}

fn time_field(name: &str, micros: i64) -> (String, Value) {
    (name.into(), Value::String(format_micros(Some(micros))))
}
