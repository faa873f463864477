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

    let section_names: BTreeMap<usize, String> = file
        .sections()
        .map(|s| (s.index().0, s.name().unwrap_or_default().to_string()))
        .collect();
    let maps_section = file.section_by_name(".maps").map(|s| s.index().0);

    let mut scan = Scan {
        btf,
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

fn is_code_section(file: &elf::File<'_>, index: elf::SectionIndex) -> bool {
    file.section_by_index(index)
        .is_ok_and(|s| s.kind() == SectionKind::Text)
}
