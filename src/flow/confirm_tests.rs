//! A flow's part in the per-ticket loop: `confirm_flow` / `confirm_after`
//! in `[flow]`, and the one yes/no question marked `confirms`.

use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::model::Flow;
use super::validate::{self, Resources};

struct NoAudio;

impl Resources for NoAudio {
    fn audio_exists(&self, _: &str) -> bool {
        false
    }
}

fn check(source: &str) -> (Option<Flow>, Vec<Diagnostic>) {
    validate::validate("t", source, &NoAudio)
}

fn flow(header: &str, steps: &str) -> String {
    format!(
        "[flow]\nlanguage = \"zh-CN\"\n{header}\n\n[[step]]\nid = \"hi\"\nsay = \"您好，通话可能会被录音。\"\n{steps}"
    )
}

/// Each error as (code, the text it points at, message).
fn errors<'a>(source: &'a str, diags: &[Diagnostic]) -> Vec<(&'static str, &'a str, String)> {
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code.as_str(), &source[d.span.clone()], d.message.clone()))
        .collect()
}

const FIXED: &str =
    "\n[[step]]\nid = \"fixed\"\nask = \"yes_no\"\nconfirms = true\nprompt = \"好了吗？\"\n";

#[test]
fn a_confirm_flow_and_its_delay_are_read_and_the_confirming_question_is_found() {
    let origin = flow(
        "confirm_flow = \"fix-confirmation\"\nconfirm_after = \"2h\"",
        "",
    );
    let confirming = flow("", FIXED);

    let (origin, _) = check(&origin);
    let (confirming, diags) = check(&confirming);

    let confirm = origin.unwrap().confirm.unwrap();
    assert_eq!(
        (confirm.flow.as_str(), confirm.after),
        ("fix-confirmation", Duration::from_secs(7200))
    );
    assert_eq!(
        confirming
            .unwrap_or_else(|| panic!("{diags:?}"))
            .confirms
            .as_deref(),
        Some("fixed")
    );
}

#[test]
fn a_bad_delay_a_delay_without_a_flow_and_a_misplaced_or_second_confirms_are_errors() {
    let bad_delay = flow(
        "confirm_flow = \"fix-confirmation\"\nconfirm_after = \"2 hours\"",
        "",
    );
    let lone_delay = flow("confirm_after = \"2h\"", "");
    let rating = "\n[[step]]\nid = \"csat\"\nask = \"rating\"\nscale = [1, 5]\nconfirms = true\nprompt = \"打分。\"\n";
    let misplaced = flow("", &format!("{FIXED}{rating}"));
    let twice = flow(
        "",
        &format!("{FIXED}{}", FIXED.replace("\"fixed\"", "\"again\"")),
    );

    let all: Vec<_> = [&bad_delay, &lone_delay, &misplaced, &twice]
        .into_iter()
        .map(|source| {
            let (flow, diags) = check(source);
            assert!(flow.is_none(), "{source}");
            errors(source, &diags)
        })
        .collect();

    assert_eq!(
        all[0],
        [(
            "E004",
            "\"2 hours\"",
            "`confirm_after` is not a duration".to_owned()
        )]
    );
    assert_eq!(
        all[1],
        [(
            "E003",
            "\"2h\"",
            "`confirm_after` needs a `confirm_flow`".to_owned()
        )]
    );
    assert_eq!(
        all[2],
        [(
            "E004",
            "true",
            "`confirms` is for a yes/no question".to_owned()
        )]
    );
    assert_eq!(
        all[3],
        [(
            "E004",
            "true",
            "a second question `confirms` the handoff".to_owned()
        )]
    );
}
