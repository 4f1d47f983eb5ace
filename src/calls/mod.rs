//! The call service ([`Calls`]): start, step and replay a call, exactly
//! once, for both adapters (the TwiML webhooks and the media-stream loop in
//! `http`). A step's effect on the store is computed by the pure
//! [`effects`] and written in one compare-and-swap; open handoffs go to the
//! CRM ([`Notifier`]) in the background. `handoffs.rs`: the per-ticket loop
//! (support resolves a handoff, a confirmation call is scheduled through
//! the dialer, the customer's answer confirms or reopens it).

mod cache;
mod crm;
mod effects;
mod handoffs;
mod hold;
mod service;
mod transfer;

pub use crm::{Delivery, Notifier};
pub use effects::{Effects, Unserialisable, effects};
pub use service::{Arrival, CallError, Calls, Flows};
