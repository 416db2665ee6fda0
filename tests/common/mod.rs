//! Helpers shared by the integration tests' modules (`crate::common` in `tests/it/`).
// Each test module uses some of the helpers, never all of them.
#![allow(dead_code)]

pub mod golden;
pub mod netns;
pub mod tmux;
