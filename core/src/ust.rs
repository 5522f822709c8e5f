//! User session tokens (USTs) and the session ids derived from them.

use alloc::string::String;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::entropy::Entropy;

/// Random bytes in a UST (256 bits).
const UST_BYTES: usize = 32;
/// Length of a UST's text (base64url of [`UST_BYTES`], no padding).
const UST_LEN: usize = 43;

/// Makes a new UST: 256 bits from the step's CSPRNG stream, base64url.
pub fn new_ust(entropy: &mut Entropy) -> String {
    URL_SAFE_NO_PAD.encode(entropy.bytes::<UST_BYTES>())
}

/// Whether `ust` has the shape of a token sessattr issues. Anything else is
/// refused before any read.
pub fn is_well_formed(ust: &str) -> bool {
    ust.len() == UST_LEN
        && ust
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The session id stored in place of the token: hex SHA-256 of the UST under
/// a fixed domain label. Lookups go by this hash, so no token is ever
/// compared byte by byte.
pub fn session_id(ust: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"sessattr-ust-v1\0");
    hasher.update(ust.as_bytes());
    hex::encode(hasher.finalize())
}

/// A short, non-reversible tag of a session id that logs may carry.
pub fn log_tag(sid: &str) -> &str {
    sid.get(..12).unwrap_or(sid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_seed;

    #[test]
    fn new_tokens_are_well_formed_and_distinct() {
        let mut entropy = Entropy::from_seed_text(&encode_seed(&[3; 32])).expect("seed");
        let a = new_ust(&mut entropy);
        let b = new_ust(&mut entropy);
        assert!(is_well_formed(&a));
        assert_ne!(a, b);
        assert_ne!(session_id(&a), session_id(&b));
        assert_eq!(session_id(&a).len(), 64);
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("!!"));
        assert!(!is_well_formed(&"a".repeat(44)));
        assert!(!is_well_formed(&"+".repeat(43)));
        assert!(is_well_formed(&"a".repeat(43)));
    }
}
