//! The media DSP layer for Media Streams calls: pure, I/O-free (apart from
//! reading and writing WAV files) processing of 8 kHz μ-law audio.
//!
//! - [`codec`]: G.711 μ-law encode/decode and the 20 ms frame constants.
//! - [`dtmf`]: a streaming in-band DTMF [`Detector`] (Goertzel, Q.24-style
//!   limits, talk-off protection).
//! - [`prompt`]: WAV prompts of any common rate and format turned into
//!   ready-to-send frames ([`load_prompt`], [`PromptCache`]); caller
//!   recordings written back out ([`pcm8k_to_wav`], [`trim_silence`]).
//! - [`vad`]: voice-activity detection that end-points a spoken answer
//!   ([`Vad`]: speech started, speech ended, too long, no input).

pub mod codec;
pub mod dtmf;
pub mod prompt;
pub mod stream;
pub mod vad;

#[cfg(test)]
mod signal;

pub use codec::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, SILENCE};
pub use dtmf::Detector;
pub use prompt::{Prompt, PromptCache, PromptError, load_prompt, pcm8k_to_wav, trim_silence};
pub use vad::{Vad, VadConfig, VadEvent};
