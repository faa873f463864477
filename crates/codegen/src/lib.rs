//! The third stage: typed probes ([`sema::Analysis`]) → BPF programs in an
//! [`object::ObjectFile`].
//!
//! Lowering walks the HIR and emits [`object::Insn`]s against labels ([`emitter`]), keeping
//! expression temporaries in callee-saved registers and frame slots ([`frame`]). Every
//! instruction remembers the span it came from, so a verifier complaint about instruction N
//! can be shown as a script line.

mod dispatch;
mod emitter;
mod expr;
mod frame;
mod join;
mod lower;
mod maps;
mod search;
mod stacks;
mod tuples;
mod user;

pub use stacks::{stack_map_name, PROCESS_MAP};

use object::insn::Insn;
use object::{map_type, Function, MapDef, ObjectFile, Program};
use sema::hir::Attach;
use sema::Analysis;
use syntax::{Diagnostic, Span};

/// Index of the ring buffer that carries printf and exit records to user space.
pub const MAP_EVENTS: u32 = 0;
/// Index of the one-entry array holding values user space sets before start (start time).
pub const MAP_GLOBALS: u32 = 1;
/// Index of the callback `len(@m)` passes to `bpf_for_each_map_elem`.
pub const FUNC_LEN_CALLBACK: u32 = 0;
/// Object function index of the first `for ($kv : @map)` callback.
const FIRST_CALLBACK: u32 = FUNC_LEN_CALLBACK + 1;
/// Index of the first `@map`; map `i` of the analysis is object map `MAP_USER_BASE + i`.
pub const MAP_USER_BASE: u32 = 2;
/// The array of syscall names `syscall_name()` reads (`sema::SYSCALL_NAME_LEN` bytes per
/// syscall number), filled by the runtime; right after the script's maps when used.
pub const SYSCALL_NAMES_MAP: &str = "syscall_names";
/// The per-CPU array holding the buffers of probes whose frames outgrow the BPF stack (their
/// words stay on the stack; see `frame`), one entry per such probe; last among the maps.
pub const SCRATCH_MAP: &str = "scratch";
/// The map index scratch-area lookups carry until `compile` knows where the map goes.
const MAP_SCRATCH_PLACEHOLDER: u32 = u32::MAX;
/// Slots in a syscall program array: above every x86-64 syscall number.
pub const SYSCALL_TABLE_SIZE: u32 = 1024;
/// Ring buffer size for scripts that print (printf, join, ...): 8 MiB, enough for a
/// million-line flood to reach user space without drops here (`scripts/bench`). A power-of-two
/// number of pages, as the kernel requires.
pub const EVENTS_BYTES: u32 = 8 << 20;
/// Ring buffer size for scripts whose only records are rare ones (`exit()`, map commands):
/// a small ring keeps start-up fast and memory low.
pub const QUIET_EVENTS_BYTES: u32 = 256 << 10;

/// A compiled program beside its object entry: where it attaches and the span of every slot.
#[derive(Clone, Debug)]
pub struct CompiledProgram {
    pub attach: Attach,
    /// The tracefs event id, for tracepoints.
    pub tracepoint_id: Option<u32>,
    /// For raw tracepoints: the vmlinux BTF id that lets the runtime load them as `tp_btf`.
    pub attach_btf_id: Option<u32>,
    /// For a syscall dispatcher: the object map index of its program array.
    pub prog_array: Option<u32>,
    /// The function/program name inside the object.
    pub name: String,
    pub slot_spans: Vec<Span>,
}

#[derive(Clone, Debug)]
pub struct Compiled {
    pub object: ObjectFile,
    /// In the same order as `object.programs`.
    pub programs: Vec<CompiledProgram>,
}

/// Layout of the one `globals` value: a block of [`GLOBALS_SIZE`] bytes holding the start
/// time (`elapsed`) and `cpid`, then one block of the same layout per probe whose counter
/// words count what that probe lost in the kernel (user space reports them at exit, per
/// probe). The counters' offsets below are within a block.
pub const GLOBALS_START_NS: i16 = 0;
/// Map updates that failed (a map was full).
pub const GLOBALS_MAP_FULL: i16 = 8;
/// Event records dropped because the ring buffer was full.
pub const GLOBALS_LOST_EVENTS: i16 = 16;
/// Strings `str()` read that filled their buffer, so were probably cut short.
pub const GLOBALS_TRUNCATED_STRINGS: i16 = 24;
/// `str()` reads that failed (the string reads as "").
pub const GLOBALS_FAILED_READS: i16 = 32;
/// Compound map updates given up after [`CMPXCHG_ATTEMPTS`] lost races with other CPUs.
pub const GLOBALS_CONTENDED: i16 = 40;
/// Stacks `bpf_get_stackid` could not store (another stack in the hash bucket, no memory).
pub const GLOBALS_LOST_STACKS: i16 = 48;
/// The pid of the `-c` command (`cpid`), set by user space before the command runs.
pub const GLOBALS_CPID: i16 = 56;
pub const GLOBALS_SIZE: u32 = 64;

/// Bytes of the `globals` value of a script with `probes` probes.
pub fn globals_value_size(probes: usize) -> u32 {
    GLOBALS_SIZE * (1 + probes as u32)
}

/// Where probe `probe`'s copy of loss counter `counter` is in the `globals` value.
pub fn loss_counter_offset(probe: usize, counter: i16) -> usize {
    GLOBALS_SIZE as usize * (1 + probe) + counter as usize
}
/// How often a compare-and-exchange update retries before it counts itself as lost.
pub const CMPXCHG_ATTEMPTS: i32 = 64;

/// The object name of `@name`: `AT_name` (`AT_` for `@`), a C identifier as BTF requires.
pub fn map_symbol(name: &str) -> String {
    format!("AT_{name}")
}

/// A C identifier naming the program, unique within the object.
fn program_name(attach: &Attach, index: usize) -> String {
    let base = match attach {
        Attach::Begin => "begin".to_string(),
        Attach::End => "end".to_string(),
        Attach::Tracepoint { name, .. } => name.clone(),
        Attach::Interval { .. } => "interval".to_string(),
        Attach::PerfEvent { probe, .. } => probe.replace(':', "_"),
        Attach::RawTracepoint { name } => format!("rt_{name}"),
        Attach::Syscall { enter, name, .. } => {
            format!("sys_{}_{name}", if *enter { "enter" } else { "exit" })
        }
        Attach::SyscallDispatcher { enter } => {
            format!("sys_{}_dispatch", if *enter { "enter" } else { "exit" })
        }
        Attach::SyscallSet { enter, .. } => {
            format!("sys_{}_set", if *enter { "enter" } else { "exit" })
        }
        Attach::User(u) => {
            let stem = std::path::Path::new(&u.binary)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Kernel program names keep 15 characters: the function first.
            let target = u.target.rsplit(':').next().unwrap_or_default();
            format!("{target}_{stem}")
        }
    };
    let clean: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{clean}_{index}")
}

/// Compiles every probe. Errors (e.g. a probe needing more than 512 bytes of stack) point
/// at the probe.
pub fn compile(analysis: &Analysis) -> Result<Compiled, Vec<Diagnostic>> {
    let mut programs = Vec::new();
    let mut compiled = Vec::new();
    let mut errors = Vec::new();
    let mut uses_shared_functions = false;
    let mut callbacks: Vec<Function> = Vec::new();
    // Sizes of the scratch frames of the probes that do not fit the BPF stack.
    let mut scratch_sizes: Vec<u32> = Vec::new();
    for (index, probe) in analysis.probes.iter().enumerate() {
        let name = program_name(&probe.attach, index);
        let lower = |scratch_entry| {
            let mut lowering = lower::Lowering::new(
                probe,
                analysis,
                FIRST_CALLBACK + callbacks.len() as u32,
                &name,
                scratch_entry,
            );
            lowering.loss_counters = loss_counter_offset(index, 0) as i32;
            lowering.probe(probe);
            lowering
        };
        let mut lowering = lower(None);
        if lowering.frame.overflow.is_some() {
            lowering = lower(Some(scratch_sizes.len() as u32));
            scratch_sizes.push(lowering.scratch_size);
        }
        if let Some(needed) = lowering.frame.overflow {
            errors.push(
                Diagnostic::error(
                    probe.span,
                    format!(
                        "this probe needs {needed} bytes of frame; beetrace allows {} \
                         (the kernel's limit on a per-CPU scratch value)",
                        frame::SCRATCH_LIMIT
                    ),
                )
                .with_hint("use fewer or shorter strings (`str(p, len)`, `max_strlen`)"),
            );
            continue;
        }
        uses_shared_functions |= lowering.uses_shared_functions;
        callbacks.append(&mut lowering.callbacks);
        let (insns, slot_spans) = lowering.em.finish();
        programs.push(Program {
            name: name.clone(),
            section: probe.attach.section(),
            insns,
        });
        compiled.push(CompiledProgram {
            attach: probe.attach.clone(),
            tracepoint_id: probe.tracepoint_id,
            attach_btf_id: probe.attach_btf_id,
            prog_array: None,
            name,
            slot_spans,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The syscall name table follows the script's maps and the stack maps, where
    // `syscall_name()` found it.
    let internal = stacks::InternalMaps::of(analysis);
    let names_index = internal.syscall_names;
    let uses_names = programs
        .iter()
        .flat_map(|p| &p.insns)
        .chain(callbacks.iter().flat_map(|f| &f.insns))
        .any(|i| matches!(i, Insn::LdMap { map, .. } if map.0 == names_index));
    let mut dispatch_maps = Vec::new();
    if uses_names {
        dispatch_maps.push(MapDef {
            name: SYSCALL_NAMES_MAP.into(),
            map_type: map_type::ARRAY,
            key_size: 4,
            value_size: sema::SYSCALL_NAME_LEN,
            max_entries: SYSCALL_TABLE_SIZE,
            flags: 0,
        });
    }
    // One dispatcher and program array per syscall direction in use.
    for enter in [true, false] {
        if !compiled
            .iter()
            .any(|p: &CompiledProgram| matches!(p.attach, Attach::Syscall { enter: e, .. } if e == enter))
        {
            continue;
        }
        let map_index = names_index + dispatch_maps.len() as u32;
        dispatch_maps.push(MapDef {
            name: format!("sys_{}_progs", if enter { "enter" } else { "exit" }),
            map_type: map_type::PROG_ARRAY,
            key_size: 4,
            value_size: 4,
            max_entries: SYSCALL_TABLE_SIZE,
            flags: 0,
        });
        let attach = Attach::SyscallDispatcher { enter };
        let name = program_name(&attach, programs.len());
        let insns = dispatch::dispatcher(enter, map_index);
        let slots = insns.iter().map(|i| i.slots()).sum();
        programs.push(Program {
            name: name.clone(),
            section: attach.section(),
            insns,
        });
        compiled.push(CompiledProgram {
            attach,
            tracepoint_id: None,
            attach_btf_id: None,
            name,
            slot_spans: vec![Span::default(); slots],
            prog_array: Some(map_index),
        });
    }
    let maps = vec![
        MapDef {
            name: "events".into(),
            map_type: map_type::RINGBUF,
            key_size: 0,
            value_size: 0,
            max_entries: if analysis.printfs.is_empty() {
                QUIET_EVENTS_BYTES
            } else {
                EVENTS_BYTES
            },
            flags: 0,
        },
        MapDef {
            name: "globals".into(),
            map_type: map_type::ARRAY,
            key_size: 4,
            value_size: globals_value_size(analysis.probes.len()),
            max_entries: 1,
            flags: 0,
        },
    ];
    let mut maps = maps;
    for info in &analysis.maps {
        maps.push(MapDef {
            name: map_symbol(&info.name),
            map_type: if info.value.per_cpu() {
                map_type::PERCPU_HASH
            } else {
                map_type::HASH
            },
            key_size: info.key_size(),
            value_size: info.value.size(),
            max_entries: info.max_entries,
            flags: 0,
        });
    }
    maps.extend(stacks::map_defs(analysis));
    maps.extend(dispatch_maps);
    if !scratch_sizes.is_empty() {
        let index = maps.len() as u32;
        maps.push(MapDef {
            name: SCRATCH_MAP.into(),
            map_type: map_type::PERCPU_ARRAY,
            key_size: 4,
            value_size: scratch_sizes.iter().copied().max().unwrap_or(8),
            max_entries: scratch_sizes.len() as u32,
            flags: 0,
        });
        for insn in programs.iter_mut().flat_map(|p| &mut p.insns) {
            if let Insn::LdMap { map, .. } = insn {
                if map.0 == MAP_SCRATCH_PLACEHOLDER {
                    map.0 = index;
                }
            }
        }
    }
    Ok(Compiled {
        object: ObjectFile {
            license: "GPL".into(),
            maps,
            programs,
            functions: if uses_shared_functions || !callbacks.is_empty() {
                // The shared functions have fixed numbers, so callbacks know theirs before it
                // is known which shared ones are used; linking drops what is unused.
                let mut functions = vec![Function {
                    name: "beetrace_len_callback".into(),
                    params: 4,
                    insns: maps::len_callback_function(),
                }];
                functions.append(&mut callbacks);
                functions
            } else {
                Vec::new()
            },
        },
        programs: compiled,
    })
}
