//! dialback's integration tests, one binary: every file here is a module, so
//! the crate is linked and `common` compiled once, not once per file.
//!
//! `cargo test --test it` runs them all; `cargo test --test it webhooks::`
//! runs one file's tests.

mod common;

mod campaigns;
mod check_snapshots;
mod cli;
mod cohort;
mod dashboard;
mod dashboard_browser;
mod dialer;
mod exactly_once;
mod flow_paths;
mod handoff;
mod handoff_hang_ups;
mod linked_calls;
mod machine_props;
mod media_stream;
mod outcomes;
mod readme_tour;
mod recordings;
mod reports;
mod results_cli;
mod results_http;
mod said;
mod simulate;
mod store;
mod store_throughput;
mod ticket_loop;
mod trends;
mod webhooks;
