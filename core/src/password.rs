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

/// Largest memory cost accepted, KiB: half the module's memory limit.
pub const MAX_M_COST: u32 = 256 * 1024;
/// Largest memory × passes accepted (KiB-passes): about 3 s of hashing on
/// the machines measured (the defaults, 19 456 × 2, take about 60 ms), well
/// inside the module's 10 s time limit.
pub const MAX_WORK: u64 = 2 * 1024 * 1024;
/// Largest number of lanes accepted.
pub const MAX_P_COST: u32 = 16;

/// Whether these costs can hash a password inside the module: argon2id
/// accepts them and they stay within [`MAX_M_COST`], [`MAX_WORK`] and
/// [`MAX_P_COST`].
pub fn check_params(params: Argon2Params) -> Result<(), Error> {
    let work = u64::from(params.m_cost) * u64::from(params.t_cost);
    if params.m_cost > MAX_M_COST || work > MAX_WORK || params.p_cost > MAX_P_COST {
        return Err(Error::Internal);
    }
    hasher(params).map(drop)
}

/// Whether `stored` was hashed with other costs than `params`: login then
/// hashes the password again, so that every user's check costs what an
/// unknown user's does (no user enumeration by timing after a cost change).
pub fn needs_rehash(stored: &str, params: Argon2Params) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    match Params::try_from(&parsed) {
        Ok(used) => {
            (used.m_cost(), used.t_cost(), used.p_cost())
                != (params.m_cost, params.t_cost, params.p_cost)
        }
        Err(_) => true,
    }
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
    // A stored hash declaring costs beyond what the module may hash (a
    // forged or corrupted record) is refused like a wrong password, before
    // it can make the step allocate gigabytes or run for minutes.
    let within_bounds = Params::try_from(&parsed).is_ok_and(|used| {
        check_params(Argon2Params {
            m_cost: used.m_cost(),
            t_cost: used.t_cost(),
            p_cost: used.p_cost(),
        })
        .is_ok()
    });
    if !within_bounds {
        return false;
    }
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
        assert!(!needs_rehash(&stored, CHEAP));
        let dearer = Argon2Params { t_cost: 2, ..CHEAP };
        assert!(needs_rehash(&stored, dearer));
    }

    #[test]
    fn a_stored_hash_declaring_costs_out_of_bounds_is_refused_unhashed() {
        let mut entropy = Entropy::from_seed_text(&encode_seed(&[2; 32])).expect("seed");
        let stored = hash("correct horse", CHEAP, &mut entropy).expect("hash");
        assert!(stored.contains("m=64,"), "{stored}");
        // The same hash made to declare 4 GiB of memory: refused at once
        // (hashing it would allocate 4 GiB).
        let forged = stored.replace("m=64,", "m=4194304,");
        assert!(!verify("correct horse", &forged));
        let forged = stored.replace("t=1,", "t=100000,");
        assert!(!verify("correct horse", &forged));
        assert!(verify("correct horse", &stored));
    }

    #[test]
    fn costs_are_bounded_to_what_the_module_can_hash() {
        assert!(check_params(Argon2Params::default()).is_ok());
        for bad in [
            Argon2Params {
                m_cost: MAX_M_COST + 1,
                t_cost: 1,
                p_cost: 1,
            },
            Argon2Params {
                m_cost: 19_456,
                t_cost: 200,
                p_cost: 1,
            },
            Argon2Params {
                m_cost: 64,
                t_cost: 1,
                p_cost: 17,
            },
            Argon2Params {
                m_cost: 1,
                t_cost: 1,
                p_cost: 1,
            },
        ] {
            assert!(check_params(bad).is_err(), "{bad:?}");
        }
    }
}
