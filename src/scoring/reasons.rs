//! Reason codes as scoring runs keep them: per account, the top contributions packed in one
//! `bytea` (see the `20261206220000_run_reasons` migration), 18 bytes per reason: the feature's
//! index (i16), its value (f64, NaN: missing) and its contribution (f64), big-endian.

/// One kept reason code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedReason {
    /// Index into the model's features.
    pub feature: i16,
    /// NaN: missing.
    pub value: f64,
    pub contribution: f64,
}

/// Bytes of one packed reason.
pub const PACKED_REASON_BYTES: usize = 2 + 8 + 8;

impl PackedReason {
    pub fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.feature.to_be_bytes());
        out.extend_from_slice(&self.value.to_bits().to_be_bytes());
        out.extend_from_slice(&self.contribution.to_bits().to_be_bytes());
    }

    /// The reasons of one packed value, in order; trailing bytes short of a reason are ignored.
    pub fn unpack(bytes: &[u8]) -> impl Iterator<Item = PackedReason> + '_ {
        bytes.chunks_exact(PACKED_REASON_BYTES).map(|chunk| {
            let f64_at = |at: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&chunk[at..at + 8]);
                f64::from_bits(u64::from_be_bytes(b))
            };
            PackedReason {
                feature: i16::from_be_bytes([chunk[0], chunk[1]]),
                value: f64_at(2),
                contribution: f64_at(10),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_every_bit() {
        let reasons = [
            PackedReason {
                feature: 7,
                value: f64::NAN,
                contribution: 0.125,
            },
            PackedReason {
                feature: 32_767,
                value: -1e-300,
                contribution: -0.0,
            },
        ];
        let mut packed = Vec::new();
        for reason in &reasons {
            reason.pack(&mut packed);
        }
        assert_eq!(packed.len(), 2 * PACKED_REASON_BYTES);
        let back: Vec<PackedReason> = PackedReason::unpack(&packed).collect();
        assert_eq!(back[0].feature, 7);
        assert!(back[0].value.is_nan());
        assert_eq!(back[0].contribution, 0.125);
        assert_eq!(back[1], reasons[1]);
        assert!(back[1].contribution.is_sign_negative());
    }
}
