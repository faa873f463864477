//! The small BTF blob that describes `.maps`, the way clang emits it for libbpf:
//! every map is a global variable of an anonymous struct whose members encode the map's
//! parameters as `int (*name)[value]` (libbpf's `__uint(name, value)`).
//!
//! Only what loaders need is written: no key/value types, so map creation never depends on
//! the kernel accepting a type description.

use crate::{MapDef, ObjectFile};

// BTF kinds (the kernel's `BTF_KIND_*`), shared with the reader in `map_btf.rs`.
pub(crate) const KIND_INT: u32 = 1;
pub(crate) const KIND_PTR: u32 = 2;
pub(crate) const KIND_ARRAY: u32 = 3;
pub(crate) const KIND_STRUCT: u32 = 4;
pub(crate) const KIND_UNION: u32 = 5;
pub(crate) const KIND_ENUM: u32 = 6;
pub(crate) const KIND_TYPEDEF: u32 = 8;
pub(crate) const KIND_VOLATILE: u32 = 9;
pub(crate) const KIND_CONST: u32 = 10;
pub(crate) const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
pub(crate) const KIND_VAR: u32 = 14;
pub(crate) const KIND_DATASEC: u32 = 15;
pub(crate) const KIND_TYPE_TAG: u32 = 18;
pub(crate) const KIND_ENUM64: u32 = 19;
const FUNC_STATIC: u32 = 0;
const FUNC_GLOBAL: u32 = 1;
pub(crate) const BTF_INT_SIGNED: u32 = 1 << 24;
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

pub(crate) struct Writer {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
        }
    }

    /// An integer type of `bytes` bytes.
    pub(crate) fn int(&mut self, name: &str, bytes: u32, signed: bool) -> u32 {
        let name = self.string(name);
        let sign = if signed { BTF_INT_SIGNED } else { 0 };
        self.ty(name, KIND_INT, 0, bytes, &[sign | (bytes * 8)])
    }

    pub(crate) fn string(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    pub(crate) fn ty(
        &mut self,
        name_off: u32,
        kind: u32,
        vlen: u32,
        size_or_type: u32,
        extra: &[u32],
    ) -> u32 {
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

/// Builds the object's BTF: a `FUNC` per program (global, one `void *ctx` argument) and per
/// function (static, `params` pointer-sized arguments), then the `.maps` description. Returns
/// the blob and the `FUNC` type ids of the programs and of the functions.
pub(crate) fn object_btf(obj: &ObjectFile) -> ObjectBtf {
    let mut w = Writer::new();
    // Section names, for `.BTF.ext` records to refer to.
    let mut section_names: Vec<(String, u32)> = Vec::new();
    for sec in obj
        .programs
        .iter()
        .map(|p| p.section.as_str())
        .chain([".text"])
    {
        if !section_names.iter().any(|(n, _)| n == sec) {
            let off = w.string(sec);
            section_names.push((sec.to_string(), off));
        }
    }
    let int = w.int("int", 4, true);
    let index = w.int("__ARRAY_SIZE_TYPE__", 4, false);
    let long = w.int("long", 8, true);
    let void_ptr = w.ty(0, KIND_PTR, 0, 0, &[]);

    let arg_names = ["ctx", "arg1", "arg2", "arg3", "arg4"];
    let func = |w: &mut Writer, name: &str, params: u8, linkage: u32| {
        let mut extra = Vec::new();
        for arg in arg_names.iter().take(params.min(5) as usize) {
            let pname = w.string(arg);
            // Programs receive a context pointer; functions here take scalars and pointers
            // alike, which the kernel checks per call site for static functions.
            let ty = if linkage == FUNC_GLOBAL {
                void_ptr
            } else {
                long
            };
            extra.extend_from_slice(&[pname, ty]);
        }
        let proto = w.ty(0, KIND_FUNC_PROTO, params.min(5) as u32, int, &extra);
        let fname = w.string(name);
        w.ty(fname, KIND_FUNC, linkage, proto, &[])
    };
    let programs = obj
        .programs
        .iter()
        .map(|p| func(&mut w, &p.name, 1, FUNC_GLOBAL))
        .collect();
    let functions = obj
        .functions
        .iter()
        .map(|f| func(&mut w, &f.name, f.params, FUNC_STATIC))
        .collect();
    let data_maps = obj.data_maps();
    let maps: Vec<MapDef> = (obj.maps.iter().enumerate())
        .filter(|(i, _)| !data_maps.contains(i))
        .map(|(_, m)| m.clone())
        .collect();
    maps_types(&mut w, int, index, &maps);
    if let Some(data) = data_maps.first().and_then(|&i| obj.maps.get(i)) {
        data_section_types(&mut w, index, data);
    }
    ObjectBtf {
        blob: w.finish(),
        prog_types: programs,
        func_types: functions,
        section_names,
    }
}

/// An object's BTF and where things are in it.
pub(crate) struct ObjectBtf {
    pub(crate) blob: Vec<u8>,
    /// The `FUNC` type id of each program, then of each function.
    pub(crate) prog_types: Vec<u32>,
    pub(crate) func_types: Vec<u32>,
    /// String-table offsets of the section names.
    pub(crate) section_names: Vec<(String, u32)>,
}

/// The `.BTF.ext` section: one `func_info` record per program and per function, naming the
/// `FUNC` type of the code at that offset, as clang writes it. libbpf passes these to the
/// kernel, which insists on them once a program passes a callback.
pub(crate) fn object_btf_ext(
    obj: &ObjectFile,
    btf: &ObjectBtf,
    prog_offsets: &[u64],
    func_offsets: &[u64],
) -> Vec<u8> {
    let (prog_types, func_types) = (&btf.prog_types, &btf.func_types);
    let strings = |name: &str| {
        btf.section_names
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, off)| *off)
    };
    // Group records by section, in order of first appearance.
    let mut sections: Vec<(String, Vec<[u32; 2]>)> = Vec::new();
    let mut add =
        |sec: &str, off: u64, ty: u32| match sections.iter_mut().find(|(name, _)| name == sec) {
            Some((_, recs)) => recs.push([off as u32, ty]),
            None => sections.push((sec.to_string(), vec![[off as u32, ty]])),
        };
    for (i, p) in obj.programs.iter().enumerate() {
        add(&p.section, prog_offsets[i], prog_types[i]);
    }
    for (i, _) in obj.functions.iter().enumerate() {
        add(".text", func_offsets[i], func_types[i]);
    }
    let mut info = Vec::new();
    info.extend_from_slice(&8u32.to_le_bytes()); // record size
    for (name, recs) in &sections {
        info.extend_from_slice(&strings(name).to_le_bytes());
        info.extend_from_slice(&(recs.len() as u32).to_le_bytes());
        for [off, ty] in recs {
            info.extend_from_slice(&off.to_le_bytes());
            info.extend_from_slice(&ty.to_le_bytes());
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_le_bytes());
    out.push(1);
    out.push(0);
    out.extend_from_slice(&24u32.to_le_bytes()); // header length
    out.extend_from_slice(&0u32.to_le_bytes()); // func_info offset
    out.extend_from_slice(&(info.len() as u32).to_le_bytes());
    out.extend_from_slice(&(info.len() as u32).to_le_bytes()); // line_info offset (empty)
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&info);
    out
}

/// Appends the `.maps` variables and their section to `w`.
fn maps_types(w: &mut Writer, int: u32, index: u32, maps: &[MapDef]) {
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
}

/// Describes the `.bss` section holding `map`'s value as clang would a global byte array:
/// a `VAR` of type `unsigned char[value_size]` in a `DATASEC`.
fn data_section_types(w: &mut Writer, index: u32, map: &MapDef) {
    let byte = w.int("unsigned char", 1, false);
    let array = w.ty(0, KIND_ARRAY, 0, 0, &[byte, index, map.value_size]);
    let var_name = w.string(&map.name);
    let var = w.ty(var_name, KIND_VAR, 0, array, &[VAR_GLOBAL_ALLOCATED]);
    let sec_name = w.string(DATA_SECTION);
    w.ty(
        sec_name,
        KIND_DATASEC,
        1,
        map.value_size,
        &[var, 0, map.value_size],
    );
}

/// The ELF section that holds the data map (zero-initialised, like C globals).
pub(crate) const DATA_SECTION: &str = ".bss";

impl Writer {
    /// The finished blob: header, types, strings.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.push(1); // version
        out.push(0); // flags
        out.extend_from_slice(&24u32.to_le_bytes()); // header length
        out.extend_from_slice(&0u32.to_le_bytes()); // type_off
        out.extend_from_slice(&(self.types.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.types.len() as u32).to_le_bytes()); // str_off
        out.extend_from_slice(&(self.strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}
