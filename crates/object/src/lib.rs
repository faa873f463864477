//! BPF programs as data: instructions ([`insn`]), their disassembly ([`disasm`]), and the ELF
//! object ([`ObjectFile`]) that codegen produces and the runtime loads.
//!
//! Invariant: this crate makes no system calls. The bytes it writes are exactly what is loaded,
//! so `--emit-elf` output, `-d` listings and the running programs never disagree.

mod btf;
pub mod disasm;
mod elf;
pub mod helpers;
pub mod insn;

pub use elf::WriteError;
pub use insn::{Insn, MapRef, Reg};

/// `BPF_MAP_TYPE_*` numbers used by beetrace.
pub mod map_type {
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PROG_ARRAY: u32 = 3;
    pub const PERF_EVENT_ARRAY: u32 = 4;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const STACK_TRACE: u32 = 7;
    pub const LRU_HASH: u32 = 9;
    pub const LRU_PERCPU_HASH: u32 = 10;
    pub const RINGBUF: u32 = 27;
}

/// A map as the object declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// The ELF symbol and BTF variable name; must be a C identifier.
    pub name: String,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

/// One BPF program: its ELF section (which tells loaders the program type and attach point)
/// and its instructions.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The function symbol, also the kernel-visible program name (truncated to 15 bytes).
    pub name: String,
    /// libbpf-style section name, e.g. `tracepoint/syscalls/sys_enter_openat`.
    pub section: String,
    pub insns: Vec<Insn>,
}

/// Everything one compiled script consists of.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectFile {
    pub license: String,
    pub maps: Vec<MapDef>,
    pub programs: Vec<Program>,
}

impl ObjectFile {
    /// The ELF bytes of this object.
    pub fn to_elf(&self) -> Result<Vec<u8>, WriteError> {
        elf::write(self)
    }

    /// An `llvm-objdump -d`-style listing of every program, with map and helper names.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for prog in &self.programs {
            if prog.section != section {
                section = &prog.section;
                out.push_str(&format!("\nDisassembly of section {section}:\n"));
            }
            let bytes = insn::encode_all(&prog.insns);
            let decoded = insn::decode(&bytes).expect("encoder output always decodes");
            let mut map_at = std::collections::HashMap::new();
            let mut slot = 0;
            for insn in &prog.insns {
                if let Insn::LdMap { map, .. } = insn {
                    if let Some(def) = self.maps.get(map.0 as usize) {
                        map_at.insert(slot, def.name.clone());
                    }
                }
                slot += insn.slots();
            }
            out.push_str(&format!("\n{:016x} <{}>:\n", 0, prog.name));
            out.push_str(&disasm::listing(&bytes, &decoded, &|s| {
                map_at.get(&s).cloned()
            }));
        }
        out
    }
}
