//! Writes the ELF relocatable object that both our runtime and libbpf-based tools load:
//! one section per program kind (`tracepoint/cat/name`, `raw_tp`, `perf_event`), a `.maps`
//! section described by BTF (and `.bss` for the one map used as data), a `license` section,
//! and `R_BPF_64_64` relocations on every `ld_imm64` that names a map.

use elf::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use elf::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

use crate::btf::{map_def_size, DATA_SECTION};
use crate::insn::{encode_all, Insn};
use crate::ObjectFile;

const R_BPF_64_64: u32 = 1;
/// The relocation clang emits on a call of a function in `.text`.
const R_BPF_64_32: u32 = 10;

#[derive(Debug, thiserror::Error)]
#[error("cannot write the ELF object: {0}")]
pub struct WriteError(String);

/// Appends `insns` to `section` under a global function symbol `name`; returns the symbol and
/// the code's offset in the section.
fn add_code(out: &mut Object, section: SectionId, name: &str, insns: &[Insn]) -> (SymbolId, u64) {
    let mut bytes = encode_all(insns);
    // A data reference carries its offset in the first immediate, where libbpf adds the
    // symbol's offset and moves the sum to the second one (the kernel's place for it).
    let mut at = 0;
    for insn in insns {
        if let Insn::LdMapValue { off, .. } = insn {
            bytes[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
            bytes[at + 12..at + 16].copy_from_slice(&0i32.to_le_bytes());
        }
        at += insn.slots() * 8;
    }
    let start = out.append_section_data(section, &bytes, 8);
    let symbol = out.add_symbol(Symbol {
        name: name.as_bytes().to_vec(),
        value: start,
        size: bytes.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    });
    (symbol, start)
}

pub(crate) fn write(obj: &ObjectFile) -> Result<Vec<u8>, WriteError> {
    let mut out = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);

    let license = out.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    let mut text = obj.license.as_bytes().to_vec();
    text.push(0);
    out.append_section_data(license, &text, 1);

    // Each map's symbol: in `.maps`, or for the data map (read and written in place through
    // `LdMapValue`), in `.bss`, which libbpf turns into a one-entry array of that size.
    let mut map_symbols: Vec<Option<SymbolId>> = vec![None; obj.maps.len()];
    let data_maps = obj.data_maps();
    if data_maps.len() > 1 {
        return Err(WriteError(format!(
            "{} maps are used as data; an object has one `.bss`",
            data_maps.len()
        )));
    }
    if let Some(&i) = data_maps.first() {
        let map = obj.maps.get(i).ok_or_else(|| {
            WriteError(format!(
                "an instruction names map #{i}, which does not exist"
            ))
        })?;
        let bss = out.add_section(
            Vec::new(),
            DATA_SECTION.as_bytes().to_vec(),
            SectionKind::UninitializedData,
        );
        let offset = out.append_section_bss(bss, map.value_size as u64, 8);
        map_symbols[i] = Some(out.add_symbol(Symbol {
            name: map.name.as_bytes().to_vec(),
            value: offset,
            size: map.value_size as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(bss),
            flags: SymbolFlags::None,
        }));
    }
    if obj.maps.len() > data_maps.len() {
        let maps = out.add_section(Vec::new(), b".maps".to_vec(), SectionKind::Data);
        for (i, map) in obj.maps.iter().enumerate() {
            if data_maps.contains(&i) {
                continue;
            }
            let size = map_def_size(map);
            let offset = out.append_section_data(maps, &vec![0; size], 8);
            map_symbols[i] = Some(out.add_symbol(Symbol {
                name: map.name.as_bytes().to_vec(),
                value: offset,
                size: size as u64,
                kind: SymbolKind::Data,
                scope: SymbolScope::Dynamic,
                weak: false,
                section: SymbolSection::Section(maps),
                flags: SymbolFlags::None,
            }));
        }
    }

    // Functions first, so programs can name their symbols in call relocations.
    let mut func_symbols: Vec<SymbolId> = Vec::new();
    let mut func_offsets: Vec<u64> = Vec::new();
    let mut prog_offsets: Vec<u64> = Vec::new();
    let mut bodies: Vec<(SectionId, u64, &[Insn])> = Vec::new();
    if !obj.functions.is_empty() {
        let text = out.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        for f in &obj.functions {
            let (symbol, start) = add_code(&mut out, text, &f.name, &f.insns);
            func_symbols.push(symbol);
            bodies.push((text, start, &f.insns));
            func_offsets.push(start);
        }
    }

    let mut sections: Vec<(String, SectionId)> = Vec::new();
    for prog in &obj.programs {
        let section = match sections.iter().find(|(name, _)| *name == prog.section) {
            Some((_, id)) => *id,
            None => {
                let id = out.add_section(
                    Vec::new(),
                    prog.section.as_bytes().to_vec(),
                    SectionKind::Text,
                );
                sections.push((prog.section.clone(), id));
                id
            }
        };
        let (_, start) = add_code(&mut out, section, &prog.name, &prog.insns);
        bodies.push((section, start, &prog.insns));
        prog_offsets.push(start);
    }

    for (section, start, insns) in bodies {
        let mut slot = 0u64;
        for insn in insns {
            let target = match insn {
                Insn::LdMap { map, .. } | Insn::LdMapValue { map, .. } => Some((
                    map_symbols.get(map.0 as usize).copied().flatten(),
                    R_BPF_64_64,
                    format!("map #{}", map.0),
                )),
                Insn::CallFunc { func } => Some((
                    func_symbols.get(func.0 as usize).copied(),
                    R_BPF_64_32,
                    format!("function #{}", func.0),
                )),
                // A function's address in an ld_imm64, as clang emits for callbacks.
                Insn::LdFunc { func, .. } => Some((
                    func_symbols.get(func.0 as usize).copied(),
                    R_BPF_64_64,
                    format!("function #{}", func.0),
                )),
                _ => None,
            };
            if let Some((symbol, r_type, what)) = target {
                let symbol = symbol.ok_or_else(|| {
                    WriteError(format!("an instruction names {what}, which does not exist"))
                })?;
                out.add_relocation(
                    section,
                    Relocation {
                        offset: start + slot * 8,
                        symbol,
                        addend: 0,
                        flags: RelocationFlags::Elf { r_type },
                    },
                )
                .map_err(|e| WriteError(e.to_string()))?;
            }
            slot += insn.slots() as u64;
        }
    }

    let types = crate::btf::object_btf(obj);
    let btf = out.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::Metadata);
    out.append_section_data(btf, &types.blob, 4);
    let ext = crate::btf::object_btf_ext(obj, &types, &prog_offsets, &func_offsets);
    let btf_ext = out.add_section(Vec::new(), b".BTF.ext".to_vec(), SectionKind::Metadata);
    out.append_section_data(btf_ext, &ext, 4);

    out.write().map_err(|e| WriteError(e.to_string()))
}
