//! The media-stream WebSocket (`GET /media`): the thin async loop that
//! connects a provider's Media Streams socket to the sans-I/O
//! [`Session`], the call machine and the store.
//!
//! One task per socket: a slow or stuck call never delays another. The loop
//! waits for `start`, loads (or creates) the call by its CallSid, answers
//! it, and from then on feeds the session with messages and time, doing
//! what it asks: send frames, marks and `clear`; apply an input to the
//! machine and store it exactly as a TwiML webhook would (state and answers
//! in one `advance_call`); recognise an utterance; save a recording.
//!
//! Any trouble on the socket (malformed JSON, bad base64, a binary frame,
//! an oversized message, events out of order, no message from the provider
//! for `--stream-idle-timeout-ms`, a peer that stops reading) ends that
//! call only, with one log line: the hang-up is stored and the answers
//! already given stay stored.
//!
//! Transfers: a live call cannot be bridged to an agent from inside a media
//! stream. Once the transfer step's prompts have played, the loop asks the
//! provider to redirect the live call (a REST update of the call) to
//! `/twilio/transfer?seq=N`, which answers the `<Dial>`/`<Enqueue>` stored
//! for that step; the provider ends the stream with `stop`, and the dial
//! result continues the flow through the TwiML webhooks. Without a provider
//! account, or when the update fails, the transfer fails: an *open* handoff
//! (reason `failed`, CRM notified) and the flow's `unavailable` step — the
//! ticket and promised call-back path — played on the stream.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::AppState;
use super::signed::check_stream_upgrade;
use crate::flow::event::{Input, Output, TransferResult, TransferSpec};
use crate::flow::{Call, Flow};
use crate::media::stream::protocol::{self, Event, MAX_MESSAGE_BYTES, Start};
use crate::media::stream::{Action, Session, SessionConfig, Wait};
use crate::media::{Prompt, SAMPLE_RATE, trim_silence};
use crate::recordings;
use crate::speech::{Recogniser, SpeechError, Transcript};
use crate::store::{Advanced, CallRow};
use crate::twilio::rest::ProviderError;
use crate::twiml;

/// The provider must send `start` this soon after connecting.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The REST update that moves a call to its transfer must answer this
/// soon: the caller is waiting on the line, hearing nothing.
const REDIRECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A provider that does not take our frames for this long has gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the provider has to answer our Close before the socket goes.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Recordings: samples at or below this magnitude (about −38 dBFS) at the
/// ends are trimmed, keeping this much around the voice.
const TRIM_THRESHOLD: i16 = 400;
const TRIM_KEEP_MS: u32 = 250;

/// Serves media streams; [`crate::app::App::media_streams`] hands
/// one out so tests can drive a call over in-memory channels.
#[derive(Clone)]
pub struct MediaStreams {
    state: AppState,
}

impl MediaStreams {
    pub fn new(state: AppState) -> MediaStreams {
        MediaStreams { state }
    }

    /// Runs one stream to its end over any socket-like pair of a sink and a
    /// stream of WebSocket messages (the provider's side is the peer).
    pub async fn serve<S, E>(&self, socket: S)
    where
        S: Sink<Message> + Stream<Item = Result<Message, E>> + Send + 'static,
        <S as Sink<Message>>::Error: Display,
        E: Display,
    {
        let socket = std::pin::pin!(socket);
        run(self.state.clone(), socket).await
    }
}

/// `GET /media`: checks the request like every provider request, then
/// upgrades; each socket gets a task of its own, tracked so that shutdown
/// lets the call finish.
pub(super) async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(rejected) = check_stream_upgrade(&state, &headers, peer) {
        return *rejected;
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        // Small: see `MediaSettings::read_buffer`.
        .read_buffer_size(state.settings().media.read_buffer)
        .on_failed_upgrade(|e| tracing::warn!(error = %e, "media stream upgrade failed"))
        .on_upgrade(move |socket| {
            let streams = state.streams().clone();
            streams.track_future(async move { run(state, socket).await })
        })
}

/// The provider's socket: messages both ways, one object. Why not split
/// halves: the loop reads and writes in turn, never both at once, and the
/// lock between split halves is taken on every read and write.
trait Socket<E>: Sink<Message, Error: Display> + Stream<Item = Result<Message, E>> + Unpin {}

impl<S, E> Socket<E> for S where
    S: Sink<Message, Error: Display> + Stream<Item = Result<Message, E>> + Unpin
{
}

/// Why the loop stopped.
enum End {
    /// The call's flow ended and its last words were played.
    Finished,
    /// The caller (or the provider) went away; the hang-up is stored.
    Gone(String),
    /// We cannot go on (the store failed, the call moved on elsewhere).
    Failed(String),
}

/// What a socket read means.
enum Incoming {
    Event(Event),
    Ignore,
    Closed(String),
    Bad(String),
}

/// `buffer`: where a `media` payload is decoded (see [`protocol::parse_reusing`]).
fn classify<E: Display>(msg: Option<Result<Message, E>>, buffer: Vec<u8>) -> Incoming {
    match msg {
        None => Incoming::Closed("the socket closed".into()),
        Some(Err(e)) => Incoming::Bad(format!("socket error: {e}")),
        Some(Ok(Message::Text(text))) => match protocol::parse_reusing(text.as_str(), buffer) {
            Ok(event) => Incoming::Event(event),
            Err(e) => Incoming::Bad(e.to_string()),
        },
        Some(Ok(Message::Binary(b))) => Incoming::Bad(format!(
            "a binary frame of {} bytes (Media Streams messages are text)",
            b.len()
        )),
        Some(Ok(Message::Close(_))) => Incoming::Closed("the provider closed the socket".into()),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Ignore,
    }
}

async fn run<E: Display>(state: AppState, mut ws: impl Socket<E>) {
    let start = match wait_for_start(&mut ws).await {
        Ok(start) => start,
        Err(why) => {
            tracing::warn!(reason = %why, "media stream ended before it started");
            close(&mut ws).await;
            return;
        }
    };
    let span = tracing::info_span!("stream", call_sid = %start.call_sid);
    let metrics = state.metrics().clone();
    metrics.media_stream_started();
    async {
        match Live::begin(&state, &start).await {
            Ok(live) => live.run(&mut ws).await,
            Err(why) => tracing::warn!(reason = %why, "media stream refused"),
        }
        close(&mut ws).await;
    }
    .instrument(span)
    .await;
    metrics.media_stream_ended();
}

/// Ends the WebSocket with a close handshake: our Close, then the
/// provider's answer (frames it sent meanwhile are dropped). Why wait:
/// dropping the socket at once resets the connection under the frames the
/// provider still has on their way, which it sees as an error rather than
/// an end. A provider that never answers gets [`CLOSE_WAIT`].
async fn close<E>(ws: &mut impl Socket<E>) {
    if !matches!(
        tokio::time::timeout(SEND_TIMEOUT, ws.close()).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Reads up to the `start` message; anything else that matters before it
/// is out of order.
async fn wait_for_start<E: Display>(ws: &mut impl Socket<E>) -> Result<Start, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("no `start` message within {START_TIMEOUT:?}"))?;
        match classify(msg, Vec::new()) {
            Incoming::Event(Event::Start(start)) => return Ok(start),
            Incoming::Event(Event::Connected | Event::Other(_)) | Incoming::Ignore => {}
            Incoming::Event(Event::Stop) => return Err("`stop` before `start`".into()),
            Incoming::Event(other) => {
                return Err(format!("{} before `start`", event_name(&other)));
            }
            Incoming::Closed(why) | Incoming::Bad(why) => return Err(why),
        }
    }
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Connected => "`connected`",
        Event::Start(_) => "`start`",
        Event::Media { .. } => "`media`",
        Event::Dtmf(_) => "`dtmf`",
        Event::Mark(_) => "`mark`",
        Event::Stop => "`stop`",
        Event::Other(_) => "an unknown event",
    }
}

/// One live call on this socket.
struct Live {
    state: AppState,
    flow: Arc<Flow>,
    call: Call,
    row: CallRow,
    stream_sid: String,
    /// The `<Connect><Stream>` TwiML, stored as the call's response.
    connect: String,
    session: Session,
    epoch: Instant,
    /// The caller hung up: inputs are still stored, no new turn starts.
    hung_up: bool,
    recognition: Option<JoinHandle<Result<Transcript, SpeechError>>>,
    /// A step being stored. The loop keeps reading (and timing) caller
    /// frames meanwhile: a slow store must not make frames late.
    storing: Option<JoinHandle<Stored>>,
    /// First caller frame: when it arrived, and its provider timestamp.
    first_frame: Option<(Instant, u64)>,
    /// The last caller frame's payload buffer, handed back to the parser
    /// for the next one.
    spare: Vec<u8>,
    /// The REST update moving the call to its transfer, while in flight.
    redirect: Option<JoinHandle<Result<(), ProviderError>>>,
    /// The provider took the call to its transfer: the end of this stream
    /// is not a hang-up, the call goes on in TwiML.
    handed_over: bool,
}

impl Live {
    /// Loads the call named by `start`, or creates it for a stream the
    /// voice webhook did not announce (an outbound call whose TwiML was
    /// given directly), with the flow from the custom parameters.
    async fn begin(state: &AppState, start: &Start) -> Result<Live, String> {
        if let Some(format) = &start.media_format
            && !format.is_mulaw_8k()
        {
            return Err(format!("unsupported media format {format:?}"));
        }
        let sid = crate::twilio::CallSid::parse(&start.call_sid)
            .map_err(|_| format!("`start` names an invalid CallSid {:?}", start.call_sid))?;
        let wanted = start.custom_parameters.get("flow").map(String::as_str);
        let (flow, row, call) = state.calls().open_stream(&sid, wanted).await?;
        tracing::info!(stream_sid = %start.stream_sid, flow = %flow.name, resumed = row.seq > 0, "media stream started");
        Ok(Live {
            connect: twiml::stream_call(&state.settings().public_url, sid.as_str(), &flow.name),
            state: state.clone(),
            flow,
            call,
            row,
            stream_sid: start.stream_sid.clone(),
            session: Session::new(SessionConfig::default()),
            epoch: Instant::now(),
            hung_up: false,
            recognition: None,
            storing: None,
            first_frame: None,
            spare: Vec::new(),
            redirect: None,
            handed_over: false,
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    async fn run<E: Display>(mut self, ws: &mut impl Socket<E>) {
        // A new call is answered; a resumed one (a reconnected stream) hears
        // its current question again: the machine treats `Answered` so.
        self.begin_step(Input::Answered);
        let end = self.serve(ws).await;
        match end {
            End::Finished => tracing::debug!("media stream finished"),
            End::Gone(why) if self.handed_over().await => {
                tracing::info!(reason = %why, "the stream ended: the call went on to its transfer");
            }
            End::Gone(why) => {
                tracing::info!(reason = %why, "the caller is gone");
                self.hang_up().await;
            }
            End::Failed(why) => tracing::error!(reason = %why, "media stream stopped"),
        }
    }

    /// The loop proper: do what the session asks, then wait for a message,
    /// a recognition result or the session's next deadline.
    async fn serve<E: Display>(&mut self, ws: &mut impl Socket<E>) -> End {
        let idle_timeout = self.state.settings().media.idle_timeout;
        let mut last_heard = Instant::now();
        // Two timers that live as long as the loop, reset only when their
        // time changes. Why: the loop turns 50 times a second per stream; a
        // fresh `sleep` per turn is a timer-wheel insert and removal each
        // time, a measurable share of a stream's CPU at 1,000 streams.
        // The idle timer is not pushed back on every message either: when
        // it fires it looks at `last_heard` and, if a message came since,
        // sleeps again until the new time.
        let idle = tokio::time::sleep_until(last_heard + idle_timeout);
        tokio::pin!(idle);
        let wake = tokio::time::sleep_until(last_heard);
        tokio::pin!(wake);
        let mut wake_at: Option<Instant> = None;
        loop {
            if let Err(end) = self.act(ws).await {
                return end;
            }
            let deadline = self.session.next_deadline().map(|d| self.epoch + d);
            if deadline != wake_at {
                if let Some(at) = deadline {
                    wake.as_mut().reset(at);
                }
                wake_at = deadline;
            }
            // When a message came: one clock read serves the idle timer, the
            // session and the tick (the loop turns 50 times a second).
            let mut heard_now = None;
            tokio::select! {
                msg = ws.next() => {
                    last_heard = Instant::now();
                    heard_now = Some(last_heard);
                    match classify(msg, std::mem::take(&mut self.spare)) {
                        Incoming::Event(event) => {
                            if let Err(end) = self.event(event, last_heard) {
                                return end;
                            }
                        }
                        Incoming::Ignore => {}
                        Incoming::Closed(why) => return End::Gone(why),
                        Incoming::Bad(why) => {
                            tracing::warn!(reason = %why, "unusable message on the media stream: ending the call");
                            return End::Gone(why);
                        }
                    }
                }
                result = wait_recognition(&mut self.recognition), if self.recognition.is_some() => {
                    self.recognition = None;
                    self.begin_step(speech_input(result));
                }
                stored = wait_stored(&mut self.storing), if self.storing.is_some() => {
                    self.storing = None;
                    if let Err(end) = self.end_step(stored).await {
                        return end;
                    }
                }
                result = wait_redirect(&mut self.redirect), if self.redirect.is_some() => {
                    self.redirect = None;
                    self.redirected(result);
                }
                // Fired: disarmed until the session names a deadline again
                // (a fired `Sleep` would be ready at once on every turn).
                () = &mut wake, if wake_at.is_some() => wake_at = None,
                () = &mut idle => {
                    let due = last_heard + idle_timeout;
                    if Instant::now() < due {
                        idle.as_mut().reset(due);
                        continue;
                    }
                    if !self.handed_over {
                        tracing::warn!(?idle_timeout, "no message from the provider: the stream has stalled or vanished, ending the call");
                    }
                    return End::Gone(format!("no message from the provider for {idle_timeout:?}"));
                }
            }
            let now = heard_now.map_or_else(|| self.now(), |at| at - self.epoch);
            self.session.tick(now);
        }
    }

    fn event(&mut self, event: Event, at: Instant) -> Result<(), End> {
        let now = at - self.epoch;
        match event {
            Event::Media { payload, timestamp } => {
                self.session.media(&payload, now);
                self.count_frame(timestamp, at);
                self.spare = payload;
            }
            Event::Dtmf(key) => self.session.dtmf(key, now),
            Event::Mark(name) => self.session.mark(&name, now),
            Event::Stop => return Err(End::Gone("the provider stopped the stream".into())),
            Event::Start(_) => return Err(End::Gone("a second `start` on one stream".into())),
            Event::Connected | Event::Other(_) => {}
        }
        Ok(())
    }

    /// Counts a caller frame read at `at`, and how late it was processed.
    fn count_frame(&mut self, timestamp: Option<u64>, at: Instant) {
        let lateness = timestamp.map(|ts| self.lateness(ts, at));
        self.state.metrics().media_frame(lateness);
    }

    /// How late this frame is processed, against the provider's own
    /// timestamps from the first frame. `processed` is when the loop read
    /// it: the session's work on a frame takes a few microseconds, and a
    /// second clock read per frame cost more than that precision is worth.
    fn lateness(&mut self, timestamp: u64, processed: Instant) -> Duration {
        let (first_at, first_ts) = *self.first_frame.get_or_insert((processed, timestamp));
        let due = first_at + Duration::from_millis(timestamp.saturating_sub(first_ts));
        processed.saturating_duration_since(due)
    }

    /// Does everything the session asked for, in order; flushes the socket once.
    async fn act(
        &mut self,
        ws: &mut (impl Sink<Message, Error: Display> + Unpin),
    ) -> Result<(), End> {
        let mut sent = false;
        while let Some(action) = self.session.poll() {
            match action {
                Action::Send(command) => {
                    let text = command.to_json(&self.stream_sid);
                    send(ws.feed(Message::Text(text.into()))).await?;
                    sent = true;
                }
                Action::Input(input) => self.begin_step(input),
                Action::Recognise {
                    audio,
                    language,
                    hints,
                } => self.recognise(audio, language, hints),
                Action::SaveRecording { step, seq, audio } => {
                    let input = self.save_recording(&step, seq, audio).await;
                    self.begin_step(input);
                }
                Action::Transfer(spec) => self.redirect(&spec),
                Action::Hangup => {
                    if sent {
                        send(ws.flush()).await?;
                    }
                    return Err(End::Finished);
                }
            }
        }
        if sent {
            send(ws.flush()).await?;
        }
        Ok(())
    }

    /// Applies one input to the machine and starts storing its effect in a
    /// task of its own; [`Live::end_step`] takes the result. The session is
    /// idle meanwhile (it waits for the next turn), so nothing else can
    /// produce an input before then.
    fn begin_step(&mut self, input: Input) {
        if self.call.outcome().is_some() {
            return;
        }
        let now = self.state.calls().clock().now();
        let mut call = self.call.clone();
        let outputs = call.handle(&self.flow, input, now);
        // A stream call's stored answer stays the <Connect><Stream>, except
        // at a transfer: there it is the <Dial>/<Enqueue> alone (the prompts
        // before it play on the stream), which `/twilio/transfer` answers.
        let response = match Wait::of(&outputs) {
            Some(Wait::Transfer(t)) => twiml::render(
                &[Output::Transfer(t)],
                &twiml::Links::for_flow(&self.state.settings().public_url, &self.flow),
            ),
            _ => self.connect.clone(),
        };
        let (calls, row) = (self.state.calls().clone(), self.row.clone());
        self.storing = Some(tokio::spawn(async move {
            let result = calls
                .commit(&row, &call, &outputs, response.clone(), now)
                .await
                .map_err(|e| e.to_string());
            Stored {
                result,
                call,
                outputs,
                response,
            }
        }));
    }

    /// Takes a stored step: the call moves on, and the next turn starts.
    async fn end_step(&mut self, stored: Result<Stored, String>) -> Result<(), End> {
        let stored = stored.map_err(|e| End::Failed(format!("storing a step failed: {e}")))?;
        match stored.result {
            Ok(Advanced::Applied) => {
                self.row.seq = i64::from(stored.call.seq);
                self.row.response = stored.response;
                self.call = stored.call;
            }
            Ok(Advanced::Stale) => {
                return Err(End::Failed(
                    "the call was moved on elsewhere (a status callback or another replica)".into(),
                ));
            }
            Err(e) => return Err(End::Failed(format!("the store failed saving a step: {e}"))),
        }
        if !self.hung_up {
            self.start_turn(&stored.outputs).await;
        }
        Ok(())
    }

    /// The transfer step's prompts have played: ask the provider to take the
    /// live call to the transfer's TwiML. Without a provider account the
    /// transfer fails at once, and the flow takes its fallback.
    fn redirect(&mut self, spec: &TransferSpec) {
        let Some(provider) = self.state.inner.provider.clone() else {
            tracing::warn!(
                target_ = %spec.target,
                "no provider account (--account-sid) to move the call to its transfer: storing an open handoff, the flow continues at its fallback"
            );
            return self.begin_step(Input::TransferEnded(TransferResult::Failed));
        };
        let url = format!(
            "{}/twilio/transfer?seq={}",
            self.state.settings().public_url,
            spec.seq
        );
        tracing::info!(target_ = %spec.target, %url, "asking the provider to move the call to its transfer");
        let sid = self.row.call_sid.clone();
        self.redirect = Some(tokio::spawn(async move {
            provider
                .redirect_call(sid.as_str(), &url, REDIRECT_TIMEOUT)
                .await
        }));
    }

    /// The provider answered the REST update: the stream is about to end
    /// (`stop`), or the transfer failed and the flow takes its fallback.
    fn redirected(&mut self, result: Result<(), ProviderError>) {
        match result {
            Ok(()) => {
                tracing::info!("the provider took the call to its transfer");
                self.handed_over = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the provider did not move the call to its transfer: storing an open handoff, the flow continues at its fallback");
                self.begin_step(Input::TransferEnded(TransferResult::Failed));
            }
        }
    }

    /// Did this stream end because the provider took the call to its
    /// transfer? A `stop` may come before the REST update's answer: then
    /// that answer decides.
    async fn handed_over(&mut self) -> bool {
        if self.redirect.is_some() {
            let result = wait_redirect(&mut self.redirect).await;
            self.redirect = None;
            match result {
                Ok(()) => self.handed_over = true,
                Err(e) => {
                    tracing::warn!(error = %e, "the provider did not move the call to its transfer")
                }
            }
        }
        self.handed_over
    }

    /// Applies one input and waits until it is stored (the hang-up path).
    async fn step(&mut self, input: Input) -> Result<(), End> {
        self.begin_step(input);
        self.finish_storing().await
    }

    async fn finish_storing(&mut self) -> Result<(), End> {
        if self.storing.is_some() {
            let stored = wait_stored(&mut self.storing).await;
            self.storing = None;
            self.end_step(stored).await?;
        }
        Ok(())
    }

    /// Renders the turn's prompts and hands them to the session.
    async fn start_turn(&mut self, outputs: &[Output]) {
        let Some(wait) = Wait::of(outputs) else {
            return;
        };
        let mut prompts = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Prompt(p) => Some(p),
                _ => None,
            })
            .collect::<Vec<_>>();
        match &wait {
            Wait::Listen(l) => prompts.extend(&l.prompts),
            Wait::Record(r) => prompts.extend(&r.prompts),
            Wait::Transfer(_) | Wait::End => {}
        }
        let mut frames: Vec<Arc<Prompt>> = Vec::with_capacity(prompts.len());
        for p in prompts {
            match self.state.inner.prompts.render(p).await {
                Ok(f) => frames.push(f),
                Err(e) => {
                    tracing::error!(error = %e, prompt = %p.for_log(), "cannot render a prompt: skipping it")
                }
            }
        }
        if matches!(wait, Wait::Record(_)) {
            frames.push(self.state.inner.prompts.beep().await);
        }
        self.session.start_turn(frames, wait, self.now());
    }

    fn recognise(&mut self, audio: Vec<i16>, language: String, hints: Vec<String>) {
        let recogniser: Option<Arc<dyn Recogniser>> = self.state.inner.recogniser.clone();
        self.recognition = Some(tokio::spawn(async move {
            match recogniser {
                Some(r) => r.recognise(&audio, &language, &hints).await,
                None => Err(SpeechError::NoRecogniser),
            }
        }));
    }

    /// Stores a recording (silence trimmed) as WAV in the store, where
    /// every replica can serve it, and enqueues its transcript; the input
    /// it makes. Its id (dialback's own, as the stream has no provider
    /// recording) is the answer's `sid`, and its `url` the dashboard's
    /// address for it.
    async fn save_recording(&mut self, step: &str, seq: u32, audio: Vec<i16>) -> Input {
        let trimmed = trim_silence(&audio, TRIM_THRESHOLD, TRIM_KEEP_MS).to_vec();
        if trimmed.len() < SAMPLE_RATE as usize / 2 {
            return Input::Silence;
        }
        let duration_secs = trimmed.len().div_ceil(SAMPLE_RATE as usize) as u32;
        let call_sid = self.row.call_sid.clone();
        let id = recordings::stream_recording_id(&call_sid, step, seq);
        let wav = crate::speech::stt::wav_bytes(&trimmed);
        let stored =
            recordings::store_stream_recording(self.state.store(), &call_sid, &id, wav, Utc::now());
        match stored.await {
            Ok(()) => Input::Recorded {
                url: format!("/recordings/{id}"),
                duration_secs,
                sid: Some(id),
            },
            Err(e) => {
                tracing::error!(error = %e, recording = %id, "cannot store a recording");
                Input::Silence
            }
        }
    }

    /// The caller is gone: keep what they said (an utterance being
    /// recognised, a recording in progress), then store the hang-up.
    async fn hang_up(&mut self) {
        self.hung_up = true;
        if let Err(End::Failed(why)) = self.finish_storing().await {
            tracing::error!(reason = %why, "cannot store the last step");
            return;
        }
        if self.recognition.is_some() {
            let result = wait_recognition(&mut self.recognition).await;
            self.recognition = None;
            if let Err(End::Failed(why)) = self.step(speech_input(result)).await {
                tracing::error!(reason = %why, "cannot store the last answer");
            }
        }
        self.session.hang_up();
        while let Some(action) = self.session.poll() {
            let input = match action {
                Action::Input(input) => input,
                Action::SaveRecording { step, seq, audio } => {
                    self.save_recording(&step, seq, audio).await
                }
                _ => continue,
            };
            if let Err(End::Failed(why)) = self.step(input).await {
                tracing::error!(reason = %why, "cannot store the hang-up");
                return;
            }
        }
    }
}

async fn send<F, E>(op: F) -> Result<(), End>
where
    F: std::future::Future<Output = Result<(), E>>,
    E: Display,
{
    match tokio::time::timeout(SEND_TIMEOUT, op).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(End::Gone(format!("cannot send to the provider: {e}"))),
        Err(_) => Err(End::Gone(format!(
            "the provider took no audio for {SEND_TIMEOUT:?}"
        ))),
    }
}

/// A step's effect, stored by its task.
struct Stored {
    result: Result<Advanced, String>,
    call: Call,
    outputs: Vec<Output>,
    response: String,
}

async fn wait_stored(pending: &mut Option<JoinHandle<Stored>>) -> Result<Stored, String> {
    match pending.as_mut() {
        Some(handle) => handle.await.map_err(|e| e.to_string()),
        None => std::future::pending().await,
    }
}

async fn wait_redirect(
    pending: &mut Option<JoinHandle<Result<(), ProviderError>>>,
) -> Result<(), ProviderError> {
    match pending.as_mut() {
        Some(handle) => handle
            .await
            .unwrap_or(Err(ProviderError::RetryLater { status: None })),
        None => std::future::pending().await,
    }
}

async fn wait_recognition(
    pending: &mut Option<JoinHandle<Result<Transcript, SpeechError>>>,
) -> Result<Transcript, SpeechError> {
    match pending.as_mut() {
        Some(handle) => handle
            .await
            .unwrap_or_else(|e| Err(SpeechError::Io(std::io::Error::other(e)))),
        None => std::future::pending().await,
    }
}

/// A transcript as the machine's input; a failed recognition is a no-match.
fn speech_input(result: Result<Transcript, SpeechError>) -> Input {
    match result {
        Ok(t) => Input::Speech {
            text: t.text,
            confidence: t.confidence,
        },
        Err(e) => {
            tracing::warn!(error = %e, "speech recognition failed: the answer counts as a no-match");
            Input::Speech {
                text: String::new(),
                confidence: 0.0,
            }
        }
    }
}
