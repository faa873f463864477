//! Function symbols of a user-space ELF file (executable or shared library): what uprobes
//! attach to by name and what `-l 'uprobe:PATH:*'` lists.
//!
//! Uprobes are placed by file offset, so besides names this module translates a symbol's
//! virtual address into an offset in the file through the `PT_LOAD` program headers. C++
//! names are demangled once here, so callers can match `ns::func` as well as `_ZN2ns4funcEv`.
//! A stack symbolizer can reuse [`ElfSymbols::symbol_at`].

use std::path::{Path, PathBuf};

use elf::{Object, ObjectSegment, ObjectSymbol, SymbolKind, SymbolSection};

/// Why an ELF file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("cannot read {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not an ELF file", .path.display())]
    NotElf { path: PathBuf },
    #[error("{}: malformed ELF file: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
}

/// One defined function of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    /// The symbol's name as stored (mangled for C++).
    pub name: String,
    /// The C++ demangled name with its parameter list (`ns::f(int)`), when `name` is mangled.
    pub demangled: Option<String>,
    /// Virtual address in the file's own address space (before any load bias).
    pub address: u64,
    pub size: u64,
    /// A GNU indirect function (`STT_GNU_IFUNC`, e.g. libc's `strlen`): the code at
    /// `address` is the resolver that picks an implementation once, not the function.
    pub ifunc: bool,
}

impl FunctionSymbol {
    /// The name shown in listings and probe names: demangled for C++ (`ns::f(int)`, with
    /// parameters, so overloads stay apart), else the symbol's own name.
    pub fn display_name(&self) -> &str {
        self.demangled.as_deref().unwrap_or(&self.name)
    }

    /// The name without a C++ parameter list (`ns::f`).
    pub fn short_name(&self) -> &str {
        without_parameters(self.display_name())
    }

    /// Whether `pattern` (a wildcard pattern) names this function: by its symbol name, its
    /// demangled name, or its demangled name without parameters.
    pub fn matches(&self, pattern: &crate::wildcard::Pattern) -> bool {
        pattern.matches(&self.name)
            || self
                .demangled
                .as_deref()
                .is_some_and(|d| pattern.matches(d) || pattern.matches(without_parameters(d)))
    }
}

/// `ns::f(int) const` → `ns::f`: everything before the parameter list, which is the first
/// `(` outside template brackets.
fn without_parameters(demangled: &str) -> &str {
    let mut depth = 0i32;
    for (i, c) in demangled.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            '(' if depth <= 0 && i > 0 => return &demangled[..i],
            _ => {}
        }
    }
    demangled
}

/// A loadable segment: `size` bytes at virtual `address`, of which the first `file_size`
/// come from file `offset` (the rest, `.bss`, is zeroes).
#[derive(Clone, Copy, Debug)]
struct Segment {
    address: u64,
    size: u64,
    offset: u64,
    file_size: u64,
}

/// Virtual address → file offset, from the `PT_LOAD` headers.
#[derive(Clone, Debug, Default)]
pub struct AddressMap {
    segments: Vec<Segment>,
}

impl AddressMap {
    pub(crate) fn of(file: &elf::File) -> Self {
        AddressMap {
            segments: file
                .segments()
                .map(|s| {
                    let (offset, file_size) = s.file_range();
                    Segment {
                        address: s.address(),
                        size: s.size(),
                        offset,
                        file_size,
                    }
                })
                .collect(),
        }
    }

    /// The file offset that is mapped at `address`, if a segment covers it.
    pub fn file_offset(&self, address: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| address >= s.address && address - s.address < s.size)
            .map(|s| address - s.address + s.offset)
    }

    /// The virtual address file `offset` is loaded at (what a process mapping or a build-id
    /// stack frame gives), if a segment loads it. Checked: the headers may be corrupt.
    pub fn address_of(&self, offset: u64) -> Option<u64> {
        let s = self
            .segments
            .iter()
            .find(|s| offset >= s.offset && offset - s.offset < s.file_size)?;
        (offset - s.offset).checked_add(s.address)
    }
}

/// The defined functions of one ELF file, sorted by name, each name once; also indexed
/// by address, for naming the addresses of stacks.
#[derive(Clone, Debug)]
pub struct ElfSymbols {
    pub path: PathBuf,
    functions: Vec<FunctionSymbol>,
    /// Indices into `functions`, ascending by address (the larger of equal starts first).
    by_address: Vec<usize>,
    addresses: AddressMap,
    /// Whether the file has a `.symtab` (a stripped file has only its exported functions).
    full_symbol_table: bool,
    build_id: Option<Vec<u8>>,
}

impl ElfSymbols {
    /// Reads the file mapped rather than copied: only headers and symbol tables are
    /// touched, which matters for binaries of hundreds of megabytes.
    pub fn read(path: &Path) -> Result<Self, ElfError> {
        with_mapped_file(path, |data| Self::parse(path, data))
    }

    /// The symbols of an ELF image already in memory; `path` is used in errors and to
    /// find a separate debug file (see [`debug_file`]) when the image is stripped.
    pub fn parse(path: &Path, data: &[u8]) -> Result<Self, ElfError> {
        let file = parse_elf(path, data)?;
        let debug_data = match file.symbol_table() {
            Some(_) => None,
            None => debug_file(path, &file).and_then(|p| std::fs::read(p).ok()),
        };
        let debug = debug_data
            .as_deref()
            .and_then(|d| elf::File::parse(d).ok())
            .filter(|d| d.symbol_table().is_some());
        let mut functions: Vec<FunctionSymbol> = file
            .symbols()
            .chain(file.dynamic_symbols())
            .chain(debug.iter().flat_map(|d| d.symbols()))
            // Defined in a section (object's is_definition leaves out indirect functions).
            .filter(|s| {
                s.kind() == SymbolKind::Text
                    && matches!(s.section(), SymbolSection::Section(_))
                    && s.address() != 0
            })
            .filter_map(|s| {
                let name = s.name().ok()?.to_string();
                // Versioned dynamic names (`memcpy@@GLIBC_2.14`) keep only the name.
                let name = match name.split_once('@') {
                    Some((n, _)) => n.to_string(),
                    None => name,
                };
                let ifunc = match s.flags() {
                    elf::SymbolFlags::Elf { st_info, .. } => st_info & 0xf == STT_GNU_IFUNC,
                    _ => false,
                };
                (!name.is_empty()).then(|| FunctionSymbol {
                    demangled: demangle(&name),
                    name,
                    address: s.address(),
                    size: s.size(),
                    ifunc,
                })
            })
            .collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name).then(b.size.cmp(&a.size)));
        functions.dedup_by(|a, b| a.name == b.name);
        Ok(ElfSymbols::from_parts(
            path,
            functions,
            AddressMap::of(&file),
            file.symbol_table().is_some() || debug.is_some(),
            file.build_id().ok().flatten().map(<[u8]>::to_vec),
        ))
    }

    fn from_parts(
        path: &Path,
        functions: Vec<FunctionSymbol>,
        addresses: AddressMap,
        full_symbol_table: bool,
        build_id: Option<Vec<u8>>,
    ) -> ElfSymbols {
        let mut by_address: Vec<usize> = (0..functions.len()).collect();
        by_address.sort_by(|&a, &b| {
            let (a, b) = (&functions[a], &functions[b]);
            a.address.cmp(&b.address).then(b.size.cmp(&a.size))
        });
        ElfSymbols {
            path: path.to_path_buf(),
            functions,
            by_address,
            addresses,
            full_symbol_table,
            build_id,
        }
    }

    pub fn functions(&self) -> &[FunctionSymbol] {
        &self.functions
    }

    /// The GNU build id (`.note.gnu.build-id`), if the file has one.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// Whether the file lost its `.symtab` (`strip`) and no separate debug file has it:
    /// only exported functions have names.
    pub fn is_stripped(&self) -> bool {
        !self.full_symbol_table
    }

    /// The function named `name` by its symbol name, or else the functions whose demangled
    /// name is `name` with or without parameters (every overload of `ns::f`).
    pub fn find(&self, name: &str) -> Vec<&FunctionSymbol> {
        if let Ok(i) = self
            .functions
            .binary_search_by(|f| f.name.as_str().cmp(name))
        {
            return vec![&self.functions[i]];
        }
        self.functions
            .iter()
            .filter(|f| {
                f.demangled
                    .as_deref()
                    .is_some_and(|d| d == name || without_parameters(d) == name)
            })
            .collect()
    }

    /// The function whose range contains virtual `address` (the nearest start at or below
    /// it), and the offset into it. A symbol of size 0 names only its own address.
    pub fn symbol_at(&self, address: u64) -> Option<(&FunctionSymbol, u64)> {
        let i = self
            .by_address
            .partition_point(|&f| self.functions[f].address <= address);
        let f = &self.functions[*self.by_address.get(i.checked_sub(1)?)?];
        let offset = address - f.address;
        (offset < f.size.max(1)).then_some((f, offset))
    }

    /// The virtual address file `offset` is loaded at.
    pub fn address_of_file_offset(&self, offset: u64) -> Option<u64> {
        self.addresses.address_of(offset)
    }

    /// The function loaded from file `offset`, and the offset into it.
    pub fn symbol_at_file_offset(&self, offset: u64) -> Option<(&FunctionSymbol, u64)> {
        self.symbol_at(self.addresses.address_of(offset)?)
    }

    /// The file offset of virtual `address` (what the kernel's uprobe API takes).
    pub fn file_offset(&self, address: u64) -> Option<u64> {
        self.addresses.file_offset(address)
    }
}

/// Any defined symbol named `name` (a global variable as well as a function), from the
/// symbol table or the dynamic one: its virtual address and size. Versioned dynamic names
/// (`environ@@GLIBC_2.2.5`) match by their plain name.
pub fn defined_symbol(path: &Path, name: &str) -> Result<Option<(u64, u64)>, ElfError> {
    with_mapped_file(path, |data| {
        let file = parse_elf(path, data)?;
        Ok(file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| s.is_definition() && s.address() != 0)
            .find(|s| {
                s.name()
                    .is_ok_and(|n| n.split_once('@').map_or(n, |(plain, _)| plain) == name)
            })
            .map(|s| (s.address(), s.size())))
    })
}

/// The `size` bytes of file content mapped at virtual `address` (a function's machine code),
/// from the section holding them.
pub fn code_at(path: &Path, address: u64, size: u64) -> Result<Vec<u8>, ElfError> {
    use elf::ObjectSection;
    let data = read_file(path)?;
    let file = parse_elf(path, &data)?;
    let section = file
        .sections()
        .find(|s| address >= s.address() && address - s.address() < s.size())
        .ok_or_else(|| ElfError::Malformed {
            path: path.to_path_buf(),
            reason: format!("no section holds address {address:#x}"),
        })?;
    let bytes = section
        .data_range(address, size)
        .ok()
        .flatten()
        .ok_or_else(|| ElfError::Malformed {
            path: path.to_path_buf(),
            reason: format!("cannot read {size} bytes at {address:#x}"),
        })?;
    Ok(bytes.to_vec())
}

/// Where distributions keep the symbols and DWARF stripped from their binaries
/// (Debian's `*-dbg` / `*-dbgsym` packages).
const DEBUG_ROOT: &str = "/usr/lib/debug";

/// The separate debug file of a stripped binary: by build id
/// (`/usr/lib/debug/.build-id/ab/cdef….debug`), else by `.gnu_debuglink` next to the
/// binary, in its `.debug/` directory, or under `/usr/lib/debug` + its directory.
pub fn debug_file(path: &Path, file: &elf::File) -> Option<PathBuf> {
    if let Ok(Some(id)) = file.build_id() {
        if let Some((first, rest)) = id.split_first() {
            let rest: String = rest.iter().map(|b| format!("{b:02x}")).collect();
            let candidate =
                PathBuf::from(format!("{DEBUG_ROOT}/.build-id/{first:02x}/{rest}.debug"));
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let (name, _crc) = file.gnu_debuglink().ok().flatten()?;
    let name = std::str::from_utf8(name).ok()?;
    let dir = path.parent()?;
    let rooted = Path::new(DEBUG_ROOT).join(dir.strip_prefix("/").unwrap_or(dir));
    [
        dir.join(name),
        dir.join(".debug").join(name),
        rooted.join(name),
    ]
    .into_iter()
    .find(|p| p.is_file() && p != path)
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, ElfError> {
    std::fs::read(path).map_err(|source| ElfError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs `parse` over the bytes of the file at `path`, mapped read-only for the duration.
fn with_mapped_file<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, ElfError>,
) -> Result<T, ElfError> {
    let open_error = |source| ElfError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(open_error)?;
    let len = file.metadata().map_err(open_error)?.len();
    let Ok(len) = usize::try_from(len) else {
        return Err(open_error(std::io::Error::other("file too large")));
    };
    if len == 0 {
        return parse(&[]);
    }
    // SAFETY: a private read-only mapping of a whole regular file, unmapped below once
    // parsing (which copies what it keeps) is done. A file truncated meanwhile could fault;
    // the binaries of running programs are not rewritten in place.
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
        return Err(open_error(std::io::Error::last_os_error()));
    }
    // SAFETY: `data` maps `len` readable bytes until the munmap below.
    let result = parse(unsafe { std::slice::from_raw_parts(data as *const u8, len) });
    // SAFETY: unmapping exactly the mapping made above.
    unsafe {
        libc::munmap(data, len);
    }
    result
}

pub(crate) fn parse_elf<'d>(path: &Path, data: &'d [u8]) -> Result<elf::File<'d>, ElfError> {
    if !data.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf {
            path: path.to_path_buf(),
        });
    }
    elf::File::parse(data).map_err(|e| ElfError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

const STT_GNU_IFUNC: u8 = 10;

/// The demangled form of an Itanium C++ (or legacy Rust) symbol name.
fn demangle(name: &str) -> Option<String> {
    if !name.starts_with("_Z") {
        return None;
    }
    let symbol = cpp_demangle::Symbol::new(name).ok()?;
    symbol.demangle().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_cut_outside_templates() {
        assert_eq!(without_parameters("ns::f(int)"), "ns::f");
        assert_eq!(
            without_parameters("ns::g<int (*)()>(int) const"),
            "ns::g<int (*)()>"
        );
        assert_eq!(without_parameters("plain"), "plain");
    }

    #[test]
    fn mangled_names_are_demangled() {
        assert_eq!(
            demangle("_ZN5shape4areaEi").as_deref(),
            Some("shape::area(int)")
        );
        assert_eq!(demangle("main"), None);
    }

    fn function(name: &str, address: u64, size: u64) -> FunctionSymbol {
        FunctionSymbol {
            name: name.into(),
            demangled: demangle(name),
            address,
            size,
            ifunc: false,
        }
    }

    fn table(segments: Vec<Segment>) -> ElfSymbols {
        ElfSymbols::from_parts(
            Path::new("t"),
            vec![
                function("first", 0x1000, 0x20),
                function("marker", 0x2000, 0),
                function("_ZN2ns6secondEi", 0x1020, 0x10),
            ],
            AddressMap { segments },
            true,
            None,
        )
    }

    #[test]
    fn addresses_are_named_inside_symbols_only() {
        let t = table(Vec::new());
        let at = |a| t.symbol_at(a).map(|(f, off)| (f.display_name(), off));
        assert_eq!(at(0x1000), Some(("first", 0)));
        assert_eq!(at(0x101f), Some(("first", 0x1f)));
        assert_eq!(at(0x1025), Some(("ns::second(int)", 5)));
        assert_eq!(at(0x1030), None);
        assert_eq!(at(0x2000), Some(("marker", 0)));
        assert_eq!(at(0x2001), None);
        assert_eq!(at(0x10), None);
    }

    #[test]
    fn file_offsets_go_through_the_load_segments() {
        let segment = |offset, address, file_size| Segment {
            address,
            size: file_size + 0x100,
            offset,
            file_size,
        };
        let t = table(vec![segment(0, 0, 0x800), segment(0x800, 0x1000, 0x100)]);
        let (f, off) = t.symbol_at_file_offset(0x825).expect("inside second");
        assert_eq!((f.name.as_str(), off), ("_ZN2ns6secondEi", 5));
        // Past the file part of the segment: .bss is not in the file.
        assert!(t.symbol_at_file_offset(0x900).is_none());
        assert_eq!(t.file_offset(0x1025), Some(0x825));
    }

    #[test]
    fn a_non_elf_file_is_refused_by_name() {
        let err = ElfSymbols::parse(Path::new("/x/script.sh"), b"#!/bin/sh\n").unwrap_err();
        assert_eq!(err.to_string(), "/x/script.sh is not an ELF file");
    }

    #[test]
    fn the_test_binary_has_its_own_functions() {
        // This test executable is an ELF file with a symbol table.
        let exe = std::env::current_exe().expect("test binary path");
        let symbols = ElfSymbols::read(&exe).expect("readable ELF");
        assert!(!symbols.is_stripped());
        let main = symbols.find("main")[0];
        let offset = symbols.file_offset(main.address).expect("mapped");
        assert!(offset > 0 && offset < std::fs::metadata(&exe).unwrap().len());
        let (f, 0) = symbols
            .symbol_at(main.address)
            .expect("main contains itself")
        else {
            panic!("main starts at its address")
        };
        assert_eq!(f.address, main.address);
    }
}
