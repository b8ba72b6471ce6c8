//! Plain readings: test oracles written without the parser, the tracker or
//! `pulse_core::latency`, so the code under test is checked against something
//! that is not its own twin.

/// The value of label `name` on one sample line of a capture, found by
/// string search (labels are sorted, so every one but the first follows a
/// comma). No escapes are decoded: LiteLLM's model names have none.
pub fn plain_label<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let start = [format!(",{name}=\""), format!("{{{name}=\"")]
        .iter()
        .find_map(|p| line.find(p.as_str()).map(|i| i + p.len()))?;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// The quantile `q` of cumulative buckets `(le, count)` sorted by `le` and
/// ending with `+Inf`, as Prometheus' `histogram_quantile` documents it,
/// written out as a loop: linear interpolation in the bucket that reaches
/// rank `q × total`, from 0 in the lowest bucket, the highest finite bound
/// when the rank is in `+Inf`.
///
/// # Panics
/// On an empty list, or one whose last count is below the rank.
pub fn plain_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().expect("at least the +Inf bucket").1;
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le == f64::INFINITY {
                return lower;
            }
            return lower + (le - lower) * (rank - below) / (count - below);
        }
        (lower, below) = (le, count);
    }
    unreachable!("the +Inf bucket holds every observation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_by_string_search() {
        let line = r#"x_bucket{le="0.5",requested_model="gpt-4o-mini"} 3.0"#;
        assert_eq!(plain_label(line, "le"), Some("0.5"));
        assert_eq!(plain_label(line, "requested_model"), Some("gpt-4o-mini"));
        assert_eq!(plain_label(line, "model"), None);
    }

    #[test]
    fn quantiles_by_hand() {
        let b = [(0.1, 2.0), (0.2, 6.0), (f64::INFINITY, 8.0)];
        // Rank 4 lies in (0.1, 0.2]: 0.1 + 0.1 × (4 − 2) / (6 − 2).
        assert!((plain_quantile(0.5, &b) - 0.15).abs() < 1e-12);
        // Rank 1 in the lowest bucket, from 0.
        assert!((plain_quantile(0.125, &b) - 0.05).abs() < 1e-12);
        // Rank 7.92 in +Inf: the highest finite bound.
        assert_eq!(plain_quantile(0.99, &b), 0.2);
    }
}
