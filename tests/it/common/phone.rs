//! A Twilio-behaving test driver: it starts dialback on a free port, plays
//! the provider's side of calls (signed webhooks, following `<Gather>`,
//! `<Record>`, `<Redirect>`, `<Dial>`/`<Enqueue>` actions, Twilio's silence
//! behaviour and status callbacks) and reads the results back through the
//! admin API.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use dialback::app::App;
use dialback::config::{Clock, Numbers, Settings};
use dialback::twilio::signature;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

/// What the provider sees as our address; requests are signed for it and
/// sent to the real socket, as through a proxy.
pub const PUBLIC_URL: &str = "https://ivr.example.test";
pub const AUTH_TOKEN: &str = "12345678901234567890123456789012";
pub const ADMIN_TOKEN: &str = "admin-secret";

pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    client: reqwest::Client,
}

/// Options for a test server.
pub struct Options {
    pub database_url: String,
    pub crm_webhook: Option<String>,
    pub auth_token: Option<String>,
    pub clock: Clock,
}

impl Server {
    pub async fn start_at(database_url: &str, clock: Clock) -> Server {
        Server::start_with(Options {
            database_url: database_url.to_string(),
            crm_webhook: None,
            auth_token: Some(AUTH_TOKEN.into()),
            clock,
        })
        .await
    }

    pub async fn start_with(o: Options) -> Server {
        Server::start_settings(Server::settings(o)).await
    }

    /// The settings `start_with` uses, for a test to change before starting.
    pub fn settings(o: Options) -> Settings {
        let mut settings = Settings::local("127.0.0.1:0".parse().unwrap());
        settings.database_url = o.database_url;
        settings.public_url = PUBLIC_URL.into();
        settings.auth_token = o.auth_token;
        settings.admin_token = Some(ADMIN_TOKEN.into());
        settings.crm_webhook = o.crm_webhook;
        settings.clock = o.clock;
        settings.numbers = Numbers {
            default: Some("wallet-followup".into()),
            numbers: [
                ("+861000000002".to_string(), "nps-survey".to_string()),
                ("+861000000003".to_string(), "feature-feedback".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        settings
    }

    pub async fn start_settings(settings: Settings) -> Server {
        let app = App::build(settings).await.expect("the server starts");
        let addr = app.addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = rx.await;
            })
            .await
            .expect("the server runs");
        });
        Server {
            addr,
            shutdown: Some(tx),
            task: Some(task),
            client: reqwest::Client::new(),
        }
    }

    /// Tells the server to stop, without waiting for it (see [`Server::stop`]).
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Has the server's `run_until` returned?
    pub fn has_stopped(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// POSTs a signed form to a public URL (or path), returning status and body.
    pub async fn post(&self, public: &str, form: &[(&str, &str)]) -> (u16, String) {
        let url = if public.starts_with("http") {
            public.to_string()
        } else {
            format!("{PUBLIC_URL}{public}")
        };
        let pairs: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = signature::compute(AUTH_TOKEN, &url, &pairs);
        self.post_raw(&url, form, Some(&sig)).await
    }

    pub async fn post_raw(
        &self,
        public_url: &str,
        form: &[(&str, &str)],
        signature: Option<&str>,
    ) -> (u16, String) {
        let real = public_url.replacen(PUBLIC_URL, &format!("http://{}", self.addr), 1);
        let mut req = self.client.post(real).form(form);
        if let Some(s) = signature {
            req = req.header("X-Twilio-Signature", s);
        }
        let resp = req.send().await.expect("the server answers");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    pub async fn post_admin(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// An admin GET whose answer is text (a CSV export): status and body.
    pub async fn admin_get_text(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// `/metrics` as scraped.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("http://{}/metrics", self.addr))
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .unwrap_or_default()
    }

    /// The value of one series on `/metrics` (`name` or `name{labels}`),
    /// 0 while it has not appeared. Metrics are process-wide: tests that
    /// run alongside add to them, so compare before and after with `>=`.
    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(name, _)| *name == series)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0.0)
    }
}

/// One TwiML verb, as the driver needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    Say {
        text: String,
        language: String,
    },
    Play(String),
    Gather {
        action: String,
        num_digits: Option<u32>,
        finish_on_key: Option<String>,
        input: String,
        prompts: Vec<Verb>,
    },
    Redirect(String),
    Record {
        action: String,
        status_callback: String,
    },
    Dial {
        action: String,
        to: String,
        /// `timeout`: seconds the provider rings before `no-answer`.
        timeout: Option<u32>,
    },
    Enqueue {
        action: String,
        queue: String,
        /// Where Twilio asks what a queued caller hears (`waitUrl`).
        wait_url: Option<String>,
    },
    /// `<Pause length>`, in seconds.
    Pause(u32),
    /// `<Leave/>`: out of the queue, on to the `<Enqueue>` action.
    Leave,
    Hangup,
}

/// An element being read: name, attributes, text, child verbs.
type Open = (String, Vec<(String, String)>, String, Vec<Verb>);

/// Parses a TwiML document into verbs (nested prompts inside `<Gather>`).
pub fn parse_twiml(xml: &str) -> Vec<Verb> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Open> = Vec::new();
    let mut out: Vec<Verb> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed TwiML") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                let attrs = attributes(&e);
                stack.push((name, attrs, String::new(), Vec::new()));
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                let attrs = attributes(&e);
                if let Some(v) = verb(&name, &attrs, String::new(), Vec::new()) {
                    push(&mut stack, &mut out, v);
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.as_ref().to_string();
                    top.2.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    });
                }
            }
            Event::End(_) => {
                let (name, attrs, text, children) = stack.pop().expect("balanced");
                if let Some(v) = verb(&name, &attrs, text, children) {
                    push(&mut stack, &mut out, v);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .map(|a| {
            let a = a.expect("attribute");
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .expect("value");
            (a.key.as_ref().to_string(), value.into_owned())
        })
        .collect()
}

fn push(stack: &mut [Open], out: &mut Vec<Verb>, v: Verb) {
    match stack.last_mut() {
        Some(parent) if parent.0 != "Response" => parent.3.push(v),
        _ => out.push(v),
    }
}

fn attr(attrs: &[(String, String)], key: &str) -> Option<String> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn verb(name: &str, attrs: &[(String, String)], text: String, children: Vec<Verb>) -> Option<Verb> {
    Some(match name {
        "Say" => Verb::Say {
            text,
            language: attr(attrs, "language").unwrap_or_default(),
        },
        "Play" => Verb::Play(text),
        "Gather" => Verb::Gather {
            action: attr(attrs, "action")?,
            num_digits: attr(attrs, "numDigits").and_then(|n| n.parse().ok()),
            finish_on_key: attr(attrs, "finishOnKey"),
            input: attr(attrs, "input").unwrap_or_default(),
            prompts: children,
        },
        "Redirect" => Verb::Redirect(text),
        "Record" => Verb::Record {
            action: attr(attrs, "action")?,
            status_callback: attr(attrs, "recordingStatusCallback")?,
        },
        "Number" | "Sip" | "Client" => {
            return Some(Verb::Say {
                text,
                language: format!("dial-target:{name}"),
            });
        }
        "Dial" => Verb::Dial {
            action: attr(attrs, "action")?,
            to: children.iter().find_map(|c| match c {
                Verb::Say { text, language } if language.starts_with("dial-target") => {
                    Some(text.clone())
                }
                _ => None,
            })?,
            timeout: attr(attrs, "timeout").and_then(|t| t.parse().ok()),
        },
        "Enqueue" => Verb::Enqueue {
            action: attr(attrs, "action")?,
            queue: text,
            wait_url: attr(attrs, "waitUrl"),
        },
        "Pause" => Verb::Pause(
            attr(attrs, "length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1),
        ),
        "Leave" => Verb::Leave,
        "Hangup" => Verb::Hangup,
        _ => return None,
    })
}

static NEXT_SID: AtomicU64 = AtomicU64::new(1);

/// A fresh, valid CallSid.
pub fn new_call_sid() -> String {
    let n = NEXT_SID.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("CA{:016x}{:016x}", nanos, n)
}

/// One call, driven the way Twilio drives it.
pub struct Phone<'a> {
    pub server: &'a Server,
    pub sid: String,
    /// The verbs of the last response.
    pub verbs: Vec<Verb>,
    /// Everything spoken to the caller so far.
    pub heard: Vec<String>,
    pub ended: bool,
}

impl<'a> Phone<'a> {
    /// An inbound call from `from` to `to`.
    pub async fn call(server: &'a Server, from: &str, to: &str) -> Phone<'a> {
        Phone::call_url(server, "/twilio/voice", from, to).await
    }

    /// An inbound call answered by the flow called `flow`, whatever the
    /// number (the voice webhook's `?flow=`).
    pub async fn call_flow(server: &'a Server, from: &str, flow: &str) -> Phone<'a> {
        let url = format!("/twilio/voice?flow={flow}");
        Phone::call_url(server, &url, from, "+861000000009").await
    }

    /// An outbound call the dialer placed, answered by a person: the
    /// provider fetches the call's voice URL (`Url` of the Calls API
    /// request, which names the flow and the contact) as Twilio does for
    /// an answered `outbound-api` call. No `AnsweredBy`: Twilio returns it
    /// only for a call placed with `MachineDetection` ("Use Enable if you
    /// would like Twilio to return an AnsweredBy value…",
    /// https://www.twilio.com/docs/voice/answering-machine-detection), which
    /// the default campaign plan does not ask for.
    pub async fn answer(server: &'a Server, voice_url: &str, sid: &str, to: &str) -> Phone<'a> {
        let mut p = Phone {
            server,
            sid: sid.to_owned(),
            verbs: Vec::new(),
            heard: Vec::new(),
            ended: false,
        };
        let (status, body) = server
            .post(
                voice_url,
                &[
                    ("CallSid", sid),
                    ("AccountSid", "AC0"),
                    ("From", "+861000000001"),
                    ("To", to),
                    ("CallStatus", "in-progress"),
                    ("Direction", "outbound-api"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        p.take(&body).await;
        p
    }

    async fn call_url(server: &'a Server, url: &str, from: &str, to: &str) -> Phone<'a> {
        let mut p = Phone {
            server,
            sid: new_call_sid(),
            verbs: Vec::new(),
            heard: Vec::new(),
            ended: false,
        };
        let sid = p.sid.clone();
        let (status, body) = server
            .post(
                url,
                &[
                    ("CallSid", &sid),
                    ("AccountSid", "AC0"),
                    ("From", from),
                    ("To", to),
                    ("CallStatus", "ringing"),
                    ("Direction", "inbound"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        p.take(&body).await;
        p
    }

    pub(super) async fn take(&mut self, body: &str) {
        self.verbs = parse_twiml(body);
        for v in &self.verbs {
            match v {
                Verb::Say { text, .. } => self.heard.push(text.clone()),
                Verb::Gather { prompts, .. } => {
                    for p in prompts {
                        if let Verb::Say { text, .. } = p {
                            self.heard.push(text.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if self.verbs.contains(&Verb::Hangup) && !self.ended {
            self.ended = true;
            self.status("completed").await;
        }
    }

    fn gather(&self) -> (String, Option<String>) {
        self.verbs
            .iter()
            .find_map(|v| match v {
                Verb::Gather {
                    action,
                    finish_on_key,
                    ..
                } => Some((action.clone(), finish_on_key.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected a <Gather>, got {:?}", self.verbs))
    }

    fn redirect(&self) -> String {
        self.verbs
            .iter()
            .find_map(|v| match v {
                Verb::Redirect(u) => Some(u.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected a <Redirect>, got {:?}", self.verbs))
    }

    /// The caller presses keys; a trailing finish key is not sent, as Twilio does.
    pub async fn press(&mut self, keys: &str) {
        let (action, finish) = self.gather();
        let digits = match finish {
            Some(f) if keys.ends_with(f.as_str()) => keys[..keys.len() - f.len()].to_string(),
            _ => keys.to_string(),
        };
        let sid = self.sid.clone();
        let (status, body) = self
            .server
            .post(&action, &[("CallSid", &sid), ("Digits", &digits)])
            .await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
    }

    pub async fn say(&mut self, text: &str, confidence: f32) {
        let (action, _) = self.gather();
        let (sid, conf) = (self.sid.clone(), confidence.to_string());
        let (status, body) = self
            .server
            .post(
                &action,
                &[
                    ("CallSid", &sid),
                    ("SpeechResult", text),
                    ("Confidence", &conf),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
    }

    /// The caller says nothing: the `<Gather>` (or `<Record>`) times out and
    /// Twilio moves on to the next verb, our `<Redirect>`.
    pub async fn silence(&mut self) {
        let url = self.redirect();
        let sid = self.sid.clone();
        let (status, body) = self.server.post(&url, &[("CallSid", &sid)]).await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
    }

    /// The caller records `secs` seconds; Twilio calls the action and the
    /// recording status callback.
    pub async fn record(&mut self, secs: u32) {
        let (action, callback) = self
            .verbs
            .iter()
            .find_map(|v| match v {
                Verb::Record {
                    action,
                    status_callback,
                } => Some((action.clone(), status_callback.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected a <Record>, got {:?}", self.verbs));
        let sid = self.sid.clone();
        // One recording, one RecordingSid: the same in the action, in the
        // status callback and at the end of its URL, as Twilio sends them.
        let rec_sid = format!("RE{}", &sid[2..]);
        let url = format!("https://api.example.test/Recordings/{rec_sid}");
        let d = secs.to_string();
        let (status, body) = self
            .server
            .post(
                &action,
                &[
                    ("CallSid", &sid),
                    ("RecordingUrl", &url),
                    ("RecordingDuration", &d),
                    ("RecordingSid", &rec_sid),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (s2, _) = self
            .server
            .post(
                &callback,
                &[
                    ("CallSid", &sid),
                    ("RecordingSid", &rec_sid),
                    ("RecordingUrl", &url),
                    ("RecordingStatus", "completed"),
                    ("RecordingDuration", &d),
                ],
            )
            .await;
        assert_eq!(s2, 200);
        self.take(&body).await;
    }

    /// The handoff ends: for `<Dial>` a DialCallStatus, for `<Enqueue>` a QueueResult.
    pub async fn agent(&mut self, dial_status: &str, queue_result: &str) {
        let (action, is_queue) = self
            .verbs
            .iter()
            .find_map(|v| match v {
                Verb::Dial { action, .. } => Some((action.clone(), false)),
                Verb::Enqueue { action, .. } => Some((action.clone(), true)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("expected <Dial> or <Enqueue>, got {:?}", self.verbs));
        let sid = self.sid.clone();
        let form: Vec<(&str, &str)> = if is_queue {
            vec![("CallSid", &sid), ("QueueResult", queue_result)]
        } else {
            vec![("CallSid", &sid), ("DialCallStatus", dial_status)]
        };
        let (status, body) = self.server.post(&action, &form).await;
        assert_eq!(status, 200, "{body}");
        self.take(&body).await;
    }

    /// Plays one action written like `dialback simulate --input`: keys,
    /// `say:TEXT@CONF`, `silence`, `record:SECS`, `queue:RESULT`,
    /// `dial:STATUS`, `hangup`.
    pub async fn act(&mut self, action: &str) {
        if let Some(rest) = action.strip_prefix("say:") {
            let (text, conf) = rest.rsplit_once('@').unwrap_or((rest, "1.0"));
            self.say(text, conf.parse().unwrap()).await
        } else if let Some(secs) = action.strip_prefix("record:") {
            self.record(secs.parse().unwrap()).await
        } else if let Some(r) = action.strip_prefix("queue:") {
            self.agent("", r).await
        } else if let Some(r) = action.strip_prefix("dial:") {
            self.agent(r, "").await
        } else if action == "silence" {
            self.silence().await
        } else if action == "hangup" {
            self.hang_up().await
        } else {
            self.press(action).await
        }
    }

    /// The caller hangs up: Twilio sends the final status callback.
    pub async fn hang_up(&mut self) {
        self.ended = true;
        self.status("completed").await;
    }

    pub(super) async fn status(&self, call_status: &str) {
        let (status, _) = self
            .server
            .post(
                "/twilio/status",
                &[
                    ("CallSid", &self.sid),
                    ("CallStatus", call_status),
                    ("CallDuration", "42"),
                ],
            )
            .await;
        assert_eq!(status, 200);
    }

    /// The call as the admin API reports it.
    pub async fn result(&self) -> Value {
        let (status, v) = self
            .server
            .admin_get(&format!("/api/calls/{}", self.sid))
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}
