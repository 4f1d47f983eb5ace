//! An earlier call as variables of a follow-up: `previous.<answer>` for
//! each answer the person gave and `previous.date` for the day of the call,
//! written into the follow-up contact's `vars` when the contact is made
//! (a confirmation call after a resolved ticket, a cohort re-call).
//!
//! Why materialised at creation rather than looked up when the call starts:
//! the contact then reads like any other (its variables are all in one
//! place, the dashboard and exports show them), and a purge of the earlier
//! call later does not change what the follow-up says.
//!
//! Pure: the call, its answers and the zone come in as arguments.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use crate::flow::value::Value;
use crate::store::{AnswerRow, CallRow};

/// The prefix of every variable made here.
pub const PREFIX: &str = "previous";

/// The earlier call's answers and date as flow variables, in the contact's
/// time zone (or, when it has none, the zone the caller of this names: the
/// campaign's). Also the earlier call's own contact variables
/// (`previous.name`), so a follow-up can say what the first call was about;
/// an answer of the same name wins over a variable.
///
/// Values as the call machine prints them: yes/no answers `yes` / `no`,
/// numbers as digits, menu choices as their value, the date as
/// `YYYY-MM-DD`. Recordings are left out (a URL is nothing to say, and the
/// recording is personal data). When a question was answered twice (a
/// repeat), the last answer counts, as in the call itself.
pub fn previous_vars(call: &CallRow, answers: &[AnswerRow], zone: Tz) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = call_vars(&call.state)
        .into_iter()
        .map(|(k, v)| (format!("{PREFIX}.{k}"), v))
        .collect();
    for answer in answers {
        let text = match serde_json::from_value::<Value>(answer.value.clone()) {
            Ok(Value::Recording { .. }) => continue,
            Ok(value) => value.to_string(),
            // An answer the machine did not write (a newer build's shape):
            // its JSON text rather than nothing.
            Err(_) => answer.value.to_string(),
        };
        vars.insert(format!("{PREFIX}.{}", answer.question), text);
    }
    let date = call.started_at.with_timezone(&zone).format("%Y-%m-%d");
    vars.insert(format!("{PREFIX}.date"), date.to_string());
    vars
}

/// The contact variables the earlier call ran with, from its stored state;
/// none for a purged call (its state is gone) or a state without them.
fn call_vars(state: &str) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize)]
    struct State {
        #[serde(default)]
        vars: BTreeMap<String, String>,
    }
    serde_json::from_str::<State>(state)
        .map(|s| s.vars)
        .unwrap_or_default()
        .into_iter()
        // A variable that is itself from an earlier call stays with it:
        // `previous.previous.csat` would be a name no flow can declare.
        .filter(|(k, _)| !k.contains('.'))
        .collect()
}

/// The variables of a contact that follows `call` up with the same person
/// (a confirmation call): the earlier call's own contact variables
/// (`name`), so the follow-up greets them alike, and the earlier call as
/// [`previous_vars`].
pub fn follow_up_vars(call: &CallRow, answers: &[AnswerRow], zone: Tz) -> serde_json::Value {
    let own = call_vars(&call.state)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    with_previous(
        serde_json::Value::Object(own),
        previous_vars(call, answers, zone),
    )
}

/// `vars` (a contact's variables, a JSON object) with the earlier call's
/// added; a variable the contact already has is replaced.
pub fn with_previous(
    vars: serde_json::Value,
    previous: BTreeMap<String, String>,
) -> serde_json::Value {
    let mut object = match vars {
        serde_json::Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    for (k, v) in previous {
        object.insert(k, serde_json::Value::String(v));
    }
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::store::{CallSid, CallStatus, Direction};

    fn call(state: &str) -> CallRow {
        CallRow {
            call_sid: CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap(),
            flow: "wallet-followup".into(),
            flow_hash: "h".into(),
            direction: Direction::Outbound,
            from: "+861000000001".into(),
            to: "+8613800138000".into(),
            status: CallStatus::Completed,
            outcome: None,
            state: state.into(),
            seq: 9,
            response: String::new(),
            // 23:30 UTC on 2 November is 07:30 on 3 November in Shanghai.
            started_at: Utc.with_ymd_and_hms(2026, 11, 2, 23, 30, 0).unwrap(),
            ended_at: None,
            follows: None,
        }
    }

    fn answer(question: &str, value: serde_json::Value, seq: i64) -> AnswerRow {
        AnswerRow {
            call_sid: CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap(),
            seq,
            question: question.into(),
            value,
            raw: None,
            confidence: None,
            attempt: 1,
            answered_at: Utc.with_ymd_and_hms(2026, 11, 2, 23, 31, 0).unwrap(),
        }
    }

    #[test]
    fn answers_and_the_date_become_previous_variables_in_the_contacts_zone() {
        let answers = [
            answer("resolved", json!(false), 3),
            answer("csat", json!(2), 4),
            answer("feature", json!("so_so"), 5),
            answer(
                "suggestion",
                json!({"url": "https://r/1", "duration_secs": 4}),
                6,
            ),
        ];
        let state = r#"{"vars": {"name": "张三", "issue": "转账失败"}, "step": 3}"#;

        let vars = previous_vars(&call(state), &answers, chrono_tz::Asia::Shanghai);

        let want: BTreeMap<String, String> = [
            ("previous.csat", "2"),
            ("previous.date", "2026-11-03"),
            ("previous.feature", "so_so"),
            ("previous.issue", "转账失败"),
            ("previous.name", "张三"),
            ("previous.resolved", "no"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(vars, want);
        let utc = previous_vars(&call(state), &answers, chrono_tz::UTC);
        assert_eq!(utc["previous.date"], "2026-11-02");
    }

    #[test]
    fn the_last_answer_to_a_repeated_question_counts_and_a_purged_state_gives_no_variables() {
        let answers = [answer("csat", json!(2), 4), answer("csat", json!(4), 7)];

        let vars = previous_vars(&call("{}"), &answers, chrono_tz::UTC);

        assert_eq!(vars.len(), 2, "{vars:?}");
        assert_eq!(vars["previous.csat"], "4");
    }

    #[test]
    fn a_follow_up_of_the_same_person_keeps_their_variables_beside_the_previous_ones() {
        let state = r#"{"vars": {"name": "张三"}}"#;

        let vars = follow_up_vars(
            &call(state),
            &[answer("resolved", json!(false), 3)],
            chrono_tz::Asia::Shanghai,
        );

        assert_eq!(
            vars,
            json!({
                "name": "张三",
                "previous.name": "张三",
                "previous.resolved": "no",
                "previous.date": "2026-11-03",
            })
        );
    }

    #[test]
    fn previous_variables_join_the_contacts_own_and_replace_a_stale_one() {
        let previous = [("previous.csat".to_string(), "2".to_string())].into();

        let vars = with_previous(json!({"name": "张三", "previous.csat": "5"}), previous);

        assert_eq!(vars, json!({"name": "张三", "previous.csat": "2"}));
    }
}
