//! Pulse's own `/metrics`: scrape health, durations and the all-time totals,
//! written with pulse-core's exposition writer (text format 0.0.4).

use std::time::Duration;

use pulse_core::MetricType;
use pulse_core::catalog::{Metric, MetricValues};
use pulse_core::write::Writer;

use crate::app::{Live, TargetStatus};
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

    targets(&mut w, live);

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

/// Each scrape target's own health, labelled `instance` (`host:port`) as
/// in the `instance` breakdown: targets pulse has tried since it started,
/// listed or not.
fn targets(w: &mut Writer<'_>, live: &Live) {
    let each = |w: &mut Writer<'_>,
                family: &str,
                help: &str,
                kind,
                f: &dyn Fn(&TargetStatus) -> Option<f64>| {
        w.family(family, kind, Some(help));
        let sample = if kind == MetricType::Counter {
            format!("{family}_total")
        } else {
            family.to_owned()
        };
        for (name, t) in &live.targets {
            if let Some(v) = f(t) {
                w.sample(&sample, &[("instance", name.as_str())], v, None);
            }
        }
    };
    each(
        w,
        "litellm_pulse_target_up",
        "1 when the latest scrape of this target succeeded.",
        MetricType::Gauge,
        &|t| {
            Some(if t.last_error.is_none() && t.last_success_ms.is_some() {
                1.0
            } else {
                0.0
            })
        },
    );
    each(
        w,
        "litellm_pulse_target_listed",
        "1 when the configuration or the latest DNS answer lists this target.",
        MetricType::Gauge,
        &|t| Some(if t.listed { 1.0 } else { 0.0 }),
    );
    w.family(
        "litellm_pulse_target_scrapes",
        MetricType::Counter,
        Some("Scrapes of this target since start, by result."),
    );
    for (name, t) in &live.targets {
        for (result, n) in [("ok", t.scrapes_ok), ("error", t.scrapes_failed)] {
            w.sample(
                "litellm_pulse_target_scrapes_total",
                &[("instance", name.as_str()), ("result", result)],
                n as f64,
                None,
            );
        }
    }
    each(
        w,
        "litellm_pulse_target_consecutive_failures",
        "Failed scrapes of this target in a row.",
        MetricType::Gauge,
        &|t| Some(f64::from(t.consecutive_failures)),
    );
    each(
        w,
        "litellm_pulse_target_scrape_duration_seconds",
        "Duration of the latest scrape of this target (the fetch).",
        MetricType::Gauge,
        &|t| t.last_duration_ms.map(|ms| ms / 1000.0),
    );
    each(
        w,
        "litellm_pulse_target_last_success_timestamp_seconds",
        "Start of the latest successful scrape of this target, seconds since the epoch.",
        MetricType::Gauge,
        &|t| t.last_success_ms.map(|ms| ms as f64 / 1000.0),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_its_own_labelled_samples() {
        let mut live = Live::default();
        live.targets.insert(
            "10.0.0.1:4000".into(),
            TargetStatus {
                listed: true,
                last_success_ms: Some(1_700_000_000_500),
                last_duration_ms: Some(12.5),
                scrapes_ok: 7,
                ..TargetStatus::default()
            },
        );
        live.targets.insert(
            "10.0.0.2:4000".into(),
            TargetStatus {
                listed: false,
                last_error: Some("connection refused".into()),
                consecutive_failures: 3,
                scrapes_ok: 2,
                scrapes_failed: 3,
                ..TargetStatus::default()
            },
        );
        let body = render(
            &live,
            &MetricValues::default(),
            StoreMode::Memory,
            Duration::ZERO,
        );
        for line in [
            "litellm_pulse_target_up{instance=\"10.0.0.1:4000\"} 1.0",
            "litellm_pulse_target_up{instance=\"10.0.0.2:4000\"} 0.0",
            "litellm_pulse_target_listed{instance=\"10.0.0.2:4000\"} 0.0",
            "litellm_pulse_target_scrapes_total{instance=\"10.0.0.1:4000\",result=\"ok\"} 7.0",
            "litellm_pulse_target_scrapes_total{instance=\"10.0.0.2:4000\",result=\"error\"} 3.0",
            "litellm_pulse_target_consecutive_failures{instance=\"10.0.0.2:4000\"} 3.0",
            "litellm_pulse_target_scrape_duration_seconds{instance=\"10.0.0.1:4000\"} 0.0125",
            "litellm_pulse_target_last_success_timestamp_seconds{instance=\"10.0.0.1:4000\"} 1700000000.5",
            "# TYPE litellm_pulse_target_scrapes counter",
        ] {
            assert!(body.lines().any(|l| l == line), "no {line:?} in\n{body}");
        }
        // No success yet: no timestamp, no duration.
        assert!(!body.contains("last_success_timestamp_seconds{instance=\"10.0.0.2:4000\"}"));
        assert!(!body.contains("duration_seconds{instance=\"10.0.0.2:4000\"}"));
        // What pulse-core's parser makes of it: valid text format.
        pulse_core::parse::parse(&body).expect("valid exposition text");
    }
}
