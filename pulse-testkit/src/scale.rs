//! A LiteLLM with many tracked series, scrape after scrape: the scale bench's body.
//!
//! `keys × models` label sets in each of five tracked counter families, each
//! series with its `_created` (100,000 series and about 54 MB at the
//! defaults), and a fixed share of the series growing from one round to the
//! next: series `i` grows by one in round `r` when `i % every == r % every`.
//! The label sets are rendered once; a round only writes the values.

use crate::exposition::py_float;

/// The tracked counter families of a scale body (value names without `_total`).
const FAMILIES: [&str; 5] = [
    "litellm_proxy_total_requests_metric",
    "litellm_spend_metric",
    "litellm_total_tokens_metric",
    "litellm_input_tokens_metric",
    "litellm_output_tokens_metric",
];

/// A generator of scale bodies.
#[derive(Debug, Clone)]
pub struct ScaleBody {
    /// Each label set rendered as `{...}`.
    labelsets: Vec<String>,
    families: usize,
    /// One series in `every` grows per round.
    every: usize,
}

impl ScaleBody {
    /// `keys × models` label sets in `families` (at most 5) families; one
    /// series in `every` grows per round (10: 10 %).
    pub fn new(keys: usize, models: usize, families: usize, every: usize) -> ScaleBody {
        ScaleBody::keys_from(0, keys, models, families, every)
    }

    /// As [`ScaleBody::new`] with the keys numbered from `first_key`: the
    /// bodies of `n` targets with `first_key` 0, `keys`, 2 × `keys` … hold
    /// together the label sets of one `new(n × keys, …)` body (the fleet bench).
    pub fn keys_from(
        first_key: usize,
        keys: usize,
        models: usize,
        families: usize,
        every: usize,
    ) -> ScaleBody {
        let mut labelsets = Vec::with_capacity(keys * models);
        for k in first_key..first_key + keys {
            for m in 0..models {
                labelsets.push(format!(
                    "{{api_key_alias=\"key-{k}\",api_provider=\"openai\",end_user=\"None\",\
                     hashed_api_key=\"{:032x}\",model=\"model-{m}\",\
                     requested_model=\"model-{m}\",team=\"team-{}\",team_alias=\"Team {}\",\
                     user=\"user-{}\",user_email=\"user-{}@example.com\"}}",
                    (k as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
                    k % 40,
                    k % 40,
                    k % 400,
                    k % 400,
                ));
            }
        }
        ScaleBody {
            labelsets,
            families: families.clamp(1, FAMILIES.len()),
            every: every.max(1),
        }
    }

    /// The defaults of the issue: 2,000 keys × 10 models × 5 families, 10 % growing.
    pub fn issue() -> ScaleBody {
        ScaleBody::new(2_000, 10, 5, 10)
    }

    /// Number of tracked series.
    pub fn series(&self) -> usize {
        self.labelsets.len() * self.families
    }

    /// Series that grow in each round after the first.
    pub fn changing_per_round(&self) -> usize {
        self.series().div_ceil(self.every)
    }

    /// The value of series `i` in round `r`: a base plus one per round it grew in.
    fn value(&self, i: usize, r: u64) -> f64 {
        let every = self.every as u64;
        let phase = i as u64 % every;
        let grown = if phase == 0 {
            r / every
        } else if r >= phase {
            (r - phase) / every + 1
        } else {
            0
        };
        (100 + i % 5000) as f64 + grown as f64
    }

    /// The body of round `r` (0 is the first scrape), appended to `out`.
    ///
    /// Laid out as LiteLLM (Python's `prometheus_client`) writes the text
    /// format pulse asks for (see `tests/fixtures/litellm/*.prom`): a
    /// counter family's `_total` lines under `# TYPE x_total counter`, then
    /// its `_created` lines as a gauge family of their own. (OpenMetrics
    /// alternates them under one `# TYPE x counter`; alternating them under
    /// the text format's headers would make every line a family of one.)
    pub fn write_round(&self, r: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"# HELP litellm_in_flight_requests in flight\n# TYPE litellm_in_flight_requests gauge\n\
              litellm_in_flight_requests 1.0\n",
        );
        for (f, fam) in FAMILIES[..self.families].iter().enumerate() {
            let first = f * self.labelsets.len();
            out.extend_from_slice(
                format!("# HELP {fam}_total {fam}\n# TYPE {fam}_total counter\n").as_bytes(),
            );
            for (j, labels) in self.labelsets.iter().enumerate() {
                out.extend_from_slice(fam.as_bytes());
                out.extend_from_slice(b"_total");
                out.extend_from_slice(labels.as_bytes());
                out.push(b' ');
                out.extend_from_slice(py_float(self.value(first + j, r)).as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(
                format!("# HELP {fam}_created {fam}\n# TYPE {fam}_created gauge\n").as_bytes(),
            );
            for (j, labels) in self.labelsets.iter().enumerate() {
                let created = 1_795_774_300.0 + j as f64 * 0.001;
                out.extend_from_slice(fam.as_bytes());
                out.extend_from_slice(b"_created");
                out.extend_from_slice(labels.as_bytes());
                out.push(b' ');
                out.extend_from_slice(py_float(created).as_bytes());
                out.push(b'\n');
            }
        }
    }

    /// The body of round `r`.
    pub fn round(&self, r: u64) -> Vec<u8> {
        // Two lines of a label set and a number each per series, and the
        // headers: sized so that the body is never copied to grow.
        let longest = self.labelsets.iter().map(String::len).max().unwrap_or(0);
        let per_series = 2 * (longest + 70);
        let mut out = Vec::with_capacity(self.series() * per_series + 4096);
        self.write_round(r, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_grows_one_series_in_every_by_one() {
        let b = ScaleBody::new(3, 2, 2, 4);
        assert_eq!(b.series(), 12);
        for r in 1..9u64 {
            let grown: Vec<usize> = (0..b.series())
                .filter(|&i| b.value(i, r) != b.value(i, r - 1))
                .collect();
            assert!(
                grown
                    .iter()
                    .all(|&i| b.value(i, r) == b.value(i, r - 1) + 1.0)
            );
            assert_eq!(grown.len(), 3, "round {r}: {grown:?}");
        }
        let body = String::from_utf8(b.round(1)).unwrap();
        let expo = pulse_core::parse::parse(&body).unwrap();
        assert!(expo.errors.is_empty(), "{:?}", expo.errors.first());
        assert_eq!(body.matches("_created{").count(), 12);
        // LiteLLM's text layout: per family its counter, then its `_created`
        // gauge; the in-flight gauge first.
        let families: Vec<(&str, usize)> = expo
            .families
            .iter()
            .map(|f| (f.name, expo.samples_of(f).len()))
            .collect();
        assert_eq!(
            families,
            [
                ("litellm_in_flight_requests", 1),
                ("litellm_proxy_total_requests_metric_total", 6),
                ("litellm_proxy_total_requests_metric_created", 6),
                ("litellm_spend_metric_total", 6),
                ("litellm_spend_metric_created", 6),
            ]
        );
    }

    #[test]
    fn bodies_with_consecutive_keys_share_out_one_big_body() {
        let labels = |b: &ScaleBody| {
            let mut v = b.labelsets.clone();
            v.sort();
            v
        };
        let whole = ScaleBody::new(6, 2, 1, 10);
        let mut parts: Vec<String> = (0..3)
            .flat_map(|t| ScaleBody::keys_from(t * 2, 2, 2, 1, 10).labelsets)
            .collect();
        parts.sort();
        assert_eq!(parts, labels(&whole));
        assert_eq!(ScaleBody::keys_from(2, 2, 2, 1, 10).series(), 4);
    }

    #[test]
    fn the_issue_body_is_about_54_mb() {
        let b = ScaleBody::new(200, 10, 5, 10);
        assert_eq!(b.series(), 10_000);
        let n = b.round(3).len() * 10;
        assert!((45_000_000..62_000_000).contains(&n), "{n}");
    }
}
