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

/// The prefix of [`MapInfo::layout_tag`].
const LAYOUT_TAG_PREFIX: &str = "beetrace__";

impl MapInfo {
    /// The map's name, key and value types as one C identifier, stored as the name of the
    /// map's BTF value type, so that whoever finds the map in the kernel (a later run reusing
    /// a pin, `beetrace map dump --format bpftrace`) knows its exact layout.
    /// `beetrace__<value>[__<key part>...]__N<name>`, e.g. `beetrace__count__s16__Ncalls`.
    pub fn layout_tag(&self) -> String {
        let mut tag = String::from(LAYOUT_TAG_PREFIX);
        tag.push_str(&value_code(&self.value));
        for k in &self.key {
            tag.push_str("__");
            tag.push_str(&type_code(*k));
        }
        tag.push_str("__N");
        tag.push_str(&self.name);
        tag
    }

    /// The map described by a [`MapInfo::layout_tag`], with `max_entries` given.
    pub fn from_layout_tag(tag: &str, max_entries: u32) -> Option<MapInfo> {
        let rest = tag.strip_prefix(LAYOUT_TAG_PREFIX)?;
        let (codes, name) = rest.split_once("__N")?;
        let mut parts = codes.split("__");
        let value = parse_value_code(parts.next()?)?;
        let key = parts.map(parse_type_code).collect::<Option<Vec<_>>>()?;
        Some(MapInfo {
            name: name.to_string(),
            key,
            value,
            max_entries,
        })
    }
}

/// A type as identifier characters: `i8`, `u4`, `b`, `s16`, `cg`, `ip`, `n`, a tuple as
/// `T<n>` followed by its fields, all joined by single `_` (`T2_s16_i8`), and a record as
/// `R<n>` followed by each field's name in hex and its type (`R1_6964_u8` is `(id = u64)`).
fn type_code(t: Type) -> String {
    match t {
        Type::None => "n".into(),
        Type::Int { bytes, signed } => format!("{}{bytes}", if signed { 'i' } else { 'u' }),
        Type::Bool => "b".into(),
        Type::Str { len } => format!("s{len}"),
        Type::CgroupPath => "cg".into(),
        Type::Inet => "ip".into(),
        // A kernel pointer is stored as a u64; a struct is never a map key or value.
        Type::Ptr { .. } => "u8".into(),
        Type::Object { .. } => "n".into(),
        Type::Ksym => "ks".into(),
        Type::Usym => "us".into(),
        // `K` or `U`, the mode's initial (`i` for build_id) and the frame limit: `Kb127`.
        Type::Stack(st) => format!(
            "{}{}{}",
            if st.user { 'U' } else { 'K' },
            match st.mode {
                crate::types::StackMode::Bpftrace => 'b',
                crate::types::StackMode::Perf => 'p',
                crate::types::StackMode::Raw => 'r',
                crate::types::StackMode::BuildId => 'i',
            },
            st.limit
        ),
        Type::Tuple(tuple) => {
            let record = !tuple.names.is_empty();
            let mut code = format!("{}{}", if record { 'R' } else { 'T' }, tuple.fields.len());
            for (i, f) in tuple.fields.iter().enumerate() {
                if let Some(name) = tuple.names.get(i) {
                    code.push('_');
                    code.extend(name.bytes().map(|b| format!("{b:02x}")));
                }
                code.push('_');
                code.push_str(&type_code(*f));
            }
            code
        }
    }
}

fn parse_type_code(code: &str) -> Option<Type> {
    let mut tokens = code.split('_');
    let t = parse_type_tokens(&mut tokens)?;
    tokens.next().is_none().then_some(t)
}

fn parse_type_tokens<'a>(tokens: &mut impl Iterator<Item = &'a str>) -> Option<Type> {
    let token = tokens.next()?;
    let number = |s: &str| s.parse::<u32>().ok();
    Some(match token {
        "n" => Type::None,
        "b" => Type::Bool,
        "cg" => Type::CgroupPath,
        "ip" => Type::Inet,
        "ks" => Type::Ksym,
        "us" => Type::Usym,
        _ if token.starts_with(['K', 'U']) && token.len() > 2 => {
            use crate::types::{StackMode, StackType};
            let mode = match token.as_bytes()[1] {
                b'b' => StackMode::Bpftrace,
                b'p' => StackMode::Perf,
                b'r' => StackMode::Raw,
                b'i' => StackMode::BuildId,
                _ => return None,
            };
            Type::Stack(StackType {
                user: token.starts_with('U'),
                mode,
                limit: token[2..].parse().ok()?,
            })
        }
        _ => match token.split_at_checked(1)? {
            ("s", n) => Type::Str { len: number(n)? },
            ("i", n) => Type::Int {
                bytes: u8::try_from(number(n)?).ok()?,
                signed: true,
            },
            ("u", n) => Type::Int {
                bytes: u8::try_from(number(n)?).ok()?,
                signed: false,
            },
            ("T", n) => {
                let fields = (0..number(n)?)
                    .map(|_| parse_type_tokens(tokens))
                    .collect::<Option<Vec<Type>>>()?;
                Type::Tuple(crate::types::TupleType::intern(fields))
            }
            ("R", n) => {
                let mut names = Vec::new();
                let mut fields = Vec::new();
                for _ in 0..number(n)? {
                    names.push(parse_hex_name(tokens.next()?)?);
                    fields.push(parse_type_tokens(tokens)?);
                }
                Type::Tuple(crate::types::TupleType::intern_record(fields, names))
            }
            _ => return None,
        },
    })
}

fn parse_hex_name(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// An i64 in an identifier: `m5` for -5.
fn int_code(n: i64) -> String {
    if n < 0 {
        format!("m{}", n.unsigned_abs())
    } else {
        n.to_string()
    }
}

fn parse_int_code(s: &str) -> Option<i64> {
    match s.strip_prefix('m') {
        Some(abs) => abs.parse::<i64>().ok().map(|n| -n),
        None => s.parse().ok(),
    }
}

fn value_code(v: &MapValue) -> String {
    let sign = |signed: &bool| if *signed { "i" } else { "u" };
    match v {
        MapValue::Plain(t) => format!("p{}", type_code(*t)),
        MapValue::Count => "count".into(),
        MapValue::Sum { signed } => format!("sum{}", sign(signed)),
        MapValue::Min { signed } => format!("min{}", sign(signed)),
        MapValue::Max { signed } => format!("max{}", sign(signed)),
        MapValue::Avg { signed } => format!("avg{}", sign(signed)),
        MapValue::Stats { signed } => format!("stats{}", sign(signed)),
        MapValue::Hist { bits } => format!("hist{bits}"),
        MapValue::Lhist { min, max, step } => {
            format!(
                "lhist_{}_{}_{}",
                int_code(*min),
                int_code(*max),
                int_code(*step)
            )
        }
    }
}

fn parse_value_code(code: &str) -> Option<MapValue> {
    if let Some(t) = code.strip_prefix('p') {
        return parse_type_code(t).map(MapValue::Plain);
    }
    if let Some(rest) = code.strip_prefix("lhist_") {
        let mut n = rest.split('_').map(parse_int_code);
        let (min, max, step) = (n.next()??, n.next()??, n.next()??);
        return n
            .next()
            .is_none()
            .then_some(MapValue::Lhist { min, max, step });
    }
    if let Some(bits) = code.strip_prefix("hist") {
        return bits.parse().ok().map(|bits| MapValue::Hist { bits });
    }
    if code == "count" {
        return Some(MapValue::Count);
    }
    let (kind, sign) = code.split_at_checked(code.len().checked_sub(1)?)?;
    let signed = match sign {
        "i" => true,
        "u" => false,
        _ => return None,
    };
    Some(match kind {
        "sum" => MapValue::Sum { signed },
        "min" => MapValue::Min { signed },
        "max" => MapValue::Max { signed },
        "avg" => MapValue::Avg { signed },
        "stats" => MapValue::Stats { signed },
        _ => return None,
    })
}

#[cfg(test)]
mod layout_tag_tests {
    use super::*;

    #[test]
    fn layout_tags_round_trip() {
        let values = [
            MapValue::Plain(Type::Str { len: 64 }),
            MapValue::Plain(Type::Tuple(crate::types::TupleType::intern(vec![
                Type::U32,
                Type::Str { len: 8 },
            ]))),
            MapValue::Plain(Type::Tuple(crate::types::TupleType::intern_record(
                vec![Type::U32, Type::Str { len: 8 }],
                vec!["first_id".into(), "name".into()],
            ))),
            MapValue::Plain(Type::I64),
            MapValue::Plain(Type::CgroupPath),
            MapValue::Plain(Type::Usym),
            MapValue::Plain(Type::Stack(crate::types::StackType {
                user: true,
                mode: crate::types::StackMode::BuildId,
                limit: 9,
            })),
            MapValue::Count,
            MapValue::Sum { signed: true },
            MapValue::Min { signed: false },
            MapValue::Max { signed: true },
            MapValue::Avg { signed: false },
            MapValue::Stats { signed: true },
            MapValue::Hist { bits: 2 },
            MapValue::Lhist {
                min: -10,
                max: 100,
                step: 5,
            },
        ];
        for value in values {
            for name in ["", "calls", "a__Nb"] {
                let info = MapInfo {
                    name: name.into(),
                    key: vec![
                        Type::Str { len: 16 },
                        Type::U32,
                        Type::Bool,
                        Type::Inet,
                        Type::Ksym,
                        Type::Stack(crate::types::StackType {
                            user: false,
                            mode: crate::types::StackMode::Perf,
                            limit: 127,
                        }),
                        Type::Tuple(crate::types::TupleType::intern(vec![
                            Type::I64,
                            Type::Tuple(crate::types::TupleType::intern(vec![
                                Type::Str { len: 3 },
                                Type::CgroupPath,
                            ])),
                        ])),
                    ],
                    value: value.clone(),
                    max_entries: 7,
                };
                let tag = info.layout_tag();
                assert!(
                    tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'),
                    "{tag}"
                );
                assert_eq!(MapInfo::from_layout_tag(&tag, 7), Some(info), "{tag}");
            }
        }
        assert_eq!(
            MapInfo {
                name: "calls".into(),
                key: vec![Type::Str { len: 16 }],
                value: MapValue::Count,
                max_entries: 1
            }
            .layout_tag(),
            "beetrace__count__s16__Ncalls"
        );
        assert_eq!(MapInfo::from_layout_tag("honeypot", 8), None);
    }
}
