//! One call's media session as a sans-I/O state machine: events and the
//! time go in (caller audio, provider DTMF, marks coming back, ticks), and
//! [`Action`]s come out (frames, marks and `clear` to send, an input for
//! the call machine, audio to recognise or to save). No socket, no clock,
//! no store: the thin async loop in `http::media_ws` does the I/O, and the
//! tests here drive pacing, timeouts and barge-in on made-up time.
//!
//! A turn is what the call machine asked for up to its next wait: prompts
//! to play, then a `Listen`, `Record`, `Transfer` or `End`.
//!
//! - Prompts go out as 20 ms frames, [`SessionConfig::lead`] ahead of real
//!   time (enough to ride out scheduling jitter, little enough that a
//!   `clear` on barge-in drops almost nothing the caller would have heard),
//!   topped up [`SessionConfig::batch`] at a time in one `media` message per
//!   prompt, each prompt followed by a `mark`. The turn's prompts are over
//!   when the last mark comes back; a provider that never returns marks is
//!   covered by [`SessionConfig::mark_grace`] after the audio's expected end.
//! - Listening: keys collect per the `Listen` (`num_digits`, `finish_key`,
//!   and `timeout_secs` between keys, as `<Gather>` does); speech is
//!   end-pointed by the VAD and handed out for recognition; nothing at all
//!   within the timeout is [`Input::Silence`].
//! - Barge-in: with `barge_in`, a key or speech during the prompts sends
//!   `clear` and starts listening at once.
//! - Keys come from the provider's `dtmf` events or, for providers that send
//!   none, from in-band detection on the caller's audio. The first `dtmf`
//!   event turns in-band detection off for the call, and a key detected
//!   in-band just before the same key's event is not counted twice.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::pre_roll::PreRoll;
use super::protocol::Command;
use crate::flow::event::{Input, Listen, Output, RecordSpec, TransferSpec};
use crate::media::codec::{self, FRAME_SAMPLES, SAMPLE_RATE, decode_energy_into, energy_to_dbm0};
use crate::media::dtmf::{Detector, MIN_TONE_DBM0};
use crate::media::{Prompt, Vad, VadConfig, VadEvent};

/// Length of one frame.
const FRAME: Duration = Duration::from_millis(codec::FRAME_MS as u64);

/// Timing knobs; the defaults are what production uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionConfig {
    /// How far ahead of real time prompt audio is sent.
    pub lead: Duration,
    /// Frames are topped up when the lead has shrunk by this much, so the
    /// loop wakes every `batch`, not every frame.
    pub batch: Duration,
    /// How long after a turn's audio should have finished playing its last
    /// mark may take to come back before the prompts count as over anyway.
    pub mark_grace: Duration,
    /// Audio kept from before the VAD noticed speech (it needs `start_ms`
    /// of speech to be sure), so the recogniser hears the first syllable.
    pub pre_roll: Duration,
    /// End-pointing of spoken answers.
    pub vad: VadConfig,
    /// A key in-band and the same key as a `dtmf` event within this span
    /// are one press.
    pub duplicate_key_window: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            lead: Duration::from_millis(120),
            batch: Duration::from_millis(60),
            mark_grace: Duration::from_millis(1_500),
            pre_roll: Duration::from_millis(300),
            vad: VadConfig {
                start_ms: 120,
                end_silence_ms: 800,
                max_speech_ms: 20_000,
                // Timeouts are the session's, taken from the question.
                no_input_ms: u32::MAX,
            },
            duplicate_key_window: Duration::from_millis(1_000),
        }
    }
}

/// What a turn ends in: the machine's last output.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    Listen(Listen),
    Record(RecordSpec),
    Transfer(TransferSpec),
    End,
}

impl Wait {
    /// The wait among a `handle`'s outputs (always the last one).
    pub fn of(outputs: &[Output]) -> Option<Wait> {
        outputs.iter().rev().find_map(|o| match o {
            Output::Listen(l) => Some(Wait::Listen(l.clone())),
            Output::Record(r) => Some(Wait::Record(r.clone())),
            Output::Transfer(t) => Some(Wait::Transfer(t.clone())),
            Output::End { .. } => Some(Wait::End),
            _ => None,
        })
    }
}

/// Something for the I/O loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this to the provider.
    Send(Command),
    /// Apply this input to the call machine (and store it), then start the
    /// next turn.
    Input(Input),
    /// Recognise this utterance (8 kHz samples); the transcript becomes an
    /// [`Input::Speech`].
    Recognise {
        audio: Vec<i16>,
        language: String,
        hints: Vec<String>,
    },
    /// Save this recording (8 kHz samples, untrimmed) for the `Record`
    /// step; it becomes an [`Input::Recorded`] (or silence if empty).
    SaveRecording {
        step: String,
        seq: u32,
        audio: Vec<i16>,
    },
    /// The turn's prompts have played: hand the caller over.
    Transfer(TransferSpec),
    /// The call is over and its last words have played: close the stream.
    Hangup,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for the call machine (or for the first turn).
    Idle,
    /// Sending the turn's prompts.
    Playing,
    /// Waiting for the answer since `since`.
    Listening { since: Duration },
    /// Recording the caller since `since`; `spoke` once speech was heard.
    Recording { since: Duration, spoke: bool },
    /// Handed over or hung up: nothing more happens.
    Done,
}

/// One call's media session.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    wait: Option<Wait>,
    /// Turn number; marks are named `{turn}.{prompt}` so that marks of an
    /// earlier (cleared) turn are recognised and ignored.
    turn: u32,
    prompts: Vec<Arc<Prompt>>,
    /// Next frame to send: prompt index, frame index.
    cursor: (usize, usize),
    play_started: Duration,
    frames_sent: u32,
    /// Keys collected for the current `Listen`, and when the last came.
    keys: String,
    last_key_at: Option<Duration>,
    detector: Detector,
    /// In-band detection runs until the provider shows it sends `dtmf` events.
    in_band: bool,
    /// The detector has seen audio since its last reset.
    detector_dirty: bool,
    last_in_band: Option<(char, Duration)>,
    vad: Option<Vad>,
    speaking: bool,
    pre_roll: PreRoll,
    /// The utterance being end-pointed, or the recording.
    heard: Vec<i16>,
    samples: Vec<i16>,
    actions: VecDeque<Action>,
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            phase: Phase::Idle,
            wait: None,
            turn: 0,
            prompts: Vec::new(),
            cursor: (0, 0),
            play_started: Duration::ZERO,
            frames_sent: 0,
            keys: String::new(),
            last_key_at: None,
            detector: Detector::new(),
            in_band: true,
            detector_dirty: false,
            last_in_band: None,
            vad: None,
            speaking: false,
            pre_roll: PreRoll::new(
                (config.pre_roll.as_millis() as usize) * (SAMPLE_RATE as usize) / 1000,
            ),
            heard: Vec::new(),
            samples: Vec::with_capacity(FRAME_SAMPLES),
            actions: VecDeque::new(),
        }
    }

    /// Is the session finished (handed over or hung up)?
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Is the caller being listened to or recorded right now?
    pub fn is_listening(&self) -> bool {
        matches!(
            self.phase,
            Phase::Listening { .. } | Phase::Recording { .. }
        )
    }

    /// Starts a turn: `prompts` (rendered audio, in order), then `wait`.
    pub fn start_turn(&mut self, prompts: Vec<Arc<Prompt>>, wait: Wait, now: Duration) {
        self.turn = self.turn.wrapping_add(1);
        self.prompts = prompts;
        self.cursor = (0, 0);
        self.play_started = now;
        self.frames_sent = 0;
        self.keys.clear();
        self.last_key_at = None;
        self.speaking = false;
        self.heard.clear();
        self.vad = match &wait {
            // A fresh VAD per turn: it learns the line's noise floor from the
            // caller's side while the prompts play.
            Wait::Listen(l) if l.input.speech => Some(Vad::new(self.config.vad)),
            Wait::Record(r) => Some(Vad::new(VadConfig {
                end_silence_ms: r.timeout_secs.saturating_mul(1_000).max(1_000),
                max_speech_ms: u32::MAX,
                ..self.config.vad
            })),
            _ => None,
        };
        self.wait = Some(wait);
        self.phase = Phase::Playing;
        self.skip_empty_prompts();
        if self.cursor.0 >= self.prompts.len() {
            self.prompts_done(now);
        }
    }

    /// Caller audio: one message's μ-law bytes.
    pub fn media(&mut self, mulaw: &[u8], now: Duration) {
        if mulaw.is_empty() || self.phase == Phase::Done {
            return;
        }
        let mut samples = std::mem::take(&mut self.samples);
        // Measured once, for the in-band gate and the VAD alike.
        let level = energy_to_dbm0(decode_energy_into(mulaw, &mut samples), samples.len());
        self.in_band_keys(&samples, level, now);
        if let Some(vad) = self.vad.as_mut() {
            let event = vad.push_level(samples.len(), level);
            self.on_vad(event, &samples, now);
        }
        self.samples = samples;
    }

    /// `level`: the frame's, in dBm0.
    fn in_band_keys(&mut self, samples: &[i16], level: f32, now: Duration) {
        let wanted = self.in_band
            && match self.phase {
                Phase::Playing => self.may_barge_in() || matches!(self.wait, Some(Wait::Record(_))),
                Phase::Listening { .. } | Phase::Recording { .. } => true,
                Phase::Idle | Phase::Done => false,
            };
        // A valid key has two tones of at least MIN_TONE_DBM0 each: frames
        // quieter than one of them are skipped, which spares the Goertzel
        // filters on the silence that most of a call is.
        if !self.in_band || level < MIN_TONE_DBM0 {
            if self.detector_dirty {
                self.detector.reset();
                self.detector_dirty = false;
            }
            return;
        }
        // The detector hears every loud frame, wanted or not, so that a tone
        // still sounding when the next turn starts (its first part already
        // answered the last question) stays one press instead of answering
        // the next question too. Only a pause re-arms it.
        self.detector_dirty = true;
        for key in self.detector.push(samples) {
            if wanted {
                self.last_in_band = Some((key, now));
                self.key(key, now);
            }
        }
    }

    /// A key from the provider's `dtmf` event.
    pub fn dtmf(&mut self, key: char, now: Duration) {
        self.in_band = false;
        if let Some((k, at)) = self.last_in_band.take()
            && k == key
            && now.saturating_sub(at) <= self.config.duplicate_key_window
        {
            return;
        }
        self.key(key, now);
    }

    fn may_barge_in(&self) -> bool {
        matches!(&self.wait, Some(Wait::Listen(l)) if l.barge_in)
    }

    fn key(&mut self, key: char, now: Duration) {
        match self.phase {
            Phase::Playing if self.may_barge_in() => {
                self.barge_in(now);
                self.key(key, now);
            }
            Phase::Listening { .. } => {
                let Some(Wait::Listen(l)) = &self.wait else {
                    return;
                };
                let (finish, num_digits) = (l.finish_key, l.num_digits);
                // A key ends any speech being end-pointed: keys win.
                self.speaking = false;
                self.heard.clear();
                self.last_key_at = Some(now);
                if finish == Some(key) {
                    let keys = std::mem::take(&mut self.keys);
                    return self.submit(Input::Keys(keys));
                }
                self.keys.push(key);
                if num_digits.is_some_and(|n| self.keys.chars().count() >= usize::from(n)) {
                    let keys = std::mem::take(&mut self.keys);
                    self.submit(Input::Keys(keys));
                }
            }
            Phase::Recording { .. } => {
                if matches!(&self.wait, Some(Wait::Record(r)) if r.finish_key == key) {
                    // The key's own tone (if in-band) is not part of the answer.
                    let tone = (SAMPLE_RATE as usize) * 150 / 1000;
                    let keep = self.heard.len().saturating_sub(tone);
                    self.heard.truncate(keep);
                    self.finish_recording();
                }
            }
            // No barge-in, or nothing to answer: the key is dropped.
            Phase::Playing | Phase::Idle | Phase::Done => {}
        }
    }

    fn on_vad(&mut self, event: VadEvent, samples: &[i16], now: Duration) {
        match self.phase {
            Phase::Playing => {
                self.keep_pre_roll(samples);
                if event == VadEvent::SpeechStarted
                    && self.may_barge_in()
                    && matches!(&self.wait, Some(Wait::Listen(l)) if l.input.speech)
                {
                    // Speaking first, so that listening keeps the VAD's state.
                    self.speech_started();
                    self.barge_in(now);
                }
            }
            Phase::Listening { .. } => {
                if !self.speaking {
                    self.keep_pre_roll(samples);
                }
                match event {
                    VadEvent::SpeechStarted => self.speech_started(),
                    VadEvent::Speaking if self.speaking => self.heard.extend_from_slice(samples),
                    VadEvent::SpeechEnded { .. } | VadEvent::MaxLength if self.speaking => {
                        self.heard.extend_from_slice(samples);
                        self.utterance_ended();
                    }
                    _ => {}
                }
            }
            Phase::Recording { since, spoke } => {
                self.heard.extend_from_slice(samples);
                match event {
                    VadEvent::SpeechStarted => {
                        self.phase = Phase::Recording { since, spoke: true };
                    }
                    VadEvent::SpeechEnded { .. } | VadEvent::MaxLength if spoke => {
                        self.finish_recording()
                    }
                    _ => {}
                }
            }
            Phase::Idle | Phase::Done => {}
        }
    }

    fn keep_pre_roll(&mut self, samples: &[i16]) {
        self.pre_roll.push(samples);
    }

    fn speech_started(&mut self) {
        self.speaking = true;
        self.heard.clear();
        self.pre_roll.drain_into(&mut self.heard);
    }

    fn utterance_ended(&mut self) {
        self.speaking = false;
        let Some(Wait::Listen(l)) = &self.wait else {
            return;
        };
        let action = Action::Recognise {
            audio: std::mem::take(&mut self.heard),
            language: l.language.clone(),
            hints: l.hints.clone(),
        };
        self.phase = Phase::Idle;
        self.actions.push_back(action);
    }

    fn finish_recording(&mut self) {
        let Some(Wait::Record(r)) = &self.wait else {
            return;
        };
        let action = Action::SaveRecording {
            step: r.step.clone(),
            seq: r.seq,
            audio: std::mem::take(&mut self.heard),
        };
        self.phase = Phase::Idle;
        self.actions.push_back(action);
    }

    fn submit(&mut self, input: Input) {
        self.phase = Phase::Idle;
        self.speaking = false;
        self.actions.push_back(Action::Input(input));
    }

    /// The caller interrupted the prompts: drop what is still queued at the
    /// provider and listen now.
    fn barge_in(&mut self, now: Duration) {
        self.actions.push_back(Action::Send(Command::Clear));
        self.cursor = (self.prompts.len(), 0);
        self.prompts_done(now);
    }

    /// A mark came back from the provider.
    pub fn mark(&mut self, name: &str, now: Duration) {
        let last = self.prompts.len().saturating_sub(1);
        if self.phase == Phase::Playing
            && self.cursor.0 >= self.prompts.len()
            && name == mark_name(self.turn, last)
        {
            self.prompts_done(now);
        }
    }

    fn prompts_done(&mut self, now: Duration) {
        if self.phase != Phase::Playing {
            return;
        }
        match &self.wait {
            Some(Wait::Listen(_)) => {
                self.phase = Phase::Listening { since: now };
                if !self.speaking
                    && let Some(vad) = self.vad.as_mut()
                {
                    vad.reset();
                }
            }
            Some(Wait::Record(_)) => {
                self.phase = Phase::Recording {
                    since: now,
                    spoke: false,
                };
                self.heard.clear();
                if let Some(vad) = self.vad.as_mut() {
                    vad.reset();
                }
            }
            Some(Wait::Transfer(t)) => {
                let t = t.clone();
                self.phase = Phase::Idle;
                self.actions.push_back(Action::Transfer(t));
            }
            Some(Wait::End) | None => {
                self.phase = Phase::Done;
                self.actions.push_back(Action::Hangup);
            }
        }
    }

    /// The caller hung up (`stop`, or the socket closed): a recording in
    /// progress is kept if the caller said something, then the hang-up.
    pub fn hang_up(&mut self) {
        if let Phase::Recording { spoke: true, .. } = self.phase {
            self.finish_recording();
        }
        self.phase = Phase::Done;
        self.actions.push_back(Action::Input(Input::HungUp));
    }

    /// Advances time: sends due frames, fires timeouts.
    pub fn tick(&mut self, now: Duration) {
        match self.phase {
            Phase::Playing => self.pace(now),
            Phase::Listening { since } => {
                let Some(Wait::Listen(l)) = &self.wait else {
                    return;
                };
                let timeout = Duration::from_secs(u64::from(l.timeout_secs));
                if self.speaking || now < self.last_key_at.unwrap_or(since) + timeout {
                    return;
                }
                let input = if self.keys.is_empty() {
                    Input::Silence
                } else {
                    Input::Keys(std::mem::take(&mut self.keys))
                };
                self.submit(input);
            }
            Phase::Recording { since, spoke } => {
                let Some(Wait::Record(r)) = &self.wait else {
                    return;
                };
                if now >= since + Duration::from_secs(u64::from(r.max_secs)) {
                    self.finish_recording();
                } else if !spoke && now >= since + Duration::from_secs(u64::from(r.timeout_secs)) {
                    self.submit(Input::Silence);
                }
            }
            Phase::Idle | Phase::Done => {}
        }
    }

    fn skip_empty_prompts(&mut self) {
        while self.cursor.0 < self.prompts.len()
            && self.cursor.1 >= self.prompts[self.cursor.0].frames.len()
        {
            self.cursor = (self.cursor.0 + 1, 0);
        }
    }

    fn pace(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.play_started);
        // `tick` runs on every caller frame, every 20 ms. Topping up only
        // once the lead has shrunk by a batch sends the audio `batch` at a
        // time: one write and one packet per batch instead of one per frame,
        // a third of the syscalls and wake-ups on both ends while a prompt
        // plays.
        let ahead = (FRAME * self.frames_sent).saturating_sub(elapsed);
        let top_up = self.frames_sent == 0 || ahead + self.config.batch <= self.config.lead;
        // The frames of one prompt in one top-up go out as one `media`
        // message: the provider plays a payload of any length, and one
        // message instead of three is a third of the JSON, framing and
        // parsing on both ends.
        let mut payload: Vec<u8> = Vec::new();
        while top_up
            && self.cursor.0 < self.prompts.len()
            && FRAME * self.frames_sent < elapsed + self.config.lead
        {
            let (p, f) = self.cursor;
            payload.extend_from_slice(&self.prompts[p].frames[f]);
            self.frames_sent += 1;
            self.cursor.1 += 1;
            if self.cursor.1 >= self.prompts[p].frames.len() {
                self.send_media(&mut payload);
                self.actions
                    .push_back(Action::Send(Command::Mark(mark_name(self.turn, p))));
                self.cursor = (p + 1, 0);
                self.skip_empty_prompts();
            }
        }
        self.send_media(&mut payload);
        if self.cursor.0 >= self.prompts.len() && now >= self.audio_end() + self.config.mark_grace {
            tracing::debug!("no mark came back for the prompts: listening anyway");
            self.prompts_done(now);
        }
    }

    fn send_media(&mut self, payload: &mut Vec<u8>) {
        if !payload.is_empty() {
            let audio = std::mem::take(payload);
            self.actions.push_back(Action::Send(Command::Media(audio)));
        }
    }

    /// When the turn's audio should have finished playing.
    fn audio_end(&self) -> Duration {
        self.play_started + FRAME * self.frames_sent
    }

    /// When [`Session::tick`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.phase {
            Phase::Playing if self.cursor.0 < self.prompts.len() => {
                Some((self.audio_end() + self.config.batch).saturating_sub(self.config.lead))
            }
            Phase::Playing => Some(self.audio_end() + self.config.mark_grace),
            Phase::Listening { since } => {
                let Some(Wait::Listen(l)) = &self.wait else {
                    return None;
                };
                if self.speaking {
                    return None;
                }
                Some(
                    self.last_key_at.unwrap_or(since)
                        + Duration::from_secs(u64::from(l.timeout_secs)),
                )
            }
            Phase::Recording { since, spoke } => {
                let Some(Wait::Record(r)) = &self.wait else {
                    return None;
                };
                let max = since + Duration::from_secs(u64::from(r.max_secs));
                let silent = since + Duration::from_secs(u64::from(r.timeout_secs));
                Some(if spoke { max } else { max.min(silent) })
            }
            Phase::Idle | Phase::Done => None,
        }
    }

    /// The next thing to do, in order.
    pub fn poll(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
}

fn mark_name(turn: u32, prompt: usize) -> String {
    format!("{turn}.{prompt}")
}

#[cfg(test)]
mod tests;
