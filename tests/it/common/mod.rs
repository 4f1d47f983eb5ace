//! Helpers shared by the integration tests, compiled once into the `it`
//! binary. Its items are `pub` for the test modules of that binary, which
//! a binary never exports, hence the allow.
#![allow(unreachable_pub)]

pub mod browser;
pub mod crm;
pub mod dashboard;
pub mod db;
pub mod fake_provider;
pub mod fixtures;
pub mod phone;
pub mod queue;
pub mod redeliver;
pub mod said;
pub mod sid;
pub mod stream;
pub mod trends;
pub mod wait;
