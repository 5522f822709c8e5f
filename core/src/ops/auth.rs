//! Authorization of SPEC 2.3: application, then sessions and the super-user
//! rule.

use alloc::string::String;
use serde_json::Value;

use super::{Ctx, Stop};
use crate::error::Error;
use crate::http::fields::req_str;
use crate::store::layout;
use crate::store::record::{SessionRecord, UserRecord, decode};
use crate::ust;

/// Step 1: `current_app` present and configured.
pub fn check_app(ctx: &Ctx<'_>, app: &Option<Value>) -> Result<(), Error> {
    let app = req_str(app, "current_app", "current_app must be a string")?;
    if ctx.config.apps.iter().any(|a| a == app) {
        Ok(())
    } else {
        Err(Error::UnknownApp)
    }
}

/// A session that resolved to a live session of an unlocked user.
#[derive(Debug)]
pub struct LiveSession {
    /// Session id (hash of the UST).
    pub sid: String,
    /// The session record.
    pub session: SessionRecord,
    /// Its owner.
    pub user: UserRecord,
}

/// The session id of a UST field; anything but a well-formed token is
/// [`Error::NoSuchSession`].
fn sid_of(ust: &Option<Value>) -> Result<String, Error> {
    match ust {
        Some(Value::String(token)) if ust::is_well_formed(token) => Ok(ust::session_id(token)),
        _ => Err(Error::NoSuchSession),
    }
}

/// Steps 3 and 4: `current_ust` is a live session of an unlocked super-user,
/// `target_ust` a live session of an unlocked user. Both sessions are read in
/// one round and both users in the next; errors follow SPEC order.
pub fn resolve_pair(
    ctx: &Ctx<'_>,
    current_ust: &Option<Value>,
    target_ust: &Option<Value>,
) -> Result<(LiveSession, LiveSession), Stop> {
    let current_sid = sid_of(current_ust)?;
    let target_sid = sid_of(target_ust);
    let current_key = layout::session_key(&current_sid);
    let target_key = match &target_sid {
        Ok(sid) => layout::session_key(sid),
        Err(_) => current_key.clone(),
    };
    let [current_rec, target_rec] = ctx.reads.get([current_key.as_str(), target_key.as_str()])?;
    let current_session = live_session(ctx, current_rec)?;
    let target_session = live_session(ctx, target_rec)
        .ok()
        .filter(|_| target_sid.is_ok());

    let current_user_key = layout::user_key(&current_session.username);
    let target_user_key = target_session.as_ref().map_or_else(
        || current_user_key.clone(),
        |s| layout::user_key(&s.username),
    );
    let [current_user, target_user] = ctx
        .reads
        .get([current_user_key.as_str(), target_user_key.as_str()])?;

    let current = owned_by_live_user(current_sid, current_session, current_user)?;
    if !current.user.is_super_user {
        return Err(Error::NotAllowed.into());
    }
    let target_sid = target_sid?;
    let target_session = target_session.ok_or(Error::NoSuchSession)?;
    let target = owned_by_live_user(target_sid, target_session, target_user)?;
    Ok((current, target))
}

/// A session record that exists and has not expired.
fn live_session(ctx: &Ctx<'_>, record: Option<&str>) -> Result<SessionRecord, Error> {
    let session: SessionRecord = decode(record.ok_or(Error::NoSuchSession)?)?;
    if session.expiration_time <= ctx.now {
        return Err(Error::NoSuchSession);
    }
    Ok(session)
}

/// Joins a live session with its owner, who must still exist (the same
/// user, not a later namesake) and be unlocked.
fn owned_by_live_user(
    sid: String,
    session: SessionRecord,
    user: Option<&str>,
) -> Result<LiveSession, Error> {
    let user: UserRecord = decode(user.ok_or(Error::NoSuchSession)?)?;
    if user.user_id != session.user_id || user.is_locked {
        return Err(Error::NoSuchSession);
    }
    Ok(LiveSession { sid, session, user })
}
