//! Typed webhook parameters: parse, don't validate.
//!
//! The provider posts its webhooks as `application/x-www-form-urlencoded`
//! pairs. Everything in those pairs is untrusted text (even after the
//! signature check it may be caller-controlled: speech, digits, SIP headers),
//! so it is turned into types exactly once, here, at the edge. Code past this
//! module never sees a raw `String` where a [`CallSid`], a [`Party`] (and its
//! [`PhoneNumber`](crate::phone::PhoneNumber)) or a [`CallStatus`] is meant,
//! and never has to re-check one.
//!
//! Rules shared by every `from_form`:
//!
//! - Parameter names match exactly (the provider's `PascalCase`); unknown
//!   parameters are ignored, because the provider sends many we do not use
//!   and adds more over time.
//! - Any name or value longer than [`MAX_VALUE_BYTES`] is rejected before
//!   anything is parsed, whether or not we use that parameter.
//! - A parameter we use that appears more than once is rejected: the provider
//!   never repeats them, and picking one of two values would be a guess.
//! - An optional parameter that is absent or empty is `None`; a required one
//!   that is absent is [`ParamError::Missing`].
//!
//! One concern per file:
//!
//! - `error`: [`InvalidValue`] and [`ParamError`], which quote offending
//!   values so that they are safe to log.
//! - `values`: the string types [`CallSid`], [`Party`] and [`Digits`].
//! - `wire`: the provider's closed sets as enums ([`CallStatus`], …).
//! - `form`: reading a form (size limits, repeats, typed look-ups) and the
//!   parsers of plain values.
//! - `webhooks`: the six parameter structs, one per webhook.

mod error;
mod form;
#[cfg(test)]
mod test_forms;
mod values;
mod webhooks;
mod wire;

pub use error::{InvalidValue, ParamError};
pub use form::{MAX_SPEECH_CHARS, MAX_VALUE_BYTES};
pub use values::{CallSid, Digits, Party};
pub use webhooks::{
    DialParams, GatherParams, RecordParams, RecordingStatusParams, StatusParams, VoiceParams,
    WaitParams,
};
pub use wire::{AnsweredBy, CallStatus, DialCallStatus, QueueResult};
