//! dialback: an automated voice-survey (IVR) server for follow-up calls.
//!
//! The crate is layered: each module imports only modules listed below it.
//! `src/layering.rs` checks this against every `crate::` path in `src/`,
//! with the allowed edges in a table.
//!
//! - [`cli`]: the `dialback` command (`serve`, `check`, `simulate`, `graph`,
//!   `schema`). `main.rs` only calls [`cli::run`].
//! - [`app`]: the composition root. [`app::App::build`] assembles flows,
//!   store, services and router for production and tests alike, and owns
//!   every long-lived task (HTTP, dialer, retention, CRM delivery) with one
//!   graceful shutdown.
//! - [`http`]: adapters only — the provider's TwiML webhooks, the
//!   media-stream WebSocket loop (`http::media_ws`), the admin API, the
//!   results dashboard (`http/dashboard/`, server-rendered HTML), what
//!   callers said (`http/said.rs`: stored free text handed to [`insight`],
//!   for the API and the dashboard), `/metrics` and prompt audio.
//! - [`calls`]: the call service — start, step and replay a call exactly
//!   once; a step's effects computed purely, then one store write.
//! - [`dialer`]: outbound campaigns — the sans-I/O scheduler (calling windows
//!   in each contact's time zone, back-off, attempt limits), contacts read
//!   from CSV or chosen from earlier calls (`dialer::cohort`), and the
//!   worker that places calls through [`twilio::rest`].
//! - [`recordings`]: the recording pipeline — the provider's recordings
//!   fetched into the store after its status callback (retried, marked
//!   when never available), optionally deleted at the provider, stream
//!   recordings stored beside them, and all of them transcribed; a queue
//!   in the store that any replica's worker takes up.
//! - [`insight`]: what callers said — free-text answers grouped into the
//!   flow's `[topics]`, frequent phrases no topic names yet (Mandarin word
//!   segmentation), masked quotes and the change against a previous period.
//!   Pure: the texts come in as arguments.
//! - [`report`]: results — aggregates per flow (completion, drop-off,
//!   distributions, CSAT/NPS) from counts the database computes; Trends
//!   per day or week with 95 % intervals (`report::trends`); exports;
//!   privacy (masking, purge) and the server's daily retention run.
//! - [`speech`]: text to speech (espeak-ng, OpenAI-compatible HTTP), speech
//!   recognition (OpenAI-compatible HTTP) and prompt frames for streams.
//! - [`config`]: server settings, the provider account and the number →
//!   flow map.
//! - [`twiml`]: the TwiML adapter — call-machine outputs up to the next wait,
//!   written as one TwiML document.
//! - [`metrics`]: the server's Prometheus metrics, as a handle passed to
//!   whoever counts.
//! - [`media`]: the media DSP layer for Media Streams calls: G.711 μ-law,
//!   DTMF detection and voice-activity end-pointing (pure, I/O-free), and
//!   WAV prompts converted to 20 ms μ-law frames. `media::stream` is the
//!   Media Streams protocol and the sans-I/O session of a stream call.
//! - [`flow`]: the call-flow language. Files are read into spanned syntax,
//!   checked into a validated [`flow::Flow`] with every diagnostic at once,
//!   and run by the sans-I/O [`flow::Call`] machine: inputs in, outputs out,
//!   time as an input. `flow::understand` turns transcripts into answers.
//! - [`store`]: the storage trait with SQLite (default) and PostgreSQL
//!   implementations, one migrations folder per backend.
//! - [`twilio`]: the provider-facing edge: webhook signature validation,
//!   webhook form parameters parsed into types (CallSid, parties, call
//!   statuses…), and the Calls REST API client (`twilio::rest`). Below `store`,
//!   whose call rows keep the provider's call status as its type.
//! - [`phone`]: E.164 phone numbers and their masking, the domain type that
//!   contacts, results and webhooks share.
//! - [`domain`]: the closed sets a call, a handoff and a contact move
//!   through (direction, outcome, handoff status…), shared by `flow` and
//!   `store`, which may not import each other.

pub mod app;
pub mod calls;
pub mod cli;
pub mod config;
pub mod dialer;
pub mod domain;
pub mod flow;
pub mod http;
pub mod insight;
pub mod media;
pub mod metrics;
pub mod phone;
pub mod recordings;
pub mod report;
pub mod speech;
pub mod store;
pub mod twilio;
pub mod twiml;

#[cfg(test)]
mod layering;
