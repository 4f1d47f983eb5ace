//! A provider that delivers webhooks the way Twilio may: twice, several
//! copies at once, late, out of order, and to any of several replicas.
//!
//! Twilio retries a webhook whose answer it did not get in time (its
//! default timeout is 15 s, and connection failures are retried), and a
//! proxy or a client retry can duplicate a request; the recording status
//! callback comes on its own besides the `<Record>` action. A [`Hook`] is
//! one signed request, kept so that a test can send it again to any
//! [`Server`] — the second replica of the same database included.

use futures_util::future::join_all;

use super::phone::{Server, Verb, parse_twiml};

/// One webhook, as the provider would send it (and send it again).
#[derive(Debug, Clone)]
pub struct Hook {
    pub url: String,
    pub form: Vec<(String, String)>,
}

impl Hook {
    fn new(url: &str, form: &[(&str, &str)]) -> Hook {
        Hook {
            url: url.to_string(),
            form: form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Delivers it to one replica: HTTP status and body.
    pub async fn to(&self, server: &Server) -> (u16, String) {
        let form: Vec<(&str, &str)> = self
            .form
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        server.post(&self.url, &form).await
    }

    /// Delivers one copy to each replica named, all at the same time.
    pub async fn at_once(&self, servers: &[&Server]) -> Vec<(u16, String)> {
        join_all(servers.iter().map(|s| self.to(s))).await
    }

    /// The first webhook of an inbound call.
    pub fn voice(sid: &str, from: &str, to: &str) -> Hook {
        Hook::new(
            "/twilio/voice",
            &[
                ("CallSid", sid),
                ("AccountSid", "AC0"),
                ("From", from),
                ("To", to),
                ("CallStatus", "ringing"),
                ("Direction", "inbound"),
            ],
        )
    }

    /// The caller presses `keys` in the `<Gather>` of `twiml`.
    pub fn press(twiml: &str, sid: &str, keys: &str) -> Hook {
        let action = parse_twiml(twiml)
            .into_iter()
            .find_map(|v| match v {
                Verb::Gather { action, .. } => Some(action),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected a <Gather>, got {twiml}"));
        Hook::new(&action, &[("CallSid", sid), ("Digits", keys)])
    }

    /// The `<Record>` of `twiml` ends after `secs`: its action, and the
    /// recording status callback Twilio sends once the file is stored (both
    /// carry the same RecordingSid and RecordingUrl).
    pub fn recorded(twiml: &str, sid: &str, secs: u32) -> (Hook, Hook) {
        let rec_sid = format!("RE{}", &sid[2..]);
        let url = format!("https://api.example.test/Recordings/{rec_sid}");
        Hook::recorded_at(twiml, sid, secs, &rec_sid, &url)
    }

    /// [`Hook::recorded`] for a recording the provider keeps under
    /// `rec_sid` at `url` (a fake provider's).
    pub fn recorded_at(
        twiml: &str,
        sid: &str,
        secs: u32,
        rec_sid: &str,
        url: &str,
    ) -> (Hook, Hook) {
        let (action, callback) = parse_twiml(twiml)
            .into_iter()
            .find_map(|v| match v {
                Verb::Record {
                    action,
                    status_callback,
                } => Some((action, status_callback)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected a <Record>, got {twiml}"));
        let d = secs.to_string();
        let common = [
            ("CallSid", sid),
            ("RecordingSid", rec_sid),
            ("RecordingUrl", url),
            ("RecordingDuration", d.as_str()),
        ];
        let mut status = common.to_vec();
        status.push(("RecordingStatus", "completed"));
        (Hook::new(&action, &common), Hook::new(&callback, &status))
    }

    /// The `<Enqueue>` of `twiml` ends with `queue_result`.
    pub fn queue_ended(twiml: &str, sid: &str, queue_result: &str) -> Hook {
        let action = parse_twiml(twiml)
            .into_iter()
            .find_map(|v| match v {
                Verb::Enqueue { action, .. } => Some(action),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected an <Enqueue>, got {twiml}"));
        Hook::new(&action, &[("CallSid", sid), ("QueueResult", queue_result)])
    }

    /// The final status callback: the call is over.
    pub fn hung_up(sid: &str) -> Hook {
        Hook::new(
            "/twilio/status",
            &[
                ("CallSid", sid),
                ("CallStatus", "completed"),
                ("CallDuration", "42"),
            ],
        )
    }
}

/// What a caller must hear from a webhook: HTTP 200 and a TwiML document
/// that says or asks something or hangs up — never an empty document and
/// never the "system problem" apology. Returns the body.
pub fn complete((status, body): (u16, String)) -> String {
    assert_eq!(status, 200, "{body}");
    let verbs = parse_twiml(&body);
    assert!(
        verbs
            .iter()
            .any(|v| matches!(v, Verb::Say { .. } | Verb::Gather { .. } | Verb::Hangup)),
        "an empty document: {body:?}"
    );
    for apology in ["抱歉，系统暂时出现问题", "we have a technical problem"] {
        assert!(!body.contains(apology), "the apology: {body}");
    }
    body
}
