//! Property tests of the call machine over every example flow: whatever a
//! caller (or a confused provider) does, the machine never panics, always
//! ends within a bounded number of inputs, every turn ends in a wait, and
//! its serialised state resumes to exactly the same behaviour. Every input
//! that moves a live call advances its `seq` — also the one that ends it —
//! because the store's compare-and-swap on `seq` is what applies a webhook
//! exactly once.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{TimeZone, Utc};
use dialback::flow::event::{HandoffReason, Input, Output, TransferResult};
use dialback::flow::load;
use dialback::flow::machine::MAX_INPUTS;
use dialback::flow::{Call, Flow, Outcome};
use proptest::prelude::*;

fn flows() -> Vec<Flow> {
    load::flow_files(Path::new("call-flows"))
        .unwrap()
        .iter()
        .map(|p| {
            load::load_file(p, None)
                .flow
                .expect("example flows are valid")
        })
        .collect()
}

fn vars(flow: &Flow) -> BTreeMap<String, String> {
    flow.vars
        .iter()
        .map(|v| (v.name.clone(), "测试".to_string()))
        .collect()
}

fn input() -> impl Strategy<Value = Input> {
    let keys = prop::sample::select(vec![
        "1",
        "2",
        "3",
        "4",
        "5",
        "9",
        "0",
        "*",
        "#",
        "10#",
        "7",
        "",
        "123456789",
    ]);
    let speech = prop::sample::select(vec![
        "是的",
        "没有",
        "五分",
        "不要再打了",
        "转人工",
        "yes",
        "no",
        "ten",
        "有用",
        "嗯",
        "",
        "I'd give it a three",
    ]);
    prop_oneof![
        4 => keys.prop_map(|k| Input::Keys(k.to_string())),
        3 => (speech, 0.0f32..=1.0).prop_map(|(t, c)| Input::Speech { text: t.to_string(), confidence: c }),
        2 => Just(Input::Silence),
        1 => (0u32..30).prop_map(|d| Input::Recorded { url: "https://x/r".into(), duration_secs: d, sid: None }),
        1 => prop::sample::select(vec![
            TransferResult::Completed, TransferResult::Busy, TransferResult::NoAnswer,
            TransferResult::Failed, TransferResult::CallerHungUp,
        ]).prop_map(Input::TransferEnded),
        1 => Just(Input::Answered),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_caller_behaviour_ends_the_call_within_the_input_bound(
        which in 0usize..3,
        script in prop::collection::vec(input(), 0..160),
        hour in 0u32..24,
    ) {
        let flows = flows();
        let flow = &flows[which % flows.len()];
        let now = Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).unwrap();
        let mut call = Call::new(vars(flow));
        let mut outputs = call.handle(flow, Input::Answered, now);
        let mut inputs = 0u32;
        let mut script = script.into_iter();
        while call.outcome().is_none() {
            prop_assert!(outputs.last().is_some_and(|o| o.is_wait()), "a turn must end in a wait: {outputs:?}");
            // Resume from serialised state: same state, same behaviour.
            let json = serde_json::to_string(&call).unwrap();
            let mut resumed: Call = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&resumed, &call);
            let next = script.next().unwrap_or(Input::Silence);
            let seq = call.seq;
            outputs = call.handle(flow, next.clone(), now);
            prop_assert_eq!(&resumed.handle(flow, next, now), &outputs);
            prop_assert!(outputs.is_empty() || call.seq > seq, "{outputs:?} kept seq {seq}");
            inputs += 1;
            prop_assert!(inputs <= MAX_INPUTS + 1, "the call did not end within {} inputs", MAX_INPUTS + 1);
        }
        let seq = call.seq;
        prop_assert!(call.handle(flow, Input::Keys("1".into()), now).is_empty(), "an ended call stays ended");
        prop_assert_eq!(call.seq, seq, "an ended call keeps its seq");
    }

    #[test]
    fn a_silent_caller_is_released_after_the_questions_attempts(which in 0usize..3) {
        let flows = flows();
        let flow = &flows[which % flows.len()];
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let mut call = Call::new(vars(flow));
        call.handle(flow, Input::Answered, now);
        let bound: u32 = flow.questions().map(|(_, q)| u32::from(q.attempts)).sum::<u32>() + 1;
        let mut n = 0;
        while call.outcome().is_none() {
            call.handle(flow, Input::Silence, now);
            n += 1;
            prop_assert!(n <= bound, "{} took more than {bound} silences", flow.name);
        }
    }

    #[test]
    fn a_call_ends_completed_only_when_the_caller_answered_or_reached_a_person(
        which in 0usize..6,
        script in prop::collection::vec(input(), 0..60),
        hour in 0u32..24,
    ) {
        let flows = flows();
        let flow = &flows[which % flows.len()];
        let now = Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).unwrap();
        let mut call = Call::new(vars(flow));
        let mut outputs = call.handle(flow, Input::Answered, now);
        let mut script = script.into_iter();
        while call.outcome().is_none() {
            outputs.extend(call.handle(flow, script.next().unwrap_or(Input::Silence), now));
        }
        let responded = outputs.iter().any(|o| {
            matches!(o, Output::Answer(_))
                || matches!(o, Output::Handoff(h) if h.reason == HandoffReason::Connected)
        });
        if call.outcome() == Some(Outcome::Completed) {
            prop_assert!(responded, "{} ended completed with no answer: {outputs:?}", flow.name);
        }
    }

    #[test]
    fn a_caller_who_only_ever_stays_silent_never_completes_a_call(which in 0usize..6) {
        let flows = flows();
        let flow = &flows[which % flows.len()];
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let mut call = Call::new(vars(flow));
        let mut outputs = call.handle(flow, Input::Answered, now);
        while call.outcome().is_none() {
            outputs.extend(call.handle(flow, Input::Silence, now));
        }
        prop_assert_eq!(call.outcome(), Some(Outcome::NoResponse), "{}", flow.name);
        prop_assert!(!outputs.iter().any(|o| matches!(o, Output::Answer(_))));
    }
}
