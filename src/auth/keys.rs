//! API key format: `sb_<lookup id>_<secret>`.
//!
//! The lookup id (12 hex chars) is not secret: it finds the key's row. The secret (48 hex chars,
//! 192 random bits) is stored only as its SHA-256; with that much entropy a slow password hash
//! adds nothing, and SHA-256 keeps authentication cheap on the scoring hot path.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "sb_";
const LOOKUP_ID_HEX: usize = 12;
const SECRET_HEX: usize = 48;

/// A full API key as presented by a client.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    lookup_id: String,
    secret: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}{}_[redacted])", PREFIX, self.lookup_id)
    }
}

impl ApiKey {
    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; LOOKUP_ID_HEX / 2 + SECRET_HEX / 2];
        getrandom::fill(&mut bytes)?;
        let (id, secret) = bytes.split_at(LOOKUP_ID_HEX / 2);
        Ok(ApiKey {
            lookup_id: hex::encode(id),
            secret: hex::encode(secret),
        })
    }

    /// Parses `sb_<12 hex>_<48 hex>`; anything else is not a key.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(PREFIX)?;
        let (lookup_id, secret) = rest.split_once('_')?;
        let is_lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        (lookup_id.len() == LOOKUP_ID_HEX
            && secret.len() == SECRET_HEX
            && is_lower_hex(lookup_id)
            && is_lower_hex(secret))
        .then(|| ApiKey {
            lookup_id: lookup_id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    pub fn lookup_id(&self) -> &str {
        &self.lookup_id
    }

    /// The text to hand to the client, once.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}_{}", self.lookup_id, self.secret)
    }

    pub fn secret_hash(&self) -> [u8; 32] {
        Sha256::digest(self.secret.as_bytes()).into()
    }

    /// Constant-time comparison with a stored hash, so response timing reveals nothing about
    /// how much of a guessed secret was right.
    pub fn matches(&self, stored_hash: &[u8]) -> bool {
        stored_hash.len() == 32 && bool::from(self.secret_hash().ct_eq(stored_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_parse() {
        let key = ApiKey::generate().unwrap();
        let text = key.reveal();
        assert_eq!(text.len(), 3 + 12 + 1 + 48);
        assert_eq!(ApiKey::parse(&text), Some(key.clone()));
        assert!(key.matches(&key.secret_hash()));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for text in [
            "",
            "sb_",
            "Bearer sb_0123456789ab_0123",
            "sb_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdeX",
            "sb_0123456789AB_0123456789abcdef0123456789abcdef0123456789abcdef",
            "xx_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(ApiKey::parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_different_secret_does_not_match() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert!(!a.matches(&b.secret_hash()));
        assert!(!a.matches(&[0u8; 31]));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKey::generate().unwrap();
        assert!(!format!("{key:?}").contains(&key.secret));
    }
}
