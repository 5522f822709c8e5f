//! `POST /zato/sso/user/login`: credentials in, a new session's UST out.

use alloc::string::String;
use serde_json::Value;

use super::auth::check_app;
use super::{Ctx, Reply, Stop};
use crate::error::Error;
use crate::http::fields::{Fields, req_str};
use crate::password;
use crate::protocol::{Expect, HttpRequest, WriteAction, WriteOp};
use crate::store::layout;
use crate::store::record::{RECORD_VERSION, SessionRecord, UserRecord, decode, encode};
use crate::time::{MICROS_PER_SEC, format_micros};
use crate::ust;

/// Logs a user in. Unknown user, locked user and wrong password all answer
/// the same E005001, after the same argon2 work.
pub fn run(ctx: &mut Ctx<'_>, fields: &Fields, request: &HttpRequest) -> Result<Reply, Stop> {
    check_app(ctx, &fields.current_app)?;
    let username = req_str(&fields.username, "username", "username must be a string")?;
    let password = req_str(&fields.password, "password", "password must be a string")?;
    let key = layout::user_key(username);
    let [record] = ctx.reads.get([key.as_str()])?;
    // The same argon2 work whatever is wrong: the password is checked
    // before the lock, and an unknown user costs a hash of the password.
    let mut reply = Reply::default();
    let user = match record.map(decode::<UserRecord>).transpose()? {
        Some(mut user) => {
            let matches = password::verify(password, &user.password_hash);
            if !matches || user.is_locked {
                return Err(Error::NotAllowed.into());
            }
            if password::needs_rehash(&user.password_hash, ctx.config.argon2) {
                // The user and the new session have different hash tags:
                // the new hash is written first, on its own, and the login
                // runs again over it (then no rehash is due).
                user.password_hash = password::hash(password, ctx.config.argon2, &mut ctx.entropy)?;
                reply.writes.ops.push(WriteOp {
                    key: key.clone(),
                    action: WriteAction::Put {
                        value: encode(&user),
                        expires_at: None,
                    },
                    expect: Expect::Value(record.map(String::from).unwrap_or_default()),
                });
                reply.run_again = true;
                return Ok(reply);
            }
            user
        }
        None => {
            password::burn(password, ctx.config.argon2);
            return Err(Error::NotAllowed.into());
        }
    };

    let token = ust::new_ust(&mut ctx.entropy);
    let sid = ust::session_id(&token);
    let lifetime = ctx
        .config
        .session_lifetime_secs
        .saturating_mul(MICROS_PER_SEC);
    let expiration_time = ctx.now.saturating_add(lifetime);
    let session = SessionRecord {
        v: RECORD_VERSION,
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        current_app: fields.app_for_log().unwrap_or_default(),
        creation_time: ctx.now,
        expiration_time,
        remote_addr: request.remote_addr.clone(),
        user_agent: request.user_agent.clone(),
        user_epoch: user.session_epoch,
    };
    reply.writes.ops.push(WriteOp {
        key: layout::session_key(&sid),
        action: WriteAction::Put {
            value: encode(&session),
            expires_at: Some(expiration_time),
        },
        expect: Expect::Absent,
    });
    reply.fields.insert("ust".into(), Value::String(token));
    reply.fields.insert(
        "expiration_time".into(),
        Value::String(format_micros(Some(expiration_time))),
    );
    Ok(reply)
}
