//! A fake Twilio-compatible Calls API on port 0: records every request with
//! the instant it arrived, and answers 201 with a fresh CallSid — or, on
//! demand, the statuses queued with [`FakeProvider::fail_next`].

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct CallRequest {
    pub at: Instant,
    pub account: String,
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

#[derive(Default)]
struct Inner {
    requests: Vec<CallRequest>,
    failures: VecDeque<u16>,
    next_sid: u64,
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

    /// The next requests are answered with these HTTP statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.inner.lock().expect("lock").failures.extend(statuses);
    }

    pub fn requests(&self) -> Vec<CallRequest> {
        self.inner.lock().expect("lock").requests.clone()
    }
}

async fn create_call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut inner = inner.lock().expect("lock");
    inner.requests.push(CallRequest {
        at: Instant::now(),
        account,
        authorization,
        form,
    });
    if let Some(status) = inner.failures.pop_front() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            code,
            Json(
                json!({"code": 21211, "message": "The 'To' number is not valid.", "status": status}),
            ),
        );
    }
    inner.next_sid += 1;
    let sid = format!("CA{:032x}", inner.next_sid);
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued"})),
    )
}
