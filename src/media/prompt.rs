//! Prompts: WAV files turned into ready-to-send 20 ms μ-law frames, and
//! the reverse path for caller recordings.
//!
//! [`load_prompt`] reads a WAV of any common rate and sample format, mono
//! or stereo, downmixes, resamples to 8 kHz with rubato's FFT resampler
//! (band-limited, so a 48 kHz prompt does not alias into the phone band),
//! μ-law encodes and frames it. [`PromptCache`] does that once per file.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::codec::{FRAME_SAMPLES, SAMPLE_RATE, SILENCE, encode};

/// Sample rates a prompt may have. Rates outside this list would need odd
/// FFT sizes (the resampler works in blocks of `rate / gcd(rate, 8000)`).
pub const SUPPORTED_RATES: [u32; 10] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000,
];

/// 16-bit samples that fit a WAV's 32-bit data size, with header room.
const MAX_WAV_SAMPLES: usize = (u32::MAX as usize - 64) / 2;

/// A prompt ready to stream: 20 ms μ-law frames, the last one padded with
/// μ-law silence.
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    /// One Media Streams frame each, ready to base64 and send.
    pub frames: Vec<[u8; FRAME_SAMPLES]>,
    /// Length of the audio itself, before the padding of the last frame.
    pub duration: Duration,
}

impl Prompt {
    /// Frames 8 kHz linear samples (e.g. synthesised speech).
    #[must_use]
    pub fn from_pcm8k(samples: &[i16]) -> Self {
        let frames = samples
            .chunks(FRAME_SAMPLES)
            .map(|chunk| {
                let mut frame = [SILENCE; FRAME_SAMPLES];
                for (byte, &sample) in frame.iter_mut().zip(chunk) {
                    *byte = encode(sample);
                }
                frame
            })
            .collect();
        let micros = samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE);
        Self {
            frames,
            duration: Duration::from_micros(micros),
        }
    }
}

/// Shows the length, not thousands of bytes.
impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("frames", &self.frames.len())
            .field("duration", &self.duration)
            .finish()
    }
}

/// Why a prompt could not be loaded or a recording written.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt {}: file not found", .path.display())]
    NotFound { path: PathBuf },
    #[error("prompt {}: cannot read: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("prompt {}: not a WAV file, or a damaged one: {reason}", .path.display())]
    NotWav { path: PathBuf, reason: String },
    #[error("prompt {}: unsupported format: {what}", .path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("prompt {}: cannot resample: {reason}", .path.display())]
    Resample { path: PathBuf, reason: String },
    #[error("recording {}: cannot write: {source}", .path.display())]
    Write { path: PathBuf, source: hound::Error },
    #[error("recording {}: {samples} samples is more than a WAV file holds", .path.display())]
    TooLong { path: PathBuf, samples: usize },
}

impl PromptError {
    /// The file the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::NotFound { path }
            | Self::Io { path, .. }
            | Self::NotWav { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Resample { path, .. }
            | Self::Write { path, .. }
            | Self::TooLong { path, .. } => path,
        }
    }
}

fn read_error(path: &Path, error: hound::Error) -> PromptError {
    let path = path.to_path_buf();
    match error {
        hound::Error::IoError(e) if e.kind() == io::ErrorKind::NotFound => {
            PromptError::NotFound { path }
        }
        // hound reports a file that ends early as an I/O error of kind
        // Other ("Failed to read enough bytes") or UnexpectedEof.
        hound::Error::IoError(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::Other
            ) =>
        {
            PromptError::NotWav {
                path,
                reason: format!("the file ends early ({e})"),
            }
        }
        hound::Error::IoError(source) => PromptError::Io { path, source },
        hound::Error::FormatError(reason) => match unsupported_format(&path) {
            Some(what) => PromptError::Unsupported { path, what },
            None => PromptError::NotWav {
                path,
                reason: reason.into(),
            },
        },
        hound::Error::Unsupported => PromptError::Unsupported {
            path,
            what: "an encoding other than integer PCM or IEEE float (μ-law, A-law, ADPCM, …)"
                .into(),
        },
        other => PromptError::Unsupported {
            path,
            what: other.to_string(),
        },
    }
}

/// For a file hound refused as ill-formed: if its `fmt ` chunk is intact
/// but describes samples this module does not take (20-bit, 64-bit float,
/// …), says so; hound calls those ill-formed too.
fn unsupported_format(path: &Path) -> Option<String> {
    let mut head = Vec::new();
    io::Read::read_to_end(
        &mut io::Read::take(std::fs::File::open(path).ok()?, 4096),
        &mut head,
    )
    .ok()?;
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    loop {
        let id = head.get(at..at + 4)?;
        let len = u32::from_le_bytes(head.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        if id == b"fmt " {
            let fmt = head.get(at + 8..at + 24)?;
            let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            return match (tag, bits) {
                (1 | 0xFFFE, 8 | 16 | 24 | 32) | (3, 32) => None,
                (3, _) => Some(format!("{bits}-bit float samples")),
                (1 | 0xFFFE, _) => Some(format!("{bits}-bit integer samples")),
                _ => Some(format!("WAV format tag {tag:#06x}")),
            };
        }
        at = at.checked_add(8)?.checked_add(len)?.checked_add(len & 1)?;
    }
}

/// Reads a WAV prompt and converts it to 8 kHz μ-law frames.
///
/// # Errors
/// [`PromptError`] naming the file: not found, unreadable, not a WAV, or a
/// WAV this function does not take (more than two channels, a rate not in
/// [`SUPPORTED_RATES`], a sample format other than 8/16/24/32-bit integer
/// or 32-bit float).
pub fn load_prompt(path: &Path) -> Result<Prompt, PromptError> {
    let reader = WavReader::open(path).map_err(|e| read_error(path, e))?;
    let spec = reader.spec();
    check_spec(path, spec)?;
    let mono = read_mono(path, reader)?;
    let pcm8k = to_8k(path, &mono, spec.sample_rate)?;
    tracing::debug!(path = %path.display(), rate = spec.sample_rate, channels = spec.channels,
        samples = pcm8k.len(), "prompt converted");
    Ok(Prompt::from_pcm8k(&pcm8k))
}

fn check_spec(path: &Path, spec: WavSpec) -> Result<(), PromptError> {
    let unsupported = |what: String| PromptError::Unsupported {
        path: path.to_path_buf(),
        what,
    };
    if !(1..=2).contains(&spec.channels) {
        return Err(unsupported(format!(
            "{} channels (only mono or stereo)",
            spec.channels
        )));
    }
    if !SUPPORTED_RATES.contains(&spec.sample_rate) {
        return Err(unsupported(format!("sample rate {} Hz", spec.sample_rate)));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, 8 | 16 | 24 | 32) | (SampleFormat::Float, 32) => Ok(()),
        (SampleFormat::Int, bits) => Err(unsupported(format!("{bits}-bit integer samples"))),
        (SampleFormat::Float, bits) => Err(unsupported(format!("{bits}-bit float samples"))),
    }
}

/// All samples as floats in [−1, 1], channels averaged.
fn read_mono<R: io::Read>(path: &Path, mut reader: WavReader<R>) -> Result<Vec<f32>, PromptError> {
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect()
        }
    }
    .map_err(|e| read_error(path, e))?;
    let channels = usize::from(spec.channels);
    Ok(interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect())
}

/// Resamples mono floats to 8 kHz 16-bit samples.
fn to_8k(path: &Path, mono: &[f32], rate: u32) -> Result<Vec<i16>, PromptError> {
    let to_i16 = |x: &f32| (x * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16;
    if rate == SAMPLE_RATE || mono.is_empty() {
        return Ok(mono.iter().map(to_i16).collect());
    }
    let failed = |reason: String| PromptError::Resample {
        path: path.to_path_buf(),
        reason,
    };
    let mut resampler = Fft::<f32>::new(
        rate as usize,
        SAMPLE_RATE as usize,
        1024,
        1,
        FixedSync::Both,
    )
    .map_err(|e| failed(e.to_string()))?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| failed(e.to_string()))?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|e| failed(e.to_string()))?;
    Ok(output.take_data().iter().map(to_i16).collect())
}

/// Writes 8 kHz 16-bit mono samples (a caller's recording) as a WAV file.
///
/// # Errors
/// [`PromptError::Write`] if the file cannot be created or written;
/// [`PromptError::TooLong`] past the 4 GiB a WAV's size fields can hold.
pub fn pcm8k_to_wav(samples: &[i16], path: &Path) -> Result<(), PromptError> {
    if samples.len() > MAX_WAV_SAMPLES {
        return Err(PromptError::TooLong {
            path: path.to_path_buf(),
            samples: samples.len(),
        });
    }
    let spec = WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let failed = |source| PromptError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = WavWriter::create(path, spec).map_err(failed)?;
    for &s in samples {
        writer.write_sample(s).map_err(failed)?;
    }
    writer.finalize().map_err(failed)
}

/// `samples` without the leading and trailing stretch whose magnitude stays
/// at or below `threshold`, keeping `keep_ms` of it on each side (so that
/// soft word edges survive). All-quiet input gives an empty slice.
#[must_use]
pub fn trim_silence(samples: &[i16], threshold: i16, keep_ms: u32) -> &[i16] {
    let limit = threshold.unsigned_abs();
    let loud = |s: &i16| s.unsigned_abs() > limit;
    let (Some(first), Some(last)) = (
        samples.iter().position(loud),
        samples.iter().rposition(loud),
    ) else {
        return &[];
    };
    let keep = (u64::from(keep_ms) * u64::from(SAMPLE_RATE) / 1000) as usize;
    let start = first.saturating_sub(keep);
    let end = last
        .saturating_add(1)
        .saturating_add(keep)
        .min(samples.len());
    &samples[start..end]
}

/// A thread-safe cache of converted prompts, keyed by path as given. Each
/// file is converted once, even when many calls ask for it at the same
/// moment; a failed conversion is not cached, so a fixed file loads on the
/// next request.
#[derive(Debug, Default)]
pub struct PromptCache {
    entries: Mutex<HashMap<PathBuf, Slot>>,
}

/// One file's entry: locked while it converts, `None` until it has.
type Slot = Arc<Mutex<Option<Arc<Prompt>>>>;

impl PromptCache {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The prompt at `path`, converting it on first use.
    ///
    /// # Errors
    /// Whatever [`load_prompt`] returns for the file.
    pub fn get(&self, path: &Path) -> Result<Arc<Prompt>, PromptError> {
        let slot = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            match entries.get(path) {
                Some(slot) => Arc::clone(slot),
                None => Arc::clone(entries.entry(path.to_path_buf()).or_default()),
            }
        };
        // Only callers of this one file wait here while it converts.
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(prompt) = slot.as_ref() {
            return Ok(Arc::clone(prompt));
        }
        let prompt = Arc::new(load_prompt(path)?);
        *slot = Some(Arc::clone(&prompt));
        Ok(prompt)
    }

    /// Number of prompts converted and held.
    #[must_use]
    pub fn len(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .values()
            .filter(|slot| {
                slot.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some()
            })
            .count()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every cached prompt (e.g. after prompts were re-recorded).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests;
