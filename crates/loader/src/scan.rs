//! What the loader needs from the object that aya does not keep: each program's section name
//! (aya turns it into a program kind and drops the attach target), the global variables with
//! their sections and sizes, which maps each program references, and the relocations inside
//! `.maps` that initialise program arrays declaratively (aya ignores them).
//!
//! Reading only; no system calls.

use std::collections::BTreeMap;

use elf::{Object as _, ObjectSection as _, ObjectSymbol as _, RelocationTarget, SectionKind};

use crate::btf::Btf;
use crate::LoadError;

/// `EM_BPF`: the ELF machine of BPF objects.
const EM_BPF: u16 = 247;

/// The most a `.data`/`.bss`/`.rodata` section may claim (the kernel's limit for one map
/// value is a few MiB; this only keeps a corrupt header from exhausting memory).
const MAX_DATA_SECTION: u64 = 1 << 30;

/// One program: a global function in an executable section other than `.text`.
#[derive(Debug, Clone)]
pub struct ProgramSym {
    pub name: String,
    pub section: String,
    /// Maps this program's code references (through `ld_imm64` relocations).
    pub maps: Vec<String>,
}

/// Where a global variable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalSection {
    Rodata,
    Data,
    Bss,
}

impl GlobalSection {
    pub fn name(self) -> &'static str {
        match self {
            GlobalSection::Rodata => ".rodata",
            GlobalSection::Data => ".data",
            GlobalSection::Bss => ".bss",
        }
    }
}

/// A variable in `.rodata`, `.data` or `.bss`.
#[derive(Debug, Clone)]
pub struct GlobalSym {
    pub name: String,
    pub section: GlobalSection,
    pub offset: u64,
    pub size: u64,
}

/// `.values = { [index] = &program }` in a `.maps` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredSlot {
    pub map: String,
    pub index: u32,
    pub program: String,
}

/// One instruction that refers to an `extern` (a symbol the object does not define: `__ksym`,
/// `__kconfig`), which [`crate::externs`] patches before aya sees the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternUse {
    pub name: String,
    /// Declared `__weak`: may be absent from the kernel (then it is 0).
    pub weak: bool,
    /// File offset of the instruction (an `ld_imm64`, or a `call` of a kernel function).
    pub insn_at: usize,
}

/// The scanned object.
#[derive(Debug, Default)]
pub struct Scan {
    pub programs: Vec<ProgramSym>,
    pub globals: Vec<GlobalSym>,
    pub declared_slots: Vec<DeclaredSlot>,
    pub btf: Option<Btf>,
    /// (file offset, bytes) to write into the copy of the object given to aya (see
    /// [`Btf::aya_prog_array_patches`]).
    pub aya_patches: Vec<(usize, Vec<u8>)>,
    /// Instructions that use externs.
    pub extern_uses: Vec<ExternUse>,
    /// File offset of the `.BTF` section's bytes.
    pub btf_at: Option<usize>,
}

impl Scan {
    pub fn program(&self, name: &str) -> Option<&ProgramSym> {
        self.programs.iter().find(|p| p.name == name)
    }
}

/// Checks that `data` is a BPF ELF object and scans it.
pub fn scan(data: &[u8]) -> Result<Scan, LoadError> {
    if data.len() < 20 || &data[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    // e_machine sits at offset 18 in both ELF classes; BPF objects are little-endian here.
    let machine = u16::from_le_bytes([data[18], data[19]]);
    if machine != EM_BPF {
        return Err(LoadError::NotBpf { machine });
    }
    let file = elf::File::parse(data).map_err(|e| LoadError::Malformed(e.to_string()))?;

    let mut aya_patches = Vec::new();
    let btf_at = file
        .section_by_name(".BTF")
        .and_then(|s| s.file_range())
        .map(|(start, _)| start as usize);
    let btf = match file.section_by_name(".BTF") {
        Some(s) => {
            let bytes = s.data().map_err(|e| LoadError::Malformed(e.to_string()))?;
            let btf = Btf::parse(bytes).map_err(|e| LoadError::Malformed(format!(".BTF: {e}")))?;
            if let Some((start, _)) = s.file_range() {
                let patches = btf.aya_prog_array_patches().map_err(LoadError::Malformed)?;
                aya_patches.extend(
                    patches
                        .into_iter()
                        .map(|(at, bytes)| (start as usize + at, bytes)),
                );
            }
            Some(btf)
        }
        None => None,
    };

    preflight(&file)?;

    let section_names: BTreeMap<usize, String> = file
        .sections()
        .map(|s| (s.index().0, s.name().unwrap_or_default().to_string()))
        .collect();
    let maps_section = file.section_by_name(".maps").map(|s| s.index().0);

    let mut scan = Scan {
        btf,
        btf_at,
        aya_patches,
        ..Scan::default()
    };
    // Symbols of `.maps` by offset, to find which map a relocation falls into.
    let mut map_syms: Vec<(u64, u64, String)> = Vec::new();
    for sym in file.symbols() {
        let Ok(name) = sym.name() else { continue };
        let Some(index) = sym.section_index() else {
            continue;
        };
        let Some(section) = section_names.get(&index.0) else {
            continue;
        };
        let global_section = match section.as_str() {
            ".rodata" => Some(GlobalSection::Rodata),
            ".data" => Some(GlobalSection::Data),
            ".bss" => Some(GlobalSection::Bss),
            _ => None,
        };
        if Some(index.0) == maps_section && !name.is_empty() {
            map_syms.push((sym.address(), sym.size(), name.to_string()));
        } else if let Some(section) = global_section {
            // Only global variables, as in a libbpf skeleton: statics (bpf_printk's
            // formats among them) are the object's own business.
            if sym.kind() == elf::SymbolKind::Data && sym.is_global() && !name.is_empty() {
                scan.globals.push(GlobalSym {
                    name: name.to_string(),
                    section,
                    offset: sym.address(),
                    size: sym.size(),
                });
            }
        } else if sym.kind() == elf::SymbolKind::Text
            && sym.is_global()
            && section != ".text"
            && is_code_section(&file, index)
        {
            scan.programs.push(ProgramSym {
                name: name.to_string(),
                section: section.clone(),
                maps: Vec::new(),
            });
        }
    }
    map_syms.sort();

    // Which maps each program references, and the declarative program-array slots.
    let symbol_name = |target: RelocationTarget| -> Option<(String, Option<usize>)> {
        let RelocationTarget::Symbol(i) = target else {
            return None;
        };
        let sym = file.symbol_by_index(i).ok()?;
        Some((
            sym.name().ok()?.to_string(),
            sym.section_index().map(|s| s.0),
        ))
    };
    for section in file.sections() {
        let index = section.index().0;
        if is_code_section(&file, section.index()) {
            scan.extern_uses.extend(extern_uses(&file, &section)?);
        }
        for (offset, reloc) in section.relocations() {
            let Some((target, target_section)) = symbol_name(reloc.target()) else {
                continue;
            };
            if Some(index) == maps_section {
                // A pointer inside a map definition: a program-array slot.
                let Some((start, _, map)) = map_syms.iter().rev().find(|(s, _, _)| *s <= offset)
                else {
                    continue;
                };
                let values_offset = scan
                    .btf
                    .as_ref()
                    .and_then(|b| b.map_values_offset(map))
                    .ok_or_else(|| {
                        LoadError::Malformed(format!(
                            "map '{map}' initialises entries but its BTF has no 'values' member"
                        ))
                    })?;
                let index = (offset - start).saturating_sub(values_offset) / 8;
                scan.declared_slots.push(DeclaredSlot {
                    map: map.clone(),
                    index: index as u32,
                    program: target,
                });
            } else if target_section.is_some() && target_section == maps_section {
                let section_name = section_names.get(&index).cloned().unwrap_or_default();
                for p in scan
                    .programs
                    .iter_mut()
                    .filter(|p| p.section == section_name)
                {
                    if !p.maps.contains(&target) {
                        p.maps.push(target.clone());
                    }
                }
            }
        }
    }
    Ok(scan)
}

/// The instructions of code section `section` that refer to undefined symbols.
fn extern_uses(
    file: &elf::File<'_>,
    section: &elf::Section<'_, '_>,
) -> Result<Vec<ExternUse>, LoadError> {
    let mut out = Vec::new();
    let Some((start, size)) = section.file_range() else {
        return Ok(out);
    };
    for (offset, reloc) in section.relocations() {
        let RelocationTarget::Symbol(i) = reloc.target() else {
            continue;
        };
        let Ok(sym) = file.symbol_by_index(i) else {
            continue;
        };
        let name = sym.name().unwrap_or_default();
        if !sym.is_undefined() || name.is_empty() {
            continue;
        }
        if offset % 8 != 0 || offset.saturating_add(8) > size {
            return Err(LoadError::Malformed(format!(
                "a relocation of extern '{name}' lies outside its section"
            )));
        }
        out.push(ExternUse {
            name: name.to_string(),
            weak: sym.is_weak(),
            insn_at: (start + offset) as usize,
        });
    }
    Ok(out)
}

/// Checks what aya 0.14 reads without bounds checks (and would panic on): function symbols
/// inside their sections, sections at address 0, calls and code addresses that stay inside
/// their target section, `.BTF.ext` records inside `.BTF.ext` with names inside the BTF
/// string table, and BTF strings as UTF-8 (the kernel quotes them in verifier logs, which
/// aya turns into a `String` with `unwrap`).
fn preflight(file: &elf::File<'_>) -> Result<(), LoadError> {
    let bad = |what: String| Err(LoadError::Malformed(what));
    for sym in file.symbols() {
        if sym.kind() != elf::SymbolKind::Text {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        if sym
            .address()
            .checked_add(sym.size())
            .is_none_or(|end| end > section.size())
        {
            return bad(format!(
                "function {} lies outside its section {}",
                sym.name().unwrap_or("?"),
                section.name().unwrap_or("?")
            ));
        }
    }
    for section in file.sections() {
        if section.address() != 0 {
            return bad(format!(
                "section {} has address {:#x}; relocatable objects have 0",
                section.name().unwrap_or("?"),
                section.address()
            ));
        }
        // aya allocates a data section's size up front (for .bss that size is only a number
        // in the header); the kernel takes far less as one map value.
        let name = section.name().unwrap_or_default();
        if [".bss", ".data", ".rodata"]
            .iter()
            .any(|p| name.starts_with(p))
            && section.size() > MAX_DATA_SECTION
        {
            return bad(format!("section {name} claims {} bytes", section.size()));
        }
        if section.kind() != SectionKind::Text {
            continue;
        }
        let code = section.data().unwrap_or_default();
        for (offset, reloc) in section.relocations() {
            let RelocationTarget::Symbol(i) = reloc.target() else {
                continue;
            };
            let Ok(sym) = file.symbol_by_index(i) else {
                return bad(format!(
                    "a relocation names symbol {} that does not exist",
                    i.0
                ));
            };
            let Some(target) = sym
                .section_index()
                .and_then(|t| file.section_by_index(t).ok())
                .filter(|t| t.kind() == SectionKind::Text)
            else {
                continue;
            };
            // A call or code address into a code section: aya computes the target from the
            // instruction's immediate without checking it.
            let imm = code
                .get(offset as usize + 4..offset as usize + 8)
                .map(|w| i64::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]])));
            let target_address = match (sym.kind(), imm) {
                (elf::SymbolKind::Text, Some(_)) => Some(sym.address()),
                (elf::SymbolKind::Section, Some(imm)) if reloc.size() == 32 => (imm + 1)
                    .checked_mul(8)
                    .and_then(|d| u64::try_from(d).ok())
                    .and_then(|d| sym.address().checked_add(d)),
                (elf::SymbolKind::Section, Some(imm)) if reloc.size() == 64 => u64::try_from(imm)
                    .ok()
                    .and_then(|d| sym.address().checked_add(d)),
                _ => None,
            };
            if target_address.is_none_or(|a| a > target.size()) {
                return bad(format!(
                    "a relocation at {offset:#x} in {} points outside {}",
                    section.name().unwrap_or("?"),
                    target.name().unwrap_or("?")
                ));
            }
        }
    }
    let Some(btf) = file.section_by_name(".BTF") else {
        return Ok(());
    };
    let btf = btf
        .data()
        .map_err(|e| LoadError::Malformed(e.to_string()))?;
    let word = |b: &[u8], at: usize| -> Option<usize> {
        b.get(at..at + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    let strings = (|| {
        let hdr = word(btf, 4)?;
        let (off, len) = (word(btf, 16)?, word(btf, 20)?);
        btf.get(hdr.checked_add(off)?..hdr.checked_add(off)?.checked_add(len)?)
    })();
    let Some(strings) = strings else {
        return bad(".BTF: the string table lies outside the section".into());
    };
    if std::str::from_utf8(strings).is_err() {
        return bad(".BTF: the string table is not UTF-8".into());
    }
    let Some(ext) = file.section_by_name(".BTF.ext") else {
        return Ok(());
    };
    let ext = ext
        .data()
        .map_err(|e| LoadError::Malformed(e.to_string()))?;
    let Some(hdr) = word(ext, 4) else {
        return bad(".BTF.ext: truncated header".into());
    };
    // func_info, line_info and (with a long enough header) CO-RE relocations.
    let parts: &[usize] = if hdr >= 32 { &[8, 16, 24] } else { &[8, 16] };
    for &field in parts {
        let (Some(off), Some(len)) = (word(ext, field), word(ext, field + 4)) else {
            return bad(".BTF.ext: truncated header".into());
        };
        let Some(data) = hdr
            .checked_add(off)
            .and_then(|start| ext.get(start..start.checked_add(len)?))
        else {
            return bad(".BTF.ext: a record table lies outside the section".into());
        };
        if data.is_empty() {
            continue;
        }
        let Some(rec_size) = word(data, 0).filter(|&r| r > 0) else {
            return bad(".BTF.ext: bad record size".into());
        };
        let data = &data[4..];
        let mut at = 0;
        while at + 8 < data.len() {
            let (Some(name), Some(count)) = (word(data, at), word(data, at + 4)) else {
                break;
            };
            at += 8;
            let end = count.checked_mul(rec_size).and_then(|n| n.checked_add(at));
            if name >= strings.len() || end.is_none_or(|end| end > data.len()) {
                return bad(".BTF.ext: a record runs past the section or names no string".into());
            }
            at = end.unwrap_or(data.len());
        }
    }
    Ok(())
}

fn is_code_section(file: &elf::File<'_>, index: elf::SectionIndex) -> bool {
    file.section_by_index(index)
        .is_ok_and(|s| s.kind() == SectionKind::Text)
}
