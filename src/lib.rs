//! moveday: a terminal war room for the day a team moves its servers to a new home.
//!
//! ```text
//! inventory.toml ─> config ─> probe tasks ─(ProbeReport over mpsc)─> store (one owner, pure reducer)
//!                                                                   │ change notice
//! keyboard (crossterm EventStream) ─> Action ─> store / UiState ────┴─> ui::render ─> terminal
//! ```

pub mod app;
pub mod check;
pub mod checklist;
pub mod config;
pub mod demo;
pub mod files;
pub mod journal;
#[cfg(test)]
mod layers;
pub mod notify;
pub mod probe;
pub mod sanitize;
pub mod schema;
pub mod store;
pub mod timefmt;
pub mod ui;
