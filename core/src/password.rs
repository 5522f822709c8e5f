//! Password hashing: argon2id, PHC strings.

use alloc::string::{String, ToString};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

use crate::config::Argon2Params;
use crate::entropy::Entropy;
use crate::error::Error;

fn hasher(params: Argon2Params) -> Result<Argon2<'static>, Error> {
    let params = Params::new(params.m_cost, params.t_cost, params.p_cost, None)
        .map_err(|_| Error::Internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether argon2id accepts these costs.
pub fn check_params(params: Argon2Params) -> Result<(), Error> {
    hasher(params).map(drop)
}

/// Hashes a new password with a fresh 16-byte salt.
pub fn hash(password: &str, params: Argon2Params, entropy: &mut Entropy) -> Result<String, Error> {
    let salt = entropy.bytes::<16>();
    let hash = hasher(params)?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| Error::Internal)?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the same work as [`verify`] when there is no user to check against,
/// so unknown and known user names take comparable time.
pub fn burn(password: &str, params: Argon2Params) {
    if let Ok(hasher) = hasher(params) {
        let _ = hasher.hash_password_with_salt(password.as_bytes(), b"sessattr-no-user");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_seed;

    const CHEAP: Argon2Params = Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn hash_then_verify() {
        let mut entropy = Entropy::from_seed_text(&encode_seed(&[1; 32])).expect("seed");
        let stored = hash("correct horse", CHEAP, &mut entropy).expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("correct horse"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }
}
