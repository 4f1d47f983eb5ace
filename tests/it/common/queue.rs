//! A caller in a Twilio queue, driven the way Twilio documents `<Enqueue>`:
//! the `waitUrl` is requested when the caller joins the queue and again
//! each time its document ends, with `QueueTime`, `QueuePosition`,
//! `CurrentQueueSize`, `AvgQueueTime` and `QueueSid`; `<Leave/>` takes the
//! caller out and Twilio requests the `<Enqueue>` action with
//! `QueueResult=leave`. Time is simulated: only `<Pause>` lengths count.

use super::phone::{Phone, Verb, parse_twiml};

/// How a wait in the queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The wait document said `<Leave/>`; the action was requested.
    Left { after_secs: u32 },
    /// Still queued when the test's time came: an agent takes the caller
    /// now, or the caller hangs up (see [`Phone::queue_ends`]).
    StillQueued { after_secs: u32 },
}

/// More wait documents than any sane wait needs: a server that never says
/// `<Leave/>` fails the test instead of hanging it.
const MAX_WAIT_REQUESTS: usize = 200;

/// The queue's SID, as Twilio sends it on wait and action requests.
const QUEUE_SID: &str = "QU0123456789abcdef0123456789abcdef";

/// Callers ahead of ours when they join: the position counts down from
/// here by one per wait document, to 1 (next).
const START_POSITION: u32 = 3;

impl Phone<'_> {
    /// The `<Enqueue>` of the last response: (action, waitUrl).
    pub fn enqueue(&self) -> (String, Option<String>) {
        self.verbs
            .iter()
            .find_map(|v| match v {
                Verb::Enqueue {
                    action, wait_url, ..
                } => Some((action.clone(), wait_url.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected an <Enqueue>, got {:?}", self.verbs))
    }

    /// Waits in the queue as Twilio runs it: until the server says
    /// `<Leave/>`, or, with `until`, until that many seconds have passed.
    pub async fn wait_in_queue(&mut self, until: Option<u32>) -> Waited {
        let (action, wait_url) = self.enqueue();
        let wait_url = wait_url.expect("a queue without our waitUrl never ends");
        let sid = self.sid.clone();
        let mut queue_time = 0u32;
        for requests in 0..MAX_WAIT_REQUESTS as u32 {
            if until.is_some_and(|t| queue_time >= t) {
                return Waited::StillQueued {
                    after_secs: queue_time,
                };
            }
            let t = queue_time.to_string();
            let position = START_POSITION.saturating_sub(requests).max(1);
            let (position, size) = (position.to_string(), START_POSITION.to_string());
            let (status, body) = self
                .server
                .post(
                    &wait_url,
                    &[
                        ("CallSid", &sid),
                        ("QueueSid", QUEUE_SID),
                        ("QueueTime", &t),
                        ("QueuePosition", &position),
                        ("CurrentQueueSize", &size),
                        ("AvgQueueTime", "30"),
                    ],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let verbs = parse_twiml(&body);
            if verbs.contains(&Verb::Leave) {
                let (status, body) = self.queue_action(&action, "leave", queue_time).await;
                assert_eq!(status, 200, "{body}");
                self.take(&body).await;
                return Waited::Left {
                    after_secs: queue_time,
                };
            }
            let mut paused = 0;
            for v in verbs {
                match v {
                    Verb::Say { text, .. } => self.heard.push(text),
                    Verb::Pause(secs) => paused += secs,
                    Verb::Play(_) => {}
                    other => panic!("a wait document cannot hold {other:?}: {body}"),
                }
            }
            assert!(paused > 0, "a wait document without a pause spins: {body}");
            queue_time += paused;
        }
        panic!("still queued after {MAX_WAIT_REQUESTS} wait documents");
    }

    /// The end of a queued call, bridged to an agent (`bridged`) or not
    /// (`hangup`: the caller gave up waiting): Twilio sends the call's final
    /// status callback and requests the `<Enqueue>` action, in either
    /// order. With the action first, the call goes on with its answer (a
    /// `<Hangup/>` then brings the final status, as `take` does). Returns
    /// the action's answer.
    pub async fn queue_ends(&mut self, result: &str, status_first: bool) -> String {
        let (action, _) = self.enqueue();
        if status_first {
            self.hang_up().await;
        }
        let (status, body) = self.queue_action(&action, result, 30).await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
        if !self.ended {
            self.hang_up().await;
        }
        body
    }

    /// The `<Enqueue>` action request, with the parameters Twilio documents.
    async fn queue_action(&self, action: &str, result: &str, queue_time: u32) -> (u16, String) {
        let t = queue_time.to_string();
        self.server
            .post(
                action,
                &[
                    ("CallSid", &self.sid),
                    ("QueueResult", result),
                    ("QueueSid", QUEUE_SID),
                    ("QueueTime", &t),
                ],
            )
            .await
    }
}
