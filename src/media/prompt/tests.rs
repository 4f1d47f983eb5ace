use std::f64::consts::PI;
use std::fs;
use std::thread;

use hound::{SampleFormat, WavSpec, WavWriter};
use proptest::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::media::codec::decode_all;
use crate::media::signal::{amplitude, goertzel_power, level_dbm0};

/// How a test WAV stores its samples.
#[derive(Clone, Copy, Debug)]
enum Format {
    Int(u16),
    Float,
}

/// Writes `seconds` of a `hz` sine with peak `peak` (of full scale) to a
/// WAV at `rate`; every channel carries the same tone.
fn write_tone(
    dir: &TempDir,
    rate: u32,
    channels: u16,
    format: Format,
    hz: f64,
    peak: f64,
    seconds: f64,
) -> PathBuf {
    let (sample_format, bits) = match format {
        Format::Int(bits) => (SampleFormat::Int, bits),
        Format::Float => (SampleFormat::Float, 32),
    };
    let path = dir
        .path()
        .join(format!("tone-{rate}-{channels}-{format:?}.wav"));
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format,
    };
    let mut writer = WavWriter::create(&path, spec).expect("create wav");
    let frames = (seconds * f64::from(rate)).round() as usize;
    for n in 0..frames {
        let x = peak * (2.0 * PI * hz * n as f64 / f64::from(rate)).sin();
        for _ in 0..channels {
            match format {
                Format::Float => writer.write_sample(x as f32),
                Format::Int(bits) => {
                    let full = ((1i64 << (bits - 1)) - 1) as f64;
                    writer.write_sample((x * full).round() as i32)
                }
            }
            .expect("write sample");
        }
    }
    writer.finalize().expect("finalize wav");
    path
}

fn pcm(prompt: &Prompt) -> Vec<i16> {
    decode_all(&prompt.frames.concat())
}

/// Zero crossings per second in the middle of `samples` (edges skipped).
fn crossings_per_second(samples: &[i16]) -> f64 {
    let middle = &samples[400..samples.len() - 400];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (middle.len() as f64 / 8000.0)
}

/// Asserts `prompt` is a 1 kHz tone of `peak` (of full scale) lasting
/// `seconds`.
fn assert_tone(prompt: &Prompt, peak: f64, seconds: f64, what: &str) {
    let duration = prompt.duration.as_secs_f64();
    assert!(
        (duration - seconds).abs() <= 0.020,
        "{what}: lasts {duration} s"
    );
    assert_eq!(
        prompt.frames.len(),
        (seconds * 50.0).ceil() as usize,
        "{what}"
    );
    let samples = pcm(prompt);
    let hz = crossings_per_second(&samples);
    assert!((hz - 1000.0).abs() < 10.0, "{what}: {hz} Hz");
    let middle = &samples[400..samples.len() - 400];
    let expected = 20.0 * (peak * 32_767.0 / amplitude(0.0)).log10();
    let level = 10.0 * (goertzel_power(middle, 1000.0) / amplitude(0.0).powi(2) * 2.0).log10();
    assert!(
        (level - expected).abs() < 0.5,
        "{what}: {level:.2} dBm0, expected {expected:.2}"
    );
    // Nothing else: the 1 kHz tone holds (nearly) all the energy.
    assert!(
        (level_dbm0(middle) - level).abs() < 0.2,
        "{what}: energy off the tone"
    );
}

#[test]
fn a_1_khz_tone_at_48_khz_stereo_float_becomes_1_khz_at_8_khz() {
    let dir = TempDir::new().expect("temp dir");
    let path = write_tone(&dir, 48_000, 2, Format::Float, 1000.0, 0.5, 1.0);
    let prompt = load_prompt(&path).expect("loads");
    assert_tone(&prompt, 0.5, 1.0, "48 kHz stereo f32");
}

#[test]
fn every_common_rate_and_sample_format_loads() {
    let dir = TempDir::new().expect("temp dir");
    let formats = [
        Format::Int(8),
        Format::Int(16),
        Format::Int(24),
        Format::Int(32),
        Format::Float,
    ];
    for rate in [8_000, 11_025, 16_000, 22_050, 24_000, 44_100, 48_000] {
        for format in formats {
            for channels in [1, 2] {
                let path = write_tone(&dir, rate, channels, format, 1000.0, 0.3, 0.37);
                let prompt = load_prompt(&path).expect("loads");
                assert_tone(
                    &prompt,
                    0.3,
                    0.37,
                    &format!("{rate} Hz {format:?} x{channels}"),
                );
            }
        }
    }
}

#[test]
fn stereo_is_downmixed_by_averaging_the_channels() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("left-only.wav");
    let spec = WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut writer = WavWriter::create(&path, spec).expect("create");
    for n in 0..8_000 {
        let x = (16_000.0 * (2.0 * PI * 1000.0 * f64::from(n) / 8000.0).sin()) as i16;
        writer
            .write_sample(x)
            .and_then(|()| writer.write_sample(0i16))
            .expect("write");
    }
    writer.finalize().expect("finalize");
    let prompt = load_prompt(&path).expect("loads");
    // Half the amplitude of the left channel: 8 000 peak.
    let samples = pcm(&prompt);
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!((7_700..=8_300).contains(&peak), "peak {peak}");
}

#[test]
fn the_last_frame_is_padded_with_ulaw_silence() {
    let samples: Vec<i16> = (0..170)
        .map(|n| if n % 2 == 0 { 5_000 } else { -5_000 })
        .collect();
    let prompt = Prompt::from_pcm8k(&samples);
    assert_eq!(prompt.frames.len(), 2);
    assert_eq!(prompt.duration, Duration::from_micros(21_250));
    assert!(prompt.frames[1][..10].iter().all(|&b| b != SILENCE));
    assert!(prompt.frames[1][10..].iter().all(|&b| b == SILENCE));
    assert!(Prompt::from_pcm8k(&[]).frames.is_empty());
}

#[test]
fn an_empty_wav_is_an_empty_prompt() {
    let dir = TempDir::new().expect("temp dir");
    let path = write_tone(&dir, 44_100, 1, Format::Int(16), 1000.0, 0.5, 0.0);
    let prompt = load_prompt(&path).expect("loads");
    assert!(prompt.frames.is_empty());
    assert_eq!(prompt.duration, Duration::ZERO);
}

#[test]
fn a_missing_file_is_reported_as_not_found_with_its_path() {
    let path = Path::new("/nonexistent/dir/hello.wav");
    let error = load_prompt(path).expect_err("missing");
    assert!(matches!(error, PromptError::NotFound { .. }), "{error:?}");
    assert_eq!(error.path(), path);
    assert_eq!(
        error.to_string(),
        "prompt /nonexistent/dir/hello.wav: file not found"
    );
}

#[test]
fn files_that_are_not_wav_are_reported_as_such() {
    let dir = TempDir::new().expect("temp dir");
    let text = dir.path().join("notes.wav");
    fs::write(&text, "this is not audio, just text pretending to be").expect("write");
    let good = write_tone(&dir, 8_000, 1, Format::Int(16), 1000.0, 0.5, 0.1);
    let truncated = dir.path().join("truncated.wav");
    fs::write(&truncated, &fs::read(&good).expect("read")[..30]).expect("write");
    for path in [text, truncated] {
        let error = load_prompt(&path).expect_err("not wav");
        assert!(matches!(error, PromptError::NotWav { .. }), "{error:?}");
        assert!(error.to_string().contains("not a WAV file"), "{error}");
    }
}

/// A minimal WAV header with the given format tag, channels, rate and bits.
fn raw_wav(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut v = b"RIFF".to_vec();
    v.extend(36u32.to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(tag.to_le_bytes());
    v.extend(channels.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend((rate * u32::from(block)).to_le_bytes());
    v.extend(block.to_le_bytes());
    v.extend(bits.to_le_bytes());
    v.extend(b"data");
    v.extend(0u32.to_le_bytes());
    v
}

#[test]
fn unsupported_formats_say_what_is_unsupported() {
    let dir = TempDir::new().expect("temp dir");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("double.wav", raw_wav(3, 1, 48_000, 64), "64-bit float"),
        ("ulaw.wav", raw_wav(7, 1, 8_000, 8), "μ-law"),
        ("surround.wav", raw_wav(1, 6, 48_000, 16), "6 channels"),
        (
            "odd-rate.wav",
            raw_wav(1, 1, 7_000, 16),
            "sample rate 7000 Hz",
        ),
        ("twenty.wav", raw_wav(1, 1, 48_000, 20), "20-bit"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).expect("write");
        let error = load_prompt(&path).expect_err(name);
        assert!(
            matches!(error, PromptError::Unsupported { .. }),
            "{name}: {error:?}"
        );
        assert!(error.to_string().contains(says), "{name}: {error}");
        assert!(error.to_string().contains(name), "{name}: {error}");
    }
}

#[test]
fn recordings_are_written_as_8_khz_16_bit_mono() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("answer.wav");
    let samples: Vec<i16> = (0..1000).map(|n| (n * 37 % 2000 - 1000) as i16).collect();
    pcm8k_to_wav(&samples, &path).expect("writes");
    let mut reader = hound::WavReader::open(&path).expect("opens");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8_000, 16)
    );
    let back: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("reads");
    assert_eq!(back, samples);
    let prompt = load_prompt(&path).expect("loads back");
    assert_eq!(prompt.duration, Duration::from_millis(125));
}

#[test]
fn writing_a_recording_where_it_cannot_go_is_an_error() {
    let error = pcm8k_to_wav(&[1, 2, 3], Path::new("/nonexistent/dir/a.wav")).expect_err("fails");
    assert!(matches!(error, PromptError::Write { .. }), "{error:?}");
}

#[test]
fn trim_silence_keeps_the_loud_part_and_some_margin() {
    let mut samples = vec![0i16; 800];
    samples.extend([300, -2_000, 50, 4_000]);
    samples.extend(vec![20i16; 800]);
    let cases: [(i16, u32, usize, usize); 5] = [
        // (threshold, keep_ms, expected start, expected end)
        (100, 0, 800, 804),
        (100, 10, 720, 884),
        (1_000, 0, 801, 804),
        (-100, 0, 800, 804),
        (10, 0, 800, 1_604),
    ];
    for (threshold, keep_ms, start, end) in cases {
        assert_eq!(
            trim_silence(&samples, threshold, keep_ms),
            &samples[start..end],
            "{threshold} {keep_ms}"
        );
    }
    assert!(trim_silence(&samples, i16::MAX, 100).is_empty());
    assert!(trim_silence(&[], 0, 100).is_empty());
    assert_eq!(trim_silence(&[i16::MIN], i16::MAX, 0), &[i16::MIN]);
    assert_eq!(trim_silence(&samples, 100, 1_000_000).len(), samples.len());
}

#[test]
fn the_cache_converts_each_file_once_and_shares_it() {
    let dir = TempDir::new().expect("temp dir");
    let path = write_tone(&dir, 16_000, 1, Format::Int(16), 1000.0, 0.5, 0.5);
    let cache = Arc::new(PromptCache::new());
    let first = cache.get(&path).expect("loads");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (cache, path) = (Arc::clone(&cache), path.clone());
            thread::spawn(move || cache.get(&path).expect("loads"))
        })
        .collect();
    for handle in handles {
        assert!(Arc::ptr_eq(&first, &handle.join().expect("thread")));
    }
    assert_eq!(cache.len(), 1);
    cache.clear();
    assert!(cache.is_empty());
    assert!(!Arc::ptr_eq(&first, &cache.get(&path).expect("reloads")));
}

#[test]
fn the_cache_does_not_remember_failures() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("later.wav");
    let cache = PromptCache::new();
    assert!(matches!(
        cache.get(&path),
        Err(PromptError::NotFound { .. })
    ));
    assert!(cache.is_empty());
    let made = write_tone(&dir, 8_000, 1, Format::Int(16), 1000.0, 0.5, 0.1);
    fs::rename(made, &path).expect("rename");
    assert_eq!(cache.get(&path).expect("loads now").frames.len(), 5);
}

proptest! {
    #[test]
    fn trim_silence_returns_a_window_holding_every_loud_sample(
        samples in prop::collection::vec(any::<i16>(), 0..300),
        threshold in any::<i16>(),
        keep_ms in 0u32..100,
    ) {
        let trimmed = trim_silence(&samples, threshold, keep_ms);
        let loud = samples.iter().filter(|s| s.unsigned_abs() > threshold.unsigned_abs()).count();
        let kept = trimmed.iter().filter(|s| s.unsigned_abs() > threshold.unsigned_abs()).count();
        prop_assert_eq!(loud, kept);
        prop_assert!(trimmed.len() <= samples.len());
        if loud == 0 {
            prop_assert!(trimmed.is_empty());
        }
    }
}
