//! Shared helpers for the integration tests: the real LiteLLM captures and
//! the release binary as a child process.

use std::path::PathBuf;

/// The directory holding the real LiteLLM `/metrics` captures (`tests/fixtures/litellm`, vendored from a real proxy).
///
/// `PULSE_FIXTURES` overrides it; otherwise it is `tests/fixtures/litellm` in this repository.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PULSE_FIXTURES") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/litellm")
}

/// Reads one capture by file name, e.g. `01-after-batch1.prom`.
pub fn capture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

pub mod process;
