//! The provider-facing edge: webhook requests parsed and checked without an
//! HTTP framework, and the provider's REST API.
//!
//! - [`signature`]: checks `X-Twilio-Signature`, which is what tells a real
//!   provider callback from a forged one. Call it first, on the raw form
//!   pairs, before parsing anything.
//! - [`VoiceParams`], [`GatherParams`], [`RecordParams`], [`DialParams`],
//!   [`StatusParams`], [`RecordingStatusParams`]: each webhook's form parsed
//!   once into types ([`CallSid`], [`Party`], [`Digits`], [`CallStatus`], …;
//!   phone numbers are [`crate::phone::PhoneNumber`]), so that the rest of
//!   the server never handles raw provider strings. Failures are
//!   [`ParamError`]s that are safe to log.
//! - [`rest`]: the Calls REST API client (place a call, redirect a live
//!   call), with the provider's own request and error types.

mod params;
pub mod rest;
pub mod signature;
#[cfg(test)]
mod signature_props;

pub use params::{
    AnsweredBy, CallSid, CallStatus, DialCallStatus, DialParams, Digits, GatherParams,
    InvalidValue, MAX_SPEECH_CHARS, MAX_VALUE_BYTES, ParamError, Party, QueueResult, RecordParams,
    RecordingStatusParams, StatusParams, VoiceParams, WaitParams,
};
