//! The CLI's user commands: add, list, lock, unlock, delete, passwd.
//!
//! Ending a user's sessions needs no index of them: a session resolves only
//! while its owner exists with the same `user_id`, is unlocked, and is still
//! at the session generation the session was created in
//! ([`UserRecord::owns_live`]). The session records themselves go when they
//! expire (the sweeper).

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::{Ctx, Reply, Stop};
use crate::error::Error;
use crate::password;
use crate::protocol::{Expect, UserAdd, UserName, UserPasswd, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{RECORD_VERSION, UserRecord, decode, encode};
use crate::time::format_micros;

/// Longest user name, in characters (SPEC 1).
pub const USERNAME_MAX_CHARS: usize = 191;

/// Adds a user; a taken name is E001002.
pub fn add(ctx: &mut Ctx<'_>, command: &UserAdd) -> Result<Reply, Stop> {
    ctx.log.op = String::from("user.add");
    check_username(&command.username)?;
    check_password(&command.password)?;
    let key = layout::user_key(&command.username);
    let [existing] = ctx.reads.get([key.as_str()])?;
    if existing.is_some() {
        return Err(Error::UsernameExists.into());
    }
    let user_id = alloc::format!("zusr{}", hex::encode(ctx.entropy.bytes::<12>()));
    let password_hash = password::hash(&command.password, ctx.config.argon2, &mut ctx.entropy)?;
    let user = UserRecord {
        v: RECORD_VERSION,
        user_id: user_id.clone(),
        username: command.username.clone(),
        password_hash,
        is_super_user: command.is_super_user,
        is_locked: false,
        creation_time: ctx.now,
        session_epoch: 0,
    };
    let mut reply = Reply::default();
    reply.writes.ops.push(put_user(key, &user, Expect::Absent));
    reply
        .fields
        .insert("user_id".into(), Value::String(user_id));
    Ok(reply)
}

/// Every user, sorted by name: id, name, role, lock state, creation time.
/// Password hashes are never part of the answer.
pub fn list(ctx: &mut Ctx<'_>) -> Result<Reply, Stop> {
    ctx.log.op = String::from("user.list");
    let mut users = Vec::new();
    for (_, text) in ctx.reads.scan(layout::USER_PREFIX)? {
        let user: UserRecord = decode(text)?;
        let mut fields = Map::new();
        fields.insert("user_id".into(), Value::String(user.user_id));
        fields.insert("username".into(), Value::String(user.username));
        fields.insert("is_super_user".into(), Value::Bool(user.is_super_user));
        fields.insert("is_locked".into(), Value::Bool(user.is_locked));
        fields.insert(
            "creation_time".into(),
            Value::String(format_micros(Some(user.creation_time))),
        );
        users.push(Value::Object(fields));
    }
    let mut reply = Reply::default();
    reply.fields.insert("users".into(), Value::Array(users));
    Ok(reply)
}

/// Locks a user and ends every session of theirs.
pub fn lock(ctx: &mut Ctx<'_>, user: &UserName) -> Result<Reply, Stop> {
    change(ctx, "user.lock", &user.username, |_, user| {
        user.is_locked = true;
        end_sessions(user);
        Ok(())
    })
}

/// Unlocks a user; the sessions that locking ended stay ended.
pub fn unlock(ctx: &mut Ctx<'_>, user: &UserName) -> Result<Reply, Stop> {
    change(ctx, "user.unlock", &user.username, |_, user| {
        user.is_locked = false;
        Ok(())
    })
}

/// Sets a new password and ends every session of the user.
pub fn passwd(ctx: &mut Ctx<'_>, command: &UserPasswd) -> Result<Reply, Stop> {
    check_password(&command.password)?;
    change(ctx, "user.passwd", &command.username, |ctx, user| {
        user.password_hash =
            password::hash(&command.password, ctx.config.argon2, &mut ctx.entropy)?;
        end_sessions(user);
        Ok(())
    })
}

/// Deletes a user: their sessions no longer resolve, and a later user of
/// the same name (a new `user_id`) does not inherit them.
pub fn delete(ctx: &mut Ctx<'_>, user: &UserName) -> Result<Reply, Stop> {
    ctx.log.op = String::from("user.delete");
    let (key, text, _) = read_user(ctx, &user.username)?;
    let mut reply = Reply::default();
    reply.writes.ops.push(WriteOp {
        key,
        action: WriteAction::Delete,
        expect: Expect::Value(String::from(text)),
    });
    Ok(reply)
}

/// Ends every session of `user` (a new generation).
fn end_sessions(user: &mut UserRecord) {
    user.session_epoch = user.session_epoch.wrapping_add(1);
}

/// Reads user `username`, applies `edit`, and writes it back over exactly
/// the record read.
fn change(
    ctx: &mut Ctx<'_>,
    op: &str,
    username: &str,
    edit: impl FnOnce(&mut Ctx<'_>, &mut UserRecord) -> Result<(), Error>,
) -> Result<Reply, Stop> {
    ctx.log.op = String::from(op);
    let (key, text, mut user) = read_user(ctx, username)?;
    edit(ctx, &mut user)?;
    let mut reply = Reply::default();
    // Under the key read, not one made from the record's `username`: were
    // they ever to differ, the precondition could never hold elsewhere.
    reply
        .writes
        .ops
        .push(put_user(key, &user, Expect::Value(String::from(text))));
    Ok(reply)
}

/// The key, stored text and record of an existing user (E001001 if none).
fn read_user<'r>(ctx: &Ctx<'r>, username: &str) -> Result<(String, &'r str, UserRecord), Stop> {
    let key = layout::user_key(username);
    let [text] = ctx.reads.get([key.as_str()])?;
    let text = text.ok_or(Error::NoSuchUser)?;
    let user = decode(text)?;
    Ok((key, text, user))
}

/// The put of `user` under `key`.
fn put_user(key: String, user: &UserRecord, expect: Expect) -> WriteOp {
    WriteOp {
        key,
        action: WriteAction::Put {
            value: encode(user),
            expires_at: None,
        },
        expect,
    }
}

/// A new password must not be empty.
fn check_password(password: &str) -> Result<(), Error> {
    if password.is_empty() {
        return Err(Error::MissingInput("password"));
    }
    Ok(())
}

/// SPEC 1: 1 to 191 characters, no whitespace or control characters.
pub fn check_username(name: &str) -> Result<(), Error> {
    let chars = name.chars().count();
    if chars == 0 || chars > USERNAME_MAX_CHARS {
        return Err(Error::InvalidUsername(
            "a user name has 1 to 191 characters",
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidUsername(
            "a user name has no whitespace or control characters",
        ));
    }
    Ok(())
}
