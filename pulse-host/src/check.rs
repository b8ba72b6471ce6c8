//! `litellm-pulse check [FILE|URL|-]`: strict validation of exposition text,
//! the way `promtool check metrics` reports it.
//!
//! Only the reading lives here (a file, standard input, or a URL fetched by
//! the scraper with the configured timeout, TLS and body settings); the
//! rules are `pulse_core::validate`. Each problem is printed to standard
//! output as `LINE: message`, a one-line summary goes to standard error,
//! and the exit code is 0 (valid), 1 (problems) or 2 (the input could not
//! be read).

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use pulse_core::validate::{self, Format, Report};
use reqwest::Url;

use crate::config::{CheckArgs, CheckFormat, Settings};
use crate::scrape::Scraper;

/// Exit code when the input cannot be read (clap uses 2 for usage errors too).
const EXIT_INPUT: u8 = 2;

/// Runs `check`.
pub async fn run(args: &CheckArgs, settings: Settings) -> ExitCode {
    let body = match read(&args.input, settings).await {
        Ok(body) => body,
        Err(e) => {
            eprintln!("litellm-pulse check: {e:#}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let report = match args.format {
        CheckFormat::Auto => validate::validate_bytes(&body),
        CheckFormat::Openmetrics => validate::validate_as(&body, Format::OpenMetrics),
        CheckFormat::Text => validate::validate_as(&body, Format::PrometheusText),
    };
    if let Err(e) = print(&report) {
        eprintln!("litellm-pulse check: cannot write the report: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    let format = match report.format {
        Format::OpenMetrics => "OpenMetrics 1.0",
        Format::PrometheusText => "Prometheus text 0.0.4",
    };
    let name = if args.input == "-" {
        "standard input"
    } else {
        args.input.as_str()
    };
    match report.problems.len() {
        0 => {
            eprintln!("{name}: valid {format}");
            ExitCode::SUCCESS
        }
        n => {
            let s = if n == 1 { "" } else { "s" };
            eprintln!("{name}: {n} problem{s} ({format})");
            ExitCode::FAILURE
        }
    }
}

fn print(report: &Report) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for p in &report.problems {
        writeln!(out, "{}: {}", p.line, p.message)?;
    }
    out.flush()
}

/// The bytes of a file, of standard input (`-`), or of a URL's answer.
async fn read(input: &str, mut settings: Settings) -> anyhow::Result<Vec<u8>> {
    if input == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut body)
            .context("cannot read standard input")?;
        return Ok(body);
    }
    if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).with_context(|| format!("{input:?} is not a valid URL"))?;
        // The metrics key belongs to LiteLLM: send it only to that origin.
        if url.origin() != settings.metrics_url.origin() {
            settings.api_key = None;
        }
        settings.metrics_url = url;
        let scraper = Scraper::new(&settings)?;
        let fetched = scraper
            .fetch()
            .await
            .with_context(|| format!("cannot fetch {}", redacted(&settings.metrics_url)))?;
        return Ok(fetched.body);
    }
    std::fs::read(input).with_context(|| format!("cannot read {input}"))
}

/// The URL without its credentials, for messages.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
