//! Shared helpers for the integration tests: the real LiteLLM captures (from
//! the test kit) and the release binary as a child process.

pub use pulse_testkit::{capture, fixtures_dir};

pub mod process;
