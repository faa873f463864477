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
pub mod map_btf;

pub use elf::WriteError;
pub use insn::{FuncRef, Insn, MapRef, Reg};

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

/// A function in `.text` that programs call (`Insn::CallFunc`) or pass as a callback
/// (`Insn::LdFunc`); it ends with `exit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    /// How many arguments it takes (r1..r5), for its BTF prototype.
    pub params: u8,
    pub insns: Vec<Insn>,
}

/// Everything one compiled script consists of.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectFile {
    pub license: String,
    pub maps: Vec<MapDef>,
    pub programs: Vec<Program>,
    pub functions: Vec<Function>,
}

impl ObjectFile {
    /// The maps instructions address as data (`LdMapValue`) rather than as maps: in the
    /// ELF file they are the `.bss` section, not entries of `.maps`.
    pub fn data_maps(&self) -> Vec<usize> {
        let mut found: Vec<usize> = Vec::new();
        let insns = self
            .programs
            .iter()
            .flat_map(|p| &p.insns)
            .chain(self.functions.iter().flat_map(|f| &f.insns));
        for insn in insns {
            if let Insn::LdMapValue { map, .. } = insn {
                if !found.contains(&(map.0 as usize)) {
                    found.push(map.0 as usize);
                }
            }
        }
        found
    }

    /// The ELF bytes of this object.
    pub fn to_elf(&self) -> Result<Vec<u8>, WriteError> {
        elf::write(self)
    }

    /// The instructions of `prog` as the kernel must receive them: the functions it uses
    /// (calls and callbacks, also from within those functions) appended after it, each once,
    /// and every reference turned pc-relative. Also returns where each function starts, in
    /// slots, for the kernel's per-function BTF records. Map loads stay symbolic.
    pub fn linked(&self, prog: &Program) -> (Vec<Insn>, Vec<(usize, FuncRef)>) {
        let mut insns = prog.insns.clone();
        let mut placed: Vec<(usize, FuncRef)> = Vec::new();
        let mut i = 0;
        while i < insns.len() {
            let func = match insns[i] {
                Insn::CallFunc { func } | Insn::LdFunc { func, .. } => func,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let start = match placed.iter().find(|(_, f)| *f == func) {
                Some(&(start, _)) => start,
                None => {
                    let start = slots(&insns);
                    if let Some(f) = self.functions.get(func.0 as usize) {
                        insns.extend(f.insns.iter().copied());
                    }
                    placed.push((start, func));
                    start
                }
            };
            let at = slots(&insns[..i]);
            let off = start as i32 - at as i32 - 1;
            insns[i] = match insns[i] {
                Insn::LdFunc { dst, .. } => Insn::LdFuncPc { dst, off },
                _ => Insn::CallLocal { off },
            };
            i += 1;
        }
        (insns, placed)
    }

    /// BTF describing every program and function as a `FUNC` (what the kernel needs to
    /// accept callbacks), plus the `.maps` description. Returns the blob and, per program
    /// then per function, its `FUNC` type id.
    pub fn btf(&self) -> (Vec<u8>, Vec<u32>, Vec<u32>) {
        let b = btf::object_btf(self);
        (b.blob, b.prog_types, b.func_types)
    }

    /// An `llvm-objdump -d`-style listing of every program and function, with map, helper
    /// and function names.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        let bodies = self
            .programs
            .iter()
            .map(|p| (p.section.as_str(), p.name.as_str(), &p.insns))
            .chain(
                self.functions
                    .iter()
                    .map(|f| (".text", f.name.as_str(), &f.insns)),
            );
        // Where each body starts in its section, as the ELF writer lays them out.
        let mut offsets: std::collections::HashMap<&str, usize> = Default::default();
        for (sec, name, insns) in bodies {
            if sec != section {
                section = sec;
                out.push_str(&format!("\nDisassembly of section {section}:\n"));
            }
            let bytes = insn::encode_all(insns);
            let offset = offsets.entry(sec).or_insert(0);
            let start = *offset;
            *offset += bytes.len();
            let decoded = insn::decode(&bytes).expect("encoder output always decodes");
            let mut names = std::collections::HashMap::new();
            let mut slot = 0;
            for insn in insns.iter() {
                let name = match insn {
                    Insn::LdMap { map, .. } | Insn::LdMapValue { map, .. } => {
                        self.maps.get(map.0 as usize).map(|m| &m.name)
                    }
                    Insn::CallFunc { func } | Insn::LdFunc { func, .. } => {
                        self.functions.get(func.0 as usize).map(|f| &f.name)
                    }
                    _ => None,
                };
                if let Some(name) = name {
                    names.insert(slot, name.clone());
                }
                slot += insn.slots();
            }
            out.push_str(&format!("\n{start:016x} <{name}>:\n"));
            out.push_str(&disasm::listing(&bytes, &decoded, &|s| {
                names.get(&s).cloned()
            }));
        }
        out
    }
}

fn slots(insns: &[Insn]) -> usize {
    insns.iter().map(Insn::slots).sum()
}
