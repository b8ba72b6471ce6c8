//! The test kit of LiteLLM Pulse: everything that stands in for LiteLLM.
//!
//! One place for what the host's unit tests, the end-to-end and fault
//! suites, the benches, `cargo xtask` and the demo all need, so there is one
//! of each:
//!
//! - [`captures`]: the real LiteLLM captures vendored in `tests/fixtures/litellm`.
//! - [`exposition`]: text format 0.0.4 as LiteLLM's prometheus_client writes it
//!   (Python float repr, `_total`/`_created` pairs), and HTTP dates.
//! - [`body`]: a deterministic LiteLLM-shaped body of any size (benches, xtask).
//! - [`fake`]: the fake LiteLLM server (key, 307, scripted answers, faults).
//! - [`simulator`]: a LiteLLM whose traffic follows a daily rhythm and that
//!   restarts now and then (the demo).
//! - [`plain`]: test oracles read by string search and written as plain loops.
//! - [`scale`]: many tracked series with a share growing each round (the scale bench).
//!
//! It depends on no async runtime and no HTTP stack: the demo ships in the
//! release binary, and pulse-core's bench builds it.

pub mod body;
pub mod captures;
pub mod exposition;
pub mod fake;
pub mod plain;
pub mod scale;
pub mod simulator;

pub use captures::{capture, capture_bytes, capture_date, capture_date_ms, fixtures_dir};
pub use exposition::{http_date, http_date_ms};
pub use fake::{Delivery, FakeLiteLlm, Options, Reply, Responder, Script, Sequence};
