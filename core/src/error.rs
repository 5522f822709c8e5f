//! The one error type of the core, and its mapping to SPEC sub-status codes.

use thiserror::Error;

/// Why an operation was refused. Every variant maps to one SPEC 2.5 code and
/// one HTTP status; messages are fixed text and never carry request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Error {
    /// The body is not JSON, or not a JSON object.
    #[error("the request body must be a JSON object")]
    NotJson,
    /// The body is longer than `limits.body_max_bytes`.
    #[error("the request body is too large")]
    BodyTooLarge,
    /// No such endpoint.
    #[error("no such endpoint")]
    UnknownPath,
    /// The endpoint exists but not with this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed {
        /// Value of the `Allow` header.
        allow: &'static str,
    },
    /// `current_app` is not in the configured list.
    #[error("unknown application")]
    UnknownApp,
    /// Generic refusal (not a super-user, bad credentials…).
    #[error("not allowed")]
    NotAllowed,
    /// A UST that is missing, malformed, forged or expired.
    #[error("no such session")]
    NoSuchSession,
    /// A field is present but invalid.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A required field is absent.
    #[error("missing input: {0}")]
    MissingInput(&'static str),
    /// Something inside sessattr is wrong (configuration, stored data).
    #[error("internal error")]
    Internal,
    /// `create` of a name that is live already.
    #[error("attribute already exists")]
    AttrExists,
    /// `update` of a name that has no live attribute.
    #[error("no such attribute")]
    NoSuchAttr,
    /// A value could not be sealed or opened (no usable key, a corrupted or
    /// misplaced envelope). Deliberately without detail.
    #[error("the value cannot be encrypted or decrypted")]
    Crypto,
    /// The user name is taken.
    #[error("user name already exists")]
    UsernameExists,
    /// The user name breaks the rules of SPEC 1.
    #[error("invalid user name: {0}")]
    InvalidUsername(&'static str),
    /// An administrative command names a user that does not exist.
    #[error("no such user")]
    NoSuchUser,
}

impl Error {
    /// The SPEC 2.5 sub-status code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson | Self::BodyTooLarge | Self::InvalidInput(_) => "E008002",
            Self::UnknownPath | Self::MethodNotAllowed { .. } => "E008001",
            Self::UnknownApp => "E004001",
            Self::NotAllowed => "E005001",
            Self::NoSuchSession => "E007001",
            Self::MissingInput(_) => "E008003",
            Self::Internal | Self::Crypto => "E008004",
            Self::AttrExists => "E009001",
            Self::NoSuchAttr => "E009002",
            Self::UsernameExists => "E001002",
            Self::InvalidUsername(_) | Self::NoSuchUser => "E001001",
        }
    }

    /// The HTTP status of SPEC 2.1.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotJson => 400,
            Self::BodyTooLarge => 413,
            Self::UnknownPath => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Internal => 500,
            _ => 403,
        }
    }
}

/// An error tied, in a many-form call, to the index of the item that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Index into `data` of the failing item, for many-form calls.
    pub item: Option<usize>,
}

impl Failure {
    /// Ties `error` to item `index`.
    pub fn at(error: Error, index: usize) -> Self {
        Self {
            error,
            item: Some(index),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self { error, item: None }
    }
}
