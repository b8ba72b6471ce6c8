//! Pulse's own `/metrics`: scrape health, durations and the all-time totals,
//! written with pulse-core's exposition writer (text format 0.0.4).

use std::time::Duration;

use pulse_core::MetricType;
use pulse_core::catalog::{Metric, MetricValues};
use pulse_core::write::Writer;

use crate::app::Live;
use crate::store::StoreMode;

/// Renders the exposition body.
pub fn render(live: &Live, all_time: &MetricValues, mode: StoreMode, uptime: Duration) -> String {
    let mut out = String::with_capacity(4096);
    let mut w = Writer::new(&mut out);
    let ok = live.last_error.is_none() && live.last_success_ms.is_some();

    w.family(
        "litellm_pulse_up",
        MetricType::Gauge,
        Some("1 when the latest scrape of LiteLLM succeeded."),
    );
    w.sample("litellm_pulse_up", &[], if ok { 1.0 } else { 0.0 }, None);

    w.family(
        "litellm_pulse_scrapes",
        MetricType::Counter,
        Some("Scrapes since start, by result."),
    );
    w.sample(
        "litellm_pulse_scrapes_total",
        &[("result", "ok")],
        live.scrapes_ok as f64,
        None,
    );
    w.sample(
        "litellm_pulse_scrapes_total",
        &[("result", "error")],
        live.scrapes_failed as f64,
        None,
    );

    w.family(
        "litellm_pulse_consecutive_failures",
        MetricType::Gauge,
        Some("Failed scrapes in a row."),
    );
    w.sample(
        "litellm_pulse_consecutive_failures",
        &[],
        f64::from(live.consecutive_failures),
        None,
    );

    w.family(
        "litellm_pulse_counter_resets",
        MetricType::Counter,
        Some("LiteLLM counter resets seen since start."),
    );
    w.sample(
        "litellm_pulse_counter_resets_total",
        &[],
        live.resets as f64,
        None,
    );

    if let Some(ms) = live.last_duration_ms {
        w.family(
            "litellm_pulse_scrape_duration_seconds",
            MetricType::Gauge,
            Some("Duration of the latest scrape."),
        );
        w.sample(
            "litellm_pulse_scrape_duration_seconds",
            &[],
            ms / 1000.0,
            None,
        );
    }
    if let Some(ms) = live.last_success_ms {
        w.family(
            "litellm_pulse_last_success_timestamp_seconds",
            MetricType::Gauge,
            Some("Start of the latest successful scrape, seconds since the epoch."),
        );
        w.sample(
            "litellm_pulse_last_success_timestamp_seconds",
            &[],
            ms as f64 / 1000.0,
            None,
        );
    }

    w.family(
        "litellm_pulse_pending_writes",
        MetricType::Gauge,
        Some("Good scrapes waiting for the database."),
    );
    w.sample(
        "litellm_pulse_pending_writes",
        &[],
        live.pending_writes as f64,
        None,
    );

    w.family(
        "litellm_pulse_store_ok",
        MetricType::Gauge,
        Some("1 when the latest database write succeeded."),
    );
    w.sample(
        "litellm_pulse_store_ok",
        &[("mode", mode.as_str())],
        if live.store_error.is_none() { 1.0 } else { 0.0 },
        None,
    );

    w.family(
        "litellm_pulse_uptime_seconds",
        MetricType::Gauge,
        Some("Seconds since Pulse started."),
    );
    w.sample(
        "litellm_pulse_uptime_seconds",
        &[],
        uptime.as_secs_f64().floor(),
        None,
    );

    w.family(
        "litellm_pulse_alert_deliveries",
        MetricType::Counter,
        Some("Alert delivery attempts since start, by channel and result."),
    );
    for (channel, c) in &live.deliveries {
        for (result, n) in [("delivered", c.delivered), ("failed", c.failed)] {
            w.sample(
                "litellm_pulse_alert_deliveries_total",
                &[("channel", channel.as_str()), ("result", result)],
                n as f64,
                None,
            );
        }
    }
    w.family(
        "litellm_pulse_alert_deliveries_given_up",
        MetricType::Counter,
        Some("Alerts given up on after a day of failed deliveries, by channel."),
    );
    for (channel, c) in &live.deliveries {
        w.sample(
            "litellm_pulse_alert_deliveries_given_up_total",
            &[("channel", channel.as_str())],
            c.given_up as f64,
            None,
        );
    }

    for metric in Metric::ALL {
        let name = metric.name();
        if metric.is_gauge() {
            let family = format!("litellm_pulse_{name}");
            w.family(
                &family,
                MetricType::Gauge,
                Some("LiteLLM's current value of this gauge."),
            );
            let v = live.live.map_or(0.0, |v| v.get(metric));
            w.sample(&family, &[], v, None);
        } else {
            let family = format!("litellm_pulse_{name}");
            let help =
                format!("All-time sum of {name} deltas (survives LiteLLM restarts and purges).");
            w.family(&family, MetricType::Counter, Some(&help));
            w.sample(
                &format!("{family}_total"),
                &[],
                pulse_core::num::clean(all_time.get(metric)),
                None,
            );
        }
    }
    w.finish();
    out
}
