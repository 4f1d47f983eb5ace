//! Test signals: tones and tone pairs at a level in dBm0, white noise from
//! a seeded PRNG, mixing, the μ-law line, and the speech fixtures.

use std::f64::consts::PI;
use std::path::PathBuf;

use super::codec::{DBM0_SINE_PEAK, SAMPLE_RATE, decode, encode};
use super::dtmf::{COL_HZ, KEYPAD, ROW_HZ};

/// A xorshift64* generator: deterministic noise without a dependency.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn gaussian(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }
}

/// Number of samples in `ms` milliseconds.
pub(crate) fn samples_in(ms: u32) -> usize {
    (ms * SAMPLE_RATE / 1000) as usize
}

/// Peak amplitude of a sine at `dbm0`.
pub(crate) fn amplitude(dbm0: f64) -> f64 {
    f64::from(DBM0_SINE_PEAK) * 10f64.powf(dbm0 / 20.0)
}

fn to_i16(x: f64) -> i16 {
    x.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// A sum of sines, each `(frequency in Hz, level in dBm0)`, for `ms`.
pub(crate) fn tones(parts: &[(f64, f64)], ms: u32) -> Vec<i16> {
    let rate = f64::from(SAMPLE_RATE);
    (0..samples_in(ms))
        .map(|n| {
            let t = n as f64 / rate;
            let x: f64 = parts
                .iter()
                .map(|&(hz, dbm0)| amplitude(dbm0) * (2.0 * PI * hz * t).sin())
                .sum();
            to_i16(x)
        })
        .collect()
}

/// The row and column frequencies of a keypad key.
pub(crate) fn key_hz(key: char) -> (f64, f64) {
    for (r, row) in KEYPAD.iter().enumerate() {
        for (c, &k) in row.iter().enumerate() {
            if k == key {
                return (f64::from(ROW_HZ[r]), f64::from(COL_HZ[c]));
            }
        }
    }
    panic!("not a DTMF key: {key:?}")
}

/// How a DTMF tone pair is sent: level per tone, twist, frequency error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair {
    /// Level of the low (row) tone in dBm0.
    pub(crate) low_dbm0: f64,
    /// Level of the high (column) tone relative to the low one, in dB
    /// (positive: normal twist; negative: reverse twist).
    pub(crate) twist_db: f64,
    /// Relative frequency error of the low and the high tone (0.015 = +1.5%).
    pub(crate) low_offset: f64,
    pub(crate) high_offset: f64,
}

impl Default for Pair {
    fn default() -> Self {
        Self {
            low_dbm0: -8.0,
            twist_db: 2.0,
            low_offset: 0.0,
            high_offset: 0.0,
        }
    }
}

/// `key` sent as `pair` for `ms`.
pub(crate) fn dtmf(key: char, pair: Pair, ms: u32) -> Vec<i16> {
    let (low, high) = key_hz(key);
    tones(
        &[
            (low * (1.0 + pair.low_offset), pair.low_dbm0),
            (
                high * (1.0 + pair.high_offset),
                pair.low_dbm0 + pair.twist_db,
            ),
        ],
        ms,
    )
}

/// Digital silence for `ms`.
pub(crate) fn silence(ms: u32) -> Vec<i16> {
    vec![0; samples_in(ms)]
}

/// Gaussian white noise whose power equals that of a sine at `dbm0`.
pub(crate) fn white_noise(dbm0: f64, ms: u32, seed: u64) -> Vec<i16> {
    let mut rng = XorShift::new(seed);
    let rms = amplitude(dbm0) / 2f64.sqrt();
    (0..samples_in(ms))
        .map(|_| to_i16(rng.gaussian() * rms))
        .collect()
}

/// `keys` sent one after another, each `on_ms` of tone and `off_ms` of
/// silence, after `lead` samples of silence.
pub(crate) fn dial(keys: &str, pair: Pair, on_ms: u32, off_ms: u32, lead: usize) -> Vec<i16> {
    let mut out = vec![0; lead];
    for key in keys.chars() {
        out.extend(dtmf(key, pair, on_ms));
        out.extend(silence(off_ms));
    }
    out
}

/// Sample-wise sum (saturating); the result is as long as the longer input.
pub(crate) fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
    (0..a.len().max(b.len()))
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.saturating_add(y)
        })
        .collect()
}

/// `samples` scaled by `db`.
pub(crate) fn gain(samples: &[i16], db: f64) -> Vec<i16> {
    let g = 10f64.powf(db / 20.0);
    samples.iter().map(|&s| to_i16(f64::from(s) * g)).collect()
}

/// What the far end hears: the signal through a μ-law encode and decode.
pub(crate) fn through_ulaw(samples: &[i16]) -> Vec<i16> {
    samples.iter().map(|&s| decode(encode(s))).collect()
}

/// Mean power of `samples` in dBm0.
pub(crate) fn level_dbm0(samples: &[i16]) -> f64 {
    let power =
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    let reference = f64::from(DBM0_SINE_PEAK).powi(2) / 2.0;
    10.0 * (power / reference).max(1e-15).log10()
}

/// Power of the `hz` component of `samples` (Goertzel over the whole
/// slice), as the mean power of that sine.
pub(crate) fn goertzel_power(samples: &[i16], hz: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let n = samples.len().max(1) as f64;
    2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

/// Path of a speech fixture under `tests/fixtures/speech/`.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/speech")
        .join(name)
}

/// A speech fixture's 8 kHz samples.
pub(crate) fn speech(name: &str) -> Vec<i16> {
    let path = fixture_path(name);
    let mut reader = hound::WavReader::open(&path).expect("speech fixture opens");
    assert_eq!(reader.spec().sample_rate, SAMPLE_RATE, "{}", path.display());
    reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("speech fixture reads")
}

/// Both speech fixtures.
pub(crate) const SPEECH: [&str; 2] = ["english.wav", "mandarin.wav"];
