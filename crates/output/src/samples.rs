//! Maps as numbers for a metrics system (`beetrace serve`): each entry's key parts as
//! label texts and its value merged over CPUs, histograms as buckets with inclusive upper
//! bounds. No exposition format lives here (that is the `serve` crate's, through
//! `prometheus-client`); this is the one place that knows how the map bytes decode.

use std::collections::BTreeMap;

use sema::maps::{MapInfo, MapValue};

use crate::format::{decode_key, entry_value, key_offsets, slice};
use crate::hist::{hist_index_label, HIST_SLOTS, LHIST_SLOTS};
use crate::merge::{self, read_u64, Stats};
use crate::prim::Prim;
use crate::Entry;

/// What kind of metric a map's values make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only ever grows while the script runs (`count()`, unsigned `sum()`).
    Counter,
    /// May go up and down (integer values, signed `sum()`, `min()`, `max()`).
    Gauge,
    /// `avg()`/`stats()`: a count and a total.
    Stats,
    /// `hist()`/`lhist()`.
    Histogram,
}

impl MetricKind {
    /// The kind of a map's values; `None` for values that are not numbers (strings,
    /// tuples, booleans, stacks).
    pub fn of(value: &MapValue) -> Option<MetricKind> {
        Some(match value {
            MapValue::Count | MapValue::Sum { signed: false } => MetricKind::Counter,
            MapValue::Sum { signed: true } | MapValue::Min { .. } | MapValue::Max { .. } => {
                MetricKind::Gauge
            }
            MapValue::Plain(sema::Type::Int { .. }) => MetricKind::Gauge,
            MapValue::Plain(_) => return None,
            MapValue::Avg { .. } | MapValue::Stats { .. } => MetricKind::Stats,
            MapValue::Hist { .. } | MapValue::Lhist { .. } => MetricKind::Histogram,
        })
    }
}

/// One series: the key's parts as text (empty for a scalar map) and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<String>,
    pub value: SampleValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    Number(f64),
    /// `avg`/`stats`: how many values, and their total.
    Stats {
        count: u64,
        total: f64,
    },
    /// Per-bucket (not cumulative) counts by inclusive upper bound, ascending, the last
    /// bound `+Inf`. Values are integers, so a bucket `[a, b)` has the bound `b - 1`.
    Histogram {
        buckets: Vec<(f64, u64)>,
    },
}

/// Every series of a map, in key order. Values that are not numbers give no samples.
pub fn samples(info: &MapInfo, entries: &[Entry]) -> Vec<Sample> {
    if MetricKind::of(&info.value).is_none() {
        return Vec::new();
    }
    let parts = key_offsets(info);
    let labels = |key: &[u8]| -> Vec<String> {
        if parts.is_empty() {
            return Vec::new();
        }
        let texts = |p: &Prim| String::from_utf8_lossy(&p.text()).into_owned();
        match decode_key(&parts, key) {
            Prim::Tuple(items) if parts.len() > 1 => items.iter().map(texts).collect(),
            one => vec![texts(&one)],
        }
    };
    if info.value.bucketed() {
        return histogram_samples(info, entries, labels);
    }
    let signed = matches!(
        info.value,
        MapValue::Sum { signed: true }
            | MapValue::Min { signed: true }
            | MapValue::Max { signed: true }
            | MapValue::Avg { signed: true }
            | MapValue::Stats { signed: true }
    );
    let mut out: Vec<Sample> = entries
        .iter()
        .map(|e| {
            let value = match info.value {
                MapValue::Avg { .. } | MapValue::Stats { .. } => {
                    let s = Stats::merge(&e.values);
                    let total = if signed {
                        s.total as i64 as f64
                    } else {
                        s.total as f64
                    };
                    SampleValue::Stats {
                        count: s.count,
                        total,
                    }
                }
                _ => SampleValue::Number(match entry_value(&info.value, &e.values, 1) {
                    Prim::Int(i) => i as f64,
                    Prim::UInt(u) => u as f64,
                    _ => 0.0,
                }),
            };
            Sample {
                labels: labels(&e.key),
                value,
            }
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// Groups bucket entries by their key (the key bytes minus the trailing bucket index).
fn histogram_samples(
    info: &MapInfo,
    entries: &[Entry],
    labels: impl Fn(&[u8]) -> Vec<String>,
) -> Vec<Sample> {
    let prefix_len = (info.key_size() as usize).saturating_sub(8);
    let mut groups: BTreeMap<Vec<u8>, BTreeMap<u64, u64>> = BTreeMap::new();
    for e in entries {
        let idx = read_u64(&e.key, prefix_len);
        let counts = groups
            .entry(slice(&e.key, 0, prefix_len).to_vec())
            .or_default();
        *counts.entry(idx).or_default() += merge::sum(&e.values, 0);
    }
    let mut out: Vec<Sample> = groups
        .into_iter()
        .map(|(key, counts)| Sample {
            labels: labels(&key),
            value: SampleValue::Histogram {
                buckets: buckets(&info.value, &counts),
            },
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// The buckets of one histogram. `lhist` always has all its buckets (a fixed set, so the
/// series stay the same from scrape to scrape); `hist` has every bucket up to the highest
/// one used, since its 2080 possible ones would mostly be empty.
fn buckets(value: &MapValue, counts: &BTreeMap<u64, u64>) -> Vec<(f64, u64)> {
    let count = |i: u64| counts.get(&i).copied().unwrap_or(0);
    let mut out = Vec::new();
    match *value {
        MapValue::Hist { bits } => {
            let k = u32::from(bits).min(5);
            let direct = 2u64 << k;
            let last = counts.keys().copied().filter(|&i| i < HIST_SLOTS).max();
            for i in 0..=last.unwrap_or(0) {
                // Index 0 holds negative values; 1..=direct hold the single value i - 1;
                // later ones end where the next begins.
                let bound = match i {
                    0 => -1.0,
                    i if i <= direct => (i - 1) as f64,
                    i => match hist_index_label(i, k) {
                        Prim::Symbolic(_, end) => end as f64 - 1.0,
                        _ => f64::INFINITY,
                    },
                };
                out.push((bound, count(i)));
            }
        }
        MapValue::Lhist { min, max, step } => {
            // Index 0 is below `min`; the last index holds `max` and everything above.
            let last = 1
                + (max.wrapping_sub(min) as u64)
                    .checked_div(step as u64)
                    .unwrap_or(0)
                    .min(LHIST_SLOTS - 2);
            for i in 0..last {
                let end = min as i128 + i as i128 * step as i128;
                out.push(((end - 1) as f64, count(i)));
            }
            out.push((f64::INFINITY, count(last)));
            return out;
        }
        _ => {}
    }
    out.push((f64::INFINITY, 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sema::Type;

    fn u64s(v: u64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    fn entry(key: Vec<u8>, per_cpu: &[u64]) -> Entry {
        Entry {
            key,
            values: per_cpu.iter().map(|&v| u64s(v)).collect(),
        }
    }

    #[test]
    fn counts_are_merged_over_cpus_with_string_labels() {
        let info = MapInfo {
            name: "calls".into(),
            key: vec![
                Type::Str { len: 16 },
                Type::Int {
                    bytes: 8,
                    signed: false,
                },
            ],
            value: MapValue::Count,
            max_entries: 10,
        };
        let mut key = b"bash".to_vec();
        key.resize(16, 0);
        key.extend(u64s(42));
        let s = samples(&info, &[entry(key, &[2, 3])]);
        assert_eq!(
            s,
            vec![Sample {
                labels: vec!["bash".into(), "42".into()],
                value: SampleValue::Number(5.0)
            }]
        );
    }

    #[test]
    fn hist_buckets_have_inclusive_integer_bounds() {
        let info = MapInfo {
            name: "h".into(),
            key: vec![],
            value: MapValue::Hist { bits: 0 },
            max_entries: 10,
        };
        // Scalar histogram key: 8 bytes of (empty) key, then the bucket index.
        let key = |i: u64| [u64s(0), u64s(i)].concat();
        let e = [
            entry(key(crate::hist_bucket(0, 0)), &[1]),
            entry(key(crate::hist_bucket(5, 0)), &[2, 1]),
        ];
        let s = samples(&info, &e);
        let SampleValue::Histogram { buckets } = &s[0].value else {
            panic!("not a histogram: {s:?}")
        };
        // (<0), [0], [1], [2,4), [4,8), +Inf
        assert_eq!(
            buckets,
            &vec![
                (-1.0, 0),
                (0.0, 1),
                (1.0, 0),
                (3.0, 0),
                (7.0, 3),
                (f64::INFINITY, 0)
            ]
        );
    }

    #[test]
    fn lhist_has_every_bucket_and_the_top_one_is_open() {
        let info = MapInfo {
            name: "l".into(),
            key: vec![],
            value: MapValue::Lhist {
                min: 0,
                max: 30,
                step: 10,
            },
            max_entries: 10,
        };
        let key = |i: u64| [u64s(0), u64s(i)].concat();
        let e = [
            entry(key(crate::lhist_bucket(15, 0, 30, 10)), &[4]),
            entry(key(crate::lhist_bucket(99, 0, 30, 10)), &[1]),
        ];
        let s = samples(&info, &e);
        assert_eq!(
            s[0].value,
            SampleValue::Histogram {
                buckets: vec![
                    (-1.0, 0),
                    (9.0, 0),
                    (19.0, 4),
                    (29.0, 0),
                    (f64::INFINITY, 1)
                ]
            }
        );
    }

    #[test]
    fn stats_give_count_and_signed_total() {
        let info = MapInfo {
            name: "a".into(),
            key: vec![],
            value: MapValue::Stats { signed: true },
            max_entries: 1,
        };
        let v = |count: u64, total: i64| [u64s(count), u64s(total as u64)].concat();
        let e = Entry {
            key: u64s(0),
            values: vec![v(2, -10), v(1, 4)],
        };
        assert_eq!(
            samples(&info, &[e])[0].value,
            SampleValue::Stats {
                count: 3,
                total: -6.0
            }
        );
    }

    #[test]
    fn string_values_are_not_metrics() {
        let info = MapInfo {
            name: "s".into(),
            key: vec![],
            value: MapValue::Plain(Type::Str { len: 8 }),
            max_entries: 1,
        };
        assert!(samples(&info, &[entry(u64s(0), &[1])]).is_empty());
    }
}
