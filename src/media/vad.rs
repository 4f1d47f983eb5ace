//! Voice-activity detection for end-pointing a caller's spoken answer.
//!
//! Energy-based, which is enough for telephone speech after a prompt: a
//! frame is speech when its level is both above an absolute floor
//! ([`MIN_SPEECH_DBM0`]: line noise and breathing stay out) and
//! [`SPEECH_MARGIN_DB`] above the line's noise floor. The noise floor is
//! the quietest frame of the last [`FLOOR_BLOCKS`] × 100 ms (minimum
//! statistics): even fluent speech dips between syllables and words, so
//! the floor stays near the noise, and after a change of noise it follows
//! within that span. No crate was used: earshot 1.x, the pure-Rust one, is a neural
//! model that takes 16 kHz audio in 16 ms frames (so 8 kHz calls would
//! need upsampling and re-framing); webrtc-vad binds C, and Silero needs
//! ONNX Runtime. End-pointing needs none of that; this costs ~0.2 µs a
//! frame.
//!
//! Timing is counted in samples, so frames of any length work; the
//! configured durations are met to within one frame.

use std::time::Duration;

use super::codec::{SAMPLE_RATE, power_to_dbm0};

/// Frames quieter than this are never speech.
pub const MIN_SPEECH_DBM0: f32 = -45.0;
/// How far above the noise floor a frame must be to be speech.
pub const SPEECH_MARGIN_DB: f32 = 9.0;
/// The noise floor is the minimum over this many 100 ms blocks.
pub const FLOOR_BLOCKS: usize = 16;
const BLOCK_SAMPLES: u64 = SAMPLE_RATE as u64 / 10;

/// End-pointing parameters, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VadConfig {
    /// Speech must last this long, without a break, to count as started
    /// (coughs and clicks are shorter).
    pub start_ms: u32,
    /// Silence after speech that ends the answer (the hangover).
    pub end_silence_ms: u32,
    /// Longest answer; longer ones are cut with [`VadEvent::MaxLength`].
    pub max_speech_ms: u32,
    /// How long to wait for speech to start before [`VadEvent::NoInput`].
    pub no_input_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            start_ms: 120,
            end_silence_ms: 800,
            max_speech_ms: 30_000,
            no_input_ms: 5_000,
        }
    }
}

/// What one frame meant. `SpeechEnded`, `MaxLength` and `NoInput` end the
/// turn: after one of them the detector reports `Silence` until
/// [`Vad::reset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadEvent {
    /// No speech (yet, or any more).
    Silence,
    /// Speech has lasted `start_ms`: the caller is answering.
    SpeechStarted,
    /// Still answering (including pauses shorter than `end_silence_ms`).
    Speaking,
    /// `end_silence_ms` of silence followed the speech, which lasted
    /// `duration` (from its first to its last speech frame).
    SpeechEnded { duration: Duration },
    /// The answer reached `max_speech_ms`.
    MaxLength,
    /// No speech started within `no_input_ms` of the reset.
    NoInput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for speech; `run` counts samples of speech in a row.
    Waiting,
    /// Speech started; `run` counts samples of silence in a row.
    Speaking,
    /// The turn is over.
    Done,
}

/// A voice-activity detector for one call leg (8 kHz linear samples).
#[derive(Clone, Debug)]
pub struct Vad {
    /// Durations in samples.
    start: u64,
    end_silence: u64,
    max_speech: u64,
    no_input: u64,
    state: State,
    /// Samples since the reset.
    elapsed: u64,
    run: u64,
    speech_start: u64,
    speech_end: u64,
    /// Quietest frame level of each recent 100 ms block (a ring), and the
    /// block being filled.
    block_min: [f32; FLOOR_BLOCKS],
    blocks_seen: usize,
    current_min: f32,
}

fn samples(ms: u32) -> u64 {
    u64::from(ms) * u64::from(SAMPLE_RATE) / 1000
}

fn duration(samples: u64) -> Duration {
    Duration::from_micros(samples.saturating_mul(1_000_000) / u64::from(SAMPLE_RATE))
}

impl Vad {
    #[must_use]
    pub fn new(config: VadConfig) -> Self {
        Self {
            start: samples(config.start_ms),
            end_silence: samples(config.end_silence_ms),
            max_speech: samples(config.max_speech_ms),
            no_input: samples(config.no_input_ms),
            state: State::Waiting,
            elapsed: 0,
            run: 0,
            speech_start: 0,
            speech_end: 0,
            block_min: [f32::INFINITY; FLOOR_BLOCKS],
            blocks_seen: 0,
            current_min: f32::INFINITY,
        }
    }

    /// Starts a new turn (e.g. when the question's prompt has finished),
    /// keeping what was learnt about the line's noise.
    pub fn reset(&mut self) {
        self.state = State::Waiting;
        self.elapsed = 0;
        self.run = 0;
        self.speech_start = 0;
        self.speech_end = 0;
    }

    /// The current noise floor in dBm0, once one frame has been seen.
    #[must_use]
    pub fn noise_floor_dbm0(&self) -> Option<f32> {
        let floor = self
            .block_min
            .iter()
            .copied()
            .fold(self.current_min, f32::min);
        floor.is_finite().then_some(floor)
    }

    /// Feeds one frame (normally 20 ms; any length works) and says what it
    /// meant. An empty frame changes nothing.
    pub fn push(&mut self, frame: &[i16]) -> VadEvent {
        if frame.is_empty() {
            return self.push_level(0, 0.0);
        }
        // Integer squares; chunks keep the u64 sums far from overflow
        // whatever the frame length.
        let energy: f64 = frame
            .chunks(1 << 20)
            .map(|chunk| {
                let sum: u64 = chunk
                    .iter()
                    .map(|&s| {
                        let m = i32::from(s).unsigned_abs();
                        u64::from(m * m)
                    })
                    .sum();
                sum as f64
            })
            .sum();
        let level = power_to_dbm0((energy / frame.len() as f64) as f32);
        self.push_level(frame.len(), level)
    }

    /// [`Vad::push`] for a frame of `samples` samples whose level the caller
    /// already knows (see [`crate::media::codec::energy_to_dbm0`]): a media
    /// stream measures each caller frame once for both in-band keys and the
    /// VAD.
    pub fn push_level(&mut self, samples: usize, level_dbm0: f32) -> VadEvent {
        if samples == 0 {
            return match self.state {
                State::Speaking => VadEvent::Speaking,
                State::Waiting | State::Done => VadEvent::Silence,
            };
        }
        let len = samples as u64;
        let speech = self.is_speech(len, level_dbm0);
        self.elapsed = self.elapsed.saturating_add(len);
        match self.state {
            State::Done => VadEvent::Silence,
            State::Waiting => self.waiting(speech, len),
            State::Speaking => self.speaking(speech, len),
        }
    }

    fn waiting(&mut self, speech: bool, len: u64) -> VadEvent {
        if speech {
            self.run = self.run.saturating_add(len);
            if self.run >= self.start {
                self.state = State::Speaking;
                self.speech_start = self.elapsed.saturating_sub(self.run);
                self.speech_end = self.elapsed;
                self.run = 0;
                return VadEvent::SpeechStarted;
            }
            return VadEvent::Silence;
        }
        self.run = 0;
        if self.elapsed >= self.no_input {
            self.state = State::Done;
            return VadEvent::NoInput;
        }
        VadEvent::Silence
    }

    fn speaking(&mut self, speech: bool, len: u64) -> VadEvent {
        if speech {
            self.run = 0;
            self.speech_end = self.elapsed;
        } else {
            self.run = self.run.saturating_add(len);
        }
        if self.run >= self.end_silence {
            self.state = State::Done;
            return VadEvent::SpeechEnded {
                duration: duration(self.speech_end.saturating_sub(self.speech_start)),
            };
        }
        if self.elapsed.saturating_sub(self.speech_start) >= self.max_speech {
            self.state = State::Done;
            return VadEvent::MaxLength;
        }
        VadEvent::Speaking
    }

    /// Classifies the frame and updates the noise floor with it.
    fn is_speech(&mut self, len: u64, level: f32) -> bool {
        // Compare against the floor before this frame joins it.
        let floor = self.noise_floor_dbm0().unwrap_or(level);
        self.current_min = self.current_min.min(level);
        // Close the 100 ms block this frame ends in or crosses.
        let before = self.elapsed / BLOCK_SAMPLES;
        let after = self.elapsed.saturating_add(len) / BLOCK_SAMPLES;
        if after != before {
            self.block_min[self.blocks_seen % FLOOR_BLOCKS] = self.current_min;
            self.blocks_seen = self.blocks_seen.wrapping_add(1);
            self.current_min = f32::INFINITY;
        }
        level >= MIN_SPEECH_DBM0 && level >= floor + SPEECH_MARGIN_DB
    }
}

#[cfg(test)]
mod tests;
