//! One simulated caller: its own keep-alive connection, the provider's
//! side of whole wallet follow-up calls one after another, and a pause
//! between webhooks as a person listening to a prompt leaves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::twilio::{self, Party};
use crate::twiml::{self, Reply};
use crate::{Phase, Shared, TOKEN};

/// What a caller does at a question.
#[derive(Clone, Debug)]
enum Answer {
    Keys(&'static str),
    Speech(&'static str),
    /// Nothing: the provider fetches the `<Redirect>` after the `<Gather>`.
    Silence,
    /// A spoken suggestion into `<Record>`.
    Recording,
}

/// A caller's part in one call of the `wallet-followup` flow, and the
/// answers the server must have stored once the call is over (the admin
/// API's `answers`: yes/no as booleans, numbers as numbers, a recording as
/// an object).
struct Plan {
    answers: Vec<Answer>,
    expected: serde_json::Map<String, Value>,
}

/// The kinds of webhook, for server time by kind.
pub(crate) const KINDS: [&str; 3] = ["voice", "answer", "status"];

/// What one caller measured, handed back when the run stops.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) webhooks: u64,
    pub(crate) errors: u64,
    pub(crate) calls: u64,
    pub(crate) server_us: Vec<u32>,
    pub(crate) by_kind: [Vec<u32>; 3],
    /// Finished calls to check through the admin API, with what they sent.
    pub(crate) samples: Vec<(String, serde_json::Map<String, Value>)>,
    /// The first few failures, said in words.
    pub(crate) failures: Vec<String>,
}

pub(crate) struct Caller {
    id: u64,
    addr: SocketAddr,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    rng: u64,
    shared: std::sync::Arc<Shared>,
    tally: Tally,
}

/// Why a call went wrong, for the failure list.
type Failure = String;

impl Caller {
    pub(crate) fn new(id: u64, addr: SocketAddr, shared: std::sync::Arc<Shared>) -> Caller {
        Caller {
            id,
            addr,
            sender: None,
            rng: (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            shared,
            tally: Tally::default(),
        }
    }

    /// Calls one after another until the run stops.
    pub(crate) async fn run(mut self) -> Tally {
        let shared = self.shared.clone();
        // Paced callers start spread over one pause, as real calls arrive.
        if !shared.think.is_zero() && !self.pause().await {
            return self.tally;
        }
        let mut n = 0u64;
        while shared.phase() != Phase::Done {
            n += 1;
            let sid = format!("CA{:08x}{:08x}{:016x}", shared.run_id, self.id, n);
            match self.one_call(&sid).await {
                Ok(true) => {
                    if shared.phase() == Phase::Measuring {
                        self.tally.calls += 1;
                    }
                }
                // Stopped in the middle: neither a success nor a failure.
                Ok(false) => break,
                Err(why) => {
                    if shared.phase() != Phase::Done {
                        self.tally.errors += 1;
                        if self.tally.failures.len() < 3 {
                            self.tally.failures.push(format!("{sid}: {why}"));
                        }
                    }
                }
            }
        }
        self.tally
    }

    /// xorshift: the spread only needs to keep callers out of step.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// Waits ½× to 1½× the think time; false when the run stopped meanwhile.
    async fn pause(&mut self) -> bool {
        let think = self.shared.think;
        if think.is_zero() {
            return self.shared.phase() != Phase::Done;
        }
        let unit = (self.next() % 1_000) as f64 / 1_000.0;
        tokio::select! {
            _ = tokio::time::sleep(think.mul_f64(0.5 + unit)) => true,
            _ = self.shared.stop.cancelled() => false,
        }
    }

    /// A caller's part in the wallet follow-up: consent, whether the
    /// problem is solved (by keys, by speech, after a silence, or "no",
    /// which ends the survey), a rating, the new feature (keys or a word),
    /// and sometimes a spoken suggestion.
    fn plan(&mut self) -> Plan {
        let mut answers = vec![Answer::Keys("1")];
        let mut expected = serde_json::Map::new();
        expected.insert("consent".into(), json!(true));
        match self.next() % 100 {
            0..5 => {
                answers.push(Answer::Keys("2"));
                expected.insert("resolved".into(), json!(false));
                return Plan { answers, expected };
            }
            5..15 => answers.push(Answer::Speech("嗯，已经解决了")),
            15..25 => answers.extend([Answer::Silence, Answer::Keys("1")]),
            _ => answers.push(Answer::Keys("1")),
        }
        expected.insert("resolved".into(), json!(true));
        const RATINGS: [&str; 5] = ["1", "2", "3", "4", "5"];
        let rating = (self.next() % 5) as usize;
        answers.push(Answer::Keys(RATINGS[rating]));
        expected.insert("csat".into(), json!(rating + 1));
        const FEATURE: [(&str, &str, &str); 3] = [
            ("1", "有用", "useful"),
            ("2", "一般吧", "so_so"),
            ("3", "还没用过", "not_used"),
        ];
        let (key, word, value) = FEATURE[(self.next() % 3) as usize];
        answers.push(if self.chance(20) {
            Answer::Speech(word)
        } else {
            Answer::Keys(key)
        });
        expected.insert("feature".into(), json!(value));
        if self.chance(15) {
            answers.extend([Answer::Keys("1"), Answer::Recording]);
            expected.insert("has_suggestion".into(), json!(true));
            expected.insert("suggestion".into(), json!(null));
        } else {
            answers.push(Answer::Keys("2"));
            expected.insert("has_suggestion".into(), json!(false));
        }
        Plan { answers, expected }
    }

    /// One call from the voice webhook to the status callback, following
    /// the TwiML it gets. `Ok(false)`: the run stopped during the call.
    async fn one_call(&mut self, sid: &str) -> Result<bool, Failure> {
        let shared = self.shared.clone();
        let from = format!("+86138{:08}", self.id % 100_000_000);
        let party = Party {
            call_sid: sid,
            from: &from,
            to: "+861000000001",
        };
        let mut plan = self.plan();
        let mut planned = plan
            .answers
            .drain(..)
            .collect::<std::collections::VecDeque<_>>();
        let started = Instant::now();
        let base = crate::PUBLIC_URL;
        let params = twilio::call_params(&party, "ringing");
        let Some(mut reply) = self
            .post(&format!("{base}/twilio/voice"), params, 0)
            .await?
        else {
            return Ok(false);
        };
        let mut failure: Option<Failure> = None;
        let mut recorded: Option<Value> = None;
        // Each turn: the caller listens to the reply, then the provider
        // posts what happened to the URL the reply named.
        while let Some(next) = self.next_request(&reply, &party, &mut planned, &mut recorded) {
            let (url, params) = match next {
                Ok(next) => next,
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            };
            if !self.pause().await {
                return Ok(false);
            }
            match self.post(&url, params, 1).await? {
                Some(r) => reply = r,
                None => return Ok(false),
            }
        }
        if failure.is_none() && shared.verify && !planned.is_empty() {
            failure = Some(format!(
                "the call ended with {} answers left to give: {:?}",
                planned.len(),
                reply.said
            ));
        }
        // The provider hangs up when the TwiML runs out, and then posts the
        // call's final status to the number's status callback.
        let mut params = twilio::call_params(&party, "completed");
        let secs = started.elapsed().as_secs().max(1).to_string();
        params.push(("CallDuration", secs.clone()));
        params.push(("Duration", secs));
        params.push(("CallbackSource", "call-progress-events".into()));
        params.push(("SequenceNumber", "0".into()));
        params.push((
            "Timestamp",
            "Thu, 03 Dec 2026 16:00:00 +0000".into(), // RFC 2822, as Twilio sends it
        ));
        if self
            .post(&format!("{base}/twilio/status"), params, 2)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        if let Some(why) = failure {
            return Err(why);
        }
        if shared.verify && self.next().is_multiple_of(shared.sample_every) {
            if let Some(rec) = recorded {
                plan.expected.insert("suggestion".into(), rec);
            }
            self.tally.samples.push((sid.to_string(), plan.expected));
        }
        Ok(true)
    }

    /// The provider's next request after `reply`, or `None` when the call
    /// is over.
    #[allow(clippy::type_complexity)]
    fn next_request(
        &mut self,
        reply: &Reply,
        party: &Party<'_>,
        planned: &mut std::collections::VecDeque<Answer>,
        recorded: &mut Option<Value>,
    ) -> Option<Result<(String, Vec<(&'static str, String)>), Failure>> {
        let mut params = twilio::call_params(party, "in-progress");
        if let Some(action) = &reply.gather {
            let answer = planned.pop_front();
            match answer {
                Some(Answer::Keys(keys)) => {
                    params.push(("Digits", keys.into()));
                    params.push(("FinishedOnKey", String::new()));
                }
                Some(Answer::Speech(text)) => {
                    params.push(("SpeechResult", text.into()));
                    params.push(("Confidence", "0.9134".into()));
                    params.push(("Language", "cmn-Hans-CN".into()));
                }
                Some(Answer::Silence) => {
                    let Some(redirect) = &reply.redirect else {
                        return Some(Err("a question without a silence redirect".into()));
                    };
                    return Some(Ok((redirect.clone(), params)));
                }
                // The static server asks a question where dialback records.
                Some(Answer::Recording) if !self.shared.verify => {
                    params.push(("Digits", "1".into()));
                }
                Some(Answer::Recording) => {
                    return Some(Err(format!(
                        "a question where a recording was due: {}",
                        reply.said
                    )));
                }
                // The plan is over; the static server asks forever.
                None if !self.shared.verify => return None,
                None => return Some(Err(format!("one question too many: {}", reply.said))),
            }
            return Some(Ok((action.clone(), params)));
        }
        if let Some(action) = &reply.record {
            if !matches!(planned.pop_front(), Some(Answer::Recording)) {
                return Some(Err("a recording where a question was due".into()));
            }
            let rec_sid = format!("RE{}", &party.call_sid[2..]);
            let url = format!(
                "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{rec_sid}",
                twilio::ACCOUNT_SID
            );
            params.push(("RecordingUrl", url.clone()));
            params.push(("RecordingSid", rec_sid.clone()));
            params.push(("RecordingDuration", "7".into()));
            params.push(("Digits", "#".into()));
            *recorded = Some(json!({"url": url, "duration_secs": 7, "recording_sid": rec_sid}));
            return Some(Ok((action.clone(), params)));
        }
        if let Some(action) = &reply.enqueue {
            // An agent took the caller after a short wait.
            params.push(("QueueResult", "bridged".into()));
            params.push(("QueueSid", "QU0123456789abcdef0123456789abcdef".into()));
            params.push(("QueueTime", "12".into()));
            return Some(Ok((action.clone(), params)));
        }
        if let Some(action) = &reply.dial {
            params.push(("DialCallStatus", "completed".into()));
            params.push(("DialCallSid", format!("CA{}", &party.call_sid[2..])));
            params.push(("DialCallDuration", "60".into()));
            return Some(Ok((action.clone(), params)));
        }
        // <Hangup/>, or TwiML that ran out: the call is over.
        None
    }

    async fn connect(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, Failure> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        Ok(sender)
    }

    /// POSTs a signed webhook to `url` (absolute, as the TwiML named it;
    /// sent to the server's socket as a TLS-terminating proxy would) and
    /// reads the reply. `Ok(None)`: the run stopped before the reply came.
    async fn post(
        &mut self,
        url: &str,
        params: Vec<(&'static str, String)>,
        kind: usize,
    ) -> Result<Option<Reply>, Failure> {
        let signature = twilio::sign(TOKEN, url, &params);
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .ok_or_else(|| format!("not an absolute URL: {url}"))?
            .to_string();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let request = hyper::Request::post(path)
            .header("host", crate::PUBLIC_HOST)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", "TwilioProxy/1.1")
            .header("i-twilio-idempotency-token", format!("{:016x}", self.rng))
            .header("x-twilio-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let stop = self.shared.stop.clone();
        let exchange = async {
            let sender = self.connect().await?;
            let resp = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            let server = server_timing(resp.headers());
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, Failure>((status, server, body.to_bytes()))
        };
        let outcome = tokio::select! {
            outcome = exchange => outcome,
            _ = stop.cancelled() => return Ok(None),
        };
        let (status, server, body) = match outcome {
            Ok(ok) => ok,
            Err(e) => {
                self.sender = None;
                return Err(e);
            }
        };
        if self.shared.phase() == Phase::Measuring {
            self.tally.webhooks += 1;
            if let Some(us) = server {
                self.tally.server_us.push(us);
                self.tally.by_kind[kind].push(us);
            }
        }
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}"));
        }
        let text = std::str::from_utf8(&body).map_err(|_| format!("{url}: reply not UTF-8"))?;
        let reply =
            twiml::read(text).ok_or_else(|| format!("{url}: reply is not TwiML: {text}"))?;
        if self
            .shared
            .apologies
            .iter()
            .any(|a| reply.said.contains(a.as_str()))
        {
            return Err(format!("{url}: the server apologised: {}", reply.said));
        }
        Ok(Some(reply))
    }
}

/// `Server-Timing: app;dur=<ms>` in microseconds.
fn server_timing(headers: &hyper::HeaderMap) -> Option<u32> {
    let v = headers.get("server-timing")?.to_str().ok()?;
    let dur = v.split(';').find_map(|p| p.trim().strip_prefix("dur="))?;
    let ms: f64 = dur.split(',').next()?.trim().parse().ok()?;
    Some((ms * 1000.0).round() as u32)
}

/// How long the admin check may take per call, so a hung server ends the run.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
