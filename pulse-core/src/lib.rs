//! # pulse-core
//!
//! The pure heart of LiteLLM Pulse. It turns LiteLLM's ever-growing Prometheus
//! counters into exact per-scrape deltas and answers "how much, in which window,
//! on which model" for any IANA time zone.
//!
//! Why it is shaped this way: the same code runs in the native server
//! (`pulse-host`) and in the browser and Node (`pulse-wasm`), so it must not
//! touch the outside world. It never does IO, never reads the environment and
//! never reads the clock: the caller passes the scraped body, the time zone and
//! "now" in. `clippy.toml` beside this crate bans the methods that would break
//! that, chrono is built without its `clock` feature, and CI builds the crate
//! for `wasm32-unknown-unknown`.
//!
//! Modules:
//! - [`parse`](mod@parse): Prometheus text 0.0.4 and OpenMetrics 1.0 parser into [`expo`] types.
//! - [`write`](mod@write): the inverse, an exposition writer.
//! - [`budget`]: budgets, forecasts, spike detection and alerts that fire exactly once.
//! - [`catalog`]: the tracked metrics (friendly names, LiteLLM families, breakdown dimensions).
//! - [`engine`]: reading the tracked counters from Prometheus, VictoriaMetrics, Thanos or Mimir.
//! - [`track`]: per-series counter semantics: resets, `_created`, worker bounce, deltas.
//! - [`latency`]: quantiles from histogram bucket deltas (as `histogram_quantile`), error rates, fallbacks.
//! - [`window`]: day/week/month windows and chart buckets in a time zone.
//! - [`num`]: presenting sums of floats without summation noise.
//! - [`fresh`]: when the last successful scrape still counts as current.
//! - `validate` (feature `validate`): strict OpenMetrics 1.0 / text 0.0.4 validation.
//!
//! Two private helpers serve them all: `fastmap` (the FxHash map alias) and
//! `sort` (the one non-generic stable sort, kept single for the .wasm size).
#![deny(missing_docs)]
#![deny(clippy::disallowed_methods)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod budget;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod expo;
mod fastmap;
pub mod fresh;
pub mod latency;
pub mod num;
pub mod parse;
mod sort;
pub mod track;
#[cfg(feature = "validate")]
pub mod validate;
pub mod window;
pub mod write;

pub use error::{BodyError, LineError, LineErrorKind};
pub use expo::{Exposition, Family, Format, Label, MetricType, Sample};
pub use parse::{parse, parse_bytes, sample_totals, scan_sample_totals};

pub use catalog::{
    Catalog, CatalogError, Dimension, HealthCounter, Histogram, Metric, MetricValues,
};
pub use track::{
    BreakdownDelta, HealthDelta, HistogramDelta, LatencyDeltas, Observation, SeriesKey,
    SeriesState, StateChanges, Tracker, TrackerState,
};
