//! The call-flow language, as a pipeline of small stages:
//!
//! `syntax` (TOML → raw spanned values) → `validate` (every diagnostic at
//! once) → `model` (the validated [`Flow`]) → `machine` (the sans-I/O
//! [`Call`]). `load` is the only part that touches the file system.
//! Nothing here knows HTTP, databases, tokio or the clock.

pub mod condition;
#[cfg(test)]
mod confirm_tests;
pub mod diagnostic;
pub mod diagram;
pub mod duration;
pub mod event;
pub mod hold;
pub mod hours;
pub mod load;
pub mod machine;
pub mod model;
#[cfg(test)]
mod outcome_tests;
pub mod phrases;
#[cfg(test)]
mod previous_tests;
pub mod schema;
pub mod syntax;
pub mod template;
pub mod understand;
pub mod validate;
pub mod value;

pub use event::{Answer, Input, Output, Prompt};
pub use machine::Call;
pub use model::{Flow, Outcome};
pub use value::Value;
