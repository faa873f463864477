//! Naming user-space addresses: ELF symbol tables, and the memory map of a process saved
//! while it lives.
//!
//! A user stack holds virtual addresses of one process. To name one, find the mapping it
//! falls in (`/proc/PID/maps`), turn it into an offset in the mapped file, the file offset
//! into the ELF's own virtual address (through its `PT_LOAD` segments), and look that up
//! in the ELF's function symbols (`.symtab`, else `.dynsym`). A process that has exited has
//! no `/proc/PID/maps`, so its mappings are kept from when it was seen (runtime
//! `mmap_watch.rs`, [`ProcessMap::snapshot`]). ELF files are read (mapped, not copied)
//! only when an address in them is named, by path while the file there is the one that
//! was mapped, else through `/proc/PID/map_files` (deleted files, other mount namespaces).
//!
//! Build-id stacks (`ustack(build_id)`) already carry (build id, file offset) pairs, so
//! naming them needs only an ELF with that build id: [`ElfSymbols::symbol_at_file_offset`].
//! The ELF reading itself is `kernel::elf_symbols`, shared with uprobes (which also finds
//! the separate debug files of stripped binaries).
//!
//! Written rather than taken from blazesym: process layouts come from our own records,
//! and the ELF symbol tables are a small part of what blazesym brings (DWARF line info and
//! inlined functions are not done here).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

pub use kernel::elf_symbols::ElfSymbols;

/// One executable file mapping of a process, as `/proc/PID/maps` or a
/// `PERF_RECORD_MMAP2` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// Offset in the file of `start`.
    pub offset: u64,
    /// `major:minor` in hex, as /proc/PID/maps spells it.
    pub device: String,
    pub inode: u64,
    pub path: String,
}

/// One executable mapping of a process, and its file's symbols once they were needed.
struct Region {
    mapping: Mapping,
    /// `Some(None)` when the file could not be read.
    elf: OnceCell<Option<Arc<ElfSymbols>>>,
}

/// A user address named: the function and offset if known, and the mapped file.
#[derive(Debug, PartialEq, Eq)]
pub struct UserFrame<'a> {
    pub symbol: Option<(&'a str, u64)>,
    pub module: Option<&'a str>,
}

/// The executable mappings of one process as they were when it was seen. The files are
/// read only when an address in them is named: a tracer sees many processes and names the
/// stacks of few.
pub struct ProcessMap {
    pid: Option<u32>,
    /// Newest mapping first.
    regions: Vec<Region>,
    cache: Rc<RefCell<ElfCache>>,
}

/// ELF files already read, by (device, inode): every process maps the same libc.
#[derive(Default)]
pub struct ElfCache {
    files: HashMap<(String, u64), Option<Arc<ElfSymbols>>>,
}

impl ElfCache {
    /// The symbols of the mapped file: by path while the file there is still the one that
    /// was mapped (same inode), else through `/proc/PID/map_files` while `pid` lives (which
    /// reaches deleted files and other mount namespaces).
    fn get(&mut self, m: &Mapping, pid: Option<u32>) -> Option<Arc<ElfSymbols>> {
        self.files
            .entry((m.device.clone(), m.inode))
            .or_insert_with(|| {
                let same_file = fs::metadata(&m.path).is_ok_and(|meta| meta.ino() == m.inode);
                let by_path = same_file
                    .then(|| ElfSymbols::read(Path::new(&m.path)).ok())
                    .flatten();
                by_path
                    .or_else(|| {
                        let range = format!("/proc/{}/map_files/{:x}-{:x}", pid?, m.start, m.end);
                        ElfSymbols::read(Path::new(&range)).ok()
                    })
                    .map(Arc::new)
            })
            .clone()
    }
}

/// The executable file mappings listed in the text of a `/proc/PID/maps`.
pub fn parse_proc_maps(text: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    for line in text.lines() {
        // start-end perms offset dev inode path
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset), Some(device), Some(inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let path = fields.collect::<Vec<_>>().join(" ");
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset), Ok(inode)) = (
            u64::from_str_radix(start, 16),
            u64::from_str_radix(end, 16),
            u64::from_str_radix(offset, 16),
            inode.parse::<u64>(),
        ) else {
            continue;
        };
        out.push(Mapping {
            start,
            end,
            offset,
            device: device.to_string(),
            inode,
            path,
        });
    }
    out
}

impl ProcessMap {
    /// Reads `/proc/PID/maps` (its files are read when needed).
    pub fn snapshot(pid: u32, cache: &Rc<RefCell<ElfCache>>) -> io::Result<ProcessMap> {
        let text = fs::read_to_string(format!("/proc/{pid}/maps"))?;
        Ok(ProcessMap::build(&parse_proc_maps(&text), Some(pid), cache))
    }

    /// The map of these mappings (later ones win where they overlap) of process `pid`.
    pub fn build(
        mappings: &[Mapping],
        pid: Option<u32>,
        cache: &Rc<RefCell<ElfCache>>,
    ) -> ProcessMap {
        let regions = mappings
            .iter()
            .rev()
            .map(|m| Region {
                mapping: m.clone(),
                elf: OnceCell::new(),
            })
            .collect();
        ProcessMap {
            pid,
            regions,
            cache: cache.clone(),
        }
    }

    fn region(&self, addr: u64) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| addr >= r.mapping.start && addr < r.mapping.end)
    }

    fn elf<'s>(&'s self, region: &'s Region) -> Option<&'s ElfSymbols> {
        region
            .elf
            .get_or_init(|| self.cache.borrow_mut().get(&region.mapping, self.pid))
            .as_deref()
    }

    /// Names `addr`; `module` is `None` outside every file mapping.
    pub fn resolve(&self, addr: u64) -> UserFrame<'_> {
        let Some(region) = self.region(addr) else {
            return UserFrame {
                symbol: None,
                module: None,
            };
        };
        let symbol = self.elf(region).and_then(|elf| {
            let (f, off) =
                elf.symbol_at_file_offset(addr - region.mapping.start + region.mapping.offset)?;
            Some((f.display_name(), off))
        });
        UserFrame {
            symbol,
            module: Some(&region.mapping.path),
        }
    }

    /// The mapped file of `addr` when it has no symbols to name it with.
    pub fn stripped_module(&self, addr: u64) -> Option<&str> {
        let region = self.region(addr)?;
        match self.elf(region) {
            Some(elf) if !elf.functions().is_empty() => None,
            _ => Some(&region.mapping.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_proc_maps, Mapping};

    #[test]
    fn proc_maps_lines_become_executable_file_mappings() {
        let text = "55d0c0000000-55d0c0001000 r--p 00000000 fd:01 1234 /usr/bin/my prog\n\
                    55d0c0001000-55d0c0002000 r-xp 00001000 fd:01 1234 /usr/bin/my prog\n\
                    7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]\n\
                    7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n";
        assert_eq!(
            parse_proc_maps(text),
            vec![Mapping {
                start: 0x55d0c0001000,
                end: 0x55d0c0002000,
                offset: 0x1000,
                device: "fd:01".into(),
                inode: 1234,
                path: "/usr/bin/my prog".into(),
            }]
        );
    }
}
