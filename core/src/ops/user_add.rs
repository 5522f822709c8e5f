//! The CLI's `user add`: a new user with an argon2id password hash.

use alloc::string::String;
use serde_json::Value;

use super::{Ctx, Reply, Stop};
use crate::error::Error;
use crate::password;
use crate::protocol::{Expect, UserAdd, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{RECORD_VERSION, UserRecord, encode};

/// Longest user name, in characters (SPEC 1).
pub const USERNAME_MAX_CHARS: usize = 191;

/// Adds a user; a taken name is E001002.
pub fn run(ctx: &mut Ctx<'_>, command: &UserAdd) -> Result<Reply, Stop> {
    ctx.log.op = String::from("user.add");
    check_username(&command.username)?;
    if command.password.is_empty() {
        return Err(Error::MissingInput("password").into());
    }
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
    };
    let mut reply = Reply::default();
    reply.writes.ops.push(WriteOp {
        key,
        action: WriteAction::Put {
            value: encode(&user),
            expires_at: None,
        },
        expect: Expect::Absent,
    });
    reply
        .fields
        .insert("user_id".into(), Value::String(user_id));
    Ok(reply)
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
