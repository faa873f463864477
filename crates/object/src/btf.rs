//! The small BTF blob that describes `.maps`, the way clang emits it for libbpf:
//! every map is a global variable of an anonymous struct whose members encode the map's
//! parameters as `int (*name)[value]` (libbpf's `__uint(name, value)`).
//!
//! Only what loaders need is written: no key/value types, so map creation never depends on
//! the kernel accepting a type description.

use crate::MapDef;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const BTF_INT_SIGNED: u32 = 1 << 24;
const VAR_GLOBAL_ALLOCATED: u32 = 1;

/// Size in bytes of one map's definition inside `.maps` (one pointer per member).
pub(crate) fn map_def_size(map: &MapDef) -> usize {
    map_members(map).len() * 8
}

fn map_members(map: &MapDef) -> Vec<(&'static str, u32)> {
    let mut members = vec![("type", map.map_type), ("max_entries", map.max_entries)];
    if map.key_size != 0 {
        members.push(("key_size", map.key_size));
    }
    if map.value_size != 0 {
        members.push(("value_size", map.value_size));
    }
    if map.flags != 0 {
        members.push(("map_flags", map.flags));
    }
    members
}

struct Writer {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl Writer {
    fn string(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn ty(&mut self, name_off: u32, kind: u32, vlen: u32, size_or_type: u32, extra: &[u32]) -> u32 {
        for word in [name_off, (kind << 24) | vlen, size_or_type]
            .iter()
            .chain(extra)
        {
            self.types.extend_from_slice(&word.to_le_bytes());
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// Builds the `.BTF` section for `maps`, laid out in `.maps` in order.
pub(crate) fn maps_btf(maps: &[MapDef]) -> Vec<u8> {
    let mut w = Writer {
        types: Vec::new(),
        strings: vec![0],
        next_id: 1,
    };
    let int_name = w.string("int");
    let int = w.ty(int_name, KIND_INT, 0, 4, &[BTF_INT_SIGNED | 32]);
    let index_name = w.string("__ARRAY_SIZE_TYPE__");
    let index = w.ty(index_name, KIND_INT, 0, 4, &[32]);

    let mut array_ptrs: Vec<(u32, u32)> = Vec::new();
    let mut vars = Vec::new();
    let mut offset = 0u32;
    for map in maps {
        let mut members = Vec::new();
        for (name, value) in map_members(map) {
            let ptr = match array_ptrs.iter().find(|(v, _)| *v == value) {
                Some(&(_, ptr)) => ptr,
                None => {
                    let array = w.ty(0, KIND_ARRAY, 0, 0, &[int, index, value]);
                    let ptr = w.ty(0, KIND_PTR, 0, array, &[]);
                    array_ptrs.push((value, ptr));
                    ptr
                }
            };
            let name_off = w.string(name);
            members.push((name_off, ptr));
        }
        let size = members.len() as u32 * 8;
        let mut extra = Vec::new();
        for (i, (name_off, ptr)) in members.iter().enumerate() {
            extra.extend_from_slice(&[*name_off, *ptr, i as u32 * 64]);
        }
        let strukt = w.ty(0, KIND_STRUCT, members.len() as u32, size, &extra);
        let var_name = w.string(&map.name);
        let var = w.ty(var_name, KIND_VAR, 0, strukt, &[VAR_GLOBAL_ALLOCATED]);
        vars.push((var, offset, size));
        offset += size;
    }
    if !vars.is_empty() {
        let mut extra = Vec::new();
        for (var, off, size) in &vars {
            extra.extend_from_slice(&[*var, *off, *size]);
        }
        let sec_name = w.string(".maps");
        w.ty(sec_name, KIND_DATASEC, vars.len() as u32, offset, &extra);
    }

    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    out.extend_from_slice(&24u32.to_le_bytes()); // header length
    out.extend_from_slice(&0u32.to_le_bytes()); // type_off
    out.extend_from_slice(&(w.types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(w.types.len() as u32).to_le_bytes()); // str_off
    out.extend_from_slice(&(w.strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&w.types);
    out.extend_from_slice(&w.strings);
    out
}
