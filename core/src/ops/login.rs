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

/// Most bytes of the `User-Agent` header a new session records. The header
/// is the client's to choose and HTTP servers accept long ones (hyper about
/// 400 KiB): recorded whole, it made every session record, read by every
/// attribute call on the session, as large as the client liked.
pub const USER_AGENT_MAX_BYTES: usize = 512;

/// Most bytes of the remote address a new session records (an IPv6 address
/// with a zone fits many times over; the JS handler takes it from a header).
pub const REMOTE_ADDR_MAX_BYTES: usize = 128;

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&text[..end])
}

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
        current_app: String::from(fields.app().unwrap_or_default()),
        creation_time: ctx.now,
        expiration_time,
        remote_addr: cut(&request.remote_addr, REMOTE_ADDR_MAX_BYTES),
        user_agent: cut(&request.user_agent, USER_AGENT_MAX_BYTES),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_headers_are_cut_at_a_character_boundary() {
        assert_eq!(cut("short", 512), "short");
        assert_eq!(cut(&"u".repeat(600), 512).len(), 512);
        // "é" is two bytes: 511 of them cut at 512 keeps 256 characters.
        assert_eq!(cut(&"é".repeat(511), 512), "é".repeat(256));
        assert_eq!(cut(&"é".repeat(300), 511), "é".repeat(255));
        assert_eq!(cut("", 0), "");
    }
}
