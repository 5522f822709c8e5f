//! Randomness derived from the seed the embedding passes in.

use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::error::Error;

/// A ChaCha20 stream keyed by the step's 32-byte seed (which the embedding
/// draws from its CSPRNG): every nonce, token, salt and cid of one decision.
pub struct Entropy(ChaCha20Rng);

impl Entropy {
    /// Builds the stream from the base64 seed of a step input.
    pub fn from_seed_text(seed: &str) -> Result<Self, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(seed)
            .map_err(|_| Error::Internal)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| Error::Internal)?;
        Ok(Self(ChaCha20Rng::from_seed(seed)))
    }

    /// `N` fresh random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.0.fill_bytes(&mut out);
        out
    }

    /// A correlation id: 24 lowercase hex characters.
    pub fn cid(&mut self) -> alloc::string::String {
        hex::encode(self.bytes::<12>())
    }
}
