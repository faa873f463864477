//! Thin wrappers over the bpf() system call: one function per command, every kernel object
//! returned as an [`OwnedFd`] so that dropping it releases the object.
//!
//! Shared by the script runtime (which loads beetrace's own objects directly instead of
//! through a general-purpose loader: skipping a loader that parses all of vmlinux BTF at
//! start-up keeps `beetrace -e 'BEGIN { exit(); }'` at a fraction of bpftrace's time and
//! memory, see BENCHMARKS.md) and by the bpftool-like `map`/`prog` commands, which must not
//! depend on the script pipeline. Knows nothing of scripts, probes or output formats.

pub mod obj;
pub mod pin;

pub use obj::{MapInfo, ObjKind, ProgInfo};

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_BTF_LOAD: libc::c_long = 18;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_MAP_FREEZE: libc::c_long = 22;

/// `union bpf_attr` is a union of per-command structs; 128 bytes covers every field we set.
#[repr(C, align(8))]
pub(crate) struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }

    fn u32(&mut self, offset: usize, value: u32) -> &mut Attr {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn u64(&mut self, offset: usize, value: u64) -> &mut Attr {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn bytes(&mut self, offset: usize, value: &[u8]) -> &mut Attr {
        self.0[offset..offset + value.len()].copy_from_slice(value);
        self
    }

    fn read_u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.0[offset..offset + 4].try_into().expect("4 bytes"))
    }
}

pub(crate) fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: attr points to 128 initialised bytes, and we pass that size.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), attr.0.len()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// The kernel-visible object name: at most 15 bytes of `[A-Za-z0-9_.]`.
fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (dst, c) in out.iter_mut().zip(
        name.bytes()
            .filter(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
            .take(15),
    ) {
        *dst = c;
    }
    out
}

pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    map_create_with_btf(
        map_type,
        key_size,
        value_size,
        max_entries,
        flags,
        name,
        None,
    )
}

/// BTF describing a map's key and value: the loaded BTF object and the type ids in it.
#[derive(Clone, Copy, Debug)]
pub struct MapBtf<'a> {
    pub btf: &'a OwnedFd,
    pub key_type_id: u32,
    pub value_type_id: u32,
}

/// Like [`map_create`], with BTF for the key and value so tools can show them typed.
pub fn map_create_with_btf(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    name: &str,
    btf: Option<MapBtf>,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, map_type)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, max_entries)
        .u32(16, flags)
        .bytes(28, &object_name(name));
    if let Some(btf) = btf {
        attr.u32(48, btf.btf.as_raw_fd() as u32)
            .u32(52, btf.key_type_id)
            .u32(56, btf.value_type_id);
    }
    bpf(BPF_MAP_CREATE, &mut attr).map(owned)
}

/// Makes a map read-only for user space from now on; with `BPF_F_RDONLY_PROG` the verifier
/// then treats its contents as constants.
pub fn map_freeze(map: &OwnedFd) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32);
    bpf(BPF_MAP_FREEZE, &mut attr).map(|_| ())
}

/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`: whether an update may create or replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateFlag {
    Any = 0,
    NoExist = 1,
    Exist = 2,
}

/// Sets `key` to `value` under `flag`; errors are the kernel's (`EEXIST`, `ENOENT`, `E2BIG`).
pub fn map_update_flag(
    map: &OwnedFd,
    key: &[u8],
    value: &[u8],
    flag: UpdateFlag,
) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_ptr() as u64)
        .u64(24, flag as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Deletes `key`; `Ok(false)` when it was not there.
pub fn map_delete_existing(map: &OwnedFd, key: &[u8]) -> io::Result<bool> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64);
    match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The key after `key` (the first key when `None`) into `next`; `Ok(false)` after the last.
pub fn map_next_key(map: &OwnedFd, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.map_or(0, |k| k.as_ptr() as u64))
        .u64(16, next.as_mut_ptr() as u64);
    match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn map_update(map: &OwnedFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_ptr() as u64)
        .u64(24, 0);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Reads the value of `key` into `value` (sized for all CPUs of a per-CPU map). `Ok(false)`
/// when the key is absent.
pub fn map_lookup(map: &OwnedFd, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_mut_ptr() as u64);
    match bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn map_delete(map: &OwnedFd, key: &[u8]) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64);
    match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every key of a map, in the kernel's order.
pub fn map_keys(map: &OwnedFd, key_size: usize) -> io::Result<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut next = vec![0u8; key_size];
        if !map_next_key(map, keys.last().map(Vec::as_slice), &mut next)? {
            return Ok(keys);
        }
        keys.push(next);
    }
}

/// The number of possible CPUs: how many values a per-CPU map lookup returns.
pub fn possible_cpus() -> io::Result<usize> {
    Ok(cpu_list("/sys/devices/system/cpu/possible")?.len())
}

/// The online CPUs, where per-CPU perf events can be opened.
pub fn online_cpus() -> io::Result<Vec<i32>> {
    cpu_list("/sys/devices/system/cpu/online")
}

/// Parses a kernel CPU list such as `0-3,6`.
fn cpu_list(path: &str) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(path)?;
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad CPU list in {path}: {text:?}"),
        )
    };
    let mut cpus = Vec::new();
    for range in text.trim().split(',').filter(|r| !r.is_empty()) {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let a: i32 = a.trim().parse().map_err(|_| bad())?;
        let b: i32 = b.trim().parse().map_err(|_| bad())?;
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// A failed `BPF_PROG_LOAD`, with the verifier's log.
pub struct LoadError {
    pub error: io::Error,
    pub log: String,
}

/// Loads BTF type information, e.g. the `FUNC` records callbacks need.
pub fn btf_load(btf: &[u8]) -> Result<OwnedFd, LoadError> {
    let load = |log: &mut [u8], level: u32| {
        let mut attr = Attr::new();
        attr.u64(0, btf.as_ptr() as u64)
            .u64(
                8,
                if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
            )
            .u32(16, btf.len() as u32)
            .u32(20, log.len() as u32)
            .u32(24, level);
        bpf(BPF_BTF_LOAD, &mut attr).map(owned)
    };
    load(&mut [], 0).or_else(|first| {
        let mut log = vec![0u8; 64 * 1024];
        load(&mut log, 1).map_err(|_| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            LoadError {
                error: first,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            }
        })
    })
}

/// The BTF a program is loaded with: the BTF object and one `(instruction, FUNC type)`
/// record per function the program consists of.
pub struct ProgBtf<'a> {
    pub btf: &'a OwnedFd,
    pub func_info: &'a [[u32; 2]],
}

const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_RAW_TP: u32 = 23;

/// Loads a program as `tp_btf` (`BPF_PROG_TYPE_TRACING`, `BPF_TRACE_RAW_TP`) on the raw
/// tracepoint whose `btf_trace_<name>` typedef has vmlinux BTF id `attach_btf_id`. One
/// attempt without a verifier log: callers fall back to `raw_tp` when it fails.
pub fn prog_load_tp_btf(
    insns: &[u8],
    license: &str,
    name: &str,
    btf: Option<&ProgBtf>,
    attach_btf_id: u32,
) -> io::Result<OwnedFd> {
    let license = CString::new(license).unwrap_or_else(|_| CString::from(c"GPL"));
    let mut attr = prog_attr(
        BPF_PROG_TYPE_TRACING,
        insns,
        &license,
        name,
        btf,
        &mut [],
        0,
    );
    attr.u32(68, BPF_TRACE_RAW_TP).u32(108, attach_btf_id);
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

/// The `BPF_PROG_LOAD` attributes common to every program.
fn prog_attr(
    prog_type: u32,
    insns: &[u8],
    license: &CString,
    name: &str,
    btf: Option<&ProgBtf>,
    log: &mut [u8],
    level: u32,
) -> Attr {
    let mut attr = Attr::new();
    attr.u32(0, prog_type)
        .u32(4, (insns.len() / 8) as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(24, level)
        .u32(28, log.len() as u32)
        .u64(
            32,
            if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
        )
        .bytes(48, &object_name(name));
    if let Some(b) = btf {
        attr.u32(72, b.btf.as_raw_fd() as u32)
            .u32(76, 8)
            .u64(80, b.func_info.as_ptr() as u64)
            .u32(88, b.func_info.len() as u32);
    }
    attr
}

/// Loads a program. The verifier log is only requested when a first attempt fails, so
/// successful loads pay nothing for it.
pub fn prog_load(
    prog_type: u32,
    insns: &[u8],
    license: &str,
    name: &str,
    btf: Option<&ProgBtf>,
) -> Result<OwnedFd, LoadError> {
    let license = CString::new(license).unwrap_or_else(|_| CString::from(c"GPL"));
    let load = |log: &mut [u8], level: u32| {
        let mut attr = prog_attr(prog_type, insns, &license, name, btf, log, level);
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    };
    match load(&mut [], 0) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; 1 << 20];
            match load(&mut log, 1) {
                Ok(fd) => Ok(fd),
                Err(error) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let log = String::from_utf8_lossy(&log[..end]).into_owned();
                    let error = if log.is_empty() { first } else { error };
                    Err(LoadError { error, log })
                }
            }
        }
    }
}

/// Runs a raw tracepoint program once, on this CPU, in this process: how `begin` and `end`
/// probes fire (their `pid` and `comm` are beetrace's own, as in bpftrace).
pub fn test_run(prog: &OwnedFd) -> io::Result<u32> {
    let mut attr = Attr::new();
    attr.u32(0, prog.as_raw_fd() as u32);
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok(attr.read_u32(4))
}

/// Attaches program `prog` to `target` (a cgroup) at `attach_type` with `BPF_F_ALLOW_*`
/// `flags`, the way that predates BPF links: the attachment outlives every fd and lasts until
/// [`prog_detach`].
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, target.as_raw_fd() as u32)
        .u32(4, prog.as_raw_fd() as u32)
        .u32(8, attach_type)
        .u32(12, flags);
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}

/// Undoes [`prog_attach`] of `prog` (naming the program is what lets several attached with
/// `BPF_F_ALLOW_MULTI` be told apart).
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, target.as_raw_fd() as u32)
        .u32(4, prog.as_raw_fd() as u32)
        .u32(8, attach_type);
    bpf(BPF_PROG_DETACH, &mut attr).map(|_| ())
}

/// Attaches a raw tracepoint program to tracepoint `name`; detached when the fd closes.
/// A `tp_btf` program (`name` None) attaches to the tracepoint it was loaded for.
pub fn attach_raw_tracepoint(name: Option<&str>, prog: &OwnedFd) -> io::Result<OwnedFd> {
    let name = name
        .map(CString::new)
        .transpose()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = Attr::new();
    attr.u64(0, name.as_ref().map_or(0, |n| n.as_ptr() as u64))
        .u32(8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr).map(owned)
}
