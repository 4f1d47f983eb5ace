//! The dashboard's pages: the overview (per flow: reach, completion, the
//! drop-off funnel, every question's answers), the open-handoff queue,
//! recent calls, and one call's transcript. Phone numbers are masked as in
//! the exports.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::session::{SignedIn, html_headers, same_origin};
use super::view::{FlowView, flow_view};
use super::{PageError, recordings, render};
use crate::flow::Flow;
use crate::flow::model::Speech;
use crate::flow::value::Value;
use crate::http::AppState;
use crate::report::export::mask;
use crate::report::{FlowReport, QuestionSpec, parse_campaign, parse_optional_bound};
use crate::store::handoffs::Resolved;
use crate::store::{CallRow, CallSid, Direction, HandoffId, HandoffStatus, Outcome, ReportFilter};

/// Calls the recent-calls list shows.
const RECENT: i64 = 50;

/// The filter form, as typed: empty fields mean "any".
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(super) struct Filters {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The filter form, read.
struct Selection {
    flows: Vec<Arc<Flow>>,
    campaign: Option<i64>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl Filters {
    fn read(&self, state: &AppState) -> Result<Selection, PageError> {
        let flows = match self.flow.trim() {
            "" => state.inner.flows.values().cloned().collect(),
            name => vec![
                state
                    .flow(name)
                    .cloned()
                    .ok_or_else(|| PageError::BadRequest(format!("There is no flow {name:?}.")))?,
            ],
        };
        let campaign = parse_campaign(&self.campaign).map_err(PageError::BadRequest)?;
        let bound = |text: &str, is_until| {
            parse_optional_bound(text, is_until).map_err(PageError::BadRequest)
        };
        Ok(Selection {
            flows,
            campaign,
            since: bound(&self.from, false)?,
            until: bound(&self.to, true)?,
        })
    }
}

impl Selection {
    fn filter(&self, flow: &Flow) -> ReportFilter {
        ReportFilter {
            flow: flow.name.clone(),
            flow_hash: None,
            since: self.since,
            until: self.until,
            campaign: self.campaign,
        }
    }
}

/// The export URL for one flow under the page's filters (the API's names).
fn csv_url(flow: &str, f: &Filters) -> String {
    let pairs: Vec<(&str, &str)> = [
        ("since", f.from.trim()),
        ("until", f.to.trim()),
        ("campaign", f.campaign.trim()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let path = format!("/api/results/{}.csv", flow);
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

pub(super) fn flow_names(state: &AppState) -> Vec<String> {
    state.inner.flows.keys().cloned().collect()
}

/// Template data from anything serialisable (minijinja's `context!` takes
/// only its own value types directly).
pub(super) fn ser<T: Serialize>(value: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

fn page(name: &str, context: minijinja::Value) -> Result<Response, PageError> {
    Ok((html_headers(), render(name, context)?).into_response())
}

/// `GET /`: the overview.
pub(super) async fn overview(
    State(state): State<AppState>,
    _: SignedIn,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let selection = filters.read(&state)?;
    let mut views: Vec<FlowView> = Vec::new();
    for flow in &selection.flows {
        let questions = QuestionSpec::of(flow);
        let report = FlowReport::load(state.store(), &questions, &selection.filter(flow)).await?;
        let kinds: Vec<_> = questions.into_iter().map(|q| q.kind).collect();
        views.push(flow_view(&report, &kinds, csv_url(&flow.name, &filters)));
    }
    page(
        "overview.html",
        minijinja::context! {
            page => "overview",
            flows => ser(&views),
            filters => ser(&filters),
            flow_names => flow_names(&state),
        },
    )
}

/// One answer as the pages show it.
#[derive(Serialize)]
struct AnswerView {
    question: String,
    /// What was asked (the prompt's text, or its audio file).
    asked: String,
    answer: String,
    /// What the caller literally pressed or said.
    input: Option<String>,
    attempt: i32,
    at: String,
    /// A recorded answer: where it plays, its transcript, where it stands.
    recording: Option<recordings::RecordingView>,
}

/// How a call ended, or "unfinished".
pub(super) fn outcome_label(outcome: Option<Outcome>) -> String {
    outcome.map_or_else(|| "unfinished".into(), |o| o.as_str().into())
}

pub(super) fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The customer's number, masked: the one called, or the one calling.
pub(super) fn customer(call: &CallRow) -> String {
    match call.direction {
        Direction::Outbound => mask(&call.to),
        Direction::Inbound => mask(&call.from),
    }
}

fn prompt_of(flow: Option<&Arc<Flow>>, question: &str) -> String {
    let Some(flow) = flow else {
        return String::new();
    };
    let Some((_, q)) = flow.questions().find(|(s, _)| s.id == question) else {
        return String::new();
    };
    match &q.prompt {
        Speech::Text(name) => flow
            .templates
            .get_template(name)
            .map(|t| t.source().to_owned())
            .unwrap_or_default(),
        Speech::Audio(file) => format!("(audio {file})"),
    }
}

async fn answers_of(state: &AppState, call: &CallRow) -> Result<Vec<AnswerView>, PageError> {
    let flow = state.flow(&call.flow);
    let rows = state.store().answers(&call.call_sid).await?;
    let media = state
        .store()
        .recordings()
        .recordings_of(&call.call_sid)
        .await?;
    Ok(rows
        .into_iter()
        .map(|a| {
            let value = serde_json::from_value::<Value>(a.value.clone()).ok();
            let recording = match &value {
                Some(Value::Recording { url, sid, .. }) => {
                    let copy = sid
                        .as_deref()
                        .and_then(|sid| media.iter().find(|m| m.recording_sid == sid));
                    Some(recordings::view(state, url, copy))
                }
                _ => None,
            };
            let answer = match value {
                Some(Value::Recording { duration_secs, .. }) => {
                    format!("recording, {duration_secs} s")
                }
                Some(v) => v.to_string(),
                // Purged (free speech erased) or a kind this build cannot read.
                None if a.value.is_null() => "(erased)".to_owned(),
                None => a.value.to_string(),
            };
            AnswerView {
                asked: prompt_of(flow, &a.question),
                question: a.question,
                answer,
                input: a.raw,
                attempt: a.attempt,
                at: time(&a.answered_at),
                recording,
            }
        })
        .collect())
}

/// `GET /handoffs`: callers whose issue is still open — tickets never
/// resolved, and those the customer reopened in a confirmation call —
/// oldest first, with their answers and history, each with a "resolved"
/// button; then the resolved ones waiting for the customer's word.
pub(super) async fn handoffs(
    State(state): State<AppState>,
    _: SignedIn,
) -> Result<Response, PageError> {
    #[derive(Serialize)]
    struct HandoffView {
        id: i64,
        call_sid: String,
        flow: String,
        phone: String,
        target: String,
        reason: String,
        status: String,
        created_at: String,
        answers: Vec<AnswerView>,
        history: Vec<EventView>,
    }
    let store = state.store();
    let mut open = store.handoffs(Some(HandoffStatus::Open)).await?;
    open.extend(store.handoffs(Some(HandoffStatus::Reopened)).await?);
    // A queue is worked oldest first.
    open.sort_by_key(|h| (h.created_at, h.id));
    let mut waiting = store.handoffs(Some(HandoffStatus::Resolved)).await?;
    waiting.sort_by_key(|h| (h.created_at, h.id));
    let mut list = Vec::with_capacity(open.len());
    for h in open {
        let call = state.store().load_call(&h.call_sid).await?;
        let (phone, answers) = match &call {
            Some(call) => (customer(call), answers_of(&state, call).await?),
            None => (String::new(), Vec::new()),
        };
        list.push(HandoffView {
            id: h.id,
            call_sid: h.call_sid.to_string(),
            flow: h.flow,
            phone,
            target: h.target,
            reason: h.reason,
            status: h.status.to_string(),
            created_at: time(&h.created_at),
            answers,
            history: history_of(&state, h.id).await?,
        });
    }
    let mut resolved = Vec::with_capacity(waiting.len());
    for h in waiting {
        resolved.push(minijinja::context! {
            id => h.id,
            call_sid => h.call_sid.as_str(),
            flow => h.flow,
            resolved_at => h.resolved_at.as_ref().map(time),
            history => ser(&history_of(&state, h.id).await?),
        });
    }
    page(
        "handoffs.html",
        minijinja::context! { page => "handoffs", handoffs => ser(&list), resolved => resolved },
    )
}

/// One change in a handoff's history, as the pages show it.
#[derive(Serialize)]
struct EventView {
    status: String,
    /// Who: the caller, support, the customer.
    actor: String,
    /// The call it happened in (the confirmation call, for the customer).
    call_sid: Option<String>,
    at: String,
}

async fn history_of(state: &AppState, id: i64) -> Result<Vec<EventView>, PageError> {
    Ok(state
        .store()
        .handoff_log()
        .history(HandoffId(id))
        .await?
        .into_iter()
        .map(|e| EventView {
            status: e.status.to_string(),
            actor: e.actor.to_string(),
            call_sid: e.call_sid.map(|c| c.to_string()),
            at: time(&e.at),
        })
        .collect())
}

/// `POST /handoffs/{id}/resolve`: someone followed the caller up.
pub(super) async fn resolve(
    State(state): State<AppState>,
    ConnectInfo(peer): super::session::Peer,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    // A form post without a session is refused outright, not redirected:
    // the sign-in page could not resume it.
    if !super::is_signed_in(&state, &headers, peer) {
        return Err(PageError::Unauthorized);
    }
    same_origin(&state, &headers)?;
    if let Resolved::Resolved { .. } = state.calls().resolve_handoff(HandoffId(id)).await? {
        tracing::info!(handoff = id, "handoff resolved from the dashboard");
    }
    // Already resolved (two people clicked): the queue shows the truth.
    Ok(Redirect::to("/handoffs").into_response())
}

/// `GET /calls`: the newest calls under the filters.
pub(super) async fn calls(
    State(state): State<AppState>,
    _: SignedIn,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let selection = filters.read(&state)?;
    let mut rows: Vec<CallRow> = Vec::new();
    for flow in &selection.flows {
        let filter = selection.filter(flow);
        rows.extend(
            state
                .store()
                .reports()
                .recent_calls(&filter, RECENT)
                .await?,
        );
    }
    rows.sort_by(|a, b| (b.started_at, &b.call_sid).cmp(&(a.started_at, &a.call_sid)));
    rows.truncate(RECENT as usize);
    #[derive(Serialize)]
    struct CallLine {
        call_sid: String,
        flow: String,
        direction: String,
        phone: String,
        status: String,
        outcome: String,
        started_at: String,
    }
    let lines: Vec<CallLine> = rows
        .iter()
        .map(|c| CallLine {
            call_sid: c.call_sid.to_string(),
            flow: c.flow.clone(),
            direction: c.direction.to_string(),
            phone: customer(c),
            status: c.status.to_string(),
            outcome: outcome_label(c.outcome),
            started_at: time(&c.started_at),
        })
        .collect();
    page(
        "calls.html",
        minijinja::context! {
            page => "calls",
            calls => ser(&lines),
            filters => ser(&filters),
            flow_names => flow_names(&state),
        },
    )
}

/// `GET /calls/{CallSid}`: what was asked and answered, in order.
pub(super) async fn call(
    State(state): State<AppState>,
    _: SignedIn,
    Path(call_sid): Path<String>,
) -> Result<Response, PageError> {
    // A path that is no CallSid names no call.
    let call_sid = CallSid::parse(&call_sid).map_err(|_| PageError::NotFound("call"))?;
    let call = state
        .store()
        .load_call(&call_sid)
        .await?
        .ok_or(PageError::NotFound("call"))?;
    let answers = answers_of(&state, &call).await?;
    let phone = customer(&call);
    let mut handoffs = Vec::new();
    for h in state
        .store()
        .handoff_log()
        .handoffs_of_call(&call.call_sid)
        .await?
    {
        handoffs.push(minijinja::context! {
            id => h.id,
            status => h.status.as_str(),
            target => h.target,
            history => ser(&history_of(&state, h.id).await?),
        });
    }
    let followed_by: Vec<FollowedBy> = state
        .store()
        .reports()
        .follow_ups(&call.call_sid)
        .await?
        .iter()
        .map(|c| FollowedBy {
            call_sid: c.call_sid.to_string(),
            flow: c.flow.clone(),
            started_at: time(&c.started_at),
            outcome: outcome_label(c.outcome),
            handoff: c.follows.as_ref().and_then(|f| f.handoff).map(|h| h.0),
        })
        .collect();
    page(
        "call.html",
        minijinja::context! {
            page => "calls",
            call_sid => call.call_sid.as_str(),
            flow => call.flow,
            direction => call.direction.as_str(),
            phone => phone,
            status => call.status.as_str(),
            outcome => outcome_label(call.outcome),
            started_at => time(&call.started_at),
            ended_at => call.ended_at.as_ref().map(time),
            answers => ser(&answers),
            follows => call.follows.as_ref().map(|f| minijinja::context! {
                call_sid => f.call.as_str(),
                handoff => f.handoff.map(|h| h.0),
            }),
            followed_by => ser(&followed_by),
            handoffs => handoffs,
        },
    )
}

/// A call that followed the shown one up, as its page lists it.
#[derive(serde::Serialize)]
struct FollowedBy {
    call_sid: String,
    flow: String,
    started_at: String,
    outcome: String,
    /// The handoff it confirmed, for a confirmation call.
    handoff: Option<i64>,
}
