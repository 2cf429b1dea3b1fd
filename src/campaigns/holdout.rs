//! Sticky holdout assignment. An account's side depends only on the campaign's seed and its
//! own id, never on the order, size or timing of a request: the same account lands on the same
//! side every time it is asked, and campaigns that share a seed share their holdout.
//!
//! The bucket is the first 60 bits of SHA-256(seed, U+001F, account id) (UTF-8, big-endian)
//! divided by 2^60, a number in [0, 1); an account is held out when its bucket is below the
//! holdout share, tested exactly as the digest against a [`threshold`].

use sha2::{Digest, Sha256};

/// Separates the seed from the account id in the hashed bytes (no seed/id pair collides).
pub const SEPARATOR: u8 = 0x1f;

const TWO_POW_60: f64 = (1u64 << 60) as f64;

/// The account's bucket in [0, 1) for this seed (as a float, for display: the holdout test
/// itself is exact, see [`threshold`]).
pub fn bucket(seed: &str, account_id: &str) -> f64 {
    let digest = digest(seed, account_id);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 4) as f64 / TWO_POW_60
}

fn digest(seed: &str, account_id: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed.as_bytes());
    hasher.update([SEPARATOR]);
    hasher.update(account_id.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&hasher.finalize());
    out
}

/// The 32 bytes a digest is compared with: `ceil(share * 2^60)` in the first 60 bits, zeros
/// after. A digest is below it exactly when its first 60 bits are below `share * 2^60`, that
/// is when its bucket is below the share (in exact arithmetic, with no rounding).
pub fn threshold(share: f64) -> [u8; 32] {
    let limit = (share.clamp(0.0, 0.9) * TWO_POW_60).ceil() as u64;
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&(limit << 4).to_be_bytes());
    out
}

/// Whether the account is held out of a campaign with this seed and share.
pub fn is_holdout(seed: &str, account_id: &str, share: f64) -> bool {
    digest(seed, account_id) < threshold(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_a_fixed_function_of_seed_and_account() {
        // Fixed values (computed independently with Python's hashlib:
        // int(sha256(b"spring-2027\x1fBAN0000000042").hexdigest()[:15], 16) / 2**60).
        assert_eq!(bucket("spring-2027", "BAN0000000042"), 0.03521354065642758);
        assert_eq!(bucket("spring-2027", "BAN0000000043"), 0.23608445871628445);
        assert_eq!(bucket("", "A"), 0.6891178638399207);
        // The test agrees with the bucket, and the same question gets the same answer.
        for id in ["BAN0000000042", "BAN0000000043", "x"] {
            for share in [0.0, 0.03, 0.04, 0.1, 0.5, 0.9] {
                assert_eq!(
                    is_holdout("spring-2027", id, share),
                    bucket("spring-2027", id) < share
                );
            }
        }
        assert_eq!(
            is_holdout("s", "acct-1", 0.5),
            is_holdout("s", "acct-1", 0.5)
        );
    }

    #[test]
    fn shares_hold_out_about_their_fraction_and_nest() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("ACC{i:06}")).collect();
        let held = |share: f64| ids.iter().filter(|id| is_holdout("q1", id, share)).count();
        let tenth = held(0.1);
        assert!((1_800..=2_200).contains(&tenth), "{tenth}");
        assert_eq!(held(0.0), 0);
        // A larger share keeps everyone a smaller share held out.
        assert!(
            ids.iter()
                .filter(|id| is_holdout("q1", id, 0.1))
                .all(|id| is_holdout("q1", id, 0.3))
        );
        // Another seed draws another holdout.
        let other = ids
            .iter()
            .filter(|id| is_holdout("q1", id, 0.1) && is_holdout("q2", id, 0.1))
            .count();
        assert!(other < 400, "{other}");
    }
}
