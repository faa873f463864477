//! Program arrays: slots filled from the object's own `.values = { [i] = &prog }` and from
//! `--tail MAP:KEY[-KEY]=PROG`, before anything is attached (so the first event already finds
//! its handlers). The kernel's rules are checked first so that breaking them gives a message
//! naming the programs rather than a bare EINVAL: a tail call keeps the caller's program
//! type, and a chain stops after 33 tail calls (`MAX_TAIL_CALL_CNT`).

use std::collections::{BTreeMap, BTreeSet};

use aya::maps::{Map, ProgramArray};
use aya::Ebpf;

use crate::scan::{DeclaredSlot, Scan};
use crate::{chain, LoadError};

/// The kernel stops a chain of tail calls after this many (`MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALLS: usize = 33;

/// One `--tail [MAP:]KEY[-KEY]=PROG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailSpec {
    /// `None`: the object's only program array.
    pub map: Option<String>,
    pub first: u32,
    pub last: u32,
    pub program: String,
}

impl std::str::FromStr for TailSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "--tail '{s}': expected [MAP:]KEY[-KEY]=PROGRAM, e.g. syscalls:222-226=hello_timer"
            )
        };
        let (slots, program) = s.split_once('=').ok_or_else(usage)?;
        let (map, keys) = match slots.rsplit_once(':') {
            Some((m, k)) => (Some(m.to_string()), k),
            None => (None, slots),
        };
        let key = |k: &str| k.trim().parse::<u32>().map_err(|_| usage());
        let (first, last) = match keys.split_once('-') {
            Some((a, b)) => (key(a)?, key(b)?),
            None => (key(keys)?, key(keys)?),
        };
        if first > last || program.is_empty() || map.as_deref() == Some("") {
            return Err(usage());
        }
        Ok(TailSpec {
            map,
            first,
            last,
            program: program.to_string(),
        })
    }
}

/// A filled slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub map: String,
    pub index: u32,
    pub program: String,
}

pub(crate) struct Wired {
    pub slots: Vec<Slot>,
    pub warnings: Vec<String>,
}

/// Fills every program array; returns the slots and warnings about chain length.
pub(crate) fn wire(ebpf: &mut Ebpf, scan: &Scan, specs: &[TailSpec]) -> Result<Wired, LoadError> {
    let arrays: BTreeMap<String, u32> = ebpf
        .maps()
        .filter(|(_, m)| matches!(m, Map::ProgramArray(_)))
        .map(|(name, m)| {
            let max = match m {
                Map::ProgramArray(d) => d.info().map(|i| i.max_entries()).unwrap_or(0),
                _ => 0,
            };
            (name.to_string(), max)
        })
        .collect();

    // Declared slots first; --tail overrides them.
    let mut slots: BTreeMap<(String, u32), String> = BTreeMap::new();
    for DeclaredSlot {
        map,
        index,
        program,
    } in &scan.declared_slots
    {
        slots.insert((map.clone(), *index), program.clone());
    }
    for spec in specs {
        let map = match &spec.map {
            Some(m) => m.clone(),
            None if arrays.len() == 1 => arrays.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(LoadError::Tail(format!(
                    "{}-{}={}: name the map (MAP:KEY=PROG); the object has {}",
                    spec.first,
                    spec.last,
                    spec.program,
                    describe(&arrays)
                )))
            }
        };
        let Some(&max) = arrays.get(&map) else {
            let what = if ebpf.map(&map).is_some() {
                "is not a program array (BPF_MAP_TYPE_PROG_ARRAY)"
            } else {
                "does not exist"
            };
            return Err(LoadError::Tail(format!(
                "map '{map}' {what}; the object has {}",
                describe(&arrays)
            )));
        };
        if spec.last >= max {
            return Err(LoadError::Tail(format!(
                "key {} is outside {map}, which has max_entries {max} (keys 0-{})",
                spec.last,
                max.saturating_sub(1)
            )));
        }
        if ebpf.program(&spec.program).is_none() {
            return Err(LoadError::Tail(format!(
                "no program named '{}' (the object has: {})",
                spec.program,
                scan.programs
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for index in spec.first..=spec.last {
            slots.insert((map.clone(), index), spec.program.clone());
        }
    }

    check_types(ebpf, scan, &slots)?;

    for ((map, index), program) in &slots {
        let fd = ebpf
            .program(program)
            .and_then(|p| p.fd().ok())
            .and_then(|fd| fd.try_clone().ok())
            .ok_or_else(|| LoadError::Tail(format!("program '{program}' is not loaded")))?;
        let m = ebpf
            .map_mut(map)
            .ok_or_else(|| LoadError::Tail(format!("map '{map}' is gone")))?;
        let mut array = ProgramArray::try_from(m)
            .map_err(|e| LoadError::Tail(format!("map '{map}': {}", chain(&e))))?;
        array
            .set(*index, &fd, 0)
            .map_err(|e| LoadError::Tail(format!("{map}[{index}] = {program}: {}", chain(&e))))?;
    }

    let slots: Vec<Slot> = slots
        .into_iter()
        .map(|((map, index), program)| Slot {
            map,
            index,
            program,
        })
        .collect();
    let warnings = chain_warnings(scan, &slots);
    Ok(Wired { slots, warnings })
}

fn describe(arrays: &BTreeMap<String, u32>) -> String {
    if arrays.is_empty() {
        "no program arrays".into()
    } else {
        format!(
            "program arrays: {}",
            arrays.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

/// A tail call keeps the caller's program type: every program in a map's slots and every
/// program that calls through the map must have the same type.
fn check_types(
    ebpf: &Ebpf,
    scan: &Scan,
    slots: &BTreeMap<(String, u32), String>,
) -> Result<(), LoadError> {
    let kind = |name: &str| ebpf.program(name).map(|p| format!("{:?}", p.prog_type()));
    let maps: BTreeSet<&String> = slots.keys().map(|(m, _)| m).collect();
    for map in maps {
        let mut members: Vec<(String, String, &str)> = Vec::new();
        for p in scan.programs.iter().filter(|p| p.maps.contains(map)) {
            if let Some(k) = kind(&p.name) {
                members.push((p.name.clone(), k, "calls through it"));
            }
        }
        for ((m, _), program) in slots {
            if m == map && !members.iter().any(|(n, _, _)| n == program) {
                if let Some(k) = kind(program) {
                    members.push((program.clone(), k, "is in a slot"));
                }
            }
        }
        if let Some((first, first_kind, first_role)) = members.first() {
            if let Some((name, k, role)) = members.iter().find(|(_, k, _)| k != first_kind) {
                return Err(LoadError::Tail(format!(
                    "program {name} ({k}) {role} of {map}, but {first} ({first_kind}) \
                     {first_role}: a tail call keeps the caller's program type, so all \
                     programs of one program array must have the same type"
                )));
            }
        }
    }
    Ok(())
}

/// Warnings for chains the kernel will cut: a loop of tail calls, or a chain longer than
/// [`MAX_TAIL_CALLS`]. Edges: program -> every program in a map it calls through.
fn chain_warnings(scan: &Scan, slots: &[Slot]) -> Vec<String> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in &scan.programs {
        for s in slots.iter().filter(|s| p.maps.contains(&s.map)) {
            edges
                .entry(p.name.as_str())
                .or_default()
                .insert(s.program.as_str());
        }
    }
    let mut warnings = Vec::new();
    // Depth-first search from every program for a cycle or the longest path.
    fn walk<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
    ) -> Result<usize, Vec<&'a str>> {
        if let Some(pos) = path.iter().position(|&n| n == node) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(node);
            return Err(cycle);
        }
        path.push(node);
        let mut longest = 0;
        for next in edges.get(node).into_iter().flatten() {
            longest = longest.max(1 + walk(next, edges, path)?);
        }
        path.pop();
        Ok(longest)
    }
    for start in edges.keys() {
        match walk(start, &edges, &mut Vec::new()) {
            Err(cycle) => {
                warnings.push(format!(
                    "tail calls can loop ({}): the kernel stops a chain after {MAX_TAIL_CALLS} \
                     tail calls and the call that would exceed it falls through",
                    cycle.join(" -> ")
                ));
                break;
            }
            Ok(depth) if depth > MAX_TAIL_CALLS => {
                warnings.push(format!(
                    "a chain of {depth} tail calls starts at {start}: the kernel stops after \
                     {MAX_TAIL_CALLS}"
                ));
                break;
            }
            Ok(_) => {}
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            "syscalls:222-226=hello_timer".parse(),
            Ok(TailSpec {
                map: Some("syscalls".into()),
                first: 222,
                last: 226,
                program: "hello_timer".into()
            })
        );
        assert_eq!(
            "59=hello_exec".parse(),
            Ok(TailSpec {
                map: None,
                first: 59,
                last: 59,
                program: "hello_exec".into()
            })
        );
        assert!("m:5-2=p".parse::<TailSpec>().is_err());
        assert!("m:x=p".parse::<TailSpec>().is_err());
        assert!("m:1".parse::<TailSpec>().is_err());
    }
}
