//! The provider's webhooks. Each one: parse the form into types, load the
//! call by CallSid, apply one input to the call machine, store the new
//! state and its answers in one transaction, answer with TwiML.
//!
//! Exactly once: every wait's action URL carries the step sequence number
//! (`seq`). A webhook whose `seq` is not the call's current one is a
//! duplicate, a retry or a stale request: it gets the TwiML last produced
//! (the same answer the original got) and changes nothing. Two replicas
//! racing on the same webhook are settled by the store's compare-and-swap.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::advance::commit;
use super::signed::SignedForm;
use crate::flow::event::{Input, Output, Prompt, TransferResult};
use crate::flow::model::Mode;
use crate::flow::phrases::{self, Lang};
use crate::flow::{Call, Flow};
use crate::store::{Advanced, CallRow, NewCall, NewRecording};
use crate::twilio::{
    CallSid, CallStatus, DialCallStatus, DialParams, GatherParams, QueueResult, RecordParams,
    RecordingStatusParams, StatusParams, VoiceParams,
};
use crate::twiml;

pub(super) fn twiml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// The safe answer when we cannot run the call: an apology and a hang-up.
pub(super) fn apology(state: &AppState, lang: Option<&str>) -> Response {
    let language = lang
        .map(str::to_string)
        .or_else(|| {
            state
                .settings()
                .numbers
                .default
                .as_deref()
                .and_then(|n| state.flow(n))
                .map(|f| f.language.clone())
        })
        .unwrap_or_else(|| "en-US".into());
    twiml_response(twiml::apology(
        phrases::technical_problem(Lang::of(&language)),
        &language,
    ))
}

pub(super) fn links<'a>(state: &'a AppState, flow: &'a Flow) -> twiml::Links<'a> {
    twiml::Links {
        base: &state.settings().public_url,
        voice: flow.voice.as_deref(),
    }
}

#[derive(Deserialize)]
pub(super) struct VoiceQuery {
    /// Outbound calls name their flow; inbound ones are routed by number.
    flow: Option<String>,
    /// The campaign contact the dialer placed the call to: its CSV row's
    /// variables fill the flow's templates.
    contact: Option<i64>,
    /// What the campaign does on an answering machine (the dialer asked
    /// for detection): `message` leaves the flow's `machine_step`, `retry`
    /// hangs up at once to call again later.
    machine: Option<String>,
}

/// A call arrives (inbound) or is answered (outbound).
pub(super) async fn voice(
    State(state): State<AppState>,
    Query(q): Query<VoiceQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match VoiceParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable voice webhook");
            return apology(&state, None);
        }
    };
    let sid = params.call_sid.to_string();
    // A duplicate voice webhook is caught by `create_call` below.
    let to = params.to.to_string();
    let name = q
        .flow
        .clone()
        .or_else(|| state.settings().numbers.flow_for(&to).map(str::to_string));
    let Some(flow) = name.as_deref().and_then(|n| state.flow(n)).cloned() else {
        tracing::warn!(call_sid = %sid, flow = ?name, "no flow for this call");
        return apology(&state, None);
    };
    let outbound = params
        .direction
        .as_deref()
        .is_some_and(|d| d.starts_with("outbound"));
    let vars = match q.contact {
        Some(id) => match state.store().campaigns().contact_vars(id).await {
            Ok(vars) => vars
                .as_ref()
                .map(crate::dialer::contacts::vars_from_json)
                .unwrap_or_default(),
            Err(e) => {
                tracing::error!(call_sid = %sid, error = %e, "store failed loading the contact");
                return apology(&state, Some(&flow.language));
            }
        },
        None => Default::default(),
    };
    let call = Call::new(vars);
    let stream = flow.mode == Mode::Stream;
    let new = NewCall {
        call_sid: sid.clone(),
        flow: flow.name.clone(),
        flow_hash: flow.hash.clone(),
        direction: if outbound { "outbound" } else { "inbound" }.into(),
        from: params.from.to_string(),
        to,
        status: params
            .call_status
            .map_or("in-progress", |s| s.as_str())
            .to_string(),
        state: serde_json::to_string(&call).unwrap_or_default(),
        seq: 0,
        // A stream call's answer never changes: a retried voice webhook
        // gets the same <Connect><Stream> back.
        response: if stream {
            stream_twiml(&state, &sid, &flow.name)
        } else {
            String::new()
        },
        started_at: state.settings().clock.now(),
    };
    let row = CallRow {
        call_sid: new.call_sid.clone(),
        flow: new.flow.clone(),
        flow_hash: new.flow_hash.clone(),
        direction: new.direction.clone(),
        from: new.from.clone(),
        to: new.to.clone(),
        status: new.status.clone(),
        outcome: None,
        state: new.state.clone(),
        seq: 0,
        response: String::new(),
        started_at: new.started_at,
        ended_at: None,
    };
    match state.store().create_call(new).await {
        Ok(true) => {}
        // A duplicate voice webhook raced us: answer what the first one did.
        Ok(false) => return replay(&state, &sid).await,
        Err(e) => {
            tracing::error!(call_sid = %sid, error = %e, "store failed creating a call");
            return apology(&state, Some(&flow.language));
        }
    }
    tracing::info!(call_sid = %sid, flow = %flow.name, outbound, stream, "call started");
    if stream {
        // The call runs over the media stream, which answers it when the
        // provider connects (`http::media_ws`).
        return twiml_response(stream_twiml(&state, &sid, &flow.name));
    }
    let machine = params.answered_by.is_some_and(|a| a.is_machine());
    let first = match q.machine.as_deref() {
        Some("message") if machine => Input::Machine {
            leave_message: true,
        },
        Some("retry") if machine => Input::Machine {
            leave_message: false,
        },
        _ => Input::Answered,
    };
    apply(&state, &flow, row, call, first).await
}

/// `<Connect><Stream>` to our media socket for call `sid` running `flow`.
pub(super) fn stream_twiml(state: &AppState, sid: &str, flow: &str) -> String {
    twiml::connect_stream(
        &twiml::stream_url(&state.settings().public_url),
        &[("call_sid", sid), ("flow", flow)],
    )
}

#[derive(Deserialize)]
pub(super) struct SeqQuery {
    /// Kept as text so that a mangled URL gets TwiML, not a 400.
    seq: Option<String>,
    #[serde(default)]
    silence: Option<String>,
}

impl SeqQuery {
    /// A missing or unparsable seq matches no step: the request is answered
    /// like a stale one, with the call's current TwiML.
    fn seq(&self) -> i64 {
        self.seq
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1)
    }
}

/// The answer to a `<Gather>`, or its silence redirect.
pub(super) async fn gather(
    State(state): State<AppState>,
    Query(q): Query<SeqQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match GatherParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable gather webhook");
            return apology(&state, None);
        }
    };
    let input = if q.silence.is_some() {
        Input::Silence
    } else if let Some(d) = &params.digits {
        Input::Keys(d.to_string())
    } else if let Some(text) = &params.speech_result {
        // A provider that sends no confidence vouches for its transcript.
        Input::Speech {
            text: text.clone(),
            confidence: params.confidence.unwrap_or(1.0),
        }
    } else {
        Input::Silence
    };
    step(&state, params.call_sid.as_str(), q.seq(), input).await
}

/// The end of a `<Record>`.
pub(super) async fn record(
    State(state): State<AppState>,
    Query(q): Query<SeqQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match RecordParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable record webhook");
            return apology(&state, None);
        }
    };
    let input = match (
        &params.recording_url,
        params.recording_duration,
        q.silence.is_some(),
    ) {
        (Some(url), Some(secs), false) if secs > 0 => Input::Recorded {
            url: url.clone(),
            duration_secs: secs,
        },
        _ => Input::Silence,
    };
    step(&state, params.call_sid.as_str(), q.seq(), input).await
}

/// The end of a `<Dial>` or `<Enqueue>`: did the caller reach a person?
pub(super) async fn dial(
    State(state): State<AppState>,
    Query(q): Query<SeqQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match DialParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable dial webhook");
            return apology(&state, None);
        }
    };
    let result = match (params.dial_call_status, params.queue_result) {
        (Some(DialCallStatus::Completed | DialCallStatus::Answered), _) => {
            TransferResult::Completed
        }
        (Some(DialCallStatus::Busy), _) => TransferResult::Busy,
        (Some(DialCallStatus::NoAnswer), _) => TransferResult::NoAnswer,
        (Some(DialCallStatus::Failed | DialCallStatus::Canceled), _) => TransferResult::Failed,
        (None, Some(QueueResult::Bridged | QueueResult::BridgingInProcess)) => {
            TransferResult::Completed
        }
        (None, Some(QueueResult::Hangup)) => TransferResult::CallerHungUp,
        (None, Some(QueueResult::QueueFull)) => TransferResult::Busy,
        (None, Some(_)) | (None, None) => TransferResult::Failed,
    };
    step(
        &state,
        params.call_sid.as_str(),
        q.seq(),
        Input::TransferEnded(result),
    )
    .await
}

/// A stream call's transfer: `media_ws` asked the provider (a REST update
/// of the live call) to fetch this URL, which ends the `<Connect><Stream>`.
/// The answer is the `<Dial>`/`<Enqueue>` the transfer step stored, whose
/// action (`/twilio/dial`) continues the flow as in TwiML mode. A `seq`
/// that is not the call's current one gets the call's current TwiML, as
/// every stale webhook does.
pub(super) async fn transfer(
    State(state): State<AppState>,
    Query(q): Query<SeqQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let sid = form
        .iter()
        .find(|(k, _)| k == "CallSid")
        .and_then(|(_, v)| CallSid::parse(v).ok());
    let Some(sid) = sid else {
        tracing::warn!("transfer webhook without a valid CallSid");
        return apology(&state, None);
    };
    match state.store().load_call(sid.as_str()).await {
        Ok(Some(row)) => {
            if row.seq != q.seq() {
                tracing::debug!(call_sid = %sid, got = q.seq(), at = row.seq, "stale transfer webhook");
            } else {
                tracing::info!(call_sid = %sid, "the stream call continues in TwiML for its transfer");
            }
            twiml_response(row.response)
        }
        Ok(None) => {
            tracing::warn!(call_sid = %sid, "transfer webhook for an unknown call");
            apology(&state, None)
        }
        Err(e) => {
            tracing::error!(call_sid = %sid, error = %e, "store failed loading a call");
            apology(&state, None)
        }
    }
}

/// Call progress. A final status ends a call the machine still thinks is
/// live (the caller hung up mid-question).
#[derive(Deserialize)]
pub(super) struct StatusQuery {
    /// The campaign contact, on callbacks of calls the dialer placed.
    contact: Option<i64>,
}

pub(super) async fn status(
    State(state): State<AppState>,
    Query(q): Query<StatusQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match StatusParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable status callback");
            return empty();
        }
    };
    let sid = params.call_sid.to_string();
    let final_status = params.call_status.is_final();
    let now = state.settings().clock.now();
    if let Err(e) = state
        .store()
        .update_status(&sid, params.call_status.as_str(), now, final_status)
        .await
    {
        tracing::error!(call_sid = %sid, error = %e, "store failed on a status callback");
        return empty();
    }
    if final_status {
        state.inner.calls.remove(&sid);
    }
    if final_status
        && let Ok(Some(row)) = state.store().load_call(&sid).await
        && row.outcome.is_none()
    {
        let seq = row.seq;
        let _ = step(&state, &sid, seq, Input::HungUp).await;
    }
    if final_status {
        // A campaign call: done, a retry by the back-off and window, or given up.
        match crate::dialer::worker::on_status(
            state.store(),
            &sid,
            params.call_status,
            params.answered_by,
            now,
        )
        .await
        {
            // The provider was quicker than the worker's record of the
            // CallSid: look again in the background (see `on_status_later`).
            Ok(crate::dialer::worker::StatusEffect::Unrecorded) if q.contact.is_some() => {
                tokio::spawn(crate::dialer::worker::on_status_later(
                    state.store_handle(),
                    sid.clone(),
                    params.call_status,
                    params.answered_by,
                    now,
                ));
            }
            Ok(effect) => tracing::debug!(call_sid = %sid, ?effect, "campaign contact updated"),
            Err(e) => {
                tracing::error!(call_sid = %sid, error = %e, "store failed on a campaign callback")
            }
        }
    }
    if params.call_status == CallStatus::Completed {
        tracing::info!(call_sid = %sid, "call completed");
    }
    empty()
}

#[derive(Deserialize)]
pub(super) struct StepQuery {
    step: String,
}

/// The provider finished storing a recording.
pub(super) async fn recording_status(
    State(state): State<AppState>,
    Query(q): Query<StepQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let params = match RecordingStatusParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable recording status callback");
            return empty();
        }
    };
    if params.recording_status == "completed" {
        let rec = NewRecording {
            call_sid: params.call_sid.to_string(),
            question: q.step,
            url: params.recording_url,
            duration_secs: params.recording_duration.map(|d| d as i32),
            at: state.settings().clock.now(),
        };
        if let Err(e) = state.store().add_recording(rec).await {
            tracing::error!(error = %e, "store failed saving a recording");
        }
    }
    empty()
}

fn empty() -> Response {
    twiml_response(r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into())
}

/// The TwiML a call last produced: the answer to duplicates and stale requests.
async fn replay(state: &AppState, sid: &str) -> Response {
    match state.store().load_call(sid).await {
        Ok(Some(row)) => twiml_response(row.response),
        _ => apology(state, None),
    }
}

/// Loads a call and applies one input, if the webhook is current.
async fn step(state: &AppState, sid: &str, seq: i64, input: Input) -> Response {
    let cached = state.inner.calls.get(sid).filter(|row| row.seq == seq);
    let loaded = match cached {
        Some(row) => Ok(Some(row)),
        None => state.store().load_call(sid).await,
    };
    let row = match loaded {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::warn!(call_sid = %sid, "webhook for an unknown call");
            return apology(state, None);
        }
        Err(e) => {
            tracing::error!(call_sid = %sid, error = %e, "store failed loading a call");
            return apology(state, None);
        }
    };
    if row.seq != seq {
        tracing::debug!(call_sid = %sid, got = seq, at = row.seq, "duplicate or stale webhook");
        return twiml_response(row.response);
    }
    let Some(flow) = state.flow(&row.flow).cloned() else {
        tracing::error!(call_sid = %sid, flow = %row.flow, "the call's flow is no longer loaded");
        return apology(state, None);
    };
    let call: Call = match serde_json::from_str(&row.state) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(call_sid = %sid, error = %e, "unreadable call state");
            return apology(state, Some(&flow.language));
        }
    };
    apply(state, &flow, row, call, input).await
}

/// Applies the input, stores everything it produced in one transaction,
/// and answers with the TwiML.
async fn apply(
    state: &AppState,
    flow: &Flow,
    row: CallRow,
    mut call: Call,
    input: Input,
) -> Response {
    let now = state.settings().clock.now();
    let outputs = call.handle(flow, input, now);
    let response = match flow.mode {
        // A stream call back from its transfer (the only webhook a stream
        // call sees mid-flow): what comes before the next question is said
        // here, and the question is asked on a new stream, whose `start`
        // resumes the call (see `media_ws`).
        Mode::Stream
            if outputs
                .iter()
                .any(|o| matches!(o, Output::Listen(_) | Output::Record(_))) =>
        {
            let prompts: Vec<&Prompt> = outputs
                .iter()
                .filter_map(|o| match o {
                    Output::Prompt(p) => Some(p),
                    _ => None,
                })
                .collect();
            twiml::prompts_then_stream(
                &prompts,
                &links(state, flow),
                &twiml::stream_url(&state.settings().public_url),
                &[
                    ("call_sid", row.call_sid.as_str()),
                    ("flow", flow.name.as_str()),
                ],
            )
        }
        _ => twiml::render(&outputs, &links(state, flow)),
    };
    match commit(state, &row, &call, &outputs, response.clone(), now).await {
        Ok(Advanced::Applied) => twiml_response(response),
        // Another replica applied this webhook first: answer as it did.
        Ok(Advanced::Stale) => replay(state, &row.call_sid).await,
        Err(e) => {
            tracing::error!(call_sid = %row.call_sid, error = %e, "store failed saving a step");
            super::metrics::store_error();
            apology(state, Some(&flow.language))
        }
    }
}
