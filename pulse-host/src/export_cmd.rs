//! `litellm-pulse export`: the rows of `GET /api/v1/export`, written to
//! standard output from the database file, for cron jobs.
//!
//! The flags become the endpoint's query parameters and go through the same
//! [`parse_request`], [`Request::plan`](crate::api::export::Request::plan) and
//! [`Plan::write_page`](crate::api::export::Plan::write_page), so a file made
//! here and a download from a running server have the same bytes. The
//! database is opened with [`Store::open_existing`]: a missing or foreign
//! file is an error, never created or moved aside. Exit codes: 0 written,
//! 1 the database could not be read or the output written, 2 a bad flag.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use crate::api::export::parse_request;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;

/// Exit code for a flag the query parser refused (clap uses 2 for usage errors too).
const EXIT_USAGE: u8 = 2;

/// `export`'s flags; each is the `/api/v1/export` query parameter of the same name.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ExportArgs {
    /// `csv` or `ndjson`.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// A dimension (model, key, team, user, end_user, provider, …) for one row
    /// per key; the total when omitted.
    #[arg(long)]
    pub by: Option<String>,
    /// Start: a date (YYYY-MM-DD, local midnight in --timezone), RFC 3339 or
    /// ms since the epoch.
    #[arg(long)]
    pub from: Option<String>,
    /// End, excluded (same forms as --from); now when omitted.
    #[arg(long)]
    pub to: Option<String>,
    /// A named window (today, last_month, 30d, all, …) instead of --from/--to.
    #[arg(long)]
    pub window: Option<String>,
    /// Bucket width: hour, day, week, month, or a multiple of 15m; from the
    /// range's length when omitted.
    #[arg(long)]
    pub step: Option<String>,
    /// Comma-separated metric columns; every counter when omitted.
    #[arg(long)]
    pub metric: Option<String>,
}

impl ExportArgs {
    /// The flags as the endpoint's query parameters.
    fn query(&self) -> HashMap<String, String> {
        let mut q = HashMap::from([("format".to_owned(), self.format.clone())]);
        for (name, value) in [
            ("by", &self.by),
            ("from", &self.from),
            ("to", &self.to),
            ("window", &self.window),
            ("step", &self.step),
            ("metric", &self.metric),
        ] {
            if let Some(v) = value {
                q.insert(name.to_owned(), v.clone());
            }
        }
        q
    }
}

/// Runs `export`.
pub fn run(args: &ExportArgs, settings: &Settings) -> ExitCode {
    let request = match parse_request(&args.query(), settings.tz, Clock::System.now_ms()) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_USAGE, &message(&e.body)),
    };
    let store = match Store::open_existing(&settings.db_path, settings.history_size) {
        Ok(s) => s,
        Err(e) => return fail(1, &format!("{}: {e}", settings.db_path.display())),
    };
    let plan = match request.plan(&store) {
        Ok(p) => p,
        Err(e) if e.status.is_client_error() => return fail(EXIT_USAGE, &message(&e.body)),
        Err(e) => return fail(1, &message(&e.body)),
    };
    let mut stdout = std::io::stdout().lock();
    let mut page = Some(0);
    let mut chunk = Vec::new();
    while let Some(first) = page {
        chunk.clear();
        page = match plan.write_page(&store, first, &mut chunk) {
            Ok(next) => next,
            Err(e) => return fail(1, &e.to_string()),
        };
        if let Err(e) = stdout.write_all(&chunk) {
            return fail(1, &format!("cannot write the export: {e}"));
        }
    }
    if let Err(e) = stdout.flush() {
        return fail(1, &format!("cannot write the export: {e}"));
    }
    ExitCode::SUCCESS
}

/// The `error` text of an API error body.
fn message(body: &serde_json::Value) -> String {
    body.get("error")
        .and_then(|e| e.as_str())
        .unwrap_or("invalid export query")
        .to_owned()
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("litellm-pulse export: {msg}");
    ExitCode::from(code)
}
