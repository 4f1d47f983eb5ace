//! Open handoffs are POSTed as JSON to the configured CRM webhook, in the
//! background: a slow or failing CRM must never delay the caller's TwiML.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Attempts per summary before it is given up (and logged).
const ATTEMPTS: u32 = 6;
/// Summaries waiting for delivery; past this the newest are dropped (they
/// stay open in the store).
const QUEUE: usize = 10_000;
/// At shutdown, deliveries in flight get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Queues summaries for the [`Delivery`] task, which sends them with retries.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Value>,
}

/// The background side of a [`Notifier`]: run by [`crate::app::App`].
pub struct Delivery {
    rx: mpsc::Receiver<Value>,
    client: reqwest::Client,
    url: String,
}

impl Notifier {
    /// A notifier for `url`, and the delivery task to run for it.
    pub fn new(url: String) -> (Notifier, Delivery) {
        let (tx, rx) = mpsc::channel::<Value>(QUEUE);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        (Notifier { tx }, Delivery { rx, client, url })
    }

    pub fn notify(&self, summary: Value) {
        if self.tx.try_send(summary).is_err() {
            tracing::error!(
                "the CRM queue is full; a handoff summary was not sent (it is still in the store)"
            );
        }
    }
}

impl Delivery {
    /// Delivers summaries until `stop` is cancelled, then gives those in
    /// flight [`SHUTDOWN_GRACE`] to finish. A summary not delivered is not
    /// lost: its handoff stays open in the store.
    pub async fn run(mut self, stop: CancellationToken) {
        // One task per summary, so one stuck delivery never holds up the next.
        let mut sending = JoinSet::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                summary = self.rx.recv() => match summary {
                    Some(summary) => {
                        let (client, url) = (self.client.clone(), self.url.clone());
                        sending.spawn(async move { deliver(&client, &url, &summary).await });
                    }
                    None => break,
                },
                // Reaps finished deliveries so the set stays small.
                Some(_) = sending.join_next(), if !sending.is_empty() => {}
            }
        }
        let waited = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while sending.join_next().await.is_some() {}
        })
        .await;
        if waited.is_err() {
            tracing::warn!(
                undelivered = sending.len(),
                "stopping with handoff summaries not yet delivered to the CRM; they stay open in the store"
            );
            sending.shutdown().await;
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
