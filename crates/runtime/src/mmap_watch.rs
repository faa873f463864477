//! The executable mappings of processes, learnt as they are made.
//!
//! Saving `/proc/PID/maps` when a program first announces a pid races with the process:
//! one that exits within a millisecond of its first stack is gone before user space looks.
//! So, like `perf record`, beetrace also opens a dummy software event on every CPU for
//! every process and reads its side-band records: `PERF_RECORD_MMAP2` for each executable
//! mapping (address, length, file offset, device, inode, path), `PERF_RECORD_COMM` with the
//! exec bit (the old mappings are gone) and `PERF_RECORD_FORK` (a child starts with its
//! parent's mappings). For a process started while tracing this gives its whole layout
//! with no race; processes that were already running are covered by the snapshot.
//!
//! Records come through each event's perf ring buffer (`struct perf_event_mmap_page`:
//! `data_head` written by the kernel, `data_tail` by us; records may wrap around the end
//! of the data area), one ring per CPU. A process moves between CPUs, so its fork, exec
//! and mappings can sit in different rings: records are applied in the order of the time
//! stamp each carries at its end (`sample_id_all` with `PERF_SAMPLE_TIME`). A full ring
//! loses records (`PERF_RECORD_LOST`); addresses the records do not cover are then looked
//! up in the snapshot.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::symbolize::Mapping;
use crate::sys;

const PERF_RECORD_COMM: u32 = 3;
const PERF_RECORD_FORK: u32 = 7;
const PERF_RECORD_MMAP2: u32 = 10;
const PERF_RECORD_MISC_COMM_EXEC: u16 = 1 << 13;
/// Data pages per CPU (a power of two): executable mappings are made rarely enough, and
/// perf ring pages count against a per-user limit (`perf_event_mlock_kb`).
const DATA_PAGES: usize = 32;
/// Offsets in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

struct Ring {
    _fd: OwnedFd,
    base: *mut u8,
    page: usize,
    size: usize,
}

impl Ring {
    fn open(cpu: i32) -> io::Result<Ring> {
        let fd = sys::open_mmap_tracking(cpu)?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let size = DATA_PAGES * page;
        // SAFETY: a perf ring is one control page and 2^n data pages, mapped shared and
        // writable so that `data_tail` can be advanced.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page + size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Ring {
            _fd: fd,
            base: base as *mut u8,
            page,
            size,
        })
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: `data_head` and `data_tail` are 8-byte aligned words of the control page,
        // which lives as long as `self`.
        unsafe { &*(self.base.add(offset) as *const AtomicU64) }
    }

    /// Every complete record, in order, as (type, misc, body).
    fn drain(&mut self, mut f: impl FnMut(u32, u16, &[u8])) {
        let head = self.word(DATA_HEAD).load(Ordering::Acquire);
        let mut tail = self.word(DATA_TAIL).load(Ordering::Relaxed);
        // SAFETY: the data area follows the control page and is `size` bytes long.
        let data = unsafe { std::slice::from_raw_parts(self.base.add(self.page), self.size) };
        let at = |pos: u64, len: usize| -> Vec<u8> {
            (0..len)
                .map(|i| data[((pos as usize) + i) % self.size])
                .collect()
        };
        while tail + 8 <= head {
            let header = at(tail, 8);
            let kind = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes"));
            let misc = u16::from_ne_bytes(header[4..6].try_into().expect("2 bytes"));
            let size = u16::from_ne_bytes(header[6..8].try_into().expect("2 bytes")) as u64;
            if size < 8 || tail + size > head {
                break;
            }
            f(kind, misc, &at(tail + 8, size as usize - 8));
            tail += size;
        }
        self.word(DATA_TAIL).store(tail, Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `open` mapped.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.page + self.size);
        }
    }
}

/// The mappings of processes that mapped, exec'd or forked since the watch started.
pub(crate) struct MmapWatch {
    rings: Vec<Ring>,
    /// By pid: the mappings in the order they were made.
    processes: HashMap<u32, Vec<Mapping>>,
    /// Pids whose mappings changed since [`MmapWatch::take_changed`] was last called.
    changed: Vec<u32>,
}

impl MmapWatch {
    /// Opens the watch on every online CPU.
    pub(crate) fn open() -> io::Result<MmapWatch> {
        let rings = sys::online_cpus()?
            .into_iter()
            .map(Ring::open)
            .collect::<io::Result<Vec<Ring>>>()?;
        Ok(MmapWatch {
            rings,
            processes: HashMap::new(),
            changed: Vec::new(),
        })
    }

    /// Reads what arrived since the last call.
    pub(crate) fn update(&mut self) {
        let mut records = Vec::new();
        for ring in &mut self.rings {
            ring.drain(|kind, misc, body| {
                let time = body.len().checked_sub(8).map_or(0, |at| {
                    u64::from_ne_bytes(body[at..].try_into().expect("8 bytes"))
                });
                records.push((time, kind, misc, body.to_vec()));
            });
        }
        // Stable: records of one ring with equal times keep their order.
        records.sort_by_key(|r| r.0);
        for (_, kind, misc, body) in records {
            self.apply(kind, misc, &body);
        }
    }

    fn apply(&mut self, kind: u32, misc: u16, body: &[u8]) {
        let u32_at = |off: usize| {
            body.get(off..off + 4)
                .map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
        };
        let u64_at = |off: usize| {
            body.get(off..off + 8)
                .map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
        };
        match kind {
            PERF_RECORD_MMAP2 => {
                // pid, tid, addr, len, pgoff, maj, min, ino, ino_generation, prot, flags,
                // filename.
                let (pid, start, len, offset) = (u32_at(0), u64_at(8), u64_at(16), u64_at(24));
                let (major, minor, inode) = (u32_at(32), u32_at(36), u64_at(40));
                let name = body.get(64..).unwrap_or(&[]);
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                let path = String::from_utf8_lossy(name).into_owned();
                if !path.starts_with('/') {
                    return; // [vdso], anonymous executable memory: nothing to read.
                }
                self.processes.entry(pid).or_default().push(Mapping {
                    start,
                    end: start + len,
                    offset,
                    device: format!("{major:02x}:{minor:02x}"),
                    inode,
                    path,
                });
                self.changed.push(pid);
            }
            PERF_RECORD_COMM if misc & PERF_RECORD_MISC_COMM_EXEC != 0 => {
                let (pid, tid) = (u32_at(0), u32_at(4));
                if pid == tid {
                    self.processes.insert(pid, Vec::new());
                    self.changed.push(pid);
                }
            }
            PERF_RECORD_FORK => {
                // pid, ppid, tid, ptid: a new process (not a thread) copies its parent.
                let (pid, ppid, tid) = (u32_at(0), u32_at(4), u32_at(8));
                if pid == tid && pid != ppid {
                    if let Some(parent) = self.processes.get(&ppid).cloned() {
                        self.processes.insert(pid, parent);
                        self.changed.push(pid);
                    }
                }
            }
            _ => {}
        }
    }

    /// The mappings of `pid` seen so far (empty when it was not seen mapping anything).
    pub(crate) fn mappings(&self, pid: u32) -> &[Mapping] {
        self.processes.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// The pids whose mappings changed since the last call.
    pub(crate) fn take_changed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> MmapWatch {
        MmapWatch {
            rings: Vec::new(),
            processes: HashMap::new(),
            changed: Vec::new(),
        }
    }

    fn mmap2(pid: u32, start: u64, path: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [pid, pid] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        for v in [start, 0x1000, 0x2000] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.extend_from_slice(&0xfdu32.to_ne_bytes());
        b.extend_from_slice(&1u32.to_ne_bytes());
        b.extend_from_slice(&77u64.to_ne_bytes());
        b.extend_from_slice(&0u64.to_ne_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(path.as_bytes());
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn follows_mappings_exec_and_fork() {
        let mut w = watch();
        w.apply(PERF_RECORD_MMAP2, 0, &mmap2(10, 0x5000, "/bin/prog"));
        w.apply(PERF_RECORD_MMAP2, 0, &mmap2(10, 0x9000, "[vdso]"));
        let m = w.mappings(10);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].start, m[0].end, m[0].offset),
            (0x5000, 0x6000, 0x2000)
        );
        assert_eq!((m[0].device.as_str(), m[0].inode), ("fd:01", 77));
        assert_eq!(m[0].path, "/bin/prog");
        // A fork copies the parent's mappings; a thread does not count.
        let fork = [11u32, 10, 11, 10]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect::<Vec<_>>();
        w.apply(PERF_RECORD_FORK, 0, &fork);
        assert_eq!(w.mappings(11).len(), 1);
        // exec forgets them.
        let comm = [11u32, 11]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect::<Vec<_>>();
        w.apply(PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC, &comm);
        assert!(w.mappings(11).is_empty());
        assert_eq!(w.take_changed(), vec![10, 11, 11]);
    }
}
