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
    /// An agent dequeued the caller; the action comes when the talk ends.
    Bridged { after_secs: u32 },
}

/// More wait documents than any sane wait needs: a server that never says
/// `<Leave/>` fails the test instead of hanging it.
const MAX_WAIT_REQUESTS: usize = 200;

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

    /// Waits in the queue as Twilio runs it. With `agent_after`, an agent
    /// dequeues the caller once that many seconds have passed (if the
    /// server has not made them leave before).
    pub async fn wait_in_queue(&mut self, agent_after: Option<u32>) -> Waited {
        let (action, wait_url) = self.enqueue();
        let wait_url = wait_url.expect("a queue without our waitUrl never ends");
        let sid = self.sid.clone();
        let mut queue_time = 0u32;
        for _ in 0..MAX_WAIT_REQUESTS {
            if agent_after.is_some_and(|t| queue_time >= t) {
                return Waited::Bridged {
                    after_secs: queue_time,
                };
            }
            let (t, position) = (queue_time.to_string(), "1");
            let (status, body) = self
                .server
                .post(
                    &wait_url,
                    &[
                        ("CallSid", &sid),
                        ("QueueSid", "QU0123456789abcdef0123456789abcdef"),
                        ("QueueTime", &t),
                        ("QueuePosition", position),
                        ("CurrentQueueSize", "1"),
                        ("AvgQueueTime", "30"),
                    ],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let verbs = parse_twiml(&body);
            if verbs.contains(&Verb::Leave) {
                let (status, body) = self
                    .server
                    .post(&action, &[("CallSid", &sid), ("QueueResult", "leave")])
                    .await;
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

    /// The end of a bridged talk with an agent: Twilio sends the final
    /// status callback and the `<Enqueue>` action (`QueueResult=bridged`),
    /// in either order. Returns the action's answer.
    pub async fn talk_ends(&mut self, status_first: bool) -> String {
        let (action, _) = self.enqueue();
        if status_first {
            self.hang_up().await;
        }
        let sid = self.sid.clone();
        let (status, body) = self
            .server
            .post(&action, &[("CallSid", &sid), ("QueueResult", "bridged")])
            .await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
        body
    }
}
