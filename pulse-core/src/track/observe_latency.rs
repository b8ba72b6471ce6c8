//! Pass 3 for the histogram and health counter samples (the `latency`
//! feature): each is a counter series of [`Kind::Latency`], and its increase
//! is summed per dimension key, and per `le` for buckets, into
//! [`LatencyDeltas`].

use super::identity::{encode_base, encode_created};
use super::latency::{sort_health, sort_histograms};
use super::observe::{Identity, Round, Scratch, lookup_created};
use super::{HealthDelta, HistogramDelta, Kind, LatencyDeltas, Tracker};
use crate::catalog::{Dimension, HealthCounter, Histogram, HistogramPart, NameRole};
use crate::expo::{Exposition, Label, Sample};
use crate::fastmap::FastMap;
use crate::latency::Bucket;
use crate::num::parse_f64;

/// Where the increase of a histogram or health counter sample is summed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum LatencySlot {
    /// A bucket, by the bits of its `le`.
    Bucket(Histogram, u64),
    Sum(Histogram),
    Count(Histogram),
    Health(HealthCounter),
}

impl Tracker {
    /// Pass 3 for the histogram and health counter samples, into `sc.latency`.
    pub(super) fn count_latency_values(
        &mut self,
        expo: &Exposition<'_>,
        round: &mut Round,
        sc: &mut Scratch,
    ) {
        sc.latency.clear();
        let mut no_le: Vec<Label<'_>> = Vec::new();
        for i in 0..sc.hits.len() {
            let hit = sc.hits[i];
            if let Some(s) = expo.samples.get(hit.sample as usize) {
                self.count_latency(expo, s, hit.role, round, sc, &mut no_le);
            }
        }
    }

    /// Adds one histogram or health counter sample with `role` to
    /// `sc.latency`, through [`Tracker::counter_delta`] like a counter.
    /// Buckets whose `le` is not a number are skipped. `no_le` is scratch
    /// space for the labels without `le`.
    fn count_latency<'e>(
        &mut self,
        expo: &Exposition<'e>,
        s: &Sample<'e>,
        role: NameRole,
        round: &mut Round,
        sc: &mut Scratch,
        no_le: &mut Vec<Label<'e>>,
    ) {
        let labels = expo.labels_of(s);
        let mut le = None;
        no_le.clear();
        for l in labels {
            if l.name == "le" {
                le = parse_f64(&l.value()).filter(|x| !x.is_nan());
            } else {
                no_le.push(*l);
            }
        }
        let (family, slot) = match role {
            NameRole::HistogramPart { histogram, part } => {
                let slot = match part {
                    HistogramPart::Bucket => match le {
                        Some(le) => LatencySlot::Bucket(histogram, le.to_bits()),
                        None => return,
                    },
                    HistogramPart::Sum => LatencySlot::Sum(histogram),
                    HistogramPart::Count => LatencySlot::Count(histogram),
                };
                (histogram.family(), slot)
            }
            // A health counter has no `le`: its labels are all in `no_le`.
            NameRole::Health { counter } if le.is_none() => {
                (counter.family(), LatencySlot::Health(counter))
            }
            _ => return,
        };
        // `_created` belongs to the histogram series, whose labels have no `le`.
        sc.created_key.clear();
        let created_hash = encode_base(&mut sc.created_key, &mut sc.order, family, no_le);
        let created = lookup_created(sc, &sc.created_key, created_hash);
        sc.key.clear();
        let base_hash = encode_base(&mut sc.key, &mut sc.order, s.name, labels);
        let id = encode_created(&mut sc.key, base_hash, created);
        let identity = Identity {
            kind: Kind::Latency,
            key: &sc.key,
            id,
            base_hash,
            created,
        };
        let Some((delta, dims)) = self.counter_delta(round, &identity, labels, s.value) else {
            return;
        };
        // Buckets are summed with their zeros: interpolation needs every `le`.
        if delta == 0.0 && !matches!(slot, LatencySlot::Bucket(..)) {
            return;
        }
        for d in Dimension::ALL {
            *sc.latency.entry((slot, d, dims[d.index()])).or_insert(0.0) += delta;
        }
    }

    /// The latency sums with their keys spelled out, in the documented order:
    /// a histogram key only when one of its sums changed.
    pub(super) fn latency_deltas(
        &self,
        sums: &FastMap<(LatencySlot, Dimension, u32), f64>,
        out: &mut LatencyDeltas,
    ) {
        let mut histograms: FastMap<(Histogram, Dimension, u32), HistogramDelta> =
            FastMap::default();
        for (&(slot, dimension, key), &delta) in sums {
            let histogram = match slot {
                LatencySlot::Health(counter) => {
                    out.health.push(HealthDelta {
                        counter,
                        dimension,
                        key: self.keys.get(key).to_owned(),
                        delta,
                    });
                    continue;
                }
                LatencySlot::Bucket(h, _) | LatencySlot::Sum(h) | LatencySlot::Count(h) => h,
            };
            let d = histograms
                .entry((histogram, dimension, key))
                .or_insert_with(|| HistogramDelta {
                    histogram,
                    dimension,
                    key: self.keys.get(key).to_owned(),
                    buckets: Vec::new(),
                    count: 0.0,
                    sum: 0.0,
                });
            match slot {
                LatencySlot::Bucket(_, le) => d.buckets.push(Bucket {
                    le: f64::from_bits(le),
                    count: delta,
                }),
                LatencySlot::Sum(_) => d.sum += delta,
                _ => d.count += delta,
            }
        }
        out.histograms = histograms
            .into_values()
            .filter(|d| d.count != 0.0 || d.sum != 0.0 || d.buckets.iter().any(|b| b.count != 0.0))
            .map(|mut d| {
                crate::sort::sort_stable_by(&mut d.buckets, |a, b| a.le.total_cmp(&b.le));
                d
            })
            .collect();
        sort_histograms(&mut out.histograms);
        sort_health(&mut out.health);
    }
}
