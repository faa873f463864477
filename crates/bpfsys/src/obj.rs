//! Kernel objects found by id or by bpffs path, and what the kernel says about them: the
//! commands behind `beetrace map ...`, `beetrace prog ...` and pinning.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::{bpf, owned, Attr};

const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_MAP_GET_NEXT_ID: libc::c_long = 12;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_BTF_GET_FD_BY_ID: libc::c_long = 19;
const BPF_LINK_CREATE: libc::c_long = 28;

/// The kinds of objects that have ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjKind {
    Map,
    Prog,
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a path cannot contain a NUL byte",
        )
    })
}

/// Pins `fd` (map, program or link) at `path` on a bpffs: the object lives until the file is
/// removed, whatever happens to this process.
pub fn obj_pin(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    let path = c_path(path)?;
    let mut attr = Attr::new();
    attr.u64(0, path.as_ptr() as u64)
        .u32(8, fd.as_raw_fd() as u32);
    bpf(BPF_OBJ_PIN, &mut attr).map(|_| ())
}

/// Opens the object pinned at `path`.
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let path = c_path(path)?;
    let mut attr = Attr::new();
    attr.u64(0, path.as_ptr() as u64);
    bpf(BPF_OBJ_GET, &mut attr).map(owned)
}

/// The id following `start` (0 for the first), or `None` after the last.
pub fn next_id(kind: ObjKind, start: u32) -> io::Result<Option<u32>> {
    let cmd = match kind {
        ObjKind::Map => BPF_MAP_GET_NEXT_ID,
        ObjKind::Prog => BPF_PROG_GET_NEXT_ID,
    };
    let mut attr = Attr::new();
    attr.u32(0, start);
    match bpf(cmd, &mut attr) {
        Ok(_) => Ok(Some(attr.read_u32(4))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every id of that kind, ascending.
pub fn all_ids(kind: ObjKind) -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    while let Some(id) = next_id(kind, ids.last().copied().unwrap_or(0))? {
        ids.push(id);
    }
    Ok(ids)
}

/// Opens the object with this id.
pub fn fd_by_id(kind: ObjKind, id: u32) -> io::Result<OwnedFd> {
    let cmd = match kind {
        ObjKind::Map => BPF_MAP_GET_FD_BY_ID,
        ObjKind::Prog => BPF_PROG_GET_FD_BY_ID,
    };
    let mut attr = Attr::new();
    attr.u32(0, id);
    bpf(cmd, &mut attr).map(owned)
}

/// Opens BTF object `id`.
pub fn btf_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, id);
    bpf(BPF_BTF_GET_FD_BY_ID, &mut attr).map(owned)
}

/// Fills `info` (a `struct bpf_*_info`) for the object; returns the length the kernel wrote.
fn info_by_fd(fd: &OwnedFd, info: &mut [u8]) -> io::Result<usize> {
    let mut attr = Attr::new();
    attr.u32(0, fd.as_raw_fd() as u32)
        .u32(4, info.len() as u32)
        .u64(8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(attr.read_u32(4) as usize)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn c_name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `struct bpf_map_info`, the fields beetrace shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub name: String,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
}

pub fn map_info(fd: &OwnedFd) -> io::Result<MapInfo> {
    let mut b = [0u8; 96];
    info_by_fd(fd, &mut b)?;
    Ok(MapInfo {
        map_type: u32_at(&b, 0),
        id: u32_at(&b, 4),
        key_size: u32_at(&b, 8),
        value_size: u32_at(&b, 12),
        max_entries: u32_at(&b, 16),
        flags: u32_at(&b, 20),
        name: c_name(&b[24..40]),
        btf_id: u32_at(&b, 64),
        btf_key_type_id: u32_at(&b, 68),
        btf_value_type_id: u32_at(&b, 72),
    })
}

/// `struct bpf_prog_info`, the fields beetrace shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_len: u32,
    pub xlated_len: u32,
    /// Nanoseconds since boot.
    pub load_time: u64,
    pub created_by_uid: u32,
    pub map_ids: Vec<u32>,
    pub name: String,
    pub gpl_compatible: bool,
    pub btf_id: u32,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub verified_insns: u32,
}

const PROG_INFO_SIZE: usize = 232;

pub fn prog_info(fd: &OwnedFd) -> io::Result<ProgInfo> {
    let mut b = [0u8; PROG_INFO_SIZE];
    info_by_fd(fd, &mut b)?;
    let nr_map_ids = u32_at(&b, 52) as usize;
    let mut map_ids = vec![0u32; nr_map_ids];
    if nr_map_ids > 0 {
        // A second call with only the array requested: the kernel fills what we point at.
        let mut again = [0u8; PROG_INFO_SIZE];
        again[52..56].copy_from_slice(&(nr_map_ids as u32).to_ne_bytes());
        again[56..64].copy_from_slice(&(map_ids.as_mut_ptr() as u64).to_ne_bytes());
        info_by_fd(fd, &mut again)?;
        let filled = (u32_at(&again, 52) as usize).min(nr_map_ids);
        map_ids.truncate(filled);
    }
    Ok(ProgInfo {
        prog_type: u32_at(&b, 0),
        id: u32_at(&b, 4),
        tag: b[8..16].try_into().expect("8 bytes"),
        jited_len: u32_at(&b, 16),
        xlated_len: u32_at(&b, 20),
        load_time: u64_at(&b, 40),
        created_by_uid: u32_at(&b, 48),
        map_ids,
        name: c_name(&b[64..80]),
        gpl_compatible: u32_at(&b, 84) & 1 != 0,
        btf_id: u32_at(&b, 128),
        run_time_ns: u64_at(&b, 192),
        run_cnt: u64_at(&b, 200),
        verified_insns: u32_at(&b, 216),
    })
}

/// The program's instructions as the kernel runs them after verification ("xlated"): map
/// addresses replaced by map ids, helper calls by kernel offsets.
pub fn prog_xlated(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let info = prog_info(fd)?;
    let mut insns = vec![0u8; info.xlated_len as usize];
    let mut b = [0u8; PROG_INFO_SIZE];
    b[20..24].copy_from_slice(&info.xlated_len.to_ne_bytes());
    b[32..40].copy_from_slice(&(insns.as_mut_ptr() as u64).to_ne_bytes());
    info_by_fd(fd, &mut b)?;
    let len = (u32_at(&b, 20) as usize).min(insns.len());
    insns.truncate(len);
    Ok(insns)
}

/// The raw bytes of BTF object `fd` (header, types, strings), as loaded.
pub fn btf_data(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut b = [0u8; 32];
    info_by_fd(fd, &mut b)?;
    let size = u32_at(&b, 8) as usize;
    let mut data = vec![0u8; size];
    let mut b = [0u8; 32];
    b[0..8].copy_from_slice(&(data.as_mut_ptr() as u64).to_ne_bytes());
    b[8..12].copy_from_slice(&(size as u32).to_ne_bytes());
    info_by_fd(fd, &mut b)?;
    Ok(data)
}

/// `BPF_PERF_EVENT`: the attach type of a link from a program to a perf event.
const BPF_PERF_EVENT: u32 = 41;

/// Attaches `prog` to a perf event through a BPF link, which (unlike the older ioctl) can
/// be pinned: tracing then continues after this process exits, until the pin is removed.
pub fn link_perf_event(prog: &OwnedFd, event: &OwnedFd) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, prog.as_raw_fd() as u32)
        .u32(4, event.as_raw_fd() as u32)
        .u32(8, BPF_PERF_EVENT);
    bpf(BPF_LINK_CREATE, &mut attr).map(owned)
}
