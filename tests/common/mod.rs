//! Helpers shared by the integration tests. Each test binary compiles this
//! module on its own and uses only part of it, hence the allows.
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod dashboard;
pub mod db;
pub mod fake_provider;
pub mod fixtures;
pub mod phone;
pub mod redeliver;
pub mod stream;
