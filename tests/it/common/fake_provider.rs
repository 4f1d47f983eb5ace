//! A fake Twilio-compatible Calls API on port 0: records every request with
//! the instant it arrived. A new call (`POST …/Calls.json`) is answered 201
//! with a fresh CallSid; an update of a live call (`POST
//! …/Calls/{CallSid}.json`, how a stream call is moved to its transfer) 200
//! with the call, after the delays queued with [`FakeProvider::delay_next`].
//! Either is answered instead with the statuses queued with
//! [`FakeProvider::fail_next`]. After an update the test plays the rest of
//! what the provider does (ends the stream, fetches the new TwiML).
//!
//! Given a server ([`FakeProvider::send_callbacks_to`]), it also reports
//! each accepted call as the provider does: signed (`X-Twilio-Signature`)
//! status callbacks to the request's `StatusCallback`, `ringing` then the
//! final status that [`FakeProvider::script`] set for the number (and
//! `AnsweredBy` when the request asked for machine detection). They go out
//! when the test calls [`FakeProvider::deliver_callbacks`]: that stands for
//! the ringing time, and keeps the test's order of events deterministic.
//!
//! It also keeps recordings ([`FakeProvider::add_recording`]) and serves
//! them as Twilio does (twilio.com/docs/api/rest/recording): `GET
//! …/Recordings/{RecordingSid}.wav` answers the WAV as `audio/x-wav`, only
//! with the account's HTTP Basic credentials (401 otherwise, as with
//! "enforce HTTP auth on media URLs"), and 404 for the first requests a
//! test asks for — the media can lag the `completed` callback; `DELETE
//! …/Recordings/{RecordingSid}.json` answers 204 and the media is gone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use dialback::twilio::rest::ProviderConfig;
use serde_json::json;
use tokio::time::Instant;

use super::phone::{AUTH_TOKEN, PUBLIC_URL};
use super::wait::eventually;

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";

/// One request, as received.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub at: Instant,
    pub account: String,
    /// The call an update names; `None` for a new call.
    pub call_sid: Option<String>,
    pub authorization: String,
    pub form: Vec<(String, String)>,
}

impl CallRequest {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn params(&self, key: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// How one call to a number ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    Human,
    Machine,
    Busy,
    NoAnswer,
    Failed,
}

/// Where status callbacks go: the public URL the requests name is
/// rewritten to the test server's real address, and signed with its token.
#[derive(Debug, Clone)]
pub struct Callbacks {
    pub public_url: String,
    pub real_url: String,
    pub auth_token: String,
}

/// A call whose callbacks are still to be sent.
#[derive(Debug, Clone)]
struct Pending {
    call_sid: String,
    account: String,
    status_callback: String,
    to: String,
    from: String,
    machine_detection: bool,
    answer: CallEnd,
}

#[derive(Default)]
struct Inner {
    requests: Vec<CallRequest>,
    updates: Vec<CallRequest>,
    failures: VecDeque<u16>,
    delays: VecDeque<Duration>,
    next_sid: u64,
    /// Per number, how its next calls end (then: a person answers).
    script: HashMap<String, VecDeque<CallEnd>>,
    callbacks: Option<Callbacks>,
    pending: Vec<Pending>,
    recordings: HashMap<String, Recording>,
}

/// A recording the fake keeps, and what was asked of it.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    wav: Vec<u8>,
    /// 404s still to answer before the media is served.
    not_yet: u32,
    /// Media requests with the right credentials, whatever the answer.
    pub requests: u32,
    /// Media requests answered 200.
    pub served: u32,
    /// Requests refused for missing or wrong credentials.
    pub unauthorised: u32,
    pub deleted: bool,
}

#[derive(Clone)]
pub struct FakeProvider {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{call}",
                post(update_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Recordings/{file}",
                get(recording_media).delete(delete_recording),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            base_url: format!("http://{addr}"),
        }
    }

    /// The account dialback uses to reach this fake, with the test
    /// phone's token and public URL.
    pub fn config(&self) -> ProviderConfig {
        ProviderConfig {
            base_url: self.base_url.clone(),
            account_sid: ACCOUNT_SID.into(),
            auth_token: AUTH_TOKEN.into(),
            from: String::new(),
            public_url: PUBLIC_URL.into(),
        }
    }

    /// Keeps a recording of `call_sid` whose media (`wav`) is answered 404
    /// for the first `not_yet` requests; its `RecordingSid` and
    /// `RecordingUrl` (no extension, as Twilio's callbacks give it).
    pub fn add_recording(&self, call_sid: &str, wav: Vec<u8>, not_yet: u32) -> (String, String) {
        let sid = format!("RE{}", &call_sid[2..]);
        let url = format!(
            "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}",
            self.base_url
        );
        self.inner.lock().expect("lock").recordings.insert(
            sid.clone(),
            Recording {
                wav,
                not_yet,
                ..Recording::default()
            },
        );
        (sid, url)
    }

    /// What was asked of a recording.
    pub fn recording(&self, sid: &str) -> Recording {
        self.inner
            .lock()
            .expect("lock")
            .recordings
            .get(sid)
            .cloned()
            .unwrap_or_default()
    }

    /// The next requests (new calls or updates) are answered with these
    /// HTTP statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.inner.lock().expect("lock").failures.extend(statuses);
    }

    /// The next update is answered only after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.inner.lock().expect("lock").delays.push_back(delay);
    }

    /// The new calls requested so far.
    pub fn requests(&self) -> Vec<CallRequest> {
        self.inner.lock().expect("lock").requests.clone()
    }

    /// The updates of live calls requested so far.
    pub fn updates(&self) -> Vec<CallRequest> {
        self.inner.lock().expect("lock").updates.clone()
    }

    /// Waits for the `n`th update request (1-based).
    pub async fn nth_update(&self, n: usize) -> CallRequest {
        let inner = &self.inner;
        eventually(Duration::from_secs(20), "no call update", || async move {
            inner.lock().expect("lock").updates.get(n - 1).cloned()
        })
        .await
    }

    /// How the next calls to `phone` end, in order; later ones: a person.
    pub fn script(&self, phone: &str, answers: &[CallEnd]) {
        self.inner
            .lock()
            .expect("lock")
            .script
            .entry(phone.to_owned())
            .or_default()
            .extend(answers);
    }

    /// Where [`Self::deliver_callbacks`] reports calls (the test server may
    /// change between deliveries).
    pub fn send_callbacks_to(&self, callbacks: Callbacks) {
        self.inner.lock().expect("lock").callbacks = Some(callbacks);
    }

    /// Sends the status callbacks of every call accepted since the last
    /// time (`ringing`, then the scripted end), each answered before the
    /// next; returns how many calls were reported.
    pub async fn deliver_callbacks(&self) -> usize {
        let (pending, callbacks) = {
            let mut inner = self.inner.lock().expect("lock");
            let Some(callbacks) = inner.callbacks.clone() else {
                return 0;
            };
            (std::mem::take(&mut inner.pending), callbacks)
        };
        let client = reqwest::Client::new();
        for call in &pending {
            let (status, answered_by) = match call.answer {
                CallEnd::Human => ("completed", Some("human")),
                CallEnd::Machine => ("completed", Some("machine_start")),
                CallEnd::Busy => ("busy", None),
                CallEnd::NoAnswer => ("no-answer", None),
                CallEnd::Failed => ("failed", None),
            };
            for status in ["ringing", status] {
                let mut form = vec![
                    ("CallSid", call.call_sid.as_str()),
                    ("AccountSid", call.account.as_str()),
                    ("From", call.from.as_str()),
                    ("To", call.to.as_str()),
                    ("Direction", "outbound-api"),
                    ("CallStatus", status),
                ];
                if status != "ringing"
                    && call.machine_detection
                    && let Some(answered_by) = answered_by
                {
                    form.push(("AnsweredBy", answered_by));
                }
                let pairs: Vec<(String, String)> = form
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                let signature = dialback::twilio::signature::compute(
                    &callbacks.auth_token,
                    &call.status_callback,
                    &pairs,
                );
                let real =
                    call.status_callback
                        .replacen(&callbacks.public_url, &callbacks.real_url, 1);
                let response = client
                    .post(real)
                    .header("X-Twilio-Signature", signature)
                    .form(&form)
                    .send()
                    .await
                    .expect("the server takes the callback");
                assert_eq!(response.status().as_u16(), 200, "{status} callback");
            }
        }
        pending.len()
    }
}

fn received(
    account: String,
    call_sid: Option<String>,
    headers: &HeaderMap,
    body: &str,
) -> CallRequest {
    CallRequest {
        at: Instant::now(),
        account,
        call_sid,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        form: serde_urlencoded::from_str(body).unwrap_or_default(),
    }
}

/// The error answer for a queued failure, in the provider's shape.
fn failure(
    inner: &mut Inner,
    code: u32,
    message: &str,
) -> Option<(StatusCode, Json<serde_json::Value>)> {
    let status = inner.failures.pop_front()?;
    Some((
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({"code": code, "message": message, "status": status})),
    ))
}

async fn create_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    let mut inner = inner.lock().expect("lock");
    inner
        .requests
        .push(received(account, None, &headers, &body));
    if let Some(refused) = failure(&mut inner, 21211, "The 'To' number is not valid.") {
        return refused;
    }
    inner.next_sid += 1;
    let sid = format!("CA{:032x}", inner.next_sid);
    let request = inner.requests.last().cloned();
    if let Some(request) = request {
        let to = request.param("To").unwrap_or_default().to_owned();
        let answer = inner
            .script
            .get_mut(&to)
            .and_then(VecDeque::pop_front)
            .unwrap_or(CallEnd::Human);
        inner.pending.push(Pending {
            call_sid: sid.clone(),
            account: request.account.clone(),
            status_callback: request
                .param("StatusCallback")
                .unwrap_or_default()
                .to_owned(),
            from: request.param("From").unwrap_or_default().to_owned(),
            machine_detection: request.param("MachineDetection").is_some(),
            to,
            answer,
        });
    }
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued"})),
    )
}

async fn update_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    let call_sid = call.strip_suffix(".json").unwrap_or(&call).to_owned();
    let delay = {
        let mut inner = inner.lock().expect("lock");
        let request = received(account, Some(call_sid.clone()), &headers, &body);
        inner.updates.push(request);
        inner.delays.pop_front()
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut inner = inner.lock().expect("lock");
    if let Some(refused) = failure(&mut inner, 20404, "The requested resource was not found") {
        return refused;
    }
    (
        StatusCode::OK,
        Json(json!({"sid": call_sid, "status": "in-progress"})),
    )
}

/// Basic credentials of the test account, as `Authorization` carries them.
fn authorised(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

async fn recording_media(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((_account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut inner = inner.lock().expect("lock");
    let sid = file.strip_suffix(".wav").unwrap_or(&file);
    let Some(rec) = inner.recordings.get_mut(sid) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorised(&headers) {
        rec.unauthorised += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    rec.requests += 1;
    if rec.deleted {
        return StatusCode::NOT_FOUND.into_response();
    }
    if rec.not_yet > 0 {
        rec.not_yet -= 1;
        return StatusCode::NOT_FOUND.into_response();
    }
    rec.served += 1;
    ([("content-type", "audio/x-wav")], rec.wav.clone()).into_response()
}

async fn delete_recording(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((_account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> StatusCode {
    let mut inner = inner.lock().expect("lock");
    let sid = file.strip_suffix(".json").unwrap_or(&file);
    let Some(rec) = inner.recordings.get_mut(sid) else {
        return StatusCode::NOT_FOUND;
    };
    if !authorised(&headers) {
        rec.unauthorised += 1;
        return StatusCode::UNAUTHORIZED;
    }
    rec.deleted = true;
    StatusCode::NO_CONTENT
}
