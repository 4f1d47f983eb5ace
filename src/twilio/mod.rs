//! The provider-facing edge: everything about a webhook request that needs
//! no HTTP framework.
//!
//! - [`signature`]: checks `X-Twilio-Signature`, which is what tells a real
//!   provider callback from a forged one. Call it first, on the raw form
//!   pairs, before parsing anything.
//! - [`VoiceParams`], [`GatherParams`], [`RecordParams`], [`DialParams`],
//!   [`StatusParams`], [`RecordingStatusParams`]: each webhook's form parsed
//!   once into types ([`CallSid`], [`Party`], [`PhoneNumber`], [`Digits`],
//!   [`CallStatus`], …), so that the rest of the server never handles raw
//!   provider strings. Failures are [`ParamError`]s that are safe to log.

mod params;
pub mod signature;
#[cfg(test)]
mod signature_props;

pub use params::{
    AnsweredBy, CallSid, CallStatus, DialCallStatus, DialParams, Digits, GatherParams,
    InvalidValue, MAX_SPEECH_CHARS, MAX_VALUE_BYTES, ParamError, Party, PhoneNumber, QueueResult,
    RecordParams, RecordingStatusParams, StatusParams, VoiceParams,
};
