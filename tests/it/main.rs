//! The integration tests, as one test binary: each module was a file of its own under
//! `tests/` (its name is the old file's), and each of those was a binary of its own that
//! linked the whole crate again (aws-lc, hickory, reqwest): 22 links of ~160 MB for one
//! `cargo test`. Helpers shared between modules are `common` (tmux, network namespaces,
//! what a test needs from the machine) and `lab` (the move in a box of `tests/lab/`).
//!
//! Tests that need what not every machine has (root, network namespaces, ICMP, tmux, the
//! lab's packages) are `#[ignore = "needs ..."]`: a plain `cargo test` lists them as
//! ignored; `cargo test -- --include-ignored` (CI, as root) runs them, and there a missing
//! prerequisite fails the test with what to install, never a silent pass.

// Test code may unwrap (a failure is the test failing, with its message), and a scenario
// test reads best top to bottom in one function: the house's limits are for src/.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../lab/mod.rs"]
mod lab;

mod app_loop;
mod canary;
mod check_json;
mod checklist_cli;
mod checklist_persist;
mod cli;
mod command_services;
mod delegation;
mod demo;
mod demo_scale;
mod inventories;
mod journal;
mod journal_demo;
mod journal_report;
mod lab_commands;
mod lab_dns;
mod lab_faults;
mod lab_mail;
mod lab_teardown;
mod lab_tui;
mod lab_vantage;
mod mail_probes;
mod notify;
mod packaging;
mod probes;
mod render_scale;
mod service_health;
mod services;
mod tui_tmux;
mod ui_checklist;
mod ui_snapshots;
mod vantage;
mod zones;
