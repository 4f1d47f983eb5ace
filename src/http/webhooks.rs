//! The provider's webhooks, an adapter over the call service: each one
//! parses the form into types and the input it means, calls
//! [`crate::calls::Calls`] (which loads the call by CallSid, applies the
//! input and stores it exactly once, see there), and answers with the
//! TwiML it gets back — or, when the call cannot go on, a spoken apology.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::signed::SignedForm;
use crate::calls::{Arrival, CallError};
use crate::flow::event::{Input, TransferResult};
use crate::flow::phrases::{self, Lang};
use crate::store::{Direction, NewRecording};
use crate::twilio::{
    CallSid, CallStatus, DialCallStatus, DialParams, GatherParams, QueueResult, RecordParams,
    RecordingStatusParams, StatusParams, VoiceParams, WaitParams,
};
use crate::twiml;

pub(super) fn twiml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// The safe answer when we cannot run the call: an apology and a hang-up.
pub(super) fn apology(state: &AppState, lang: Option<&str>) -> Response {
    let language = lang
        .map(str::to_string)
        .or_else(|| state.calls().default_flow().map(|f| f.language.clone()))
        .unwrap_or_else(|| "en-US".into());
    twiml_response(twiml::apology(
        phrases::technical_problem(Lang::of(&language)),
        &language,
    ))
}

/// The service's answer as TwiML: what it stored, or an apology.
fn answer(state: &AppState, result: Result<String, CallError>) -> Response {
    match result {
        Ok(twiml) => twiml_response(twiml),
        Err(e) => apology(state, e.language()),
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
    let sid = params.call_sid.clone();
    // A duplicate voice webhook is caught when the call is created.
    let to = params.to.to_string();
    let calls = state.calls();
    let flow = match &q.flow {
        Some(name) => calls.flow(name),
        None => calls.flow_for(&to),
    };
    let Some(flow) = flow.cloned() else {
        tracing::warn!(call_sid = %sid, flow = ?q.flow, "no flow for this call");
        return apology(&state, None);
    };
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
    let arrival = Arrival {
        call_sid: sid,
        flow,
        direction: if params.is_outbound() {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        from: params.from.to_string(),
        to,
        status: params.call_status,
        contact: q.contact,
    };
    answer(&state, calls.start(arrival, first).await)
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
    let stepped = state.calls().step(&params.call_sid, q.seq(), input);
    answer(&state, stepped.await)
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
            sid: params.recording_sid.clone(),
        },
        _ => Input::Silence,
    };
    let stepped = state.calls().step(&params.call_sid, q.seq(), input);
    answer(&state, stepped.await)
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
        // Our wait URL said <Leave/>: nobody took the caller in time.
        (None, Some(QueueResult::Leave)) => TransferResult::NoAnswer,
        (None, Some(_)) | (None, None) => TransferResult::Failed,
    };
    let input = Input::TransferEnded(result);
    let stepped = state.calls().step(&params.call_sid, q.seq(), input);
    answer(&state, stepped.await)
}

/// A queue's wait URL: what the caller hears while queued, and <Leave/>
/// once the transfer step's `max_wait` has passed. Anything that goes
/// wrong says <Leave/> too, so that the queue's action moves the call on
/// (with an apology, if the store is down) rather than holding the caller.
pub(super) async fn wait(
    State(state): State<AppState>,
    Query(q): Query<SeqQuery>,
    SignedForm(form): SignedForm,
) -> Response {
    let leave = || twiml_response(twiml::leave_queue());
    let params = match WaitParams::from_form(&form) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.for_log(), "unusable wait webhook");
            return leave();
        }
    };
    let held = state.calls().hold(
        &params.call_sid,
        q.seq(),
        params.queue_time,
        params.queue_position,
    );
    match held.await {
        Ok(twiml) => twiml_response(twiml),
        Err(e) => {
            tracing::warn!(call_sid = %params.call_sid, error = %e, "wait webhook: leaving the queue");
            leave()
        }
    }
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
    match state.calls().load(&sid).await {
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
    let sid = params.call_sid.clone();
    let final_status = params.call_status.is_final();
    let now = state.calls().clock().now();
    if let Err(e) = state.calls().status(&sid, params.call_status, now).await {
        tracing::error!(call_sid = %sid, error = %e, "store failed on a status callback");
        return empty();
    }
    if final_status {
        // A campaign call: done, a retry by the back-off and window, or given up.
        match crate::dialer::worker::on_status(
            state.store(),
            state.metrics(),
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
                    state.metrics().clone(),
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
        let at = state.settings().clock.now();
        let rec = NewRecording {
            call_sid: params.call_sid.clone(),
            question: q.step,
            url: params.recording_url.clone(),
            duration_secs: params.recording_duration.map(|d| d as i32),
            recording_sid: Some(params.recording_sid.clone()),
            at,
        };
        if let Err(e) = state.calls().recording_stored(rec).await {
            tracing::error!(error = %e, "store failed saving a recording");
        }
        // `completed` is when the provider says the media can be fetched
        // (Twilio's RecordingStatusCallback: "the recording is available
        // for access"), so the fetch is enqueued here, not at the
        // `<Record>` action. Once per RecordingSid, however often and
        // wherever the callback comes. Due on the wall clock, not the
        // server's (a fixed clock in tests): the fetch's back-off is the
        // provider's real time.
        let enqueued = crate::recordings::enqueue_provider_recording(
            state.store(),
            &params.call_sid,
            &params.recording_sid,
            &params.recording_url,
            Utc::now(),
        );
        if let Err(e) = enqueued.await {
            tracing::error!(error = %e, "store failed enqueuing a recording's fetch");
        }
    }
    empty()
}

fn empty() -> Response {
    twiml_response(r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.into())
}
