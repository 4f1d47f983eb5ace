//! G.711 μ-law (PCMU), the codec of a Media Streams call: 8 kHz, one byte
//! per sample, 20 ms frames of [`FRAME_SAMPLES`] bytes.
//!
//! The transform is the ITU-T G.711 one on 16-bit linear samples: add the
//! bias 0x84, clip the magnitude at 32 635, encode sign, 3-bit segment and
//! 4-bit mantissa, and invert all bits. There is no "zero trap" (0x00 is a
//! valid codeword, as G.711 says). Decoding goes through a 256-entry table
//! built at compile time.

/// Samples per second of a telephone call.
pub const SAMPLE_RATE: u32 = 8_000;

/// Samples (and μ-law bytes) in one 20 ms Media Streams frame.
pub const FRAME_SAMPLES: usize = 160;

/// Length of one frame in milliseconds.
pub const FRAME_MS: u32 = 20;

/// μ-law codeword of a zero sample (+0): what pads a frame with silence.
pub const SILENCE: u8 = 0xFF;

/// Peak, in 16-bit linear units, of a sine at 0 dBm0. G.711 puts the
/// largest μ-law sine (peak 32 636 here, 8 159 in 14-bit) at +3.17 dBm0,
/// so 0 dBm0 is 32 636 · 10^(−3.17/20). Levels in this module are dBm0.
pub const DBM0_SINE_PEAK: f32 = 22_657.0;

/// Mean power (in squared 16-bit units) of a sine at `dbm0`.
#[must_use]
pub fn dbm0_to_power(dbm0: f32) -> f32 {
    DBM0_SINE_PEAK * DBM0_SINE_PEAK / 2.0 * 10f32.powf(dbm0 / 10.0)
}

/// Level in dBm0 of a mean power in squared 16-bit units (floored at
/// −120 dBm0 so that digital silence stays finite).
#[must_use]
pub fn power_to_dbm0(power: f32) -> f32 {
    let reference = DBM0_SINE_PEAK * DBM0_SINE_PEAK / 2.0;
    10.0 * (power / reference).max(1e-12).log10()
}

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// Encodes one 16-bit linear sample as a μ-law byte.
#[inline]
#[must_use]
pub fn encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let sign: u8 = if value < 0 { 0x80 } else { 0 };
    // |i16::MIN| fits in i32; the clip brings it back into range.
    let magnitude = value.abs().min(CLIP) + BIAS;
    // magnitude is in 132..=32767, so magnitude >> 7 is in 1..=255 and the
    // segment is the position of its highest set bit.
    let top = (magnitude >> 7) as u8;
    let segment = 7 - top.leading_zeros() as u8;
    let mantissa = ((magnitude >> (segment + 3)) & 0x0F) as u8;
    !(sign | (segment << 4) | mantissa)
}

/// Decodes one μ-law byte to a 16-bit linear sample (table look-up).
#[inline]
#[must_use]
pub fn decode(codeword: u8) -> i16 {
    DECODE_TABLE[usize::from(codeword)]
}

/// Encodes a run of samples (any length) into μ-law bytes.
#[must_use]
pub fn encode_all(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode(s)).collect()
}

/// Decodes a run of μ-law bytes (any length) into linear samples.
#[must_use]
pub fn decode_all(codewords: &[u8]) -> Vec<i16> {
    codewords.iter().map(|&c| decode(c)).collect()
}

/// Decodes μ-law bytes into `out`, replacing its contents; lets a stream
/// handler reuse one buffer per call instead of allocating per frame.
pub fn decode_into(codewords: &[u8], out: &mut Vec<i16>) {
    out.clear();
    out.extend(codewords.iter().map(|&c| decode(c)));
}

/// [`decode_into`], and the sum of the decoded samples' squares (their
/// energy) from the same pass.
///
/// Why: a stream's every caller frame is decoded, gated on its level for
/// in-band keys and end-pointed by the VAD; one pass with the squares read
/// from a table replaces two more passes over the samples (squares do not
/// vectorise into a `u64` sum on the baseline x86-64 target).
pub fn decode_energy_into(codewords: &[u8], out: &mut Vec<i16>) -> u64 {
    out.clear();
    // Sized first, then filled in place: a `push` per sample checks the
    // capacity each time and costs as much as the look-ups.
    out.resize(codewords.len(), 0);
    let mut energy = 0u64;
    for (sample, &c) in out.iter_mut().zip(codewords) {
        *sample = DECODE_TABLE[usize::from(c)];
        energy += u64::from(SQUARE_TABLE[usize::from(c)]);
    }
    energy
}

/// Level in dBm0 of `samples` samples whose squares sum to `energy` (see
/// [`decode_energy_into`]): their mean power, as [`power_to_dbm0`] takes it.
#[must_use]
pub fn energy_to_dbm0(energy: u64, samples: usize) -> f32 {
    // Exact in f64 for any frame a stream carries (energy < 2^53).
    power_to_dbm0((energy as f64 / samples.max(1) as f64) as f32)
}

const fn decode_slow(codeword: u8) -> i16 {
    let c = !codeword;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    // Reconstructs at the middle of the quantisation interval.
    let magnitude = (((mantissa << 3) + BIAS) << segment) - BIAS;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

static DECODE_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode_slow(i as u8);
        i += 1;
    }
    table
};

/// The square of each codeword's sample (at most 32 124², which fits a u32).
static SQUARE_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let m = decode_slow(i as u8).unsigned_abs() as u32;
        table[i] = m * m;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The segment a sample falls in, read back from its codeword.
    fn segment_of(sample: i16) -> u32 {
        u32::from((!encode(sample) >> 4) & 0x07)
    }

    /// Largest round-trip error allowed for `sample`: half the quantisation
    /// step of its segment (steps are 8 << segment), plus whatever the clip
    /// at 32 635 removed.
    fn error_bound(sample: i16) -> i32 {
        let clipped = (i32::from(sample).abs() - CLIP).max(0);
        (4 << segment_of(sample)) + clipped
    }

    #[test]
    fn zero_encodes_as_0xff_and_both_zero_codewords_decode_to_zero() {
        assert_eq!(encode(0), 0xFF);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x7F), 0);
        assert_eq!(SILENCE, encode(0));
    }

    #[test]
    fn the_sign_bit_is_clear_for_negative_samples() {
        assert_eq!(encode(-1), 0x7F);
        assert_eq!(encode(1) & 0x80, 0x80);
        assert_eq!(encode(-1000) & 0x80, 0);
        assert_eq!(decode(0x80), -decode(0x00));
    }

    #[test]
    fn full_scale_maps_to_the_extreme_codewords() {
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN), 0x00);
        assert_eq!(encode(32_635), 0x80);
        assert_eq!(decode(0x80), 32_124);
        assert_eq!(decode(0x00), -32_124);
    }

    #[test]
    fn known_codewords_match_the_g711_tables() {
        // (codeword, linear value) pairs of the G.711 decoding table,
        // scaled from 14-bit to 16-bit: segment ends and the digital
        // milliwatt's 0x1E.
        let cases: [(u8, i16); 8] = [
            (0xFE, 8),
            (0xF0, 120),
            (0xEF, 132),
            (0xE0, 372),
            (0xC0, 1_884),
            (0xA0, 7_932),
            (0x90, 15_996),
            (0x1E, -8_828),
        ];
        for (codeword, linear) in cases {
            assert_eq!(decode(codeword), linear, "codeword {codeword:#04x}");
            assert_eq!(encode(linear), codeword, "linear {linear}");
        }
    }

    #[test]
    fn every_codeword_but_negative_zero_survives_decode_then_encode() {
        for codeword in 0..=255u8 {
            let expected = if codeword == 0x7F { 0xFF } else { codeword };
            assert_eq!(encode(decode(codeword)), expected, "{codeword:#04x}");
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step_in_every_segment() {
        // Segment s covers biased magnitudes 128 << s ..= (256 << s) - 1.
        for segment in 0..8u32 {
            let low = ((128i32 << segment) - BIAS).max(0);
            let high = ((256i32 << segment) - 1 - BIAS).min(i32::from(i16::MAX));
            let half_step = 4i32 << segment;
            for magnitude in low..=high {
                for sample in [magnitude, -magnitude] {
                    let Ok(sample) = i16::try_from(sample) else {
                        continue;
                    };
                    let error = (i32::from(decode(encode(sample))) - i32::from(sample)).abs();
                    let bound = if magnitude > CLIP {
                        error_bound(sample)
                    } else {
                        half_step
                    };
                    assert!(
                        error <= bound,
                        "segment {segment}, sample {sample}: {error}"
                    );
                }
            }
        }
    }

    #[test]
    fn slices_encode_and_decode_elementwise() {
        let samples = [0i16, 1, -1, 1000, -1000, i16::MAX, i16::MIN];
        let encoded = encode_all(&samples);
        assert_eq!(encoded.len(), samples.len());
        let decoded = decode_all(&encoded);
        let mut reused = vec![42; 3];
        decode_into(&encoded, &mut reused);
        assert_eq!(decoded, reused);
        for (s, d) in samples.iter().zip(&decoded) {
            assert!((i32::from(*s) - i32::from(*d)).abs() <= error_bound(*s));
        }
    }

    #[test]
    fn a_full_scale_sine_is_plus_3_17_dbm0() {
        let power = 32_636f32 * 32_636.0 / 2.0;
        assert!((power_to_dbm0(power) - 3.17).abs() < 0.01);
        assert!((power_to_dbm0(dbm0_to_power(-25.0)) + 25.0).abs() < 0.01);
        assert!(power_to_dbm0(0.0).is_finite());
    }

    proptest! {
        #[test]
        fn decoding_with_energy_gives_the_same_samples_and_their_sum_of_squares(
            codewords in proptest::collection::vec(any::<u8>(), 0..400)
        ) {
            let mut samples = vec![7; 5];
            let energy = decode_energy_into(&codewords, &mut samples);
            prop_assert_eq!(&samples, &decode_all(&codewords));
            let squares: u64 = samples.iter().map(|&s| (i64::from(s) * i64::from(s)) as u64).sum();
            prop_assert_eq!(energy, squares);
        }

        #[test]
        fn decode_of_encode_stays_within_the_segment_step(sample in any::<i16>()) {
            let back = decode(encode(sample));
            let error = (i32::from(back) - i32::from(sample)).abs();
            prop_assert!(error <= error_bound(sample), "{sample} -> {back}");
            // The sign survives except for values that quantise to zero.
            prop_assert!(back == 0 || (back < 0) == (sample < 0));
        }

        #[test]
        fn encoding_is_monotonic(a in any::<i16>(), b in any::<i16>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(decode(encode(lo)) <= decode(encode(hi)));
        }
    }
}
