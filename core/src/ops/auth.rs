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
    if ctx.config.knows_app(app) {
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
    /// The session record exactly as read (the precondition of writes that
    /// must not outlive this very session: logout, renew, attribute writes).
    pub text: String,
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
/// `target_ust` a live session of an unlocked user.
pub fn resolve_pair(
    ctx: &Ctx<'_>,
    current_ust: &Option<Value>,
    target_ust: &Option<Value>,
) -> Result<(LiveSession, LiveSession), Stop> {
    let (current, target) = resolve_both(ctx, current_ust, target_ust)?;
    Ok((current, target?))
}

/// Steps 3 and 4 apart: the caller's failure stops the operation, the
/// target's is answered beside the caller's session (verify turns it into
/// `is_valid: false`). Both sessions are read in one round and both users
/// in the next; errors follow SPEC order.
pub fn resolve_both(
    ctx: &Ctx<'_>,
    current_ust: &Option<Value>,
    target_ust: &Option<Value>,
) -> Result<(LiveSession, Result<LiveSession, Error>), Stop> {
    let current_sid = sid_of(current_ust)?;
    let target_sid = sid_of(target_ust);
    let current_key = layout::session_key(&current_sid);
    let target_key = match &target_sid {
        Ok(sid) => layout::session_key(sid),
        Err(_) => current_key.clone(),
    };
    let [current_rec, target_rec] = ctx.reads.get([current_key.as_str(), target_key.as_str()])?;
    let current_session = live_session(ctx, current_rec)?;
    let target_session = target_sid
        .clone()
        .and_then(|_| live_session(ctx, target_rec));

    let current_user_key = layout::user_key(&current_session.1.username);
    let target_user_key = target_session.as_ref().map_or_else(
        |_| current_user_key.clone(),
        |(_, s)| layout::user_key(&s.username),
    );
    let [current_user, target_user] = ctx
        .reads
        .get([current_user_key.as_str(), target_user_key.as_str()])?;

    let current = owned_by_live_user(current_sid, current_session, current_user)?;
    if !current.user.is_super_user {
        return Err(Error::NotAllowed.into());
    }
    let target = target_sid.and_then(|sid| {
        let session = target_session?;
        owned_by_live_user(sid, session, target_user)
    });
    Ok((current, target))
}

/// One session of any user (its holder's own calls: logout, renew, owner):
/// a live session of an unlocked user, else [`Error::NoSuchSession`].
pub fn resolve_own(ctx: &Ctx<'_>, ust: &Option<Value>) -> Result<LiveSession, Stop> {
    let sid = sid_of(ust)?;
    let key = layout::session_key(&sid);
    let [record] = ctx.reads.get([key.as_str()])?;
    let session = live_session(ctx, record)?;
    let user_key = layout::user_key(&session.1.username);
    let [user] = ctx.reads.get([user_key.as_str()])?;
    Ok(owned_by_live_user(sid, session, user)?)
}

/// A session record that exists and has not expired, with its text.
fn live_session(ctx: &Ctx<'_>, record: Option<&str>) -> Result<(String, SessionRecord), Error> {
    let text = record.ok_or(Error::NoSuchSession)?;
    let session: SessionRecord = decode(text)?;
    if session.expiration_time <= ctx.now {
        return Err(Error::NoSuchSession);
    }
    Ok((String::from(text), session))
}

/// Joins a live session with its owner, who must still own it
/// ([`UserRecord::owns_live`]).
fn owned_by_live_user(
    sid: String,
    (text, session): (String, SessionRecord),
    user: Option<&str>,
) -> Result<LiveSession, Error> {
    let user: UserRecord = decode(user.ok_or(Error::NoSuchSession)?)?;
    if !user.owns_live(&session) {
        return Err(Error::NoSuchSession);
    }
    Ok(LiveSession {
        sid,
        text,
        session,
        user,
    })
}
