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
//! naming them needs only an ELF with that build id: [`ElfSymbols::resolve_file_offset`].
//!
//! Written rather than taken from blazesym: process layouts come from our own records,
//! and the ELF symbol tables are a small part of what blazesym
//! brings (DWARF line info and inlined functions are not done here; C++ names are
//! demangled with `cpp_demangle`).

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use elf::{Object as _, ObjectSegment as _, ObjectSymbol as _, SymbolKind};

/// The function symbols and load segments of one ELF file.
#[derive(Debug, Default)]
pub struct ElfSymbols {
    /// (start, size, name), ascending by start: function symbols.
    functions: Vec<(u64, u64, String)>,
    /// (file offset, virtual address, size in the file) of each loadable segment.
    segments: Vec<(u64, u64, u64)>,
    build_id: Option<Vec<u8>>,
}

impl ElfSymbols {
    /// Parses the ELF file at `path`, mapped rather than read: only the headers and symbol
    /// tables are touched, which matters for binaries of hundreds of megabytes.
    pub fn open(path: &Path) -> io::Result<ElfSymbols> {
        let file = fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty file"));
        }
        // SAFETY: a private read-only mapping of a whole regular file, unmapped below once
        // parsing (which copies what it keeps) is done. A file truncated meanwhile could
        // fault; symbol files of running programs are not rewritten in place.
        let data = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if data == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `data` maps `len` readable bytes until the munmap below.
        let parsed =
            ElfSymbols::parse(unsafe { std::slice::from_raw_parts(data as *const u8, len) });
        // SAFETY: unmapping exactly the mapping made above.
        unsafe {
            libc::munmap(data, len);
        }
        parsed
    }

    /// Parses ELF bytes; anything that is not an ELF file is an `InvalidData` error.
    pub fn parse(data: &[u8]) -> io::Result<ElfSymbols> {
        let file = elf::File::parse(data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let collect = |symbols: &mut dyn Iterator<Item = elf::Symbol<'_, '_>>| {
            symbols
                .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
                .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
                .collect::<Vec<_>>()
        };
        let mut functions = collect(&mut file.symbols());
        if functions.is_empty() {
            functions = collect(&mut file.dynamic_symbols());
        }
        // Sorted by start, larger symbols first among equals, so aliases resolve alike.
        functions.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        functions.dedup_by_key(|f| f.0);
        let segments = file
            .segments()
            .map(|s| {
                let (offset, size) = s.file_range();
                (offset, s.address(), size)
            })
            .collect();
        let build_id = file.build_id().ok().flatten().map(<[u8]>::to_vec);
        Ok(ElfSymbols {
            functions,
            segments,
            build_id,
        })
    }

    /// The GNU build id (`.note.gnu.build-id`), if the file has one.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// No function symbols at all: a stripped binary.
    pub fn is_stripped(&self) -> bool {
        self.functions.is_empty()
    }

    /// The function containing virtual address `vaddr`, and the offset into it.
    pub fn resolve_vaddr(&self, vaddr: u64) -> Option<(&str, u64)> {
        let i = self.functions.partition_point(|f| f.0 <= vaddr);
        let (start, size, name) = self.functions.get(i.checked_sub(1)?)?;
        let offset = vaddr - start;
        (offset < *size || offset == 0).then_some((name.as_str(), offset))
    }

    /// The function at file offset `offset` (what build-id frames and mappings give).
    pub fn resolve_file_offset(&self, offset: u64) -> Option<(&str, u64)> {
        // Checked arithmetic: the segment table comes from a file, possibly a corrupt one.
        let &(file_off, vaddr, _) = self
            .segments
            .iter()
            .find(|&&(off, _, size)| offset >= off && offset - off < size)?;
        self.resolve_vaddr((offset - file_off).checked_add(vaddr)?)
    }
}

/// A symbol name as people read it: C++ names (`_Z...`) demangled, as bpftrace shows them
/// (`ns::worker(int)`); anything else unchanged.
pub fn display_name(name: &str) -> Cow<'_, str> {
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            if let Ok(text) = sym.demangle() {
                return Cow::Owned(text);
            }
        }
    }
    Cow::Borrowed(name)
}

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
                    .then(|| ElfSymbols::open(Path::new(&m.path)).ok())
                    .flatten();
                by_path
                    .or_else(|| {
                        let range = format!("/proc/{}/map_files/{:x}-{:x}", pid?, m.start, m.end);
                        ElfSymbols::open(Path::new(&range)).ok()
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
            elf.resolve_file_offset(addr - region.mapping.start + region.mapping.offset)
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
            Some(elf) if !elf.is_stripped() => None,
            _ => Some(&region.mapping.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{display_name, parse_proc_maps, ElfSymbols, Mapping};

    #[test]
    fn cpp_names_are_demangled() {
        assert_eq!(display_name("_ZN2ns6workerEi"), "ns::worker(int)");
        assert_eq!(display_name("main"), "main");
        assert_eq!(display_name("_Znot_valid"), "_Znot_valid");
    }

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

    fn table() -> ElfSymbols {
        ElfSymbols {
            functions: vec![
                (0x1000, 0x20, "first".into()),
                (0x1020, 0x10, "second".into()),
                (0x2000, 0, "marker".into()),
            ],
            segments: vec![(0, 0, 0x800), (0x1000, 0x1000, 0x1100)],
            build_id: None,
        }
    }

    #[test]
    fn names_addresses_inside_symbols_only() {
        let t = table();
        assert_eq!(t.resolve_vaddr(0x1000), Some(("first", 0)));
        assert_eq!(t.resolve_vaddr(0x101f), Some(("first", 0x1f)));
        assert_eq!(t.resolve_vaddr(0x1025), Some(("second", 5)));
        assert_eq!(t.resolve_vaddr(0x1030), None);
        assert_eq!(t.resolve_vaddr(0x2000), Some(("marker", 0)));
        assert_eq!(t.resolve_vaddr(0x2001), None);
        assert_eq!(t.resolve_vaddr(0x10), None);
    }

    #[test]
    fn file_offsets_go_through_the_load_segments() {
        let mut t = table();
        t.segments = vec![(0x0, 0x0, 0x800), (0x800, 0x1000, 0x100)];
        assert_eq!(t.resolve_file_offset(0x825), Some(("second", 5)));
        assert_eq!(t.resolve_file_offset(0x2000), None);
    }

    #[test]
    fn reads_the_symbols_of_a_real_binary() {
        // The test binary itself: it has a symbol table and a build id (or at least
        // segments); its own test function must be found at its address.
        let me = std::env::current_exe().expect("test binary path");
        let syms = ElfSymbols::open(&me).expect("readable ELF");
        assert!(!syms.is_stripped());
        let here = reads_the_symbols_of_a_real_binary as *const () as u64;
        let _ = here; // A PIE's run-time address differs from its file address.
        assert!(syms
            .functions
            .iter()
            .any(|f| f.2.contains("reads_the_symbols_of_a_real_binary")));
    }
}
