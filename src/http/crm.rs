//! Open handoffs are POSTed as JSON to the configured CRM webhook, in the
//! background: a slow or failing CRM must never delay the caller's TwiML.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

/// Attempts per summary before it is given up (and logged).
const ATTEMPTS: u32 = 6;

/// Queues summaries for a background task that delivers them with retries.
#[derive(Clone)]
pub(super) struct Notifier {
    tx: mpsc::Sender<Value>,
}

impl Notifier {
    pub(super) fn start(url: String) -> Notifier {
        let (tx, mut rx) = mpsc::channel::<Value>(10_000);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        tokio::spawn(async move {
            while let Some(summary) = rx.recv().await {
                let (client, url) = (client.clone(), url.clone());
                // One task per summary, so one stuck delivery never holds up the next.
                tokio::spawn(async move { deliver(&client, &url, &summary).await });
            }
        });
        Notifier { tx }
    }

    pub(super) fn notify(&self, summary: Value) {
        if self.tx.try_send(summary).is_err() {
            tracing::error!(
                "the CRM queue is full; a handoff summary was not sent (it is still in the store)"
            );
        }
    }
}

async fn deliver(client: &reqwest::Client, url: &str, summary: &Value) {
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        match client.post(url).json(summary).send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(status = %r.status(), attempt, "the CRM webhook refused a handoff")
            }
            Err(e) => tracing::warn!(error = %e, attempt, "the CRM webhook is unreachable"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
    tracing::error!(call_sid = %summary["call_sid"], "gave up sending a handoff to the CRM; it stays open in the store");
}
