//! Map contents and global variables at exit, decoded with the object's BTF. Map types are
//! unknown to aya's typed wrappers until run time, so keys and values are read as bytes
//! with `BPF_MAP_GET_NEXT_KEY` / `BPF_MAP_LOOKUP_ELEM` and typed afterwards.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use aya::maps::{Map, MapData};
use aya::Ebpf;
use output::value::Value;

use crate::btf::Btf;
use crate::scan::{GlobalSection, Scan};

/// One map's entries.
#[derive(Debug, Clone)]
pub struct MapDump {
    pub name: String,
    /// The kernel's map type, lowercase (`hash`, `percpu_array`).
    pub kind: String,
    /// Per-CPU maps have one value per possible CPU, as a `Value::Array`.
    pub entries: Vec<(Value, Value)>,
}

/// One global variable of `.data` or `.bss`.
#[derive(Debug, Clone)]
pub struct GlobalDump {
    pub name: String,
    pub section: &'static str,
    pub value: Value,
}

/// Map types with nothing to print: their values are kernel objects or streams.
const SKIPPED: &[u32] = &[
    3,  // prog_array
    4,  // perf_event_array
    12, // array_of_maps
    13, // hash_of_maps
    27, // ringbuf
];

pub(crate) fn maps(ebpf: &Ebpf, btf: Option<&Btf>) -> Vec<MapDump> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = ebpf.maps().map(|(n, _)| n).collect();
    names.sort_unstable();
    for name in names {
        // Data sections are printed variable by variable (see `globals`).
        if name.starts_with('.') {
            continue;
        }
        let Some(data) = ebpf.map(name).and_then(map_data) else {
            continue;
        };
        let Ok(info) = data.info() else { continue };
        let Ok(map_type) = info.map_type() else {
            continue;
        };
        let type_id = map_type as u32;
        if SKIPPED.contains(&type_id) {
            continue;
        }
        let per_cpu = matches!(type_id, 5 | 6 | 10); // percpu_hash, percpu_array, lru_percpu_hash
        let is_array = matches!(type_id, 2 | 6);
        let (key_ty, value_ty) = btf.map(|b| b.map_key_value(name)).unwrap_or((None, None));
        let decode = |ty: Option<u32>, bytes: &[u8]| match (btf, ty) {
            (Some(b), Some(t)) => b.decode(t, bytes),
            _ => Value::Bytes(bytes.to_vec()),
        };
        let key_size = info.key_size() as usize;
        let value_size = info.value_size() as usize;
        let cpus = if per_cpu { possible_cpus() } else { 1 };
        let stride = if per_cpu {
            value_size.div_ceil(8) * 8
        } else {
            value_size
        };
        let mut entries = Vec::new();
        for key in keys(data.fd().as_fd(), key_size) {
            let Some(raw) = lookup(data.fd().as_fd(), &key, stride * cpus) else {
                continue;
            };
            let value = if per_cpu {
                Value::Array(
                    raw.chunks(stride)
                        .map(|c| decode(value_ty, &c[..value_size]))
                        .collect(),
                )
            } else {
                decode(value_ty, &raw)
            };
            // Array slots always exist; only the ones written to are worth a line.
            if is_array && value.is_zero() {
                continue;
            }
            entries.push((decode(key_ty, &key), value));
        }
        // Hash maps come out of the kernel in bucket order; sorted keys read better and are
        // the same from run to run.
        entries.sort_by(|a, b| compare(&a.0, &b.0));
        out.push(MapDump {
            name: name.to_string(),
            kind: format!("{map_type:?}")
                .trim_start_matches("BPF_MAP_TYPE_")
                .to_ascii_lowercase(),
            entries,
        });
    }
    out
}

pub(crate) fn globals(ebpf: &Ebpf, scan: &Scan) -> Vec<GlobalDump> {
    let mut out = Vec::new();
    for section in [GlobalSection::Data, GlobalSection::Bss] {
        let Some(data) = ebpf.map(section.name()).and_then(map_data) else {
            continue;
        };
        let Ok(info) = data.info() else { continue };
        let Some(contents) = lookup(
            data.fd().as_fd(),
            &0u32.to_ne_bytes(),
            info.value_size() as usize,
        ) else {
            continue;
        };
        let types = scan
            .btf
            .as_ref()
            .map(|b| b.datasec_vars(section.name()))
            .unwrap_or_default();
        for g in scan.globals.iter().filter(|g| g.section == section) {
            let start = g.offset as usize;
            let Some(bytes) = contents.get(start..start + g.size as usize) else {
                continue;
            };
            let value = match (scan.btf.as_ref(), types.iter().find(|(n, ..)| *n == g.name)) {
                (Some(b), Some((_, ty, ..))) => b.decode(*ty, bytes),
                _ => Value::Bytes(bytes.to_vec()),
            };
            out.push(GlobalDump {
                name: g.name.clone(),
                section: section.name(),
                value,
            });
        }
    }
    out
}

/// An order on decoded keys: numbers by value, strings and bytes lexicographically, structs
/// and arrays field by field.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Uint(x), Value::Uint(y)) | (Value::Pointer(x), Value::Pointer(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bytes(x), Value::Bytes(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| compare(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Struct(x), Value::Struct(y)) => x
            .iter()
            .zip(y)
            .map(|((_, p), (_, q))| compare(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => a.text().cmp(&b.text()),
    }
}

/// The `MapData` inside any kind of [`Map`].
fn map_data(map: &Map) -> Option<&MapData> {
    Some(match map {
        Map::Array(d)
        | Map::BloomFilter(d)
        | Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuArray(d)
        | Map::PerCpuHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::LpmTrie(d)
        | Map::Queue(d)
        | Map::Stack(d)
        | Map::StackTraceMap(d)
        | Map::Unsupported(d) => d,
        _ => return None,
    })
}

/// The number of possible CPUs: the per-CPU value count of `BPF_MAP_LOOKUP_ELEM`.
fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1)
}

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;

/// `union bpf_attr` as the map element commands use it.
#[repr(C)]
#[derive(Default)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value_or_next_key: u64,
    flags: u64,
}

fn bpf(cmd: libc::c_long, attr: &mut ElemAttr) -> bool {
    // SAFETY: `attr` is a valid, fully initialised bpf_attr prefix whose pointers refer to
    // buffers that outlive the call and are as large as the map's key and value sizes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut ElemAttr,
            std::mem::size_of::<ElemAttr>(),
        )
    };
    r == 0
}

/// Every key of the map (a hash map may change while we walk it; that is acceptable at exit).
fn keys(fd: BorrowedFd<'_>, key_size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        let mut next = vec![0u8; key_size.max(1)];
        let mut attr = ElemAttr {
            map_fd: fd.as_raw_fd() as u32,
            key: prev.as_ref().map_or(0, |k| k.as_ptr() as u64),
            value_or_next_key: next.as_mut_ptr() as u64,
            ..ElemAttr::default()
        };
        if !bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) || out.len() > 1_000_000 {
            return out;
        }
        next.truncate(key_size);
        out.push(next.clone());
        prev = Some(next);
    }
}

fn lookup(fd: BorrowedFd<'_>, key: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut value = vec![0u8; size.max(1)];
    let mut attr = ElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value_or_next_key: value.as_mut_ptr() as u64,
        ..ElemAttr::default()
    };
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).then(|| {
        value.truncate(size);
        value
    })
}
