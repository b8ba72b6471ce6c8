//! The alert outbox: decisions taken inside the scrape transaction (their
//! delivery state is `deliveries`).
//!
//! [`decide`] runs in the transaction of [`Store::record_batch`] after the
//! scrape's deltas are added. For every budget it asks the core for the
//! current period ([`Budget::period_at`]), sums the period's spend and reads
//! the recent 15-minute buckets from the same transaction, asks the core
//! for the forecast ([`forecast()`]) and for the due alerts ([`budget_alerts`],
//! whose `is_recorded` predicate looks the identity up in `pulse_alerts`),
//! and inserts them with one delivery row per channel. The insert is keyed by
//! the identity, so a burst of scrapes above a threshold adds one row, and a
//! crash rolls the decision back together with the scrape that caused it.
//!
//! The store takes no decision of its own: every rule is the core's. The
//! host-named kinds (scrape down/recovered) only compare the status it just
//! wrote with the configured number of minutes.

use std::sync::Arc;

use pulse_core::budget::{
    AlertId, Budget, BudgetPeriod, BudgetSpec, Forecast, ForecastParams, History, PeriodKey, Scope,
    Threshold, budget_alerts, current_period, forecast, hourly_sums, reached, spikes,
};
use pulse_core::catalog::Metric;
use pulse_core::window::{
    Period, STORAGE_BUCKET_MS, TimeRange, Tz, cover, format_rfc3339, storage_bucket,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::cache::{ForecastKey, READ_CACHE_CAP};
use super::read::table_of;
use super::{ScrapeStatus, Store, StoreError};
use crate::alerts::litellm::LitellmBudget;
use crate::alerts::{AlertConfig, AlertEvent, host_idempotency_key};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;

/// What the outbox decides by: the config and the zone of its periods.
#[derive(Debug, Clone)]
pub struct AlertRules {
    /// Budgets, channels, spike rule, scrape-down minutes.
    pub config: Arc<AlertConfig>,
    /// The configured zone (local days, weeks, months).
    pub tz: Tz,
}

/// Read access to sums, in or outside a transaction.
pub(super) struct Reader<'a> {
    pub(super) conn: &'a Connection,
    pub(super) units: &'a [i64],
    pub(super) metric_ids: &'a [i64; Metric::COUNT],
}

/// A budget's state at one instant.
#[derive(Debug, Clone)]
pub struct BudgetMeasure {
    /// The current period.
    pub period: BudgetPeriod,
    /// The value counted in the period so far.
    pub spent: f64,
    /// The projection of the period's end.
    pub forecast: Forecast,
}

impl Reader<'_> {
    fn series_id(&self, scope: &Scope) -> Result<Option<i64>, StoreError> {
        let (dim, key) = match scope {
            Scope::All => ("", ""),
            Scope::One(dim, key) => (dim.name(), key.as_str()),
        };
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM pulse_series WHERE dimension = ?1 AND key = ?2")?
            .query_row(params![dim, key], |row| row.get(0))
            .optional()?)
    }

    /// The sum of `metric` of `series` in buckets starting in `range`.
    fn sum(&self, series: i64, metric: Metric, range: TimeRange) -> Result<f64, StoreError> {
        let metric_id = self.metric_ids[metric.index()];
        let mut total = 0.0;
        for piece in cover(range, self.units) {
            let sql = format!(
                "SELECT COALESCE(SUM(value), 0.0) FROM {} WHERE series_id = ?1 AND metric_id = ?2 \
                 AND start_ms >= ?3 AND start_ms < ?4",
                table_of(piece.unit_ms)
            );
            let v: f64 = self.conn.prepare_cached(&sql)?.query_row(
                params![series, metric_id, piece.range.start_ms, piece.range.end_ms],
                |row| row.get(0),
            )?;
            total += v;
        }
        Ok(total)
    }

    /// The 15-minute buckets of `metric` of `series` starting in `range`.
    fn buckets(
        &self,
        series: i64,
        metric: Metric,
        range: TimeRange,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let metric_id = self.metric_ids[metric.index()];
        let mut stmt = self.conn.prepare_cached(
            "SELECT start_ms, value FROM pulse_buckets WHERE series_id = ?1 AND metric_id = ?2 \
             AND start_ms >= ?3 AND start_ms < ?4 ORDER BY start_ms",
        )?;
        let rows = stmt.query_map(
            params![series, metric_id, range.start_ms, range.end_ms],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The span the buckets describe completely: from the first stored
    /// scrape to the end of `now`'s bucket.
    fn covered(&self, now_ms: i64) -> Result<TimeRange, StoreError> {
        let first: Option<i64> = self
            .conn
            .prepare_cached("SELECT MIN(at_ms) FROM pulse_scrapes")?
            .query_row([], |row| row.get(0))?;
        let end = storage_bucket(now_ms).saturating_add(STORAGE_BUCKET_MS);
        Ok(TimeRange::new(first.unwrap_or(end).min(end), end))
    }

    /// What the store holds for a forecast of `metric` of `scope` in the
    /// `period` around `now_ms`: the period, its spend, the 15-minute buckets
    /// of the look-back and the span they cover. Everything read from SQLite
    /// for [`Reader::measure`], so the API can keep it between writes.
    pub(super) fn measure_inputs(
        &self,
        scope: &Scope,
        metric: Metric,
        period: Period,
        now_ms: i64,
        tz: Tz,
    ) -> Result<MeasureInputs, StoreError> {
        let current = current_period(period, now_ms, tz);
        let params = ForecastParams::for_period(period);
        let lookback = i64::from(params.lookback_weeks.max(1)).saturating_mul(WEEK_MS);
        let (spent, rows) = match self.series_id(scope)? {
            Some(id) => (
                self.sum(id, metric, current.range)?,
                self.buckets(
                    id,
                    metric,
                    TimeRange::new(now_ms.saturating_sub(lookback), current.range.end_ms),
                )?,
            ),
            None => (0.0, Vec::new()),
        };
        Ok(MeasureInputs {
            current,
            spent,
            rows,
            covered: self.covered(now_ms)?,
        })
    }

    /// Spend and forecast of `metric` of `scope` in the `period` around `now_ms`.
    pub(super) fn measure(
        &self,
        scope: &Scope,
        metric: Metric,
        period: Period,
        now_ms: i64,
        tz: Tz,
    ) -> Result<BudgetMeasure, StoreError> {
        let inputs = self.measure_inputs(scope, metric, period, now_ms, tz)?;
        Ok(inputs.measure(period, now_ms, tz))
    }

    fn budget(&self, b: &Budget, now_ms: i64, tz: Tz) -> Result<BudgetMeasure, StoreError> {
        self.measure(b.scope(), b.metric(), b.period(), now_ms, tz)
    }
}

/// The stored data a forecast is made from ([`Reader::measure_inputs`]).
#[derive(Debug, Clone)]
pub(super) struct MeasureInputs {
    current: BudgetPeriod,
    spent: f64,
    rows: Vec<(i64, f64)>,
    covered: TimeRange,
}

impl MeasureInputs {
    /// The core's forecast from these inputs at exactly `now_ms`.
    fn measure(&self, period: Period, now_ms: i64, tz: Tz) -> BudgetMeasure {
        let params = ForecastParams::for_period(period);
        let history = History::new(self.covered, &self.rows);
        let projection = forecast(
            self.current.range,
            now_ms,
            self.spent,
            &history,
            tz,
            &params,
        );
        BudgetMeasure {
            period: self.current.clone(),
            spent: self.spent,
            forecast: projection,
        }
    }
}

/// Whether an alert with this identity is in the outbox.
fn is_recorded(conn: &Connection, key: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM pulse_alerts WHERE alert_key = ?1")?
        .query_row([key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Inserts `event` and a delivery row per channel, unless its key is
/// already recorded. Returns whether it was new.
fn insert(
    tx: &Transaction<'_>,
    event: &AlertEvent,
    period_key: &str,
    created_ms: i64,
    channels: &[String],
) -> Result<bool, StoreError> {
    let payload = serde_json::to_string(event)?;
    let added = tx
        .prepare_cached(
            "INSERT INTO pulse_alerts (alert_key, kind, subject, period_key, payload, \
             idempotency_key, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (alert_key) DO NOTHING",
        )?
        .execute(params![
            event.key,
            event.kind,
            event.subject,
            period_key,
            payload,
            event.idempotency_key,
            created_ms
        ])?;
    if added == 0 {
        return Ok(false);
    }
    let id = tx.last_insert_rowid();
    let mut ins = tx.prepare_cached(
        "INSERT INTO pulse_alert_deliveries (alert_id, channel, attempts, next_attempt_ms) \
         VALUES (?1, ?2, 0, ?3)",
    )?;
    for channel in channels {
        ins.execute(params![id, channel, created_ms])?;
    }
    tracing::info!(alert = %event.key, "alert recorded");
    Ok(true)
}

/// The number as a message shows it: money with two decimals, counts whole.
fn shown(metric: Metric, v: f64) -> String {
    let v = pulse_core::num::clean(v);
    if metric == Metric::Cost {
        format!("${v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// Takes every alert decision due after a scrape at `now_ms`, in `tx`.
///
/// `prev` is the scrape status before this batch, `status` after it;
/// `wrote_scrape` says whether the batch held a good scrape (budgets and
/// spikes only change then).
#[allow(clippy::too_many_arguments)]
pub(super) fn decide(
    tx: &Transaction<'_>,
    rules: &AlertRules,
    units: &[i64],
    metric_ids: &[i64; Metric::COUNT],
    prev: &ScrapeStatus,
    status: &ScrapeStatus,
    now_ms: i64,
    wrote_scrape: bool,
) -> Result<(), StoreError> {
    let config = &rules.config;
    let tz = rules.tz;
    let channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
    let created_at = format_rfc3339(now_ms, tz);
    let reader = Reader {
        conn: tx,
        units,
        metric_ids,
    };
    if wrote_scrape {
        for budget in &config.budgets {
            let m = reader.budget(budget, now_ms, tz)?;
            let due = budget_alerts(
                budget,
                &m.period,
                m.spent,
                Some(m.forecast.projected),
                |id: &AlertId| is_recorded(tx, &id.key()).unwrap_or(false),
            );
            for alert in due {
                let metric = budget.metric();
                let percent = pulse_core::num::clean(budget.percent_of_limit(alert.spent));
                let (title, message) = match alert.id.kind.threshold() {
                    Some(t) => (
                        format!("Budget {} reached {t} %", budget.name()),
                        format!(
                            "{}: {} of {} ({percent} %) in {} {}",
                            budget.name(),
                            shown(metric, alert.spent),
                            shown(metric, alert.limit),
                            budget.period(),
                            m.period.key
                        ),
                    ),
                    None => (
                        format!("Budget {} is forecast to be exceeded", budget.name()),
                        format!(
                            "{}: {} of {} so far in {} {}, forecast {} by its end",
                            budget.name(),
                            shown(metric, alert.spent),
                            shown(metric, alert.limit),
                            budget.period(),
                            m.period.key,
                            shown(metric, alert.projected.unwrap_or(f64::NAN))
                        ),
                    ),
                };
                let event = AlertEvent {
                    idempotency_key: alert.id.idempotency_key(),
                    key: alert.id.key(),
                    kind: alert.id.kind.name().to_owned(),
                    subject: alert.id.subject.clone(),
                    period: alert.id.period.to_string(),
                    threshold: alert.id.kind.threshold().map(|t| t.percent()),
                    title,
                    message,
                    value: Some(pulse_core::num::clean(alert.spent)),
                    limit: Some(alert.limit),
                    projected: alert.projected.map(pulse_core::num::clean),
                    metric: Some(metric.name().to_owned()),
                    created_at: created_at.clone(),
                };
                insert(tx, &event, m.period.key.as_str(), now_ms, &channels)?;
            }
        }
        if let Some(rule) = &config.spike {
            decide_spikes(tx, &reader, rule, tz, now_ms, &created_at, &channels)?;
        }
        if let Some(thresholds) = &config.litellm_thresholds {
            decide_litellm(tx, thresholds, now_ms, &created_at, &channels)?;
        }
    }
    if let Some(minutes) = config.scrape_down_minutes {
        decide_scrape_health(
            tx,
            minutes,
            prev,
            status,
            now_ms,
            tz,
            &created_at,
            &channels,
        )?;
    }
    Ok(())
}

/// Spend spikes of the total cost in the current or the previous local hour
/// (the core's [`spikes`] rule over [`hourly_sums`]).
fn decide_spikes(
    tx: &Transaction<'_>,
    reader: &Reader<'_>,
    rule: &pulse_core::budget::SpikeRule,
    tz: Tz,
    now_ms: i64,
    created_at: &str,
    channels: &[String],
) -> Result<(), StoreError> {
    let Some(total) = reader.series_id(&Scope::All)? else {
        return Ok(());
    };
    // The baseline days plus today, and an hour for a daylight-saving shift.
    let span = i64::from(rule.days)
        .saturating_add(1)
        .saturating_mul(DAY_MS)
        .saturating_add(HOUR_MS);
    let end = storage_bucket(now_ms).saturating_add(STORAGE_BUCKET_MS);
    let range = TimeRange::new(end.saturating_sub(span), end);
    let rows = reader.buckets(total, Metric::Cost, range)?;
    let covered = reader.covered(now_ms)?;
    let hours = hourly_sums(&History::new(covered, &rows), range, tz);
    let recent: Vec<PeriodKey> = hours
        .iter()
        .rev()
        .take(2)
        .map(|h| PeriodKey::hour(h.date, h.hour))
        .collect();
    for spike in spikes(rule, &hours) {
        if !recent.contains(&spike.key) {
            continue;
        }
        let id = AlertId::spike("spend", &spike.key);
        let event = AlertEvent {
            idempotency_key: id.idempotency_key(),
            key: id.key(),
            kind: id.kind.name().to_owned(),
            subject: id.subject.clone(),
            period: spike.key.to_string(),
            threshold: None,
            title: format!("Spend spike in hour {}", spike.key),
            message: format!(
                "{} spent in hour {}, the median of the same hour on the {} previous days is {}",
                shown(Metric::Cost, spike.value),
                spike.key,
                spike.baseline_hours,
                shown(Metric::Cost, spike.median)
            ),
            value: Some(spike.value),
            limit: None,
            projected: None,
            metric: Some(Metric::Cost.name().to_owned()),
            created_at: created_at.to_owned(),
        };
        insert(tx, &event, spike.key.as_str(), now_ms, channels)?;
    }
    Ok(())
}

/// Replaces the stored LiteLLM budget gauges.
pub(super) fn write_litellm_budgets(
    tx: &Transaction<'_>,
    budgets: &[LitellmBudget],
    at_ms: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM pulse_litellm_budgets", [])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO pulse_litellm_budgets (entity, ident, name, remaining, max_budget, \
         remaining_hours, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (entity, ident) DO NOTHING",
    )?;
    for b in budgets {
        ins.execute(params![
            b.entity,
            b.ident,
            b.name,
            b.remaining,
            b.max_budget,
            b.remaining_hours,
            at_ms
        ])?;
    }
    Ok(())
}

fn read_litellm_budgets(conn: &Connection) -> Result<Vec<LitellmBudget>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT entity, ident, name, remaining, max_budget, remaining_hours \
         FROM pulse_litellm_budgets ORDER BY entity, ident",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(LitellmBudget {
            entity: r.get(0)?,
            ident: r.get(1)?,
            name: r.get(2)?,
            remaining: r.get(3)?,
            max_budget: r.get(4)?,
            remaining_hours: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The core budget a LiteLLM-side budget is judged as: its limit is the
/// maximum, its spend what is used of it (`max - remaining`). `None` without
/// a finite budget.
pub fn litellm_as_budget(b: &LitellmBudget, thresholds: &[Threshold]) -> Option<(Budget, f64)> {
    let (max, remaining) = (b.max_budget?, b.remaining?);
    let mut spec = BudgetSpec::new(format!("{}/{}", b.entity, b.ident), Period::Month, max);
    spec.thresholds = thresholds.iter().map(|t| t.percent()).collect();
    spec.forecast_warning = false;
    let budget = Budget::new(spec).ok()?;
    Some((budget, max - remaining))
}

/// LiteLLM-side budgets used past a threshold: once per threshold and
/// LiteLLM budget period. LiteLLM names no period, so the period is the UTC
/// day its reset falls on (`now + remaining hours`), or `-` for a budget that
/// never resets.
fn decide_litellm(
    tx: &Transaction<'_>,
    thresholds: &[Threshold],
    now_ms: i64,
    created_at: &str,
    channels: &[String],
) -> Result<(), StoreError> {
    for b in read_litellm_budgets(tx)? {
        let Some((budget, used)) = litellm_as_budget(&b, thresholds) else {
            continue;
        };
        let period = match b.remaining_hours {
            Some(h) => {
                let reset_ms = now_ms.saturating_add((h * HOUR_MS as f64) as i64);
                format!("reset-day-{}", reset_ms.div_euclid(DAY_MS))
            }
            None => "-".to_owned(),
        };
        for t in reached(&budget, used) {
            let key = format!("litellm_budget:{period}:{t}:{}", budget.name());
            let event = AlertEvent {
                idempotency_key: host_idempotency_key(&key),
                key,
                kind: "litellm_budget".into(),
                subject: format!("{} {}", b.entity, b.name),
                period: period.clone(),
                threshold: Some(t.percent()),
                title: format!("LiteLLM budget of {} {} {t} % used", b.entity, b.name),
                message: format!(
                    "LiteLLM {} {}: {} of {} left",
                    b.entity,
                    b.name,
                    shown(Metric::Cost, b.remaining.unwrap_or(f64::NAN)),
                    shown(Metric::Cost, budget.limit())
                ),
                value: b.remaining,
                limit: Some(budget.limit()),
                projected: None,
                metric: Some(Metric::Cost.name().to_owned()),
                created_at: created_at.to_owned(),
            };
            insert(tx, &event, &period, now_ms, channels)?;
        }
    }
    Ok(())
}

/// The identity of the outage that began after the good scrape at `since_ms`.
fn outage_key(kind: &str, since_ms: i64) -> String {
    format!("{kind}:{since_ms}:-:scrape")
}

/// Scrape down for `minutes` (once per outage, an outage being named by the
/// last good scrape before it) and recovered (once, after a down alert).
#[allow(clippy::too_many_arguments)]
fn decide_scrape_health(
    tx: &Transaction<'_>,
    minutes: u32,
    prev: &ScrapeStatus,
    status: &ScrapeStatus,
    now_ms: i64,
    tz: Tz,
    created_at: &str,
    channels: &[String],
) -> Result<(), StoreError> {
    let event = |kind: &str, since: i64, title: String, message: String| {
        let key = outage_key(kind, since);
        AlertEvent {
            idempotency_key: host_idempotency_key(&key),
            key,
            kind: kind.to_owned(),
            subject: "scrape".into(),
            period: format_rfc3339(since, tz),
            threshold: None,
            title,
            message,
            value: None,
            limit: None,
            projected: None,
            metric: None,
            created_at: created_at.to_owned(),
        }
    };
    if status.consecutive_failures > 0
        && let Some(since) = status.last_success_ms
        && now_ms.saturating_sub(since) >= i64::from(minutes) * 60_000
    {
        let e = event(
            "scrape_down",
            since,
            format!("LiteLLM scrape failing for {minutes} minutes"),
            format!(
                "no good scrape since {}: {}",
                format_rfc3339(since, tz),
                status.last_error.as_deref().unwrap_or("unknown error")
            ),
        );
        insert(tx, &e, &e.period.clone(), now_ms, channels)?;
    }
    if status.consecutive_failures == 0
        && prev.consecutive_failures > 0
        && let Some(since) = prev.last_success_ms
        && is_recorded(tx, &outage_key("scrape_down", since))?
    {
        let e = event(
            "scrape_recovered",
            since,
            "LiteLLM scrape recovered".into(),
            format!(
                "scraping works again after failing since {}",
                format_rfc3339(since, tz)
            ),
        );
        insert(tx, &e, &e.period.clone(), now_ms, channels)?;
    }
    Ok(())
}

impl Store {
    /// Makes every later scrape transaction take the alert decisions of
    /// `rules` (a reload replaces them; `None` stops deciding).
    pub fn set_alert_rules(&mut self, rules: Option<AlertRules>) {
        self.alert_rules = rules;
    }

    pub(super) fn reader(&self) -> Reader<'_> {
        Reader {
            conn: &self.conn,
            units: &self.units,
            metric_ids: &self.metric_ids,
        }
    }

    /// Each budget's period, spend and forecast at `now_ms`.
    pub fn budget_measures(
        &self,
        budgets: &[Budget],
        now_ms: i64,
        tz: Tz,
    ) -> Result<Vec<BudgetMeasure>, StoreError> {
        let r = self.reader();
        budgets.iter().map(|b| r.budget(b, now_ms, tz)).collect()
    }

    /// The total cost's forecast for the current local day, week and month.
    ///
    /// Asked on every `/api/v2/summary`, so what it reads from SQLite is kept
    /// in the read cache until the next write; the forecast itself is made
    /// again at exactly `now_ms`. The stored inputs only change when `now_ms`
    /// enters another 15-minute bucket or period (bucket starts and local
    /// period edges are multiples of 15 minutes), which the cache key holds.
    pub fn cost_forecasts(&self, now_ms: i64, tz: Tz) -> Result<[f64; 3], StoreError> {
        let f = |period: Period| -> Result<f64, StoreError> {
            let bucket = storage_bucket(now_ms);
            let key = ForecastKey {
                tz: tz.name(),
                period: period.to_string(),
                period_start_ms: current_period(period, now_ms, tz).range.start_ms,
                bucket_ms: bucket,
                on_edge: now_ms == bucket,
            };
            let cached = self.cache.borrow().forecast_inputs.get(&key).cloned();
            let inputs = match cached {
                Some(inputs) => inputs,
                None => {
                    let inputs = Arc::new(self.reader().measure_inputs(
                        &Scope::All,
                        Metric::Cost,
                        period,
                        now_ms,
                        tz,
                    )?);
                    let mut cache = self.cache.borrow_mut();
                    if cache.forecast_inputs.len() >= READ_CACHE_CAP {
                        cache.forecast_inputs.clear();
                    }
                    cache.forecast_inputs.insert(key, Arc::clone(&inputs));
                    inputs
                }
            };
            Ok(inputs.measure(period, now_ms, tz).forecast.projected)
        };
        Ok([f(Period::Day)?, f(Period::Week)?, f(Period::Month)?])
    }

    /// LiteLLM's own budget gauges at the latest good scrape.
    pub fn litellm_budgets(&self) -> Result<Vec<LitellmBudget>, StoreError> {
        read_litellm_budgets(&self.conn)
    }
}
