//! Variables in a group (`previous.csat`, `previous.date`: an earlier
//! call's answers on a follow-up call) are declared, spoken and branched on
//! like any variable, and checked with the usual diagnostics.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::diagnostic::{Code, Diagnostic};
use super::event::{Input, Output};
use super::model::Flow;
use super::validate::{self, Resources};
use super::{Call, Prompt};

struct NoAudio;

impl Resources for NoAudio {
    fn audio_exists(&self, _: &str) -> bool {
        false
    }
}

fn check(source: &str) -> (Option<Flow>, Vec<Diagnostic>) {
    validate::validate("t", source, &NoAudio)
}

const FOLLOW_UP: &str = r#"
[flow]
language = "zh-CN"

[vars]
previous.csat = "number"
previous.date = { type = "text", default = "上次" }
"previous.issue" = { default = "" }

[[step]]
id = "intro"
say = "您好，{{ previous.date }}您反馈的{{previous.issue}}问题，当时打了{{ previous.csat }}分。"
branch = [{ when = "previous.csat <= 2", goto = "sorry" }]

[[step]]
id = "thanks"
say = "谢谢。"
end = "completed"

[[step]]
id = "sorry"
say = "抱歉上次让您失望了。"
end = "completed"
"#;

fn said(flow: &Flow, vars: &[(&str, &str)]) -> Vec<String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut call = Call::new(vars);
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
    call.handle(flow, Input::Answered, now)
        .into_iter()
        .filter_map(|o| match o {
            Output::Prompt(Prompt::Say { text, .. }) => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn grouped_variables_are_spoken_and_branched_on_like_any_variable() {
    let (flow, diags) = check(FOLLOW_UP);
    let flow = flow.unwrap_or_else(|| panic!("valid: {diags:?}"));
    // `previous.csat` has no default: the one warning says so, as for any
    // variable a call may lack.
    let warned: Vec<(&str, &str)> = diags
        .iter()
        .map(|d| (d.code.as_str(), &FOLLOW_UP[d.span.clone()]))
        .collect();
    assert_eq!(warned, [("W022", "previous.csat")], "{diags:?}");

    let low = said(
        &flow,
        &[
            ("previous.csat", "2"),
            ("previous.date", "2026-11-03"),
            ("previous.issue", "转账失败"),
        ],
    );
    let high = said(&flow, &[("previous.csat", "5")]);

    assert_eq!(
        low,
        [
            "您好，2026-11-03您反馈的转账失败问题，当时打了2分。",
            "抱歉上次让您失望了。"
        ]
    );
    assert_eq!(
        high,
        ["您好，上次您反馈的问题，当时打了5分。", "谢谢。"],
        "the defaults fill what the contact lacks"
    );
}

#[test]
fn a_misspelled_grouped_variable_is_reported_where_it_is_used() {
    let source = FOLLOW_UP.replace("{{ previous.csat }}分", "{{ previous.cast }}分");

    let (flow, diags) = check(&source);

    assert!(flow.is_none());
    let d = diags
        .iter()
        .find(|d| d.code == Code::UnknownVariable)
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(
        d.message,
        "`previous.cast` is not a declared variable or answer"
    );
    assert_eq!(&source[d.span.clone()], "previous.cast");
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("previous.csat")),
        "{d:?}"
    );
}

#[test]
fn a_variable_named_like_a_group_and_a_name_with_two_dots_are_refused() {
    let clash = FOLLOW_UP.replace(
        "[vars]\n",
        "[vars]\nissue = \"text\"\n\"issue.kind\" = \"text\"\n\"a.b.c\" = \"text\"\n",
    );

    let (flow, diags) = check(&clash);

    assert!(flow.is_none());
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(&"`issue` is both a variable and the group of `issue.…` variables"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"`a.b.c` is not a valid variable name"),
        "{messages:?}"
    );
}
