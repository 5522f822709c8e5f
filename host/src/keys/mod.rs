//! Key management: the nonce budget ([`budget`]), picking up a changed key
//! file in a running server ([`watch`]), and the `sessattr keys …`
//! commands ([`commands`], [`rotate`]).

pub mod budget;
pub mod commands;
pub mod rotate;
pub mod watch;
