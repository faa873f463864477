//! What user space needs to know about each `@map`: its key and value types, its kind of
//! aggregation, and the byte layout codegen uses, so the runtime can decode and print it.
//!
//! Layouts (all little-endian, every part 8-byte aligned):
//! - key: the key parts in order, ints as 8 bytes (sign- or zero-extended), strings as
//!   `len` bytes NUL-padded and rounded up to 8. A scalar map (`@x`) has one u64 part, 0.
//!   `hist`/`lhist` maps append one u64 bucket index to the key.
//! - value, per CPU for aggregations (the map is per-CPU and user space merges):
//!   `Plain(int)`: i64/u64; `Plain(string)`: `len` bytes; `Count`, `Sum`: u64/i64;
//!   `Min`, `Max`: {value: i64, set: u64} (set is 1 once a value was seen on that CPU);
//!   `Avg`, `Stats`: {count: u64, total: i64}; `Hist`, `Lhist`: u64 count of the bucket.

use crate::types::Type;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// Without the `@`; empty for the anonymous map `@`.
    pub name: String,
    /// The key parts; empty for a scalar map.
    pub key: Vec<Type>,
    pub value: MapValue,
    pub max_entries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    /// Assigned with `=`: an integer or a string.
    Plain(Type),
    Count,
    Sum {
        signed: bool,
    },
    Min {
        signed: bool,
    },
    Max {
        signed: bool,
    },
    Avg {
        signed: bool,
    },
    Stats {
        signed: bool,
    },
    /// `hist(x[, bits])`: power-of-two buckets, each split in `2^bits` linear steps
    /// (bpftrace's default is 0).
    Hist {
        bits: u8,
    },
    /// `lhist(x, min, max, step)`
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
}

impl MapValue {
    /// Whether the map is per-CPU (aggregations are; plain values are shared).
    pub fn per_cpu(&self) -> bool {
        !matches!(self, MapValue::Plain(_))
    }

    /// Bytes of one (per-CPU) value.
    pub fn size(&self) -> u32 {
        match self {
            MapValue::Plain(t) if t.is_buffer() => t.size().div_ceil(8) * 8,
            MapValue::Plain(_) | MapValue::Count | MapValue::Sum { .. } => 8,
            MapValue::Min { .. } | MapValue::Max { .. } => 16,
            MapValue::Avg { .. } | MapValue::Stats { .. } => 16,
            MapValue::Hist { .. } | MapValue::Lhist { .. } => 8,
        }
    }

    /// Whether the bucket index is the last u64 of the key.
    pub fn bucketed(&self) -> bool {
        matches!(self, MapValue::Hist { .. } | MapValue::Lhist { .. })
    }
}

impl MapInfo {
    /// `@name` as printed.
    pub fn display_name(&self) -> String {
        format!("@{}", self.name)
    }

    /// Bytes of the key, bucket index included.
    pub fn key_size(&self) -> u32 {
        let parts: u32 = if self.key.is_empty() {
            8
        } else {
            self.key.iter().map(|t| t.size().div_ceil(8) * 8).sum()
        };
        parts + if self.value.bucketed() { 8 } else { 0 }
    }
}
