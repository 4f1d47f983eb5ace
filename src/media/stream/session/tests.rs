//! The session on made-up time: pacing, marks, keys, speech, barge-in,
//! timeouts and recordings, with no socket and no clock.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::flow::model::InputMode;
use crate::media::codec::encode_all;
use crate::media::signal::{Pair, dtmf, silence, speech};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn listen() -> Listen {
    Listen {
        step: "q".into(),
        seq: 1,
        prompts: Vec::new(),
        input: InputMode::BOTH,
        timeout_secs: 5,
        num_digits: Some(1),
        finish_key: None,
        hints: Vec::new(),
        language: "zh-CN".into(),
        barge_in: true,
    }
}

fn record() -> RecordSpec {
    RecordSpec {
        step: "suggestion".into(),
        seq: 4,
        prompts: Vec::new(),
        max_secs: 10,
        timeout_secs: 2,
        finish_key: '#',
    }
}

/// A prompt of `n` frames of a quiet hum.
fn prompt(n: usize) -> Arc<Prompt> {
    let samples: Vec<i16> = (0..n * FRAME_SAMPLES)
        .map(|i| ((i % 40) as i16 - 20) * 50)
        .collect();
    Arc::new(Prompt::from_pcm8k(&samples))
}

/// Drains the actions, splitting off the frames sent.
fn drain(s: &mut Session) -> (usize, Vec<Action>) {
    let mut frames = 0;
    let mut rest = Vec::new();
    while let Some(a) = s.poll() {
        match a {
            Action::Send(Command::Media(audio)) => {
                assert_eq!(audio.len() % FRAME_SAMPLES, 0, "whole frames");
                frames += audio.len() / FRAME_SAMPLES;
            }
            other => rest.push(other),
        }
    }
    (frames, rest)
}

/// Feeds 8 kHz audio frame by frame from `start`, ticking as a loop would;
/// returns the time after the last frame.
fn feed(s: &mut Session, audio: &[i16], start: Duration) -> Duration {
    let mut now = start;
    for chunk in audio.chunks(FRAME_SAMPLES) {
        s.media(&encode_all(chunk), now);
        s.tick(now);
        now += FRAME;
    }
    now
}

/// Runs the clock in 20 ms steps from `start` to `end`, feeding silence.
fn idle(s: &mut Session, start: Duration, end: Duration) {
    let frame = encode_all(&silence(20));
    let mut now = start;
    while now <= end {
        s.media(&frame, now);
        s.tick(now);
        now += FRAME;
    }
}

fn playing(prompts: Vec<Arc<Prompt>>, wait: Wait) -> Session {
    let mut s = Session::new(SessionConfig::default());
    s.start_turn(prompts, wait, Duration::ZERO);
    s
}

#[test]
fn prompts_are_sent_a_little_ahead_of_real_time_and_never_in_one_burst() {
    let mut s = playing(vec![prompt(100)], Wait::Listen(listen()));
    let lead_frames = (SessionConfig::default().lead.as_millis() / 20) as usize;
    s.tick(Duration::ZERO);
    assert_eq!(
        drain(&mut s).0,
        lead_frames,
        "only the lead goes out at once"
    );
    let mut sent = lead_frames;
    let mut now = Duration::ZERO;
    while sent < 100 {
        let wake = s.next_deadline().expect("a prompt is playing");
        assert!(wake > now, "the loop is asked to sleep");
        now = wake;
        s.tick(now);
        sent += drain(&mut s).0;
        let ahead = FRAME * sent as u32 - now.min(FRAME * sent as u32);
        assert!(
            ahead <= SessionConfig::default().lead + FRAME,
            "{ahead:?} ahead at {now:?}"
        );
        assert!(FRAME * sent as u32 >= now, "audio ran dry at {now:?}");
    }
}

#[test]
fn while_the_caller_streams_prompt_audio_goes_out_a_batch_at_a_time() {
    let config = SessionConfig::default();
    let batch_frames = (config.batch.as_millis() / 20) as usize;
    let mut s = playing(vec![prompt(100)], Wait::Listen(listen()));
    let mut now = Duration::ZERO;
    let mut sent = 0;
    let mut writes = Vec::new();
    // The media loop ticks on every caller frame, 20 ms apart.
    while sent < 100 {
        s.tick(now);
        let frames = drain(&mut s).0;
        if frames > 0 {
            writes.push(frames);
        }
        sent += frames;
        assert!(FRAME * sent as u32 >= now, "audio ran dry at {now:?}");
        now += FRAME;
    }
    let (first, rest) = writes.split_first().expect("audio went out");
    assert_eq!(
        *first,
        (config.lead.as_millis() / 20) as usize,
        "the lead at once"
    );
    let (last, middle) = rest.split_last().expect("more than one write");
    assert!(
        middle.iter().all(|&n| n == batch_frames),
        "a batch per write: {writes:?}"
    );
    assert!(*last <= batch_frames, "the tail: {writes:?}");
}

#[test]
fn the_frames_of_one_prompt_in_one_top_up_go_out_as_one_message() {
    let mut s = playing(vec![prompt(4), prompt(50)], Wait::Listen(listen()));
    s.tick(Duration::ZERO);
    let mut sent = Vec::new();
    while let Some(a) = s.poll() {
        sent.push(a);
    }
    let lead = (SessionConfig::default().lead.as_millis() / 20) as usize;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        sent[0],
        Action::Send(Command::Media(prompt(4).frames.as_flattened().to_vec()))
    );
    assert_eq!(sent[1], Action::Send(Command::Mark("1.0".into())));
    let Action::Send(Command::Media(second)) = &sent[2] else {
        panic!("the second prompt's start: {:?}", sent[2]);
    };
    assert_eq!(second.len(), (lead - 4) * FRAME_SAMPLES);
    assert_eq!(
        second.as_slice(),
        prompt(50).frames[..lead - 4].as_flattened()
    );
}

#[test]
fn each_prompt_is_followed_by_a_mark_and_the_last_mark_starts_listening() {
    let mut s = playing(vec![prompt(3), prompt(2)], Wait::Listen(listen()));
    s.tick(ms(200));
    let (frames, rest) = drain(&mut s);
    assert_eq!(frames, 5);
    assert_eq!(
        rest,
        vec![
            Action::Send(Command::Mark("1.0".into())),
            Action::Send(Command::Mark("1.1".into()))
        ]
    );
    assert!(!s.is_listening());
    s.mark("1.0", ms(260));
    assert!(!s.is_listening(), "the first prompt's mark is not the end");
    s.mark("1.1", ms(300));
    assert!(s.is_listening());
}

#[test]
fn a_provider_that_returns_no_marks_still_gets_listened_to() {
    let mut s = playing(vec![prompt(5)], Wait::Listen(listen()));
    s.tick(ms(0));
    drain(&mut s);
    let grace = SessionConfig::default().mark_grace;
    s.tick(ms(100) + grace - ms(20));
    assert!(!s.is_listening());
    s.tick(ms(100) + grace);
    assert!(s.is_listening());
}

#[test]
fn a_single_key_answers_at_once() {
    let mut s = playing(vec![], Wait::Listen(listen()));
    assert!(s.is_listening(), "no prompts: listening at once");
    s.dtmf('1', ms(500));
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("1".into()))]
    );
}

#[test]
fn multi_digit_answers_end_with_the_finish_key_or_a_pause() {
    let nps = Listen {
        num_digits: None,
        finish_key: Some('#'),
        ..listen()
    };
    let mut s = playing(vec![], Wait::Listen(nps.clone()));
    s.dtmf('1', ms(100));
    s.dtmf('0', ms(400));
    assert!(drain(&mut s).1.is_empty());
    s.dtmf('#', ms(700));
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("10".into()))]
    );

    let mut s = playing(vec![], Wait::Listen(nps));
    s.dtmf('7', ms(100));
    s.tick(ms(5_000));
    assert!(
        drain(&mut s).1.is_empty(),
        "the pause counts from the last key"
    );
    assert_eq!(s.next_deadline(), Some(ms(5_100)));
    s.tick(ms(5_100));
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("7".into()))]
    );
}

#[test]
fn nothing_within_the_timeout_is_silence() {
    let mut s = playing(vec![], Wait::Listen(listen()));
    idle(&mut s, ms(0), ms(4_980));
    assert!(drain(&mut s).1.is_empty());
    s.tick(ms(5_000));
    assert_eq!(drain(&mut s).1, vec![Action::Input(Input::Silence)]);
}

#[test]
fn a_key_during_the_prompt_clears_it_and_answers() {
    let mut s = playing(vec![prompt(200)], Wait::Listen(listen()));
    s.tick(ms(1_000));
    drain(&mut s);
    s.dtmf('2', ms(1_000));
    assert_eq!(
        drain(&mut s),
        (
            0,
            vec![
                Action::Send(Command::Clear),
                Action::Input(Input::Keys("2".into()))
            ]
        )
    );
    s.tick(ms(1_500));
    assert_eq!(drain(&mut s).0, 0, "no more of the prompt is sent");
}

#[test]
fn without_barge_in_keys_during_the_prompt_are_ignored() {
    let wait = Wait::Listen(Listen {
        barge_in: false,
        ..listen()
    });
    let mut s = playing(vec![prompt(200)], wait);
    s.tick(ms(1_000));
    drain(&mut s);
    s.dtmf('2', ms(1_000));
    assert!(drain(&mut s).1.is_empty());
    assert!(!s.is_listening());
}

#[test]
fn in_band_tones_are_keys_when_the_provider_sends_no_dtmf_events() {
    let mut s = playing(vec![], Wait::Listen(listen()));
    let mut audio = silence(200);
    audio.extend(dtmf('3', Pair::default(), 80));
    audio.extend(silence(200));
    feed(&mut s, &audio, ms(0));
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("3".into()))]
    );
}

#[test]
fn a_tone_still_sounding_when_the_next_question_starts_is_not_its_answer_too() {
    let mut s = playing(vec![], Wait::Listen(listen()));
    let press = dtmf('1', Pair::default(), 200);
    let (first, rest) = press.split_at(8 * 80);
    let now = feed(&mut s, first, ms(0));
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("1".into()))]
    );
    // The answer was stored quickly and the next question starts (barge-in
    // allowed) while the caller's finger is still on the key.
    s.start_turn(vec![prompt(50)], Wait::Listen(listen()), now);
    let now = feed(&mut s, rest, now);
    assert!(
        !drain(&mut s)
            .1
            .iter()
            .any(|a| matches!(a, Action::Input(_))),
        "one press answered two questions"
    );
    // After a pause, a new press is a new key.
    let mut next = silence(100);
    next.extend(dtmf('2', Pair::default(), 80));
    feed(&mut s, &next, now);
    assert!(
        drain(&mut s)
            .1
            .contains(&Action::Input(Input::Keys("2".into())))
    );
}

#[test]
fn a_key_heard_in_band_and_sent_as_an_event_counts_once() {
    let nps = Listen {
        num_digits: None,
        finish_key: Some('#'),
        ..listen()
    };
    let mut s = playing(vec![], Wait::Listen(nps));
    let mut audio = silence(100);
    audio.extend(dtmf('5', Pair::default(), 80));
    let now = feed(&mut s, &audio, ms(0));
    s.dtmf('5', now);
    // From now on only events count: this tone is not a second key.
    let later = feed(&mut s, &dtmf('5', Pair::default(), 80), now + ms(200));
    s.dtmf('#', later);
    assert_eq!(
        drain(&mut s).1,
        vec![Action::Input(Input::Keys("5".into()))]
    );
}

#[test]
fn speech_is_end_pointed_and_handed_out_for_recognition_with_its_beginning() {
    let mut s = playing(vec![], Wait::Listen(listen()));
    let talk = speech("english.wav")[..8_000].to_vec();
    let mut audio = silence(300);
    audio.extend(&talk);
    audio.extend(silence(1_200));
    feed(&mut s, &audio, ms(0));
    let (_, actions) = drain(&mut s);
    let [
        Action::Recognise {
            audio, language, ..
        },
    ] = actions.as_slice()
    else {
        panic!("expected one utterance, got {actions:?}");
    };
    assert_eq!(language, "zh-CN");
    let secs = audio.len() as f32 / 8_000.0;
    assert!((1.0..2.4).contains(&secs), "utterance of {secs} s");
}

#[test]
fn speech_during_the_prompt_barges_in() {
    let mut s = playing(vec![prompt(500)], Wait::Listen(listen()));
    let mut audio = silence(400);
    audio.extend(&speech("mandarin.wav")[..8_000]);
    audio.extend(silence(1_200));
    feed(&mut s, &audio, ms(0));
    let (_, actions) = drain(&mut s);
    assert!(matches!(
        actions.first(),
        Some(Action::Send(Command::Mark(_))) | Some(Action::Send(Command::Clear))
    ));
    assert!(
        actions.contains(&Action::Send(Command::Clear)),
        "{actions:?}"
    );
    assert!(
        matches!(actions.last(), Some(Action::Recognise { .. })),
        "{actions:?}"
    );
}

#[test]
fn a_keypad_only_question_ignores_speech() {
    let wait = Wait::Listen(Listen {
        input: InputMode::parse("keypad").expect("a mode"),
        ..listen()
    });
    let mut s = playing(vec![], wait);
    let mut audio = speech("english.wav")[..8_000].to_vec();
    audio.extend(silence(1_000));
    feed(&mut s, &audio, ms(0));
    assert!(drain(&mut s).1.is_empty());
}

#[test]
fn a_recording_ends_after_the_caller_falls_silent() {
    let mut s = playing(vec![prompt(2)], Wait::Record(record()));
    s.tick(ms(0));
    s.mark("1.0", ms(40));
    assert!(s.is_listening());
    let mut audio = silence(200);
    audio.extend(&speech("mandarin.wav")[..16_000]);
    audio.extend(silence(2_500));
    feed(&mut s, &audio, ms(40));
    let (_, actions) = drain(&mut s);
    let Some(Action::SaveRecording { step, seq, audio }) = actions.last() else {
        panic!("expected a recording, got {actions:?}");
    };
    assert_eq!((step.as_str(), *seq), ("suggestion", 4));
    assert!(audio.len() >= 16_000, "the whole answer is kept");
}

#[test]
fn a_recording_ends_on_the_finish_key_and_at_the_maximum_length() {
    let mut s = playing(vec![], Wait::Record(record()));
    let now = feed(&mut s, &speech("english.wav")[..16_000], ms(0));
    s.dtmf('#', now);
    assert!(matches!(
        drain(&mut s).1.as_slice(),
        [Action::SaveRecording { .. }]
    ));

    let mut s = playing(vec![], Wait::Record(record()));
    let talk = speech("english.wav").repeat(2);
    let end = feed(&mut s, &talk[..12 * 8_000], ms(0));
    assert!(end >= ms(10_000));
    let (_, actions) = drain(&mut s);
    let [Action::SaveRecording { audio, .. }] = actions.as_slice() else {
        panic!("expected one recording, got {actions:?}");
    };
    assert!(audio.len() <= 10 * 8_000 + FRAME_SAMPLES);
}

#[test]
fn a_silent_recording_is_silence() {
    let mut s = playing(vec![], Wait::Record(record()));
    idle(&mut s, ms(0), ms(2_100));
    assert_eq!(drain(&mut s).1, vec![Action::Input(Input::Silence)]);
}

#[test]
fn a_hang_up_while_recording_keeps_what_was_said() {
    let mut s = playing(vec![], Wait::Record(record()));
    feed(&mut s, &speech("english.wav")[..16_000], ms(0));
    s.hang_up();
    let (_, actions) = drain(&mut s);
    assert!(
        matches!(
            actions.as_slice(),
            [Action::SaveRecording { .. }, Action::Input(Input::HungUp)]
        ),
        "{actions:?}"
    );
    assert!(s.is_done());
}

#[test]
fn the_end_of_the_call_waits_for_the_goodbye_to_play() {
    let mut s = playing(vec![prompt(3)], Wait::End);
    s.tick(ms(0));
    assert!(!drain(&mut s).1.contains(&Action::Hangup));
    s.mark("1.0", ms(60));
    assert_eq!(drain(&mut s).1, vec![Action::Hangup]);
    assert!(s.is_done());
}

#[test]
fn a_transfer_is_handed_out_after_its_announcement() {
    let spec = TransferSpec {
        step: "handoff".into(),
        seq: 3,
        target: crate::flow::model::Target::Queue("support".into()),
        max_wait_secs: 90,
    };
    let mut s = playing(vec![prompt(1)], Wait::Transfer(spec.clone()));
    s.tick(ms(0));
    s.mark("1.0", ms(20));
    assert_eq!(
        drain(&mut s).1,
        vec![
            Action::Send(Command::Mark("1.0".into())),
            Action::Transfer(spec)
        ]
    );
}

#[test]
fn marks_of_an_earlier_turn_are_ignored() {
    let mut s = playing(vec![prompt(1)], Wait::Listen(listen()));
    s.tick(ms(0));
    s.dtmf('1', ms(10));
    drain(&mut s);
    s.start_turn(vec![prompt(50)], Wait::Listen(listen()), ms(20));
    s.tick(ms(20));
    s.mark("1.0", ms(30));
    assert!(
        !s.is_listening(),
        "the cleared turn's mark is not this turn's"
    );
}
