//! A caller waiting in a queue: what they hear each time the provider asks
//! (the queue's wait URL), and when the wait is over. Pure like the
//! machine: the time waited comes from the provider's `QueueTime`, never a
//! clock, and nothing here changes the call — leaving the queue makes the
//! provider request the queue's action, which moves the call on.

use super::event::{Hold, Prompt};
use super::machine::{At, Call};
use super::model::{Flow, StepKind};
use super::phrases::{self, Lang};

/// Longest silence in one wait document. The provider asks again when a
/// document ends, so this bounds how late past `max_wait` the caller
/// leaves, and how often they hear the hold prompt again.
pub const HOLD_CHUNK_SECS: u32 = 20;

impl Call {
    /// What a caller queued at wait `seq` hears after `queue_secs` in the
    /// queue, at `position` (1 is next) if the provider said.
    pub fn hold(&self, flow: &Flow, seq: u32, queue_secs: u32, position: Option<u32>) -> Hold {
        let At::Transfer { step } = &self.at else {
            return Hold::Leave;
        };
        let Some(step) = flow.step_index(step).map(|i| &flow.steps[i]) else {
            return Hold::Leave;
        };
        let StepKind::Transfer(t) = &step.kind else {
            return Hold::Leave;
        };
        // A wait URL from an earlier transfer of this call is not this wait.
        if seq != self.seq || queue_secs >= t.max_wait_secs {
            return Hold::Leave;
        }
        let lang = Lang::of(&step.language);
        let mut prompts = vec![match &t.hold {
            Some(speech) => self.render(flow, step, speech),
            None => Prompt::Say {
                text: phrases::please_hold(lang).into(),
                language: step.language.clone(),
            },
        }];
        if let (true, Some(n)) = (t.announce_position, position.filter(|n| *n > 0)) {
            prompts.push(Prompt::Say {
                text: phrases::queue_position(lang, n),
                language: step.language.clone(),
            });
        }
        Hold::Wait {
            prompts,
            pause_secs: (t.max_wait_secs - queue_secs).min(HOLD_CHUNK_SECS),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::flow::diagnostic::Code;
    use crate::flow::event::{HandoffReason, Input, Output, TransferResult};
    use crate::flow::model::Outcome;
    use crate::flow::validate::{Resources, validate};

    struct NoAudio;
    impl Resources for NoAudio {
        fn audio_exists(&self, _: &str) -> bool {
            false
        }
    }

    fn source_with(transfer: &str) -> String {
        format!(
            r#"
[flow]
language = "zh-CN"

[vars]
name = "text"

[[step]]
id = "handoff"
say = "正在为您转接。"
{transfer}
hours = "Mon-Fri 09:00-18:00 Asia/Shanghai"
unavailable = "ticket"

[[step]]
id = "ticket"
say = "现在没有客服。"
end = "ticket"
"#
        )
    }

    fn flow_with(transfer: &str) -> (Option<Flow>, Vec<crate::flow::diagnostic::Diagnostic>) {
        validate("t", &source_with(transfer), &NoAudio)
    }

    fn queue_flow() -> Flow {
        let (flow, diags) = flow_with(
            "transfer = \"queue:support\"\nmax_wait = \"45s\"\nhold = \"{{name}}，请稍候。\"\nannounce_position = true",
        );
        flow.unwrap_or_else(|| panic!("{diags:?}"))
    }

    /// Monday 11:00 and Saturday 11:00 in Shanghai.
    fn office() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap()
    }
    fn weekend() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap()
    }

    fn said(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Prompt(Prompt::Say { text, .. }) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn caller() -> Call {
        Call::new(BTreeMap::from([("name".into(), "王先生".into())]))
    }

    #[test]
    fn a_queued_caller_hears_the_hold_prompt_until_the_maximum_wait_then_leaves() {
        let flow = queue_flow();
        let mut call = caller();
        let out = call.handle(&flow, Input::Answered, office());
        assert_eq!(said(&out), ["正在为您转接。"]);
        let Some(Output::Transfer(spec)) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(spec.max_wait_secs, 45);
        let say = |text: &str| Prompt::Say {
            text: text.into(),
            language: "zh-CN".into(),
        };
        assert_eq!(
            call.hold(&flow, spec.seq, 0, Some(2)),
            Hold::Wait {
                prompts: vec![say("王先生，请稍候。"), say("您前面还有1位。")],
                pause_secs: HOLD_CHUNK_SECS,
            }
        );
        let Hold::Wait { pause_secs, .. } = call.hold(&flow, spec.seq, 40, None) else {
            panic!("still within the wait")
        };
        assert_eq!(pause_secs, 5, "the last pause ends at the maximum wait");
        assert_eq!(call.hold(&flow, spec.seq, 45, Some(1)), Hold::Leave);
        assert_eq!(call.hold(&flow, spec.seq - 1, 0, None), Hold::Leave);
        // <Leave/> makes the provider request the action with `leave`.
        let out = call.handle(
            &flow,
            Input::TransferEnded(TransferResult::NoAnswer),
            office(),
        );
        assert_eq!(said(&out), ["现在没有客服。"]);
        assert!(out.iter().any(|o| matches!(o,
            Output::Handoff(h) if h.reason == HandoffReason::NoAnswer)));
        assert_eq!(call.outcome(), Some(Outcome::Ticket));
        assert_eq!(call.hold(&flow, spec.seq, 0, None), Hold::Leave);
    }

    #[test]
    fn outside_hours_the_transfer_words_are_not_said() {
        let flow = queue_flow();
        let mut call = caller();
        let out = call.handle(&flow, Input::Answered, weekend());
        assert_eq!(said(&out), ["现在没有客服。"]);
        assert!(!out.iter().any(|o| matches!(o, Output::Transfer(_))));
        assert_eq!(call.outcome(), Some(Outcome::Ticket));
    }

    #[test]
    fn a_dialled_person_rings_for_the_default_maximum_wait() {
        let (flow, diags) = flow_with("transfer = \"+8610012345678\"");
        let flow = flow.unwrap_or_else(|| panic!("{diags:?}"));
        let out = caller().handle(&flow, Input::Answered, office());
        let Some(Output::Transfer(spec)) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(spec.max_wait_secs, 90);
    }

    #[test]
    fn a_bad_maximum_wait_or_hold_on_a_dial_is_a_spanned_error() {
        for (keys, code, spanned) in [
            (
                "transfer = \"queue:q\"\nmax_wait = \"11m\"",
                Code::InvalidValue,
                "\"11m\"",
            ),
            (
                "transfer = \"queue:q\"\nmax_wait = \"soon\"",
                Code::InvalidValue,
                "\"soon\"",
            ),
            (
                "transfer = \"queue:q\"\nmax_wait = \"2s\"",
                Code::InvalidValue,
                "\"2s\"",
            ),
            (
                "transfer = \"+8610012345678\"\nhold = \"请稍候\"",
                Code::ConflictingKeys,
                "\"请稍候\"",
            ),
        ] {
            let (flow, diags) = flow_with(keys);
            assert!(flow.is_none(), "{keys}");
            let d = diags
                .iter()
                .find(|d| d.code == code)
                .unwrap_or_else(|| panic!("{keys}: {diags:?}"));
            assert_eq!(&source_with(keys)[d.span.clone()], spanned, "{d:?}");
        }
    }
}
