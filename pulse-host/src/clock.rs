//! Where "now" comes from. The core never reads the clock; the host reads it
//! here, and tests pin it.

/// Where "now" comes from: the system clock, or a pinned instant in tests.
#[derive(Debug, Clone)]
pub enum Clock {
    /// `chrono::Utc::now()`.
    System,
    /// Always this instant (ms since the epoch).
    #[cfg_attr(not(test), allow(dead_code, reason = "only tests pin the clock"))]
    Fixed(i64),
    /// Whatever the test set last.
    #[cfg(test)]
    Manual(std::sync::Arc<std::sync::atomic::AtomicI64>),
    /// For end-to-end tests only: the system clock plus a signed offset in
    /// milliseconds read from this file on every call, so a test can step
    /// the running binary's clock backwards and forwards; a file holding
    /// `=<ms>` stops the clock at that instant (for values that move with
    /// every millisecond, such as forecasts, compared exactly). Chosen with
    /// the undocumented `LITELLM_PULSE_TEST_CLOCK_FILE`; a missing or
    /// malformed file counts as offset 0.
    OffsetFile(std::path::PathBuf),
}

/// The variable that selects [`Clock::OffsetFile`] (hidden from `--help`).
pub const TEST_CLOCK_VAR: &str = "LITELLM_PULSE_TEST_CLOCK_FILE";

/// The offset in a test clock file: a signed integer of milliseconds.
pub fn parse_clock_offset(text: &str) -> i64 {
    text.trim().parse().unwrap_or(0)
}

/// "now" by a test clock file's text: `=<ms>` is that instant, anything
/// else an offset to `system_ms` ([`parse_clock_offset`]).
pub fn clock_file_now(text: &str, system_ms: i64) -> i64 {
    match text
        .trim()
        .strip_prefix('=')
        .map(|t| t.trim().parse::<i64>())
    {
        Some(Ok(fixed)) => fixed,
        _ => system_ms.saturating_add(parse_clock_offset(text)),
    }
}

impl Clock {
    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            Clock::Fixed(ms) => *ms,
            Clock::OffsetFile(path) => clock_file_now(
                &std::fs::read_to_string(path).unwrap_or_default(),
                chrono::Utc::now().timestamp_millis(),
            ),
            #[cfg(test)]
            Clock::Manual(ms) => ms.load(std::sync::atomic::Ordering::SeqCst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_file_shifts_the_system_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        let clock = Clock::OffsetFile(path.clone());
        let before = chrono::Utc::now().timestamp_millis();
        // No file yet: the system clock.
        let t = clock.now_ms();
        assert!((before..before + 5_000).contains(&t), "{t}");
        std::fs::write(&path, "-7200000\n").unwrap();
        let t = clock.now_ms();
        assert!(
            (before - 7_200_000..before - 7_200_000 + 5_000).contains(&t),
            "{t}"
        );
        std::fs::write(&path, "93600000").unwrap();
        let t = clock.now_ms();
        assert!(
            (before + 93_600_000..before + 93_600_000 + 5_000).contains(&t),
            "{t}"
        );
        assert_eq!(parse_clock_offset("junk"), 0);
        assert_eq!(parse_clock_offset(" -5 "), -5);
        std::fs::write(&path, "=1795689000000\n").unwrap();
        assert_eq!(clock.now_ms(), 1_795_689_000_000);
        assert_eq!(clock_file_now("-5", 100), 95);
        assert_eq!(clock_file_now("=junk", 100), 100);
        assert_eq!(clock_file_now("", 100), 100);
    }
}
