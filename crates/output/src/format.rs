//! From raw map entries to an ordered, printable model — bpftrace's
//! `format(BPFtrace&, ..., const BpfMap&, top, div)` in `types_format.cpp`: per-CPU
//! values merged, entries sorted, `top`/`div` applied.

use std::collections::BTreeMap;

use sema::maps::{MapInfo, MapValue};
use sema::Type;

use crate::hist::{build_hist, build_lhist, Histogram, HIST_SLOTS, LHIST_SLOTS};
use crate::merge::{self, read_u64, Stats};
use crate::prim::{decode, Prim};
use crate::{Entry, PrintOptions};

/// A printable value: an atom or a histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Prim(Prim),
    Hist(Histogram),
}

/// What a map formats to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// A scalar map's only value.
    Single(Value),
    /// Keyed entries in print order.
    Map(Vec<(Prim, Value)>),
}

/// A formatted map; `stats` marks `avg`/`stats` maps (JSON type `"stats"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Formatted {
    pub stats: bool,
    pub body: Body,
}

/// Offsets of each key part inside the key bytes (8-byte aligned parts).
pub(crate) fn key_offsets(info: &MapInfo) -> Vec<(Type, usize)> {
    let mut off = 0usize;
    info.key
        .iter()
        .map(|&t| {
            let here = off;
            off += (t.size().div_ceil(8) * 8) as usize;
            (t, here)
        })
        .collect()
}

pub(crate) fn slice(bytes: &[u8], off: usize, len: usize) -> &[u8] {
    let start = off.min(bytes.len());
    let end = off.saturating_add(len).min(bytes.len());
    &bytes[start..end]
}

/// The key as bpftrace shows it: one part plain, several parts as a tuple.
pub(crate) fn decode_key(parts: &[(Type, usize)], key: &[u8]) -> Prim {
    let one = |&(t, off): &(Type, usize)| decode(t, slice(key, off, t.size().max(8) as usize));
    match parts {
        [single] => one(single),
        _ => Prim::Tuple(parts.iter().map(one).collect()),
    }
}

/// An integer key part compared the way bpftrace's `sort_by_key` does: as a *signed*
/// integer of the part's width, whatever its declared signedness.
fn key_int(bytes: &[u8], width: u8) -> i64 {
    let width = width.clamp(1, 8) as u32;
    let raw = read_u64(bytes, 0);
    let shift = 64 - 8 * width;
    ((raw << shift) as i64) >> shift
}

/// bpftrace's `sort_by_key`: for maps whose values have no numeric order (strings,
/// booleans). Tuple keys sort by each part (last to first, stable, so the first part
/// dominates); integer parts compare as signed, string parts bytewise; other parts
/// (booleans) leave the order alone.
fn sort_by_key<T>(info: &MapInfo, items: &mut [(&Entry, T)]) {
    let parts = key_offsets(info);
    if parts.len() == 1 {
        match parts[0].0 {
            Type::Int { bytes, .. } => {
                items.sort_by_key(|(e, _)| key_int(&e.key, bytes));
            }
            Type::Str { .. } => items.sort_by(|(a, _), (b, _)| a.key.cmp(&b.key)),
            _ => {}
        }
        return;
    }
    for &(t, off) in parts.iter().rev() {
        match t {
            Type::Int { bytes, .. } => {
                items.sort_by_key(|(e, _)| key_int(slice(&e.key, off, 8), bytes));
            }
            Type::Str { len } => items.sort_by(|(a, _), (b, _)| {
                slice(&a.key, off, len as usize).cmp(slice(&b.key, off, len as usize))
            }),
            _ => {}
        }
    }
}

/// Keeps the last `top` items (the largest, as the list is ascending); 0 keeps all.
fn apply_top<T>(items: Vec<T>, top: usize) -> Vec<T> {
    if top == 0 || items.len() <= top {
        return items;
    }
    let skip = items.len() - top;
    items.into_iter().skip(skip).collect()
}

fn signed_of(value: &MapValue) -> bool {
    match value {
        MapValue::Plain(t) => t.is_signed(),
        MapValue::Count | MapValue::Hist { .. } | MapValue::Lhist { .. } => false,
        MapValue::Sum { signed }
        | MapValue::Min { signed }
        | MapValue::Max { signed }
        | MapValue::Avg { signed }
        | MapValue::Stats { signed } => *signed,
    }
}

/// The printed value of one non-histogram entry (per-CPU copies merged, `div` applied).
pub(crate) fn entry_value(value: &MapValue, values: &[Vec<u8>], div: u64) -> Prim {
    let signed = signed_of(value);
    let int = |raw: u64| {
        if signed {
            Prim::Int(merge::div_i64(raw as i64, div))
        } else {
            Prim::UInt(merge::div_u64(raw, div))
        }
    };
    match value {
        MapValue::Plain(t @ Type::Int { .. }) => {
            match decode(*t, values.first().map_or(&[][..], |v| v)) {
                Prim::Int(i) => Prim::Int(merge::div_i64(i, div)),
                Prim::UInt(u) => Prim::UInt(merge::div_u64(u, div)),
                other => other,
            }
        }
        MapValue::Plain(t) => decode(*t, values.first().map_or(&[][..], |v| v)),
        MapValue::Count | MapValue::Sum { .. } => int(merge::sum(values, 0)),
        MapValue::Min { .. } => int(merge::min_max(values, false, signed)),
        MapValue::Max { .. } => int(merge::min_max(values, true, signed)),
        MapValue::Avg { .. } => {
            let s = Stats::merge(values);
            if signed {
                Prim::Int(merge::div_i64(s.avg_signed(), div))
            } else {
                Prim::UInt(merge::div_u64(s.avg_unsigned(), div))
            }
        }
        MapValue::Stats { .. } => {
            let s = Stats::merge(values);
            let (count, average, total) = if signed {
                (
                    Prim::Int(s.count as i64),
                    Prim::Int(merge::div_i64(s.avg_signed(), div)),
                    Prim::Int(s.total as i64),
                )
            } else {
                (
                    Prim::UInt(s.count),
                    Prim::UInt(merge::div_u64(s.avg_unsigned(), div)),
                    Prim::UInt(s.total),
                )
            };
            Prim::Record(vec![
                ("count", count),
                ("average", average),
                ("total", total),
            ])
        }
        // Histograms are handled per key, not per entry.
        MapValue::Hist { .. } | MapValue::Lhist { .. } => Prim::UInt(0),
    }
}

/// The numeric sort key of an entry, or `None` when the map sorts by key.
/// Mirrors bpftrace: count/sum/int by value; min/max by value compared as *unsigned*
/// (bpftrace uses `min_max_value<uint64_t>` for sorting even for signed maps);
/// avg/stats by the average.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Signed(i64),
    Unsigned(u64),
}

fn sort_key(value: &MapValue, values: &[Vec<u8>]) -> Option<SortKey> {
    let signed = signed_of(value);
    let first = values.first().map_or(&[][..], |v| v);
    Some(match value {
        MapValue::Plain(t @ Type::Int { .. }) => match decode(*t, first) {
            Prim::Int(i) => SortKey::Signed(i),
            Prim::UInt(u) => SortKey::Unsigned(u),
            _ => return None,
        },
        MapValue::Count | MapValue::Sum { .. } => {
            let s = merge::sum(values, 0);
            if signed {
                SortKey::Signed(s as i64)
            } else {
                SortKey::Unsigned(s)
            }
        }
        MapValue::Min { .. } => SortKey::Unsigned(merge::min_max(values, false, false)),
        MapValue::Max { .. } => SortKey::Unsigned(merge::min_max(values, true, false)),
        MapValue::Avg { .. } | MapValue::Stats { .. } => {
            let s = Stats::merge(values);
            if signed {
                SortKey::Signed(s.avg_signed())
            } else {
                SortKey::Unsigned(s.avg_unsigned())
            }
        }
        _ => return None,
    })
}

/// Formats a whole map. Returns an empty `Map` body for a map without entries (what
/// bpftrace prints nothing for).
pub(crate) fn format_map(info: &MapInfo, entries: &[Entry], opts: &PrintOptions) -> Formatted {
    let div = opts.div.max(1);
    let scalar = info.key.is_empty();
    let parts = key_offsets(info);
    let stats = matches!(info.value, MapValue::Avg { .. } | MapValue::Stats { .. });

    if info.value.bucketed() {
        // Group by the user key (the key minus the trailing bucket index); BTreeMap gives
        // bpftrace's std::map<OpaqueValue> order, which breaks ties of the sort below.
        let prefix_len = (info.key_size() as usize).saturating_sub(8);
        let slots = if matches!(info.value, MapValue::Hist { .. }) {
            HIST_SLOTS
        } else {
            LHIST_SLOTS
        };
        let mut groups: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
        for e in entries {
            let prefix = slice(&e.key, 0, prefix_len).to_vec();
            let idx = read_u64(&e.key, prefix_len);
            let counts = groups.entry(prefix).or_default();
            if idx < slots {
                let idx = idx as usize;
                if counts.len() <= idx {
                    counts.resize(idx + 1, 0);
                }
                counts[idx] = merge::sum(&e.values, 0);
            }
        }
        let mut by_total: Vec<(Vec<u8>, Vec<u64>, u64)> = groups
            .into_iter()
            .map(|(k, c)| {
                let total = c.iter().fold(0u64, |a, &b| a.wrapping_add(b));
                (k, c, total)
            })
            .collect();
        by_total.sort_by_key(|g| g.2);
        let by_total = apply_top(by_total, opts.top);
        let mut rows = Vec::new();
        for (key, counts, _) in by_total {
            let hist = match info.value {
                MapValue::Hist { bits } => build_hist(&counts, div, bits),
                MapValue::Lhist { min, max, step } => build_lhist(&counts, min, max, step),
                _ => unreachable!("bucketed() is only true for hist/lhist"),
            };
            if scalar {
                return Formatted {
                    stats: false,
                    body: Body::Single(Value::Hist(hist)),
                };
            }
            rows.push((decode_key(&parts, &key), Value::Hist(hist)));
        }
        return Formatted {
            stats: false,
            body: Body::Map(rows),
        };
    }

    let mut items: Vec<(&Entry, Option<SortKey>)> = entries
        .iter()
        .map(|e| (e, sort_key(&info.value, &e.values)))
        .collect();
    if items.iter().all(|(_, k)| k.is_some()) && !items.is_empty() {
        items.sort_by_key(|item| item.1);
    } else {
        sort_by_key(info, &mut items);
    }
    let items = apply_top(items, opts.top);
    let mut rows = Vec::new();
    for (e, _) in items {
        let v = entry_value(&info.value, &e.values, div);
        if scalar {
            return Formatted {
                stats,
                body: Body::Single(Value::Prim(v)),
            };
        }
        rows.push((decode_key(&parts, &e.key), Value::Prim(v)));
    }
    Formatted {
        stats,
        body: Body::Map(rows),
    }
}

/// What `print(@scalar)` shows for a scalar map without an entry: the value type's zero
/// (bpftrace's `emit_empty_scalar`). `None` when the map is not an empty scalar map
/// with a non-histogram value.
pub(crate) fn empty_scalar(info: &MapInfo, f: &Formatted) -> Option<Formatted> {
    if !info.key.is_empty() || info.value.bucketed() {
        return None;
    }
    match &f.body {
        Body::Map(rows) if rows.is_empty() => {}
        _ => return None,
    }
    let zero = vec![vec![0u8; info.value.size() as usize]];
    Some(Formatted {
        stats: f.stats,
        body: Body::Single(Value::Prim(entry_value(&info.value, &zero, 1))),
    })
}
