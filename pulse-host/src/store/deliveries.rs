//! The outbox's delivery state: which alert is due for which channel, the
//! result of each attempt, and the history `/api/v1/alerts` shows. The
//! decisions themselves are `outbox`'s; the sending is
//! `crate::alerts::deliver`'s.

use rusqlite::params;

use super::{Store, StoreError};
use crate::alerts::AlertEvent;

/// One alert delivery that is due.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// `pulse_alerts.id`.
    pub alert_id: i64,
    /// The channel's name.
    pub channel: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the alert was decided.
    pub created_ms: i64,
    /// What to send.
    pub event: AlertEvent,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The receiver accepted it.
    Delivered,
    /// It failed; try again at `next_ms`.
    Retry {
        /// Why (never holds the URL).
        error: String,
        /// When to try again.
        next_ms: i64,
    },
    /// It failed and the retry time is over.
    GaveUp {
        /// Why (never holds the URL).
        error: String,
    },
}

/// One channel's delivery state of one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    /// The channel's name.
    pub channel: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_ms: Option<i64>,
    /// When it was delivered.
    pub delivered_ms: Option<i64>,
    /// When pulse gave up.
    pub failed_ms: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// A recorded alert with its delivery state.
#[derive(Debug, Clone)]
pub struct AlertRecord {
    /// `pulse_alerts.id`.
    pub id: i64,
    /// What it says.
    pub event: AlertEvent,
    /// Per channel.
    pub deliveries: Vec<DeliveryState>,
}

impl Store {
    /// Deliveries due at `now_ms`, oldest first, at most `limit`.
    pub fn due_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.alert_id, d.channel, d.attempts, a.created_ms, a.payload \
             FROM pulse_alert_deliveries d JOIN pulse_alerts a ON a.id = d.alert_id \
             WHERE d.delivered_ms IS NULL AND d.failed_ms IS NULL AND d.next_attempt_ms <= ?1 \
             ORDER BY d.next_attempt_ms, d.alert_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (alert_id, channel, attempts, created_ms, payload) = row?;
            out.push(DueDelivery {
                alert_id,
                channel,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                created_ms,
                event: serde_json::from_str(&payload)?,
            });
        }
        Ok(out)
    }

    /// When the next pending delivery is due, if any.
    pub fn next_delivery_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT MIN(next_attempt_ms) FROM pulse_alert_deliveries \
                 WHERE delivered_ms IS NULL AND failed_ms IS NULL",
            )?
            .query_row([], |row| row.get(0))?)
    }

    /// Records one delivery attempt made at `at_ms`.
    pub fn record_attempt(
        &mut self,
        alert_id: i64,
        channel: &str,
        at_ms: i64,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        let (next, delivered, failed, error) = match attempt {
            Attempt::Delivered => (None, Some(at_ms), None, None),
            Attempt::Retry { error, next_ms } => (Some(*next_ms), None, None, Some(error.as_str())),
            Attempt::GaveUp { error } => (None, None, Some(at_ms), Some(error.as_str())),
        };
        self.conn
            .prepare_cached(
                "UPDATE pulse_alert_deliveries SET attempts = attempts + 1, next_attempt_ms = ?3, \
                 delivered_ms = ?4, failed_ms = ?5, last_error = ?6 \
                 WHERE alert_id = ?1 AND channel = ?2",
            )?
            .execute(params![alert_id, channel, next, delivered, failed, error])?;
        Ok(())
    }

    /// The newest `limit` alerts, newest first, with their delivery state.
    pub fn alert_history(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, payload FROM pulse_alerts ORDER BY created_ms DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        let mut deliveries = self.conn.prepare_cached(
            "SELECT channel, attempts, next_attempt_ms, delivered_ms, failed_ms, last_error \
             FROM pulse_alert_deliveries WHERE alert_id = ?1 ORDER BY channel",
        )?;
        for row in rows {
            let (id, payload) = row?;
            let states = deliveries
                .query_map([id], |r| {
                    Ok(DeliveryState {
                        channel: r.get(0)?,
                        attempts: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(u32::MAX),
                        next_attempt_ms: r.get(2)?,
                        delivered_ms: r.get(3)?,
                        failed_ms: r.get(4)?,
                        last_error: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(AlertRecord {
                id,
                event: serde_json::from_str(&payload)?,
                deliveries: states,
            });
        }
        Ok(out)
    }
}
