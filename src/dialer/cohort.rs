//! Cohort campaigns: everyone whose earlier call of one flow matches a
//! condition becomes a contact of a new campaign (`dialback campaign create
//! --from-calls wallet-followup --where 'resolved == no' --since …`).
//!
//! The condition is the flow language's own (`flow::condition`), checked
//! against the *source* flow's answers before anything is read, with a
//! `--where:LINE:COLUMN:` diagnostic. The calls are read page by page
//! ([`crate::store::ReportStore::answered_page`]: two statements per 500
//! calls, never one per call) and the condition is evaluated here, in Rust,
//! so it means exactly what it means in a flow's `branch`.
//!
//! Who is chosen: per customer phone, the latest call in the period that
//! matches. A phone on the do-not-call list is left out (and the dialer
//! checks the list again before each call), and so is a call whose number
//! was purged.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::flow::Flow;
use crate::flow::condition::{self, Condition, Lookup};
use crate::flow::model::AnswerType;
use crate::flow::value::Value;
use crate::store::reports::{AnsweredCall, ExportCursor, ReportFilter};
use crate::store::{CallSid, Store, StoreResult};

/// Calls read from the store at a time.
const PAGE: i64 = 500;

/// Which earlier calls a cohort is drawn from.
#[derive(Debug, Clone)]
pub struct CohortQuery {
    /// The source flow's name.
    pub flow: String,
    /// The condition as written, and parsed against the source flow.
    pub text: String,
    pub condition: Condition,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl CohortQuery {
    /// Parses `text` against `source`'s answers; the error is a diagnostic
    /// naming `label` (`--where`, `where`) with line and column, a caret
    /// under the problem, and a hint.
    pub fn parse(
        label: &str,
        text: &str,
        source: &Flow,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<CohortQuery, String> {
        let names: BTreeMap<String, AnswerType> = source
            .questions()
            .map(|(step, q)| (step.id.clone(), q.kind.answer_type()))
            .collect();
        let condition = condition::parse(text, &names)
            .map_err(|e| diagnostic(label, text, &source.name, &e))?;
        if until.is_some_and(|u| u <= since) {
            return Err(format!(
                "the period is empty: --until {} is not after --since {}",
                until.map(|u| u.to_rfc3339()).unwrap_or_default(),
                since.to_rfc3339()
            ));
        }
        Ok(CohortQuery {
            flow: source.name.clone(),
            text: text.to_owned(),
            condition,
            since,
            until,
        })
    }

    fn filter(&self) -> ReportFilter {
        ReportFilter {
            flow: self.flow.clone(),
            flow_hash: None,
            since: Some(self.since),
            until: self.until,
            campaign: None,
        }
    }
}

/// `--where:1:12: no answer or variable is called `resolvd` in
/// wallet-followup; did you mean `resolved`?`, then the text with a caret.
/// The expression is one line, so the line is always 1; the column counts
/// characters from 1, as `dialback check` does.
fn diagnostic(label: &str, text: &str, flow: &str, e: &condition::ConditionError) -> String {
    let column = |at: usize| {
        text.get(..at.min(text.len()))
            .map_or(0, |t| t.chars().count())
    };
    let start = column(e.at.start);
    let width = column(e.at.end).saturating_sub(start).max(1);
    let mut out = format!("{label}:1:{}: {} in {flow}", start + 1, e.message);
    if let Some(hint) = &e.hint {
        out.push_str(&format!("; {hint}"));
    }
    out.push_str(&format!(
        "\n  {text}\n  {}{}",
        " ".repeat(start),
        "^".repeat(width)
    ));
    out
}

/// One person chosen: their latest matching call.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// E.164, as the call row holds it.
    pub phone: String,
    pub call_sid: CallSid,
    pub started_at: DateTime<Utc>,
    /// The call's answers, each question's last answer.
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// What a cohort query found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cohort {
    /// Everyone to call, in phone order.
    pub chosen: Vec<Chosen>,
    /// Calls with answers read in the period.
    pub calls_read: u64,
    /// Calls that matched the condition (a person may have several).
    pub calls_matched: u64,
    /// People who matched but are on the do-not-call list.
    pub opted_out: u64,
}

/// The pure core: calls go in (oldest first), the cohort comes out.
#[derive(Debug, Default)]
pub struct Selector {
    latest: HashMap<String, Chosen>,
    calls_read: u64,
    calls_matched: u64,
}

/// A call's answers as the condition reads them.
struct Answers<'a>(&'a BTreeMap<String, serde_json::Value>);

impl Lookup for Answers<'_> {
    fn value(&self, name: &str) -> Option<Value> {
        self.0
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

impl Selector {
    /// Offers one call; a later matching call of the same phone replaces
    /// an earlier one.
    pub fn offer(&mut self, condition: &Condition, call: &AnsweredCall) {
        self.calls_read += 1;
        // The last answer to each question is the one that counts, as in reports.
        let answers: BTreeMap<String, serde_json::Value> = call.answers.iter().cloned().collect();
        if !condition.eval(&Answers(&answers)) {
            return;
        }
        self.calls_matched += 1;
        // A purged call has no number left to call.
        if call.customer.is_empty() {
            return;
        }
        let chosen = Chosen {
            phone: call.customer.clone(),
            call_sid: call.call_sid.clone(),
            started_at: call.started_at,
            answers,
        };
        match self.latest.get(&call.customer) {
            Some(seen) if seen.started_at > call.started_at => {}
            _ => {
                self.latest.insert(call.customer.clone(), chosen);
            }
        }
    }

    /// The cohort, without the phones on the do-not-call list.
    pub fn finish(self, opted_out: &HashSet<String>) -> Cohort {
        let mut chosen: Vec<Chosen> = Vec::with_capacity(self.latest.len());
        let mut left_out = 0;
        for (phone, c) in self.latest {
            if opted_out.contains(&phone) {
                left_out += 1;
            } else {
                chosen.push(c);
            }
        }
        chosen.sort_by(|a, b| a.phone.cmp(&b.phone));
        Cohort {
            chosen,
            calls_read: self.calls_read,
            calls_matched: self.calls_matched,
            opted_out: left_out,
        }
    }
}

/// Reads the source calls page by page and selects the cohort.
pub async fn find(store: &dyn Store, query: &CohortQuery) -> StoreResult<Cohort> {
    let reports = store.reports();
    let filter = query.filter();
    let mut selector = Selector::default();
    let mut after: Option<ExportCursor> = None;
    loop {
        let page = reports.answered_page(&filter, after.as_ref(), PAGE).await?;
        for call in &page {
            selector.offer(&query.condition, call);
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = Some(last.cursor()),
            _ => break,
        }
    }
    let opted_out: HashSet<String> = reports
        .opt_outs()
        .await?
        .into_iter()
        .map(|o| o.phone)
        .collect();
    Ok(selector.finish(&opted_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoAudio;

    impl crate::flow::validate::Resources for NoAudio {
        fn audio_exists(&self, _: &str) -> bool {
            false
        }
    }

    fn flow() -> Flow {
        let src = r#"
[flow]
language = "zh-CN"

[[step]]
id = "intro"
say = "您好，这里是示例钱包的回访电话。"

[[step]]
id = "resolved"
ask = "yes_no"
prompt = "解决了吗？"

[[step]]
id = "csat"
ask = "rating"
scale = [1, 5]
prompt = "请打分。"

[[step]]
id = "bye"
say = "再见。"
end = "completed"
"#;
        let (flow, diags) = crate::flow::validate::validate("wallet-followup", src, &NoAudio);
        flow.unwrap_or_else(|| panic!("the test flow is valid: {diags:?}"))
    }

    fn at(day: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, day, 10, 0, 0).unwrap()
    }

    fn call(sid: &str, phone: &str, day: u32, resolved: bool) -> AnsweredCall {
        AnsweredCall {
            call_sid: CallSid::parse(&format!("CA{sid:0>32}")).unwrap(),
            started_at: at(day),
            customer: phone.into(),
            answers: vec![("resolved".into(), json!(resolved))],
        }
    }

    fn query(text: &str) -> Result<CohortQuery, String> {
        CohortQuery::parse("--where", text, &flow(), at(1), None)
    }

    #[test]
    fn a_misspelt_answer_is_named_with_its_column_and_the_closest_name() {
        let err = query("resolvd == no").unwrap_err();
        assert_eq!(
            err,
            "--where:1:1: no answer or variable is called `resolvd` in wallet-followup; \
             did you mean `resolved`?\n  resolvd == no\n  ^^^^^^^"
        );
        let err = query("csat <= 2 and resolvd").unwrap_err();
        assert!(err.starts_with("--where:1:15: "), "{err}");
    }

    #[test]
    fn each_phone_is_chosen_once_by_its_latest_matching_call() {
        let q = query("resolved == no").unwrap();
        let mut s = Selector::default();
        for c in [
            call("1", "+8613800000001", 2, false),
            call("2", "+8613800000001", 3, false),
            call("3", "+8613800000001", 4, true),
            call("4", "+8613800000002", 2, true),
            call("5", "+8613800000003", 5, false),
            call("6", "", 5, false),
        ] {
            s.offer(&q.condition, &c);
        }
        let opted_out = HashSet::from(["+8613800000003".to_owned()]);
        let cohort = s.finish(&opted_out);
        let chosen: Vec<(&str, DateTime<Utc>)> = cohort
            .chosen
            .iter()
            .map(|c| (c.phone.as_str(), c.started_at))
            .collect();
        assert_eq!(chosen, [("+8613800000001", at(3))]);
        assert_eq!(
            (cohort.calls_read, cohort.calls_matched, cohort.opted_out),
            (6, 4, 1)
        );
    }

    #[test]
    fn a_skipped_question_never_matches_a_comparison() {
        let q = query("csat <= 2").unwrap();
        let mut s = Selector::default();
        s.offer(&q.condition, &call("1", "+8613800000001", 2, false));
        assert!(s.finish(&HashSet::new()).chosen.is_empty());
    }
}
