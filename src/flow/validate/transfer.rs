//! A transfer step: its target, business hours, `unavailable` step and
//! how the wait for a person goes (`max_wait`, `hold`, `announce_position`).

use super::super::diagnostic::{Code, Diagnostic};
use super::super::hours::Hours;
use super::super::model::{Target, Transfer};
use super::super::syntax::{Sp, StepSyntax};
use super::Context;
use super::steps::resolve;

/// How long a transfer waits for a person when the flow does not say:
/// long enough for a free agent to pick up, short enough that a caller
/// nobody can take still hears the promised call-back.
const DEFAULT_MAX_WAIT_SECS: u32 = 90;

/// Twilio's `<Dial timeout>` accepts 5 to 600 seconds; a queue wait is
/// held to the same bounds so one setting means the same for both.
const MAX_WAIT_RANGE: std::ops::RangeInclusive<u32> = 5..=600;

pub(super) fn transfer(
    cx: &mut Context<'_>,
    s: &StepSyntax,
    target: &Sp<String>,
    ids: &[Option<Sp<String>>],
    name: &str,
) -> Option<Transfer> {
    let parsed = Target::parse(&target.value);
    if parsed.is_none() {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                target.span.clone(),
                format!("`{}` is not a transfer target", target.value),
            )
            .label("unknown kind of address")
            .hint("use queue:NAME, client:NAME, sip:USER@HOST or a +E.164 phone number"),
        );
    }
    let hours = match &s.hours {
        None => None,
        Some(h) => match Hours::parse(&h.value) {
            Ok(hours) => Some(hours),
            Err(why) => {
                cx.push(
                    Diagnostic::error(
                        Code::BadHours,
                        h.span.clone(),
                        "these business hours do not parse",
                    )
                    .label(why)
                    .hint("write them like \"Mon-Fri 09:00-18:00 Asia/Shanghai\""),
                );
                return None;
            }
        },
    };
    if s.unavailable.is_none() {
        cx.push(
            Diagnostic::error(
                Code::MissingKey,
                target.span.clone(),
                "a transfer needs an `unavailable` step",
            )
            .label("what if no one answers, or it is outside hours?")
            .hint("add `unavailable = \"ticket\"` naming a step that promises a call-back"),
        );
    }
    let unavailable = s.unavailable.as_ref().and_then(|u| resolve(ids, &u.value));
    let max_wait_secs = match &s.max_wait {
        None => DEFAULT_MAX_WAIT_SECS,
        Some(w) => max_wait(cx, w)?,
    };
    let queue = matches!(parsed, Some(Target::Queue(_)));
    for (key, span) in [
        ("hold", s.hold.as_ref().map(|v| v.span.clone())),
        ("hold_play", s.hold_play.as_ref().map(|v| v.span.clone())),
        (
            "announce_position",
            s.announce_position.as_ref().map(|v| v.span.clone()),
        ),
    ] {
        if let (Some(span), false) = (span, queue || parsed.is_none()) {
            cx.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    span,
                    format!("`{key}` only applies to a queue transfer"),
                )
                .label("a dialled person is heard ringing, not held")
                .hint("transfer to `queue:NAME`, or remove the key"),
            );
        }
    }
    if let (Some(text), Some(_)) = (&s.hold, &s.hold_play) {
        cx.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                text.span.clone(),
                "a transfer cannot have both `hold` and `hold_play`",
            )
            .label("one of them is never heard")
            .hint("keep the text or the audio file, not both"),
        );
    }
    let hold = match (&s.hold, &s.hold_play) {
        (Some(t), _) => Some(cx.text(&format!("{name}.hold"), t)?),
        (None, Some(p)) => Some(cx.audio(p)?),
        (None, None) => None,
    };
    Some(Transfer {
        target: parsed?,
        hours,
        unavailable,
        max_wait_secs,
        hold,
        announce_position: s.announce_position.as_ref().is_some_and(|b| b.value),
    })
}

/// `max_wait = "90s"` (or `"2m"`): seconds within what the provider accepts.
fn max_wait(cx: &mut Context<'_>, w: &Sp<String>) -> Option<u32> {
    let text = w.value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let secs = match (number.parse::<u32>(), unit) {
        (Ok(n), "s") => Some(n),
        (Ok(n), "m") => n.checked_mul(60),
        _ => None,
    };
    let Some(secs) = secs else {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                w.span.clone(),
                format!("`{}` is not a wait such as \"90s\" or \"2m\"", w.value),
            )
            .label("expected whole seconds (s) or minutes (m)")
            .hint("write it like max_wait = \"90s\""),
        );
        return None;
    };
    if !MAX_WAIT_RANGE.contains(&secs) {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                w.span.clone(),
                format!("`max_wait` must be from 5s to 10m, not {secs}s"),
            )
            .label("out of range")
            .hint("the provider rings for at most 600 seconds"),
        );
        return None;
    }
    Some(secs)
}
