//! A CRM webhook on port 0 that keeps every JSON body POSTed to it: open
//! handoffs' summaries and handoff status notices.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::wait::eventually;

pub struct FakeCrm {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl FakeCrm {
    pub async fn start() -> FakeCrm {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/hooks/handoff",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(v);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/handoff", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeCrm { url, received }
    }

    /// Waits (bounded) for the background notifier to deliver a call's handoff.
    pub async fn wait_for(&self, sid: &str) -> Value {
        let received = &self.received;
        eventually(
            std::time::Duration::from_secs(20),
            format!("the CRM never received the handoff of {sid}"),
            || async move {
                let received = received.lock().unwrap();
                received.iter().find(|v| v["call_sid"] == sid).cloned()
            },
        )
        .await
    }

    /// Waits (bounded) for the notice that handoff `id` became `status`.
    pub async fn wait_for_status(&self, id: i64, status: &str) -> Value {
        let received = &self.received;
        eventually(
            std::time::Duration::from_secs(20),
            format!("the CRM never heard that handoff {id} became {status}"),
            || async move {
                let received = received.lock().unwrap();
                received
                    .iter()
                    .find(|v| {
                        v["event"] == "handoff_status"
                            && v["handoff_id"] == id
                            && v["status"] == status
                    })
                    .cloned()
            },
        )
        .await
    }
}
