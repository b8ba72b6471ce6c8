//! The real LiteLLM `/metrics` captures in `tests/fixtures/litellm`
//! (vendored from a LiteLLM 1.108.7 proxy; see the README there).

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

/// The directory holding the captures: `$PULSE_FIXTURES` when set, otherwise
/// `tests/fixtures/litellm` in this repository.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PULSE_FIXTURES") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/litellm")
}

/// One capture as text, by file name (e.g. `01-after-batch1.prom`).
pub fn capture(file: &str) -> String {
    let path = fixtures_dir().join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// One capture as bytes, by file name.
pub fn capture_bytes(file: &str) -> Vec<u8> {
    let path = fixtures_dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// The `Date` header LiteLLM sent with a capture (from its `.headers` file),
/// e.g. `Fri, 27 Nov 2026 10:08:18 GMT`. `name` may end in `.prom` or not.
pub fn capture_date(name: &str) -> String {
    let file = format!("{}.headers", name.strip_suffix(".prom").unwrap_or(name));
    let text = capture(&file);
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("date").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no date in {file}"))
}

/// [`capture_date`] as milliseconds since the epoch: the target's clock
/// when the capture was taken.
pub fn capture_date_ms(name: &str) -> i64 {
    let date = capture_date(name);
    let t = httpdate::parse_http_date(&date).unwrap_or_else(|e| panic!("{date:?}: {e}"));
    let since = t.duration_since(UNIX_EPOCH).expect("a date after 1970");
    i64::try_from(since.as_millis()).expect("a date before 292 million AD")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_their_dates_are_read() {
        let text = capture("01-after-batch1.prom");
        assert!(text.contains("litellm_proxy_total_requests_metric_total"));
        assert_eq!(capture_bytes("01-after-batch1.prom"), text.as_bytes());
        let date = capture_date("01-after-batch1");
        assert_eq!(date, capture_date("01-after-batch1.prom"));
        assert_eq!(date, "Fri, 27 Nov 2026 10:08:18 GMT");
        assert_eq!(capture_date_ms("01-after-batch1.prom"), 1_795_774_098_000);
    }
}
