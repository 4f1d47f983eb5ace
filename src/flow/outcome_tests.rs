//! The call machine's honesty about how a call ended, and the contact
//! variables it starts with: a silent caller is `no_response`, a gate is
//! never passed in silence, a missing variable takes its default.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::event::{Input, Output, TransferResult};
use super::model::{Flow, OnFail, Outcome, StepKind};
use super::validate::{self, Resources};
use super::{Call, Prompt};

struct NoAudio;

impl Resources for NoAudio {
    fn audio_exists(&self, _: &str) -> bool {
        false
    }
}

fn flow(source: &str) -> Flow {
    let (flow, diags) = validate::validate("t", source, &NoAudio);
    flow.unwrap_or_else(|| panic!("the test flow is valid: {diags:?}"))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap()
}

/// Plays `inputs` after the call is answered; returns the call and
/// everything it output.
fn play(flow: &Flow, vars: &[(&str, &str)], inputs: Vec<Input>) -> (Call, Vec<Output>) {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut call = Call::new(vars);
    let mut out = call.handle(flow, Input::Answered, now());
    for input in inputs {
        out.extend(call.handle(flow, input, now()));
    }
    (call, out)
}

fn asked(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Listen(l) => Some(l.step.as_str()),
            Output::Record(r) => Some(r.step.as_str()),
            _ => None,
        })
        .collect()
}

fn said(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Prompt(Prompt::Say { text, .. }) => Some(text.as_str()),
            Output::Listen(l) => l.prompts.iter().find_map(|p| match p {
                Prompt::Say { text, .. } => Some(text.as_str()),
                Prompt::Play { .. } => None,
            }),
            _ => None,
        })
        .collect()
}

const SURVEY: &str = r#"
[flow]
language = "zh-CN"
attempts = 2

[[step]]
id = "intro"
say = "您好，这里是示例钱包，通话可能会被录音。"

[[step]]
id = "csat"
ask = "rating"
scale = [1, 5]
prompt = "请打分。"

[[step]]
id = "feature"
ask = "yes_no"
prompt = "用过新功能吗？"

[[step]]
id = "thanks"
say = "谢谢，再见。"
end = "completed"
"#;

const GATED: &str = r#"
[flow]
language = "zh-CN"
attempts = 2

[[step]]
id = "intro"
say = "您好，这里是示例钱包，通话可能会被录音。"

[[step]]
id = "consent"
ask = "yes_no"
prompt = "现在方便吗？"
on.no = "refused"

[[step]]
id = "csat"
ask = "rating"
scale = [1, 5]
prompt = "请打分。"

[[step]]
id = "thanks"
say = "谢谢，再见。"
end = "completed"

[[step]]
id = "refused"
say = "好的，不打扰了。"
end = "refused"
"#;

#[test]
fn a_caller_silent_through_every_question_ends_no_response_not_completed() {
    let survey = flow(SURVEY);
    let (call, out) = play(&survey, &[], vec![Input::Silence; 4]);
    assert_eq!(asked(&out), ["csat", "csat", "feature", "feature"]);
    assert_eq!(call.outcome(), Some(Outcome::NoResponse));
    assert_eq!(
        out.last(),
        Some(&Output::End {
            outcome: Outcome::NoResponse
        })
    );
}

#[test]
fn a_caller_whose_keys_are_never_understood_ends_no_response() {
    let survey = flow(SURVEY);
    let (call, _) = play(&survey, &[], vec![Input::Keys("7".into()); 4]);
    assert_eq!(call.outcome(), Some(Outcome::NoResponse));
}

#[test]
fn a_caller_who_answers_one_question_completes() {
    let survey = flow(SURVEY);
    let inputs = vec![Input::Silence, Input::Silence, Input::Keys("1".into())];
    let (call, _) = play(&survey, &[], inputs);
    assert_eq!(call.outcome(), Some(Outcome::Completed));
}

#[test]
fn a_call_that_asks_nothing_completes() {
    let message = flow(
        r#"
[flow]
language = "zh-CN"

[[step]]
id = "notice"
say = "您好，您的问题已经解决，通话可能会被录音。再见。"
"#,
    );
    let (call, _) = play(&message, &[], vec![]);
    assert_eq!(call.outcome(), Some(Outcome::Completed));
}

#[test]
fn a_gate_without_on_fail_ends_the_call_when_it_gets_no_answer() {
    let gated = flow(GATED);
    let StepKind::Question(consent) = &gated.steps[1].kind else {
        panic!("consent is a question")
    };
    assert_eq!(consent.on_fail, OnFail::End);
    let StepKind::Question(csat) = &gated.steps[2].kind else {
        panic!("csat is a question")
    };
    assert_eq!(
        csat.on_fail,
        OnFail::Skip,
        "a question that is no gate still skips"
    );

    let (call, out) = play(&gated, &[], vec![Input::Silence, Input::Silence]);

    assert_eq!(
        asked(&out),
        ["consent", "consent"],
        "the survey is never asked"
    );
    assert_eq!(call.outcome(), Some(Outcome::NoResponse));
    assert!(
        said(&out).last().is_some_and(|t| t.contains("再见")),
        "the caller hears a goodbye: {:?}",
        said(&out)
    );
}

#[test]
fn a_gate_that_is_not_understood_ends_the_call_too() {
    let gated = flow(GATED);
    let inputs = vec![
        Input::Keys("5".into()),
        Input::Speech {
            text: "嗯".into(),
            confidence: 0.9,
        },
    ];
    let (call, out) = play(&gated, &[], inputs);
    assert_eq!(asked(&out), ["consent", "consent"]);
    assert_eq!(call.outcome(), Some(Outcome::NoResponse));
}

#[test]
fn a_gate_answered_yes_goes_on_into_the_survey() {
    let gated = flow(GATED);
    let (call, out) = play(&gated, &[], vec![Input::Keys("1".into())]);
    assert_eq!(asked(&out), ["consent", "csat"]);
    assert_eq!(call.outcome(), None);
}

#[test]
fn a_gate_the_flow_says_to_skip_is_skipped_as_written() {
    let skipping = flow(&GATED.replace(
        "on.no = \"refused\"",
        "on.no = \"refused\"\non_fail = \"skip\"",
    ));
    let (_, out) = play(&skipping, &[], vec![Input::Silence, Input::Silence]);
    assert_eq!(asked(&out), ["consent", "consent", "csat"]);
}

#[test]
fn a_no_that_only_finishes_the_survey_does_not_make_a_gate() {
    let finishing = flow(&SURVEY.replace(
        "prompt = \"请打分。\"",
        "prompt = \"请打分。\"\non.1 = \"thanks\"",
    ));
    let StepKind::Question(csat) = &finishing.steps[1].kind else {
        panic!("csat is a question")
    };
    assert_eq!(csat.on_fail, OnFail::Skip);
}

/// A transfer with a step after the conversation.
const AGENT_THEN_BYE: &str = r#"
[flow]
language = "zh-CN"
agent_key = "0"
agent_step = "agent"

[[step]]
id = "intro"
say = "您好，这里是示例钱包，通话可能会被录音。"

[[step]]
id = "csat"
ask = "rating"
scale = [1, 5]
prompt = "请打分，转人工请按0。"

[[step]]
id = "agent"
transfer = "queue:support"
unavailable = "ticket"
next = "bye"

[[step]]
id = "bye"
say = "再见。"
end = "completed"

[[step]]
id = "ticket"
say = "稍后给您回电。"
end = "ticket"
"#;

#[test]
fn a_caller_connected_to_a_person_is_not_counted_as_silent() {
    let handoff = flow(AGENT_THEN_BYE);
    let inputs = vec![
        Input::Keys("0".into()),
        Input::TransferEnded(TransferResult::Completed),
    ];
    let (call, _) = play(&handoff, &[], inputs);
    assert_eq!(call.outcome(), Some(Outcome::Completed));
}

#[test]
fn a_caller_gone_when_the_conversation_ends_is_a_handoff_and_hears_no_next_step() {
    let handoff = flow(AGENT_THEN_BYE);
    let inputs = vec![
        Input::Keys("0".into()),
        Input::TransferEndedAfterHangUp(TransferResult::Completed),
    ];
    let (call, out) = play(&handoff, &[], inputs);
    assert_eq!(call.outcome(), Some(Outcome::Handoff));
    assert!(
        matches!(
            out.last(),
            Some(Output::End {
                outcome: Outcome::Handoff
            })
        ),
        "{out:?}"
    );
    assert!(!format!("{out:?}").contains("再见"), "{out:?}");
}

#[test]
fn a_call_state_stored_before_engagement_was_kept_still_loads() {
    let json = r#"{"vars":{},"answers":{},"at":{"at":"start"},"seq":0,"inputs":0}"#;
    let call: Call = serde_json::from_str(json).expect("old state loads");
    assert_eq!(call.engagement, super::machine::Engagement::NotAsked);
}

const GREETING: &str = r#"
[flow]
language = "zh-CN"

[vars]
name = { type = "text", default = "" }
feature = { type = "text", default = "账单分期" }
count = { type = "number", default = 0 }

[[step]]
id = "intro"
say = "{{name}}您好，想了解您对{{feature}}功能的看法，通话可能会被录音。"
branch = [{ when = "count > 0", goto = "again" }]
next = "bye"

[[step]]
id = "again"
say = "这是第{{count}}次回访。"

[[step]]
id = "bye"
say = "再见。"
end = "completed"
"#;

#[test]
fn variables_a_call_lacks_take_their_defaults() {
    let greeting = flow(GREETING);
    let (call, out) = play(&greeting, &[], vec![]);
    assert_eq!(
        said(&out)[0],
        "您好，想了解您对账单分期功能的看法，通话可能会被录音。"
    );
    assert_eq!(call.vars.get("count").map(String::as_str), Some("0"));
    assert_eq!(
        said(&out)[1],
        "再见。",
        "the default is seen by conditions too"
    );
}

#[test]
fn a_contacts_own_values_win_over_defaults_and_an_empty_one_does_not() {
    let greeting = flow(GREETING);
    let (_, out) = play(
        &greeting,
        &[("name", "王女士"), ("feature", " "), ("count", "2")],
        vec![],
    );
    assert_eq!(
        said(&out)[..2],
        [
            "王女士您好，想了解您对账单分期功能的看法，通话可能会被录音。",
            "这是第2次回访。"
        ]
    );
}
