//! In-band DTMF detection on 8 kHz linear samples, to ITU-T Q.24-style
//! receiver limits, for callers whose key presses arrive as audio.
//!
//! The [`Detector`] is streaming: feed it any number of samples at a time
//! and it returns each key once per press. Every [`HOP`] samples it looks
//! at the last [`WINDOW`] samples and asks whether they hold exactly one
//! valid tone pair:
//!
//! 1. Level: each tone at least [`MIN_TONE_DBM0`].
//! 2. Relative peaks: the strongest row and column each beat the other
//!    three of their group by [`RELATIVE_PEAK_DB`].
//! 3. Steadiness: the energy of the window's four quarters differs by at
//!    most [`STEADINESS_DB`], so the tone covers (nearly) the whole window.
//!    This, not the spectrum, is what measures a tone's duration.
//! 4. Frequency: each tone's nominal bin beats bins 5% above and below it,
//!    which puts the accept/reject edge at ±2.5%, halfway between Q.24's
//!    "accept ±1.5%" and "reject ±3.5%", at every frequency and level.
//! 5. Twist: the high tone at most [`MAX_NORMAL_TWIST_DB`] above the low
//!    one, the low one at most [`MAX_REVERSE_TWIST_DB`] above the high one.
//! 6. Energy ratio: the two tones carry at least [`TONE_TO_TOTAL`] of the
//!    window's energy. Speech spreads its energy over many harmonics and
//!    formants, so this is the main talk-off defence (the worst window of
//!    2½ minutes of synthetic speech in five languages reached 0.64).
//! 7. Second harmonic: the column tone's 2nd harmonic is at least
//!    [`HARMONIC_DB`] below it; voiced speech has a harmonic series.
//!
//! A key goes down after [`KEY_DOWN_WINDOWS`] consecutive windows agree on
//! it, and comes up after [`KEY_UP_WINDOWS`] windows without it.

use std::sync::LazyLock;

use super::codec::{SAMPLE_RATE, dbm0_to_power};

/// Row (low group) frequencies in Hz.
pub const ROW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies in Hz.
pub const COL_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by row, then column.
pub const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Analysis window: 205 samples (25.6 ms). The classic DTMF choice: long
/// enough that, under a Hann window, the closest pair of tones (697 and
/// 770 Hz, 73 Hz apart) leak into each other's bins at about −30 dB, and
/// short enough that a 40 ms tone still fills two windows.
pub const WINDOW: usize = 205;
/// Hop between windows: 64 samples (8 ms). Windows overlap, so that any
/// 40 ms tone fills two of them (up to the few edge samples the steadiness
/// check forgives) wherever it starts, while a 20 ms burst, shorter than a
/// window, never fills two. Measured on clean tones at every alignment:
/// 36 ms or more is always accepted, 27 ms or less never.
pub const HOP: usize = 64;
/// Quarters of the window compared by the steadiness check.
const QUARTER: usize = WINDOW.div_ceil(4);

/// Weakest tone accepted, as measured in the window. Q.24 asks for −25
/// dBm0; a tone 1.5% off-frequency reads up to 2.2 dB low through the
/// Hann window, and −40 dBm0 must fail, so the cut sits at −32.
pub const MIN_TONE_DBM0: f32 = -32.0;
/// High tone above low tone ("normal twist"): accept 8 dB, reject ~10.
pub const MAX_NORMAL_TWIST_DB: f32 = 9.0;
/// Low tone above high tone ("reverse twist"): accept 4 dB, reject ~10,
/// with room for the high tone's off-frequency loss.
pub const MAX_REVERSE_TWIST_DB: f32 = 7.0;
/// How far the strongest tone of a group must stand above the others.
pub const RELATIVE_PEAK_DB: f32 = 10.0;
/// Share of the window's energy the two tones must carry (a clean pair
/// reads about 1.0, one with noise 15 dB down about 0.95).
pub const TONE_TO_TOTAL: f32 = 0.75;
/// Largest spread of energy between the window's quarters.
pub const STEADINESS_DB: f32 = 6.0;
/// How far below the column tone its 2nd harmonic must be.
pub const HARMONIC_DB: f32 = 10.0;
/// Bins this far above and below a tone's must read less than its own.
const FLANK: f32 = 0.05;
/// Frequency error Q.24 says must be accepted.
const ACCEPTED_OFFSET: f32 = 0.015;
/// Consecutive agreeing windows before a key goes down. One window could
/// be a lucky moment of speech or a click; two, 8 ms apart with the
/// steadiness check, mean a steady tone of about 30 ms or more.
pub const KEY_DOWN_WINDOWS: u8 = 2;
/// Consecutive windows without the key before it is up, so a single bad
/// window inside a long press does not count as a second press.
pub const KEY_UP_WINDOWS: u8 = 3;

fn db(x: f32) -> f32 {
    10f32.powf(x / 10.0)
}

/// Window and filter constants, shared by every detector.
struct Tables {
    hann: [f32; WINDOW],
    /// Scales a Goertzel |X|² to the mean power of the sine it measures.
    tone_norm: f32,
    /// Scales the windowed energy to mean power.
    energy_norm: f32,
    /// 2·cos(ω) for rows then columns: at the nominal frequency; 5% below
    /// and above (the frequency check); 1.5% below and above (the power
    /// estimate); and twice the frequency (used for columns only).
    nominal: [f32; 8],
    below: [f32; 8],
    above: [f32; 8],
    low: [f32; 8],
    high: [f32; 8],
    harmonic: [f32; 8],
    min_power: f32,
}

fn coefficient(hz: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * hz / SAMPLE_RATE as f32).cos()
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut hann = [0f32; WINDOW];
    for (n, w) in hann.iter_mut().enumerate() {
        let phase = std::f32::consts::PI * (n as f32 + 0.5) / WINDOW as f32;
        *w = phase.sin().powi(2);
    }
    let sum: f32 = hann.iter().sum();
    let sum_sq: f32 = hann.iter().map(|w| w * w).sum();
    let freqs: Vec<f32> = ROW_HZ.iter().chain(&COL_HZ).copied().collect();
    let table = |f: &dyn Fn(f32) -> f32| {
        let mut out = [0f32; 8];
        for (o, &hz) in out.iter_mut().zip(&freqs) {
            *o = coefficient(f(hz));
        }
        out
    };
    Tables {
        hann,
        tone_norm: 2.0 / (sum * sum),
        energy_norm: 1.0 / sum_sq,
        nominal: table(&|hz| hz),
        below: table(&|hz| hz * (1.0 - FLANK)),
        above: table(&|hz| hz * (1.0 + FLANK)),
        low: table(&|hz| hz * (1.0 - ACCEPTED_OFFSET)),
        high: table(&|hz| hz * (1.0 + ACCEPTED_OFFSET)),
        harmonic: table(&|hz| hz * 2.0),
        min_power: dbm0_to_power(MIN_TONE_DBM0),
    }
});

/// Goertzel |X|² of `x` at the frequency whose coefficient is `coeff`.
fn goertzel(x: &[f32], coeff: f32) -> f32 {
    let (mut s1, mut s2) = (0f32, 0f32);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Goertzel |X|² at all eight frequencies in one pass (the inner loop over
/// eight independent filters vectorises).
fn goertzel8(x: &[f32], coeffs: &[f32; 8]) -> [f32; 8] {
    let mut s1 = [0f32; 8];
    let mut s2 = [0f32; 8];
    for &v in x {
        for k in 0..8 {
            let s = v + coeffs[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s;
        }
    }
    let mut out = [0f32; 8];
    for k in 0..8 {
        out[k] = s1[k] * s1[k] + s2[k] * s2[k] - coeffs[k] * s1[k] * s2[k];
    }
    out
}

/// Index of the largest of `p`, and whether it beats every other entry by
/// the factor `margin`.
fn peak(p: &[f32], margin: f32) -> (usize, bool) {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    let clear = p
        .iter()
        .enumerate()
        .all(|(i, &v)| i == best || v * margin <= p[best]);
    (best, clear)
}

/// Which key, if any, the window `raw` (oldest sample first) holds.
///
/// Cheap gates on the eight nominal bins come first (level, relative
/// peaks, steadiness), so speech and silence rarely reach the second pass,
/// which measures only the candidate row and column.
fn classify(raw: &[f32; WINDOW]) -> Option<(usize, usize)> {
    let t = &*TABLES;
    let mut x = [0f32; WINDOW];
    for ((o, &r), &w) in x.iter_mut().zip(raw).zip(&t.hann) {
        *o = r * w;
    }
    let total = sum_of_squares(&x) * t.energy_norm;
    if total < t.min_power {
        return None;
    }
    let p = goertzel8(&x, &t.nominal).map(|v| v * t.tone_norm);
    let (row, row_clear) = peak(&p[..4], db(RELATIVE_PEAK_DB));
    let (col, col_clear) = peak(&p[4..], db(RELATIVE_PEAK_DB));
    let (row_k, col_k) = (row, 4 + col);
    let gates =
        row_clear && col_clear && p[row_k] >= t.min_power && p[col_k] >= t.min_power && steady(raw);
    if !gates {
        return None;
    }
    // Frequency: the nominal bin must beat the bins 5% either side.
    for k in [row_k, col_k] {
        let centre = p[k] / t.tone_norm;
        if goertzel(&x, t.below[k]) > centre || goertzel(&x, t.above[k]) > centre {
            return None;
        }
    }
    // A tone up to 1.5% off reads up to 2.2 dB low in its nominal bin; the
    // best of the nominal and the ±1.5% bins reads within ~0.3 dB at any
    // accepted frequency, which keeps twist and energy ratio honest.
    let power = |k: usize| {
        let off = goertzel(&x, t.low[k]).max(goertzel(&x, t.high[k])) * t.tone_norm;
        p[k].max(off)
    };
    let (pr, pc) = (power(row_k), power(col_k));
    let harmonic = goertzel(&x, t.harmonic[col_k]) * t.tone_norm;
    let valid = pc <= pr * db(MAX_NORMAL_TWIST_DB)
        && pr <= pc * db(MAX_REVERSE_TWIST_DB)
        && pr + pc >= TONE_TO_TOTAL * total
        && harmonic * db(HARMONIC_DB) <= pc;
    valid.then_some((row, col))
}

/// Σx², with eight partial sums so that it vectorises.
fn sum_of_squares(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v * v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Whether the window's quarters carry similar energy: a tone that starts
/// or stops inside the window leaves one end quiet.
fn steady(raw: &[f32; WINDOW]) -> bool {
    let mut lo = f32::INFINITY;
    let mut hi = 0f32;
    for quarter in raw.chunks(QUARTER) {
        let mean = sum_of_squares(quarter) / quarter.len() as f32;
        lo = lo.min(mean);
        hi = hi.max(mean);
    }
    lo * db(STEADINESS_DB) >= hi
}

/// A streaming DTMF receiver for one call leg.
#[derive(Clone, Debug)]
pub struct Detector {
    /// The last [`WINDOW`] samples, a ring starting at `pos`.
    ring: [f32; WINDOW],
    pos: usize,
    /// Samples received, counted a hop at a time until a window's worth.
    filled: usize,
    /// Samples since the last hop.
    since: usize,
    /// The key held down, if any, and windows since it was last seen.
    down: Option<char>,
    missing: u8,
    /// The key the last windows agreed on, and for how many windows.
    candidate: Option<char>,
    agreeing: u8,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    /// A detector with no history.
    #[must_use]
    pub fn new() -> Self {
        Self {
            ring: [0.0; WINDOW],
            pos: 0,
            filled: 0,
            since: 0,
            down: None,
            missing: 0,
            candidate: None,
            agreeing: 0,
        }
    }

    /// Forgets all history, e.g. when a new question starts.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Feeds 8 kHz samples (any count) and returns the keys pressed in
    /// them, each once per press, in order. Returns an empty (unallocated)
    /// vector when nothing was pressed.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut keys = Vec::new();
        for &s in samples {
            self.ring[self.pos] = f32::from(s);
            self.pos += 1;
            if self.pos == WINDOW {
                self.pos = 0;
            }
            self.since += 1;
            if self.since == HOP {
                self.since = 0;
                if self.filled < WINDOW {
                    // No window until the ring holds a full one.
                    self.filled += HOP;
                    if self.filled < WINDOW {
                        continue;
                    }
                }
                if let Some(key) = self.analyse() {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Classifies the current window and runs the key debouncer; returns a
    /// key on its key-down.
    fn analyse(&mut self) -> Option<char> {
        let mut raw = [0f32; WINDOW];
        let (newest, oldest) = self.ring.split_at(self.pos);
        raw[..oldest.len()].copy_from_slice(oldest);
        raw[oldest.len()..].copy_from_slice(newest);
        let key = classify(&raw).map(|(r, c)| KEYPAD[r][c]);
        self.debounce(key)
    }

    /// Turns per-window verdicts into presses: a key goes down after
    /// [`KEY_DOWN_WINDOWS`] agreeing windows (and is returned then, once),
    /// and is up again after [`KEY_UP_WINDOWS`] windows without it, so a
    /// held key is one press and the same key after a pause is another.
    fn debounce(&mut self, key: Option<char>) -> Option<char> {
        if key.is_some() && key == self.down {
            self.missing = 0;
            return None;
        }
        if self.down.is_some() {
            self.missing += 1;
            if self.missing >= KEY_UP_WINDOWS {
                self.down = None;
            }
        }
        if key.is_none() || key != self.candidate {
            self.candidate = key;
            self.agreeing = u8::from(key.is_some());
        } else {
            self.agreeing = self.agreeing.saturating_add(1);
        }
        if self.agreeing >= KEY_DOWN_WINDOWS {
            self.down = self.candidate;
            self.missing = 0;
            self.candidate = None;
            self.agreeing = 0;
            return self.down;
        }
        None
    }
}

#[cfg(test)]
mod tests;
