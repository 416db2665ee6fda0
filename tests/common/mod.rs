//! Helpers shared by integration tests (`mod common;` in a test file).
// Each test file uses some of the helpers, never all of them.
#![allow(dead_code)]

pub mod netns;
pub mod tmux;
