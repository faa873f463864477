//! Values only the run that made them can print (`cgroup_path`, stacks, `ksym`, `usym`;
//! see `Type::resolved_at_run_time`) turned into text, in events and in maps, before the
//! `output` crate formats them as the strings they print as.

use output::Entry;
use sema::maps::{MapInfo, MapValue};
use sema::Type;

use crate::cgroups::CgroupResolver;
use crate::stacks::Stacks;

/// One map entry taken apart: its key parts and its (per-CPU) values, as bytes.
type Row = (Vec<Vec<u8>>, Vec<Vec<u8>>);

pub(crate) struct Resolver<'a> {
    pub(crate) cgroups: CgroupResolver,
    pub(crate) stacks: Stacks<'a>,
}

impl Resolver<'_> {
    /// The text of a value of a type resolved at run time (other types: their bytes).
    pub(crate) fn text(&self, ty: Type, bytes: &[u8]) -> Vec<u8> {
        match ty {
            Type::CgroupPath => self.cgroups.resolve(bytes).into_bytes(),
            _ => match self.stacks.text(ty, bytes) {
                Some(text) => text.into_bytes(),
                None => bytes.to_vec(),
            },
        }
    }

    /// The map description and entries with every key part and plain value of these
    /// types replaced by its text, so the printer sees ordinary strings.
    pub(crate) fn resolve_map(&self, info: &MapInfo, entries: Vec<Entry>) -> (MapInfo, Vec<Entry>) {
        let value_type = match info.value {
            MapValue::Plain(t) if t.resolved_at_run_time() => Some(t),
            _ => None,
        };
        let value_is_text = value_type.is_some();
        if !info.key.iter().any(|t| t.resolved_at_run_time()) && !value_is_text {
            return (info.clone(), entries);
        }
        // Each entry's key parts, texts in place of run-time values.
        let mut rows: Vec<Row> = Vec::new();
        for e in entries {
            let mut parts = Vec::new();
            let mut off = 0;
            for ty in &info.key {
                let size = (ty.size().div_ceil(8) * 8) as usize;
                let raw = e.key.get(off..off + size).unwrap_or(&[]);
                parts.push(if ty.resolved_at_run_time() {
                    self.text(*ty, raw)
                } else {
                    raw.to_vec()
                });
                off += size;
            }
            // The bucket of a histogram stays at the end of the key.
            if off < e.key.len() {
                parts.push(e.key[off..].to_vec());
            }
            let values = if let Some(t) = value_type {
                e.values.iter().map(|v| self.text(t, v)).collect()
            } else {
                e.values
            };
            rows.push((parts, values));
        }
        let text_len = |texts: &mut dyn Iterator<Item = usize>| texts.max().unwrap_or(0) as u32 + 1;
        let key: Vec<Type> = info
            .key
            .iter()
            .enumerate()
            .map(|(i, ty)| match ty {
                t if t.resolved_at_run_time() => Type::Str {
                    len: text_len(&mut rows.iter().map(|(p, _)| p[i].len())),
                },
                other => *other,
            })
            .collect();
        let value = if value_is_text {
            MapValue::Plain(Type::Str {
                len: text_len(&mut rows.iter().flat_map(|(_, v)| v.iter().map(Vec::len))),
            })
        } else {
            info.value.clone()
        };
        let entries = rows
            .into_iter()
            .map(|(parts, values)| {
                let mut bytes = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let size = key
                        .get(i)
                        .map_or(part.len(), |t| (t.size().div_ceil(8) * 8) as usize);
                    let mut padded = part.clone();
                    padded.resize(size, 0);
                    bytes.extend_from_slice(&padded);
                }
                let values = match &value {
                    MapValue::Plain(t @ Type::Str { .. }) if value_is_text => values
                        .into_iter()
                        .map(|mut v| {
                            v.resize((t.size().div_ceil(8) * 8) as usize, 0);
                            v
                        })
                        .collect(),
                    _ => values,
                };
                Entry { key: bytes, values }
            })
            .collect();
        (
            MapInfo {
                key,
                value,
                ..info.clone()
            },
            entries,
        )
    }
}
