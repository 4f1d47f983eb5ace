use proptest::prelude::*;

use super::*;
use crate::media::signal::{
    Pair, SPEECH, dial, gain, mix, samples_in, silence, speech, through_ulaw, white_noise,
};

const ALL_KEYS: &str = "123A456B789C*0#D";

/// Keys found in `samples`, fed in 20 ms frames as a media stream would.
fn detect(samples: &[i16]) -> String {
    let mut detector = Detector::new();
    samples
        .chunks(160)
        .flat_map(|frame| detector.push(frame))
        .collect()
}

/// One press of `key` lasting `on_ms`, after `lead` samples of silence,
/// followed by 100 ms of silence, as heard through the μ-law line.
fn press(key: char, pair: Pair, on_ms: u32, lead: usize) -> Vec<i16> {
    through_ulaw(&dial(&key.to_string(), pair, on_ms, 100, lead))
}

/// A pair whose stronger tone is at `strong_dbm0`, with `twist_db`.
fn twisted(twist_db: f64, strong_dbm0: f64) -> Pair {
    Pair {
        low_dbm0: strong_dbm0 - twist_db.max(0.0),
        twist_db,
        ..Pair::default()
    }
}

#[test]
fn every_key_is_detected_at_nominal_frequencies() {
    for key in ALL_KEYS.chars() {
        assert_eq!(detect(&press(key, Pair::default(), 60, 0)), key.to_string());
    }
}

#[test]
fn every_key_is_detected_with_both_tones_1_5_percent_off() {
    for (low_offset, high_offset) in [
        (0.015, 0.015),
        (0.015, -0.015),
        (-0.015, 0.015),
        (-0.015, -0.015),
    ] {
        let pair = Pair {
            low_offset,
            high_offset,
            ..Pair::default()
        };
        for key in ALL_KEYS.chars() {
            let found = detect(&press(key, pair, 60, 0));
            assert_eq!(
                found,
                key.to_string(),
                "{key} at {low_offset:+}/{high_offset:+}"
            );
        }
    }
}

#[test]
fn a_tone_3_5_percent_off_on_either_tone_is_rejected() {
    for (low_offset, high_offset) in [(0.035, 0.0), (-0.035, 0.0), (0.0, 0.035), (0.0, -0.035)] {
        let pair = Pair {
            low_offset,
            high_offset,
            ..Pair::default()
        };
        for key in ALL_KEYS.chars() {
            let found = detect(&press(key, pair, 100, 0));
            assert_eq!(found, "", "{key} at {low_offset:+}/{high_offset:+}");
        }
    }
}

#[test]
fn five_digits_at_40_ms_on_40_ms_off_are_detected_exactly_whatever_the_alignment() {
    for lead in (0..HOP).step_by(7) {
        let samples = through_ulaw(&dial("12345", Pair::default(), 40, 40, lead));
        assert_eq!(detect(&samples), "12345", "lead {lead}");
    }
}

#[test]
fn repeated_keys_with_40_ms_pauses_each_count() {
    let samples = through_ulaw(&dial("1100#", Pair::default(), 40, 40, 17));
    assert_eq!(detect(&samples), "1100#");
}

#[test]
fn bursts_of_20_ms_or_less_are_rejected() {
    for on_ms in [20, 15, 10, 5] {
        for lead in (0..HOP).step_by(5) {
            for key in ['1', '5', '9', 'D'] {
                let found = detect(&press(key, Pair::default(), on_ms, lead));
                assert_eq!(found, "", "{key} for {on_ms} ms, lead {lead}");
            }
        }
    }
}

#[test]
fn a_long_press_is_reported_once() {
    assert_eq!(detect(&press('5', Pair::default(), 2_000, 0)), "5");
}

#[test]
fn twist_within_8_db_forward_and_4_db_reverse_is_accepted() {
    for twist_db in [8.0, 6.0, 0.0, -2.0, -4.0] {
        for key in ALL_KEYS.chars() {
            let found = detect(&press(key, twisted(twist_db, -6.0), 60, 0));
            assert_eq!(found, key.to_string(), "{key} with twist {twist_db} dB");
        }
    }
}

#[test]
fn twist_of_10_db_or_more_either_way_is_rejected() {
    for twist_db in [10.0, 12.0, -10.0, -12.0] {
        for key in ALL_KEYS.chars() {
            let found = detect(&press(key, twisted(twist_db, -6.0), 60, 0));
            assert_eq!(found, "", "{key} with twist {twist_db} dB");
        }
    }
}

#[test]
fn twist_frequency_error_and_noise_together_are_still_accepted() {
    for twist_db in [8.0, -4.0] {
        for (low_offset, high_offset) in [
            (0.015, 0.015),
            (-0.015, -0.015),
            (0.015, -0.015),
            (-0.015, 0.015),
        ] {
            let pair = Pair {
                low_offset,
                high_offset,
                ..twisted(twist_db, -6.0)
            };
            for (seed, key) in ALL_KEYS.chars().enumerate() {
                let tone = dial(&key.to_string(), pair, 60, 100, 0);
                let noise = white_noise(-24.0, 160, seed as u64 + 1);
                let found = detect(&through_ulaw(&mix(&tone, &noise)));
                assert_eq!(
                    found,
                    key.to_string(),
                    "{key}: twist {twist_db}, {low_offset:+}/{high_offset:+}"
                );
            }
        }
    }
}

#[test]
fn weak_tones_1_5_percent_off_are_accepted() {
    for offset in [0.015, -0.015] {
        let pair = Pair {
            low_dbm0: -25.0,
            twist_db: 0.0,
            low_offset: offset,
            high_offset: offset,
        };
        for key in ALL_KEYS.chars() {
            assert_eq!(
                detect(&press(key, pair, 60, 0)),
                key.to_string(),
                "{key} at {offset:+}"
            );
        }
    }
}

#[test]
fn tones_from_minus_25_to_0_dbm0_are_accepted() {
    for level in [0.0, -5.0, -10.0, -15.0, -20.0, -25.0] {
        let pair = Pair {
            low_dbm0: level,
            twist_db: 0.0,
            ..Pair::default()
        };
        for key in ALL_KEYS.chars() {
            let found = detect(&press(key, pair, 60, 0));
            assert_eq!(found, key.to_string(), "{key} at {level} dBm0 per tone");
        }
    }
}

#[test]
fn tones_near_minus_40_dbm0_are_rejected() {
    for level in [-40.0, -45.0] {
        let pair = Pair {
            low_dbm0: level,
            twist_db: 0.0,
            ..Pair::default()
        };
        for key in ALL_KEYS.chars() {
            assert_eq!(
                detect(&press(key, pair, 100, 0)),
                "",
                "{key} at {level} dBm0"
            );
        }
    }
}

#[test]
fn keys_are_detected_in_white_noise_15_db_below_the_tones() {
    // Each tone at −10 dBm0 makes a −7 dBm0 pair; the noise is at −22.
    let pair = Pair {
        low_dbm0: -10.0,
        twist_db: 0.0,
        ..Pair::default()
    };
    for (seed, key) in ALL_KEYS.chars().enumerate() {
        let tone = dial(&key.to_string(), pair, 60, 100, 0);
        let noise = white_noise(-22.0, 160, seed as u64 + 1);
        let found = detect(&through_ulaw(&mix(&tone, &noise)));
        assert_eq!(found, key.to_string(), "{key}");
    }
}

#[test]
fn white_noise_alone_never_fires() {
    for (seed, level) in [-60.0, -40.0, -25.0, -15.0, -6.0, 0.0]
        .into_iter()
        .enumerate()
    {
        let noise = white_noise(level, 5_000, 100 + seed as u64);
        assert_eq!(detect(&through_ulaw(&noise)), "", "noise at {level} dBm0");
    }
}

#[test]
fn speech_never_fires_a_digit() {
    for name in SPEECH {
        let talk = speech(name);
        for db in [-20.0, -10.0, -5.0, 0.0] {
            let found = detect(&through_ulaw(&gain(&talk, db)));
            assert_eq!(found, "", "{name} at {db} dB");
        }
    }
}

#[test]
fn keys_are_detected_over_background_speech() {
    // Speech at an ordinary talker level (−6 dB from the fixture's loud
    // one); keys at −8/−6 dBm0 spread through it.
    for name in SPEECH {
        let talk = gain(&speech(name), -6.0);
        let gap = (talk.len() / 32) as u32 - 60;
        let keys = dial("159#", Pair::default(), 60, gap, samples_in(300));
        let found = detect(&through_ulaw(&mix(&talk, &keys)));
        assert_eq!(found, "159#", "{name}");
    }
}

#[test]
fn chunking_does_not_change_what_is_detected() {
    let samples = through_ulaw(&dial("0*8D", Pair::default(), 45, 45, 33));
    for size in [1, 7, 80, 160, 205, 1_000, samples.len()] {
        let mut detector = Detector::new();
        let found: String = samples
            .chunks(size)
            .flat_map(|c| detector.push(c))
            .collect();
        assert_eq!(found, "0*8D", "chunks of {size}");
    }
}

#[test]
fn reset_forgets_a_half_heard_key() {
    // 40 ms of tone: heard whole it is a key; cut in two halves by a
    // reset, each half is only a 20 ms burst.
    let samples = press('7', Pair::default(), 40, samples_in(50));
    let (first, rest) = samples.split_at(samples_in(70));
    assert_eq!(detect(&samples), "7");
    let mut detector = Detector::new();
    assert!(detector.push(first).is_empty());
    detector.reset();
    assert!(detector.push(rest).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_samples_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..700), 0..12),
    ) {
        let mut detector = Detector::new();
        for chunk in &chunks {
            for key in detector.push(chunk) {
                prop_assert!(ALL_KEYS.contains(key));
            }
        }
    }
}

/// Prints the detector's cost per 20 ms frame. Run it optimised:
/// `cargo test --release --lib media::dtmf -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run by hand in release mode"]
fn cost_per_20_ms_frame() {
    let talk = speech("english.wav");
    let keys = dial("0123456789", Pair::default(), 60, 200, 0);
    let noise = white_noise(-30.0, 2_000, 7);
    for (what, samples) in [
        ("speech", talk),
        ("keys", keys),
        ("noise", noise),
        ("silence", silence(2_000)),
    ] {
        let samples = through_ulaw(&samples);
        let frames = samples.len() / 160;
        let rounds = 20;
        let start = std::time::Instant::now();
        let mut found = 0;
        for _ in 0..rounds {
            let mut detector = Detector::new();
            for frame in samples.chunks_exact(160) {
                found += detector.push(std::hint::black_box(frame)).len();
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * frames) as f64;
        println!("dtmf {what:>8}: {ns:7.0} ns per 20 ms frame ({found} keys)");
    }
}
