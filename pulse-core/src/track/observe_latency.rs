//! Pass 3 for the histogram and health counter samples (the `latency`
//! feature): each is a counter series of [`Kind::Latency`], and its increase
//! is summed per dimension key, and per `le` for buckets, into
//! [`LatencyDeltas`].

use super::identity::{encode_base, encode_created};
use super::latency::{sort_health, sort_histograms};
use super::memo::Lines;
use super::observe::{CreatedCtx, Identity, Round, Scratch, lookup_created};
use super::{HealthDelta, HistogramDelta, Kind, LatencyDeltas, Tracker};
use crate::catalog::{Dimension, HealthCounter, Histogram, HistogramPart, NameRole};
use crate::expo::{Exposition, Label, Sample};
use crate::fastmap::FastMap;
use crate::latency::{Bucket, add_buckets};
use crate::num::parse_f64;
use crate::sort::sort_stable_by;

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
    pub(super) fn count_latency_values<'a>(
        &mut self,
        expo: &Exposition<'a>,
        lines: Option<&Lines<'_, 'a>>,
        round: &mut Round,
        sc: &mut Scratch,
    ) {
        sc.latency.clear();
        sc.les.clear();
        let mut no_le: Vec<Label<'_>> = Vec::new();
        for i in 0..sc.hits.len() {
            let hit = sc.hits[i];
            if let Some(s) = expo.samples.get(hit.sample as usize) {
                self.count_latency(expo, lines, s, hit.role, round, sc, &mut no_le);
            }
        }
    }

    /// Adds one histogram or health counter sample with `role` to
    /// `sc.latency`, through [`Tracker::counter_delta`] like a counter.
    /// Buckets whose `le` is not a number are skipped. `no_le` is scratch
    /// space for the labels without `le`.
    #[allow(clippy::too_many_arguments)]
    fn count_latency<'e>(
        &mut self,
        expo: &Exposition<'e>,
        lines: Option<&Lines<'_, 'e>>,
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
                        Some(le) => {
                            sc.les.insert((histogram, le.to_bits()), ());
                            LatencySlot::Bucket(histogram, le.to_bits())
                        }
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
        let ctx = CreatedCtx {
            catalog: &self.catalog,
            expo,
            lines,
        };
        let created = lookup_created(sc, &ctx, &sc.created_key, created_hash).map(|c| c.0);
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
        // Most samples of an idle proxy do not change: the zero buckets that
        // interpolation needs are filled in at the end, from `sc.les`.
        if delta == 0.0 {
            return;
        }
        for d in Dimension::ALL {
            *sc.latency.entry((slot, d, dims[d.index()])).or_insert(0.0) += delta;
        }
    }

    /// The latency sums with their keys spelled out, in the documented order:
    /// a histogram key only when one of its sums changed, with a zero bucket
    /// at every `le` of its histogram in the body that did not change.
    pub(super) fn latency_deltas(&self, sc: &Scratch, out: &mut LatencyDeltas) {
        let mut zeros: [Vec<Bucket>; Histogram::COUNT] = Default::default();
        for &(histogram, le) in sc.les.keys() {
            zeros[histogram.index()].push(Bucket {
                le: f64::from_bits(le),
                count: 0.0,
            });
        }
        for z in &mut zeros {
            sort_stable_by(z, |a, b| a.le.total_cmp(&b.le));
        }
        let sums = &sc.latency;
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
            .map(|mut d| {
                sort_stable_by(&mut d.buckets, |a, b| a.le.total_cmp(&b.le));
                add_buckets(&mut d.buckets, &zeros[d.histogram.index()]);
                d
            })
            .collect();
        sort_histograms(&mut out.histograms);
        sort_health(&mut out.health);
    }
}
