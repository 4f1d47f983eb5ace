//! Cohort campaigns: everyone whose earlier call of one flow matches a
//! condition becomes a contact of a new campaign (`dialback campaign create
//! --from-calls wallet-followup --where 'resolved == no' --since …`).
//!
//! The condition is the flow language's own (`flow::condition`), checked
//! against the *source* flow's answers before anything is read, with a
//! `--where:LINE:COLUMN:` diagnostic. The calls are read page by page
//! ([`crate::store::ReportStore::export_page`]: two statements per 500
//! calls, never one per call) and the condition is evaluated here, in Rust,
//! so it means exactly what it means in a flow's `branch`. Only calls with
//! at least one answer are considered: a call nobody picked up matches no
//! condition, not even `not resolved`.
//!
//! Each contact is linked to the call it follows up
//! (`contacts.follows_call_sid`, taken over by the call placed to it) and
//! carries that call's answers and date as `previous.*` variables
//! ([`super::previous`]).
//!
//! Who is chosen: per customer phone, the latest call in the period that
//! matches. A phone on the do-not-call list is left out (and the dialer
//! checks the list again before each call), and so is a call whose number
//! was purged.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::flow::Flow;
use crate::flow::condition::{self, Condition, Lookup};
use crate::flow::model::AnswerType;
use crate::flow::value::Value;
use crate::store::campaigns::NewContact;
use crate::store::reports::{ExportCall, ExportCursor, ReportFilter};
use crate::store::{AnswerRow, CallRow, FollowUp, Store, StoreResult};

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
    /// The source flow's questions whose answers are a caller's own words
    /// or voice: they may decide who is chosen, but are never shown as an
    /// example nor copied into the new contact.
    pub spoken: BTreeSet<String>,
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
            spoken: source.spoken_questions(),
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

/// Refuses a flow to call with that needs a variable a cohort cannot give:
/// its contacts have only the earlier call's `previous.*` (as a CSV import
/// refuses a file without a column the flow needs). A variable with a
/// default is fine.
pub fn check_target(target: &Flow) -> Result<(), String> {
    let missing: Vec<&str> = target
        .vars
        .iter()
        .filter(|v| v.default.is_none() && !v.name.starts_with("previous."))
        .map(|v| v.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "flow `{}` needs {} for every contact, which a cohort of earlier calls does not give \
         (its contacts carry only `previous.*`); give {} a default under `[vars]`",
        target.name,
        missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    ))
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

/// One person chosen: their latest matching call and its answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// E.164: the number called (outbound) or calling (inbound).
    pub phone: String,
    pub call: CallRow,
    pub answers: Vec<AnswerRow>,
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

/// A call's answers as the condition reads them: each question's last
/// answer, as in the call itself and in reports.
struct Answers(BTreeMap<String, Value>);

impl Answers {
    fn of(answers: &[AnswerRow]) -> Answers {
        Answers(
            answers
                .iter()
                .filter_map(|a| {
                    let value = serde_json::from_value::<Value>(a.value.clone()).ok()?;
                    Some((a.question.clone(), value))
                })
                .collect(),
        )
    }
}

impl Lookup for Answers {
    fn value(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
}

/// The customer's number: the one called, or the one calling.
fn customer(call: &CallRow) -> &str {
    match call.direction {
        crate::store::Direction::Outbound => &call.to,
        crate::store::Direction::Inbound => &call.from,
    }
}

impl Selector {
    /// Offers one call; a later matching call of the same phone replaces
    /// an earlier one. A call without answers is skipped.
    pub fn offer(&mut self, condition: &Condition, call: &ExportCall) {
        if call.answers.is_empty() {
            return;
        }
        self.calls_read += 1;
        if !condition.eval(&Answers::of(&call.answers)) {
            return;
        }
        self.calls_matched += 1;
        let phone = customer(&call.call);
        // A purged call has no number left to call.
        if phone.is_empty() {
            return;
        }
        match self.latest.get(phone) {
            Some(seen) if seen.call.started_at > call.call.started_at => {}
            _ => {
                let mut row = call.call.clone();
                // The last TwiML is not needed here; a large cohort should
                // not hold one per person.
                row.response = String::new();
                self.latest.insert(
                    phone.to_owned(),
                    Chosen {
                        phone: phone.to_owned(),
                        call: row,
                        answers: call.answers.clone(),
                    },
                );
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

/// One chosen person as a dry run shows them: the number masked, the date
/// of the earlier call, and its answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Example {
    pub phone: String,
    pub call_sid: String,
    pub called_at: DateTime<Utc>,
    /// `resolved=false csat=2`, in question order of the call.
    pub answers: String,
}

impl Cohort {
    /// Drops the answers of `questions` from everyone chosen, once they
    /// have been chosen: what a caller said in their own words is personal
    /// data, for neither a dry run's examples nor the new contact's
    /// variables (which no purge reaches).
    pub fn forget(&mut self, questions: &BTreeSet<String>) {
        for c in &mut self.chosen {
            c.answers.retain(|a| !questions.contains(&a.question));
        }
    }

    /// The first `n` chosen, for a dry run: never a full number.
    pub fn examples(&self, n: usize) -> Vec<Example> {
        self.chosen
            .iter()
            .take(n)
            .map(|c| Example {
                phone: crate::phone::PhoneNumber::parse(&c.phone)
                    .map_or_else(|_| "****".to_owned(), |p| p.masked()),
                call_sid: c.call.call_sid.to_string(),
                called_at: c.call.started_at,
                answers: c
                    .answers
                    .iter()
                    .map(|a| format!("{}={}", a.question, a.value))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect()
    }

    /// The summary a dry run and a creation print first.
    pub fn summary(&self, query: &CohortQuery) -> String {
        format!(
            "{} contacts match `{}` in {} ({} calls read, {} matching, {} on the do-not-call list left out)",
            self.chosen.len(),
            query.text,
            query.flow,
            self.calls_read,
            self.calls_matched,
            self.opted_out
        )
    }
}

/// How many chosen people a dry run shows.
pub const EXAMPLES: usize = 5;

/// A cohort campaign as created: an ordinary campaign of `target` (its
/// windows, pacing, retries and opt-out check at dial time apply) whose
/// contacts are the cohort, each linked to the call it follows up.
pub struct NewCohortCampaign<'a> {
    pub name: String,
    pub target: &'a Flow,
    /// The scheduler's plan, as JSON.
    pub plan: serde_json::Value,
    /// The plan's zone: contacts made here have none of their own, so
    /// `previous.date` is the earlier call's day there.
    pub zone: chrono_tz::Tz,
    pub created_at: DateTime<Utc>,
}

/// Creates the campaign (a draft) and its contacts; returns its id.
pub async fn create(
    store: &dyn Store,
    campaign: NewCohortCampaign<'_>,
    cohort: &Cohort,
) -> StoreResult<i64> {
    let campaigns = store.campaigns();
    let id = campaigns
        .create_campaign(crate::store::campaigns::NewCampaign {
            name: campaign.name,
            flow: campaign.target.name.clone(),
            plan: campaign.plan,
            created_at: campaign.created_at,
        })
        .await?;
    let mut contacts = Vec::with_capacity(cohort.chosen.len());
    for c in &cohort.chosen {
        // The person's own zone, from the contact their earlier call was
        // placed to, so the re-call rings inside *their* calling window (an
        // inbound caller has none: the campaign's). One indexed read per
        // person chosen, once, when the campaign is made.
        let own = campaigns
            .contact_for_call(c.call.call_sid.as_str())
            .await?
            .and_then(|contact| contact.timezone);
        contacts.push(contact_for(c, own, campaign.zone));
    }
    campaigns.add_contacts(id, &contacts).await?;
    Ok(id)
}

/// A chosen person as a contact: no variables but the earlier call's
/// (`previous.*`, which the target flow declares in `[vars]`), linked to
/// that call, in their own time zone `own` when the earlier call's contact
/// had one (else the campaign's `zone`), which `previous.date` is written in.
fn contact_for(chosen: &Chosen, own: Option<String>, zone: chrono_tz::Tz) -> NewContact {
    let date_zone = own.as_deref().and_then(|z| z.parse().ok()).unwrap_or(zone);
    let previous = super::previous::previous_vars(&chosen.call, &chosen.answers, date_zone);
    NewContact {
        phone: chosen.phone.clone(),
        vars: super::previous::with_previous(serde_json::json!({}), previous),
        timezone: own,
        next_at: None,
        follows: Some(FollowUp {
            call: chosen.call.call_sid.clone(),
            handoff: None,
        }),
    }
}

/// Reads the source calls page by page and selects the cohort.
pub async fn find(store: &dyn Store, query: &CohortQuery) -> StoreResult<Cohort> {
    let reports = store.reports();
    let filter = query.filter();
    let mut selector = Selector::default();
    let mut after: Option<ExportCursor> = None;
    loop {
        let page = reports.export_page(&filter, after.as_ref(), PAGE).await?;
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
    let mut cohort = selector.finish(&opted_out);
    cohort.forget(&query.spoken);
    Ok(cohort)
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

    fn call(sid: &str, phone: &str, day: u32, resolved: bool) -> ExportCall {
        let call_sid = crate::store::CallSid::parse(&format!("CA{sid:0>32}")).unwrap();
        ExportCall {
            call: CallRow {
                call_sid: call_sid.clone(),
                flow: "wallet-followup".into(),
                flow_hash: "h".into(),
                direction: crate::store::Direction::Outbound,
                from: "+861000000001".into(),
                to: phone.into(),
                status: crate::store::CallStatus::Completed,
                outcome: None,
                state: String::new(),
                seq: 3,
                response: String::new(),
                started_at: at(day),
                ended_at: None,
                follows: None,
            },
            answers: vec![AnswerRow {
                call_sid,
                seq: 2,
                question: "resolved".into(),
                value: json!(resolved),
                raw: None,
                confidence: None,
                attempt: 1,
                answered_at: at(day),
            }],
            recordings: Vec::new(),
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
            .map(|c| (c.phone.as_str(), c.call.started_at))
            .collect();
        assert_eq!(chosen, [("+8613800000001", at(3))]);
        assert_eq!(
            (cohort.calls_read, cohort.calls_matched, cohort.opted_out),
            (6, 4, 1)
        );
        let contact = contact_for(&cohort.chosen[0], None, chrono_tz::Asia::Shanghai);
        assert_eq!(
            contact.follows.map(|f| f.call.to_string()),
            Some(format!("CA{:0>32}", "2"))
        );
        assert_eq!(contact.vars["previous.resolved"], json!("no"));
        assert_eq!(contact.vars["previous.date"], json!("2026-11-03"));
        assert_eq!(contact.timezone, None, "the campaign's zone");

        // 10:00 UTC on the 3rd is already the 4th on Kiritimati (UTC+14).
        let own = Some("Pacific/Kiritimati".to_owned());
        let contact = contact_for(&cohort.chosen[0], own.clone(), chrono_tz::Asia::Shanghai);
        assert_eq!(contact.timezone, own, "called inside their own window");
        assert_eq!(contact.vars["previous.date"], json!("2026-11-04"));
    }

    #[test]
    fn what_a_caller_said_chooses_them_but_is_neither_shown_nor_copied() {
        let (src, diags) = crate::flow::validate::validate(
            "wallet-followup",
            r#"
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
id = "why"
ask = "speech"
prompt = "请说说原因。"

[[step]]
id = "bye"
say = "再见。"
end = "completed"
"#,
            &NoAudio,
        );
        let src = src.unwrap_or_else(|| panic!("the test flow is valid: {diags:?}"));
        let q = CohortQuery::parse("--where", "resolved == no", &src, at(1), None).unwrap();
        assert_eq!(q.spoken, BTreeSet::from(["why".to_owned()]));
        let mut c = call("1", "+8613800000001", 2, false);
        let mut said = c.answers[0].clone();
        said.question = "why".into();
        said.value = json!("我叫张三，卡号6222020200112233445");
        c.answers.push(said);
        let mut s = Selector::default();
        s.offer(&q.condition, &c);
        let mut cohort = s.finish(&HashSet::new());
        cohort.forget(&q.spoken);
        assert_eq!(cohort.examples(5)[0].answers, "resolved=false");
        let contact = contact_for(&cohort.chosen[0], None, chrono_tz::Asia::Shanghai);
        assert!(
            contact.vars.get("previous.why").is_none(),
            "{:?}",
            contact.vars
        );
        assert_eq!(contact.vars["previous.resolved"], json!("no"));
    }

    #[test]
    fn a_call_nobody_answered_matches_not_even_a_negation() {
        let q = query("not resolved").unwrap();
        let mut s = Selector::default();
        let mut unanswered = call("1", "+8613800000001", 2, false);
        unanswered.answers.clear();
        s.offer(&q.condition, &unanswered);
        assert!(s.finish(&HashSet::new()).chosen.is_empty());
    }

    #[test]
    fn a_flow_needing_a_variable_without_a_default_cannot_be_called_from_calls() {
        let mut target = flow();
        target.vars.push(crate::flow::model::Var {
            name: "name".into(),
            kind: crate::flow::model::VarKind::Text,
            default: None,
        });
        let err = check_target(&target).unwrap_err();
        assert!(
            err.starts_with("flow `wallet-followup` needs `name` for every contact"),
            "{err}"
        );
        target.vars[0].default = Some(String::new());
        assert_eq!(check_target(&target), Ok(()));
    }

    #[test]
    fn a_skipped_question_never_matches_a_comparison() {
        let q = query("csat <= 2").unwrap();
        let mut s = Selector::default();
        s.offer(&q.condition, &call("1", "+8613800000001", 2, false));
        assert!(s.finish(&HashSet::new()).chosen.is_empty());
    }
}
