//! A fake provider Calls API for updates of live calls: records every
//! `POST /2010-04-01/Accounts/{account}/Calls/{CallSid}.json` and answers
//! 200 with the call resource — or the statuses queued with
//! [`FakeCallsApi::fail_next`], after the delays queued with
//! [`FakeCallsApi::delay_next`]. The test then plays the rest of what the
//! provider does (ends the stream, fetches the new TwiML).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use dialback::dialer::provider::ProviderConfig;
use serde_json::json;

use super::phone::{AUTH_TOKEN, PUBLIC_URL};

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";

/// One update request, as received.
#[derive(Debug, Clone)]
pub struct Update {
    pub account: String,
    pub call_sid: String,
    pub authorization: String,
    pub form: Vec<(String, String)>,
}

impl Update {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    updates: Vec<Update>,
    failures: VecDeque<u16>,
    delays: VecDeque<Duration>,
}

#[derive(Clone)]
pub struct FakeCallsApi {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeCallsApi {
    pub async fn start() -> FakeCallsApi {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{call}",
                post(update_call),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCallsApi {
            inner,
            base_url: format!("http://{addr}"),
        }
    }

    /// The account dialback uses to reach this fake.
    pub fn config(&self) -> ProviderConfig {
        ProviderConfig {
            base_url: self.base_url.clone(),
            account_sid: ACCOUNT_SID.into(),
            auth_token: AUTH_TOKEN.into(),
            from: String::new(),
            public_url: PUBLIC_URL.into(),
        }
    }

    /// The next requests are answered with these HTTP statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().failures.extend(statuses);
    }

    /// The next request is answered only after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.inner.lock().unwrap().delays.push_back(delay);
    }

    pub fn updates(&self) -> Vec<Update> {
        self.inner.lock().unwrap().updates.clone()
    }

    /// Waits for the `n`th update request (1-based).
    pub async fn nth_update(&self, n: usize) -> Update {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(u) = self.inner.lock().unwrap().updates.get(n - 1) {
                return u.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no call update within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn update_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let call_sid = call.strip_suffix(".json").unwrap_or(&call).to_string();
    let delay = {
        let mut inner = inner.lock().unwrap();
        inner.updates.push(Update {
            account,
            call_sid: call_sid.clone(),
            authorization,
            form,
        });
        inner.delays.pop_front()
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut inner = inner.lock().unwrap();
    if let Some(status) = inner.failures.pop_front() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            code,
            Json(
                json!({"code": 20404, "message": "The requested resource was not found", "status": status}),
            ),
        );
    }
    (
        StatusCode::OK,
        Json(json!({"sid": call_sid, "status": "in-progress"})),
    )
}
