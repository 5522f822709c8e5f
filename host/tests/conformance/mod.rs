//! The conformance runner's parts: the case format, placeholders, matchers,
//! OpenAPI validation, HTTP and the player.

pub mod format;
pub mod http;
pub mod matcher;
pub mod openapi;
pub mod play;
pub mod template;
