//! Outbound follow-up campaigns: who is called when, and how often.
//!
//! - [`schedule`]: the sans-I/O scheduler. Calling windows evaluated in each
//!   contact's own time zone, back-off per call result, attempt limits and end
//!   dates; time is always an argument, never read from a clock.
//! - [`cohort`]: a cohort campaign's contacts, chosen from earlier calls
//!   by a condition in the flow language (latest matching call per phone,
//!   opt-outs left out).
//! - [`contacts`]: contacts read from CSV at the edge into typed rows (E.164
//!   phone, flow variables, IANA time zone), with every bad row reported by
//!   line and reason and duplicates merged.
//! - [`previous`]: an earlier call as variables of the contact that follows
//!   it up (`previous.csat`, `previous.date`), pure.
//! - [`plan`]: a campaign's plan as stored (JSON) and parsed for the scheduler.
//! - [`settings`]: the settings people write (CLI flags, API query) parsed
//!   into a plan: dates, back-off durations, ring timeout, machines.
//! - [`request`]: the provider request that places one contact's call (our
//!   webhook URLs, machine detection), sent with [`crate::twilio::rest`].
//! - [`worker`]: claim a due contact, check opt-out and window, pace, place
//!   the call; and apply status callbacks (retry, done, give up).

pub mod cohort;
pub mod contacts;
pub mod plan;
pub mod previous;
pub mod request;
pub mod schedule;
pub mod settings;
pub mod worker;
