use proptest::prelude::*;

use super::*;
use crate::media::signal::{
    SPEECH, gain, mix, samples_in, silence, speech, through_ulaw, white_noise,
};

const FRAME: usize = 160;

fn config(end_silence_ms: u32, max_speech_ms: u32, no_input_ms: u32) -> VadConfig {
    VadConfig {
        start_ms: 120,
        end_silence_ms,
        max_speech_ms,
        no_input_ms,
    }
}

/// Every event but `Silence` and `Speaking`, with the number of the frame
/// (from 1) that produced it; frames are 20 ms.
fn events(vad: &mut Vad, samples: &[i16]) -> Vec<(usize, VadEvent)> {
    samples
        .chunks(FRAME)
        .enumerate()
        .map(|(i, frame)| (i + 1, vad.push(frame)))
        .filter(|(_, e)| !matches!(e, VadEvent::Silence | VadEvent::Speaking))
        .collect()
}

/// `lead_ms` of line noise, then `talk`, then `tail_ms` of line noise,
/// through μ-law; and the sample where the talk ends.
fn on_the_line(talk: &[i16], lead_ms: u32, tail_ms: u32) -> (Vec<i16>, usize) {
    let mut samples = silence(lead_ms);
    samples.extend(talk);
    let end = samples.len();
    samples.extend(silence(tail_ms));
    let noise = white_noise(-62.0, lead_ms + tail_ms + (talk.len() / 8) as u32 + 20, 3);
    (through_ulaw(&mix(&samples, &noise[..samples.len()])), end)
}

#[test]
fn speech_is_detected_and_its_end_found_one_hangover_after_it_stops() {
    for name in SPEECH {
        for end_silence_ms in [500, 700, 1_000] {
            let talk = speech(name);
            let (samples, end) = on_the_line(&talk, 600, 1_500);
            let mut vad = Vad::new(config(end_silence_ms, 30_000, 5_000));
            let found = events(&mut vad, &samples);
            assert_eq!(found.len(), 2, "{name}: {found:?}");
            let (started_at, started) = found[0];
            assert_eq!(started, VadEvent::SpeechStarted, "{name}");
            // Onset at 600 ms (frame 30), reported once start_ms has passed.
            assert!(
                (36..=45).contains(&started_at),
                "{name}: started at frame {started_at}"
            );
            let (ended_at, VadEvent::SpeechEnded { duration }) = found[1] else {
                panic!("{name}: {found:?}");
            };
            let expected = (end + samples_in(end_silence_ms)).div_ceil(FRAME);
            assert!(
                ended_at.abs_diff(expected) <= 1,
                "{name}: ended at {ended_at}, not {expected}"
            );
            let talk_ms = talk.len() as f64 / 8.0;
            let ms = duration.as_secs_f64() * 1000.0;
            assert!(
                (talk_ms - 150.0..=talk_ms + 20.0).contains(&ms),
                "{name}: {ms} ms of {talk_ms}"
            );
        }
    }
}

#[test]
fn speech_over_steady_noise_is_still_end_pointed() {
    for name in SPEECH {
        let talk = gain(&speech(name), -6.0);
        let mut samples = silence(2_000);
        samples.extend(&talk);
        let end = samples.len();
        samples.extend(silence(1_500));
        let noise = white_noise(-38.0, (samples.len() / 8) as u32 + 20, 11);
        let samples = through_ulaw(&mix(&samples, &noise[..samples.len()]));
        let mut vad = Vad::new(config(700, 30_000, 5_000));
        let found = events(&mut vad, &samples);
        assert_eq!(
            found.first().map(|e| e.1),
            Some(VadEvent::SpeechStarted),
            "{name}: {found:?}"
        );
        let ended = found
            .iter()
            .find(|(_, e)| matches!(e, VadEvent::SpeechEnded { .. }));
        let expected = (end + samples_in(700)).div_ceil(FRAME);
        assert!(
            ended.is_some_and(|(at, _)| at.abs_diff(expected) <= 1),
            "{name}: {found:?}, expected {expected}"
        );
    }
}

#[test]
fn a_pause_longer_than_the_hangover_ends_the_answer_early() {
    let talk = speech("english.wav");
    let (samples, end) = on_the_line(&talk, 600, 1_000);
    let mut vad = Vad::new(config(250, 30_000, 5_000));
    let found = events(&mut vad, &samples);
    let ended = found
        .iter()
        .find(|(_, e)| matches!(e, VadEvent::SpeechEnded { .. }));
    assert!(ended.is_some_and(|(at, _)| *at < end / FRAME), "{found:?}");
}

#[test]
fn pure_silence_gives_no_input_exactly_at_the_configured_time() {
    for no_input_ms in [1_000, 3_000, 5_010] {
        let mut vad = Vad::new(config(700, 30_000, no_input_ms));
        let found = events(&mut vad, &silence(8_000));
        let expected = (no_input_ms as usize).div_ceil(20);
        assert_eq!(
            found,
            vec![(expected, VadEvent::NoInput)],
            "{no_input_ms} ms"
        );
    }
}

#[test]
fn low_level_and_steady_noise_are_never_speech() {
    for (seed, level) in [-70.0, -55.0, -48.0, -35.0, -25.0].into_iter().enumerate() {
        let noise = through_ulaw(&white_noise(level, 10_000, seed as u64 + 1));
        let mut vad = Vad::new(config(700, 30_000, 60_000));
        assert_eq!(events(&mut vad, &noise), vec![], "noise at {level} dBm0");
    }
}

#[test]
fn a_long_utterance_is_cut_at_max_length() {
    let mut talk = speech("english.wav");
    talk.extend(speech("mandarin.wav"));
    let (samples, _) = on_the_line(&talk, 600, 500);
    let mut vad = Vad::new(config(700, 5_000, 5_000));
    let found = events(&mut vad, &samples);
    assert_eq!(found.len(), 2, "{found:?}");
    // Speech starts `start_ms` (6 frames, counting the first) before
    // SpeechStarted; the cut comes 5 s after that first frame.
    assert_eq!(found[0].1, VadEvent::SpeechStarted);
    assert_eq!(found[1].1, VadEvent::MaxLength);
    let expected = found[0].0 - 5 + 5_000 / 20 - 1;
    assert!(
        found[1].0.abs_diff(expected) <= 1,
        "{found:?}, expected {expected}"
    );
}

#[test]
fn after_the_turn_ends_only_reset_starts_another() {
    let talk = through_ulaw(&speech("mandarin.wav"));
    let mut vad = Vad::new(config(700, 30_000, 1_000));
    assert_eq!(
        events(&mut vad, &silence(1_000)),
        vec![(50, VadEvent::NoInput)]
    );
    assert_eq!(events(&mut vad, &talk), vec![]);
    vad.reset();
    let found = events(&mut vad, &talk);
    assert_eq!(
        found.first().map(|e| e.1),
        Some(VadEvent::SpeechStarted),
        "{found:?}"
    );
    assert!(vad.noise_floor_dbm0().is_some());
    assert_eq!(vad.push(&[]), VadEvent::Speaking);
}

#[test]
fn a_frame_measured_by_the_caller_means_what_the_frame_itself_means() {
    let (samples, _) = on_the_line(&speech("english.wav"), 500, 1_500);
    let codewords = crate::media::codec::encode_all(&samples);
    let (mut by_frame, mut by_level) = (
        Vad::new(config(800, 30_000, 5_000)),
        Vad::new(config(800, 30_000, 5_000)),
    );
    let mut decoded = Vec::new();
    for frame in codewords.chunks(FRAME) {
        let energy = crate::media::codec::decode_energy_into(frame, &mut decoded);
        let level = crate::media::codec::energy_to_dbm0(energy, decoded.len());
        assert_eq!(
            by_level.push_level(decoded.len(), level),
            by_frame.push(&decoded)
        );
    }
    assert_eq!(by_level.noise_floor_dbm0(), by_frame.noise_floor_dbm0());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_frames_give_a_well_formed_event_sequence(
        frames in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..400), 0..60),
        start_ms in 0u32..200, end_silence_ms in 0u32..500,
        max_speech_ms in 0u32..1_000, no_input_ms in 0u32..1_000,
    ) {
        let mut vad = Vad::new(VadConfig { start_ms, end_silence_ms, max_speech_ms, no_input_ms });
        let mut started = false;
        let mut done = false;
        for frame in &frames {
            let event = vad.push(frame);
            if done {
                prop_assert_eq!(event, VadEvent::Silence);
                continue;
            }
            match event {
                VadEvent::SpeechStarted => { prop_assert!(!started); started = true; }
                VadEvent::Speaking => prop_assert!(started),
                VadEvent::SpeechEnded { .. } | VadEvent::MaxLength => { prop_assert!(started); done = true; }
                VadEvent::NoInput => { prop_assert!(!started); done = true; }
                VadEvent::Silence => prop_assert!(!started),
            }
        }
    }
}

/// Prints the detector's cost per 20 ms frame. Run it optimised:
/// `cargo test --release --lib media::vad -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run by hand in release mode"]
fn cost_per_20_ms_frame() {
    let samples = through_ulaw(&speech("english.wav"));
    let frames = samples.len() / FRAME;
    let rounds = 50;
    let start = std::time::Instant::now();
    let mut talking = 0;
    for _ in 0..rounds {
        let mut vad = Vad::new(VadConfig {
            no_input_ms: u32::MAX,
            ..VadConfig::default()
        });
        for frame in samples.chunks_exact(FRAME) {
            talking += usize::from(vad.push(std::hint::black_box(frame)) == VadEvent::Speaking);
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * frames) as f64;
    println!("vad: {ns:.0} ns per 20 ms frame ({talking} speaking)");
}
