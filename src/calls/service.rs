//! The call service: every way a call is started or moved on, for both
//! adapters (TwiML webhooks and media streams). It owns the handles a step
//! needs — the store, this replica's cache of live calls, the CRM notifier,
//! the metrics — so that the adapters only parse, call it and render.
//!
//! Exactly once: every wait's action URL carries the step sequence number
//! (`seq`), and every transition moves it on, also the one that ends the
//! call. A step whose `seq` is not the call's current one, or that reaches
//! an ended call, is a duplicate, a retry or a stale request: it gets the
//! TwiML last produced (the same answer the original got) and changes
//! nothing. The store's compare-and-swap on `seq` is the only arbiter; this
//! replica's cache only saves a read, and a step computed from a stale
//! cached row loses the swap and answers with the stored TwiML.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::CallCache;
use super::crm::Notifier;
use super::effects::{Unserialisable, effects};
use super::transfer::in_transfer;
use crate::config::{Clock, Numbers};
use crate::flow::event::{Input, Output};
use crate::flow::model::Mode;
use crate::flow::{Call, Flow};
use crate::metrics::Metrics;
use crate::store::campaigns::ContactStart;
use crate::store::{
    Advanced, CallRow, CallSid, CallStatus, Direction, FollowUp, NewCall, NewRecording, Store,
    StoreError,
};
use crate::twiml;

/// The loaded flows by name, shared by the service and the HTTP layer.
pub type Flows = Arc<BTreeMap<String, Arc<Flow>>>;

/// Live calls this replica remembers (see [`CallCache`]).
const CACHED_CALLS: usize = 100_000;

/// How often a final status tries to apply the hang-up to a call that other
/// webhooks keep moving on (each try loses only to a step applied meanwhile).
const HANG_UP_ATTEMPTS: usize = 3;

/// Why a call could not be started or moved on. The adapter answers the
/// caller with an apology in [`CallError::language`].
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no call with this CallSid")]
    UnknownCall,
    #[error("no flow for this call ({0:?})")]
    NoFlow(Option<String>),
    #[error("the call's flow `{0}` is no longer loaded")]
    FlowNotLoaded(String),
    #[error("unreadable call state: {source}")]
    UnreadableState {
        language: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Unserialisable(#[from] Unserialisable),
    #[error("store: {source}")]
    Store {
        language: Option<String>,
        source: StoreError,
    },
}

impl CallError {
    /// The language of the call's flow, when it is known.
    pub fn language(&self) -> Option<&str> {
        match self {
            CallError::UnreadableState { language, .. } => Some(language),
            CallError::Store { language, .. } => language.as_deref(),
            _ => None,
        }
    }

    fn store(flow: Option<&Flow>) -> impl FnOnce(StoreError) -> CallError {
        let language = flow.map(|f| f.language.clone());
        move |source| CallError::Store { language, source }
    }
}

/// A call the provider has just announced (the voice webhook).
pub struct Arrival {
    pub call_sid: CallSid,
    pub flow: Arc<Flow>,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    /// The provider's call status, if it sent one.
    pub status: Option<CallStatus>,
    /// The campaign contact the dialer placed the call to: its CSV row's
    /// variables fill the flow's templates.
    pub contact: Option<i64>,
}

/// The call service; cheap to clone.
#[derive(Clone)]
pub struct Calls {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    flows: Flows,
    numbers: Numbers,
    public_url: String,
    clock: Clock,
    cache: CallCache,
    crm: Option<Notifier>,
    metrics: Metrics,
}

impl Calls {
    pub fn new(
        store: Arc<dyn Store>,
        flows: Flows,
        settings: &crate::config::Settings,
        crm: Option<Notifier>,
        metrics: Metrics,
    ) -> Calls {
        Calls {
            inner: Arc::new(Inner {
                store,
                flows,
                numbers: settings.numbers.clone(),
                public_url: settings.public_url.clone(),
                clock: settings.clock,
                cache: CallCache::new(CACHED_CALLS),
                crm,
                metrics,
            }),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn flow(&self, name: &str) -> Option<&Arc<Flow>> {
        self.inner.flows.get(name)
    }

    /// The flow for a called number (or the configured default).
    pub fn flow_for(&self, to: &str) -> Option<&Arc<Flow>> {
        self.inner.numbers.flow_for(to).and_then(|n| self.flow(n))
    }

    /// The flow for calls that name none.
    pub fn default_flow(&self) -> Option<&Arc<Flow>> {
        self.inner
            .numbers
            .default
            .as_deref()
            .and_then(|n| self.flow(n))
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The new-call row: the one place a call's first row is made.
    fn new_call(
        &self,
        sid: &CallSid,
        flow: &Flow,
        call: &Call,
        fields: NewCallFields,
    ) -> Result<NewCall, Unserialisable> {
        let stream = flow.mode == Mode::Stream;
        Ok(NewCall {
            call_sid: sid.clone(),
            flow: flow.name.clone(),
            flow_hash: flow.hash.clone(),
            direction: fields.direction,
            from: fields.from,
            to: fields.to,
            status: fields.status.unwrap_or(CallStatus::InProgress),
            state: serde_json::to_string(call)?,
            seq: 0,
            // A stream call's answer never changes: a retried voice webhook
            // gets the same <Connect><Stream> back.
            response: if stream {
                twiml::stream_call(&self.inner.public_url, sid.as_str(), &flow.name)
            } else {
                String::new()
            },
            started_at: self.now(),
            follows: fields.follows,
        })
    }

    /// Starts a call the voice webhook announced and answers it: a stream
    /// call with its `<Connect><Stream>`, a TwiML call with `first` applied
    /// (it was answered, or reached an answering machine). A duplicate
    /// voice webhook gets what the first one got.
    pub async fn start(&self, arrival: Arrival, first: Input) -> Result<String, CallError> {
        let flow = arrival.flow.clone();
        let sid = &arrival.call_sid;
        let contact = self
            .contact_start(&arrival)
            .await
            .inspect_err(|e| tracing::error!(call_sid = %sid, error = %e, "store failed loading the contact"))
            .map_err(CallError::store(Some(&flow)))?;
        let (vars, follows) = match contact {
            Some(c) => (crate::dialer::contacts::vars_from_json(&c.vars), c.follows),
            None => Default::default(),
        };
        let call = Call::new(vars);
        let fields = NewCallFields {
            direction: arrival.direction,
            from: arrival.from,
            to: arrival.to,
            status: arrival.status,
            follows,
        };
        let mut new = self.new_call(sid, &flow, &call, fields)?;
        let stream = flow.mode == Mode::Stream;
        if stream {
            // The call runs over the media stream, which answers it when
            // the provider connects (`http::media_ws`).
            let response = new.response.clone();
            if !self.create(&flow, new).await? {
                return self.replay(sid).await;
            }
            tracing::info!(call_sid = %sid, flow = %flow.name, direction = %arrival.direction, stream, "call started");
            return Ok(response);
        }
        // The first step is taken before the row exists, so that the row is
        // created with its first TwiML: a copy of this webhook that loses
        // the insert race replays that TwiML, never an empty one.
        let now = self.now();
        let mut first_call = call.clone();
        let outputs = first_call.handle(&flow, first, now);
        let response = twiml::answer(&outputs, &flow, sid.as_str(), &self.inner.public_url);
        new.response = response.clone();
        let row = CallRow {
            call_sid: new.call_sid.clone(),
            flow: new.flow.clone(),
            flow_hash: new.flow_hash.clone(),
            direction: new.direction,
            from: new.from.clone(),
            to: new.to.clone(),
            status: new.status,
            outcome: None,
            state: new.state.clone(),
            seq: 0,
            response: response.clone(),
            started_at: new.started_at,
            ended_at: None,
            follows: new.follows.clone(),
        };
        let first_effects = effects(&row, &first_call, &outputs, response.clone(), now)?;
        let a = &first_effects.advance;
        let only_a_wait = a.only_moves_on();
        if only_a_wait {
            // The common case, in one write: the row holds the first wait.
            new.state = a.state.clone();
            new.seq = a.to_seq;
        }
        // What this replica caches once the row exists: only its moved-on
        // state is needed, not a copy of the whole new row.
        let cached = only_a_wait.then(|| (new.seq, new.state.clone()));
        if !self.create(&flow, new).await? {
            // A copy of this webhook created the call: answer as it did.
            return self.replay(sid).await;
        }
        tracing::info!(call_sid = %sid, flow = %flow.name, direction = %arrival.direction, "call started");
        if let Some((seq, state)) = cached {
            self.inner.cache.put(CallRow { seq, state, ..row });
            return Ok(response);
        }
        // The first step also ends the call or hands it off: the row (with
        // the first TwiML already) is moved on by the usual advance.
        match self
            .commit(&row, &first_call, &outputs, response.clone(), now)
            .await
        {
            Ok(Advanced::Applied) => Ok(response),
            Ok(Advanced::Stale) => self.replay(sid).await,
            Err(e) => {
                tracing::error!(call_sid = %sid, error = %e, "store failed saving the first step");
                self.inner.metrics.store_error();
                Err(match e {
                    CallError::Store { source, .. } => CallError::store(Some(&flow))(source),
                    other => other,
                })
            }
        }
    }

    /// Creates the call's row; `false` if the CallSid was already stored.
    async fn create(&self, flow: &Flow, new: NewCall) -> Result<bool, CallError> {
        let sid = new.call_sid.clone();
        self.store()
            .create_call(new)
            .await
            .inspect_err(
                |e| tracing::error!(call_sid = %sid, error = %e, "store failed creating a call"),
            )
            .map_err(CallError::store(Some(flow)))
    }

    /// The contact row whose variables fill the call's texts: the one the
    /// dialer called (with the earlier call it follows up), or, on an
    /// inbound call, the caller's own row in the most recent campaign of the
    /// flow (an inbound call follows nothing up: the caller rang on their
    /// own). `None`: the flow's defaults.
    async fn contact_start(&self, arrival: &Arrival) -> Result<Option<ContactStart>, StoreError> {
        let campaigns = self.store().campaigns();
        match arrival.contact {
            Some(id) => campaigns.contact_start(id).await,
            None if arrival.direction == Direction::Inbound && !arrival.from.is_empty() => {
                let vars = campaigns
                    .inbound_contact_vars(&arrival.flow.name, &arrival.from)
                    .await?;
                Ok(vars.map(|vars| ContactStart {
                    vars,
                    follows: None,
                }))
            }
            None => Ok(None),
        }
    }

    /// The call a media stream's `start` names, with its flow and state;
    /// created for a stream the voice webhook did not announce (an
    /// outbound call whose TwiML was given directly), with `flow_name`
    /// from the stream's custom parameters or the default flow.
    pub async fn open_stream(
        &self,
        sid: &CallSid,
        flow_name: Option<&str>,
    ) -> Result<(Arc<Flow>, CallRow, Call), String> {
        let store = self.store();
        let row = match store.load_call(sid).await.map_err(|e| e.to_string())? {
            Some(row) => row,
            None => {
                let flow = flow_name
                    .and_then(|name| self.flow(name))
                    .or_else(|| self.default_flow())
                    .ok_or("the stream names no known flow and there is no default flow")?;
                let call = Call::new(Default::default());
                let fields = NewCallFields {
                    direction: Direction::Outbound,
                    from: String::new(),
                    to: String::new(),
                    status: None,
                    follows: None,
                };
                let new = self
                    .new_call(sid, flow, &call, fields)
                    .map_err(|e| e.to_string())?;
                store.create_call(new).await.map_err(|e| e.to_string())?;
                store
                    .load_call(sid)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("the call vanished right after it was created")?
            }
        };
        if row.outcome.is_some() {
            return Err("the call has already ended".into());
        }
        let flow = self
            .flow(&row.flow)
            .cloned()
            .ok_or_else(|| format!("the call's flow `{}` is not loaded", row.flow))?;
        let call: Call =
            serde_json::from_str(&row.state).map_err(|e| format!("unreadable call state: {e}"))?;
        Ok((flow, row, call))
    }

    /// The TwiML a call last produced: the answer to duplicates and stale requests.
    pub async fn replay(&self, sid: &CallSid) -> Result<String, CallError> {
        match self.store().load_call(sid).await {
            Ok(Some(row)) => Ok(row.response),
            Ok(None) => Err(CallError::UnknownCall),
            Err(source) => Err(CallError::Store {
                language: None,
                source,
            }),
        }
    }

    /// The call as stored (no cache: the caller wants the truth).
    pub async fn load(&self, sid: &CallSid) -> Result<Option<CallRow>, StoreError> {
        self.store().load_call(sid).await
    }

    /// Applies one input to a call, if `seq` is its current step, and
    /// answers with the TwiML; a stale `seq` gets the TwiML stored last.
    pub async fn step(&self, sid: &CallSid, seq: i64, input: Input) -> Result<String, CallError> {
        // A transfer's action must see whether the final status is stored
        // (it may have reached another replica): it reads the store.
        let transfer_ended = matches!(input, Input::TransferEnded(_));
        let cached = (!transfer_ended)
            .then(|| self.inner.cache.get(sid))
            .flatten()
            .filter(|row| row.seq == seq);
        let loaded = match cached {
            Some(row) => Ok(Some(row)),
            None => self.store().load_call(sid).await,
        };
        let row = match loaded {
            Ok(Some(row)) => row,
            Ok(None) => {
                tracing::warn!(call_sid = %sid, "webhook for an unknown call");
                return Err(CallError::UnknownCall);
            }
            Err(e) => {
                tracing::error!(call_sid = %sid, error = %e, "store failed loading a call");
                return Err(CallError::store(None)(e));
            }
        };
        // An ended call never changes: whatever arrives late gets the
        // TwiML it last produced.
        if row.seq != seq || row.outcome.is_some() {
            tracing::debug!(call_sid = %sid, got = seq, at = row.seq, "duplicate or stale webhook");
            return Ok(row.response);
        }
        // The call's final status came first: the caller is gone.
        let input = match input {
            Input::TransferEnded(result) if row.ended_at.is_some() => {
                Input::TransferEndedAfterHangUp(result)
            }
            other => other,
        };
        let Some(flow) = self.flow(&row.flow).cloned() else {
            tracing::error!(call_sid = %sid, flow = %row.flow, "the call's flow is no longer loaded");
            return Err(CallError::FlowNotLoaded(row.flow));
        };
        let call: Call = match serde_json::from_str(&row.state) {
            Ok(c) => c,
            Err(source) => {
                tracing::error!(call_sid = %sid, error = %source, "unreadable call state");
                return Err(CallError::UnreadableState {
                    language: flow.language.clone(),
                    source,
                });
            }
        };
        self.apply(&flow, row, call, input).await
    }

    /// Applies the input, stores everything it produced in one write, and
    /// answers with the TwiML.
    async fn apply(
        &self,
        flow: &Flow,
        row: CallRow,
        mut call: Call,
        input: Input,
    ) -> Result<String, CallError> {
        let now = self.now();
        // Nobody hears what a hang-up produces: the call keeps the TwiML of
        // its last wait, which is what a late retry of that wait's webhook
        // must still get.
        let hung_up = matches!(input, Input::HungUp);
        let outputs = call.handle(flow, input, now);
        if outputs.is_empty() {
            // The input did not move the call (see `Call::handle`).
            return Ok(row.response);
        }
        let response = if hung_up {
            row.response.clone()
        } else {
            twiml::answer(
                &outputs,
                flow,
                row.call_sid.as_str(),
                &self.inner.public_url,
            )
        };
        match self
            .commit(&row, &call, &outputs, response.clone(), now)
            .await
        {
            Ok(Advanced::Applied) => Ok(response),
            // Another replica applied this step first: answer as it did.
            Ok(Advanced::Stale) => self.replay(&row.call_sid).await,
            Err(e) => {
                tracing::error!(call_sid = %row.call_sid, error = %e, "store failed saving a step");
                self.inner.metrics.store_error();
                Err(match e {
                    CallError::Store { source, .. } => CallError::store(Some(flow))(source),
                    other => other,
                })
            }
        }
    }

    /// Stores the effect of `outputs` (just produced by `call.handle`) on
    /// the call stored as `row`, in one compare-and-swap write; `response`
    /// is what a replayed step gets back. Then the CRM hears of an open
    /// handoff, and this replica's cache follows the call.
    pub async fn commit(
        &self,
        row: &CallRow,
        call: &Call,
        outputs: &[Output],
        response: String,
        now: DateTime<Utc>,
    ) -> Result<Advanced, CallError> {
        let effects = effects(row, call, outputs, response, now)?;
        let (ended, ended_at) = (effects.advance.outcome, effects.advance.ended_at);
        // A confirmation call's answer decides its handoff (only calls
        // that follow a handoff up get past the first check).
        let verdict = row.follows.as_ref().and_then(|f| f.handoff).and_then(|_| {
            let given = effects.advance.answers.iter();
            super::handoffs::verdict(
                row,
                self.flow(&row.flow).map(AsRef::as_ref),
                given.map(|a| (a.question.as_str(), &a.value)),
            )
        });
        let (new_state, new_response) = (
            effects.advance.state.clone(),
            effects.advance.response.clone(),
        );
        let result = self
            .store()
            .advance_call(effects.advance)
            .await
            .map_err(CallError::store(None))?;
        // Keep this replica's cache in step (see `cache`): the next webhook
        // of a live call then needs no read, nor the final status of a call
        // that ended here.
        match result {
            Advanced::Applied => self.inner.cache.put(CallRow {
                seq: i64::from(call.seq),
                state: new_state,
                response: new_response,
                outcome: ended.or(row.outcome),
                ended_at: row.ended_at.or(ended_at),
                ..row.clone()
            }),
            Advanced::Stale => self.inner.cache.remove(&row.call_sid),
        }
        if result == Advanced::Applied {
            if let (Some(summary), Some(crm)) = (effects.open_handoff, &self.inner.crm) {
                crm.notify(summary);
            }
            if let Some(outcome) = ended {
                tracing::info!(call_sid = %row.call_sid, outcome = %outcome, "call ended");
                self.inner.metrics.call_ended(outcome.as_str());
            }
            if let Some(verdict) = verdict {
                self.apply_verdict(verdict, &row.call_sid).await;
            }
        }
        Ok(result)
    }

    /// The provider's status of a call. A final status ends a call the
    /// machine still thinks is live (the caller hung up mid-question).
    pub async fn status(
        &self,
        sid: &CallSid,
        status: CallStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if status.is_final() {
            // The hang-up is applied before the status is stored, as a
            // step: it moves `seq`, so an answer computed before it (on any
            // replica) loses the swap and is not stored. An answer that won
            // the swap just before moved the call on, and the hang-up is
            // applied to where the call is now. A call being transferred is
            // left to the transfer's action (see `transfer`): only it says
            // whether the caller talked to a person; if it never comes,
            // the sweep in `transfer` ends the call after a grace.
            // A call that ended here has no hang-up to apply, on any
            // replica: its outcome is final. Skipping the read saves the
            // final status one of its three trips to the store (the
            // external bench's paced shape, docs/benchmarks.md).
            // A confirmation call is read whatever the cache says: its
            // answer is settled against the stored row below.
            let ended_here = self.inner.cache.get(sid).is_some_and(|row| {
                row.outcome.is_some() && row.follows.as_ref().is_none_or(|f| f.handoff.is_none())
            });
            self.inner.cache.remove(sid);
            let mut confirming = None;
            let attempts = if ended_here { 0 } else { HANG_UP_ATTEMPTS };
            for _ in 0..attempts {
                match self.store().load_call(sid).await {
                    Ok(Some(row)) => {
                        let (ended, seq) = (row.outcome.is_some(), row.seq);
                        let transfer = !ended && in_transfer(&row.state);
                        // A confirmation call: its answer is settled below.
                        if row.follows.as_ref().is_some_and(|f| f.handoff.is_some()) {
                            confirming = Some(row);
                        }
                        if ended || transfer {
                            break;
                        }
                        let _ = self.step(sid, seq, Input::HungUp).await;
                    }
                    _ => break,
                }
            }
            // The hang-up just applied left the ended call in the cache;
            // its final status is this one.
            self.inner.cache.remove(sid);
            self.store().update_status(sid, status, now).await?;
            if let Some(row) = confirming {
                self.settle_verdict(&row).await;
            }
            return Ok(());
        }
        self.store().update_status(sid, status, now).await?;
        Ok(())
    }

    /// The provider finished storing a recording.
    pub async fn recording_stored(&self, rec: NewRecording) -> Result<(), StoreError> {
        self.store().add_recording(rec).await
    }

    /// The public base URL the provider sees.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// "Now" on the server's clock.
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Where the CRM hears of handoffs, when one is configured.
    pub(super) fn crm(&self) -> Option<&Notifier> {
        self.inner.crm.as_ref()
    }
}

/// What the new-call row takes from its arrival.
struct NewCallFields {
    direction: Direction,
    from: String,
    to: String,
    status: Option<CallStatus>,
    follows: Option<FollowUp>,
}
