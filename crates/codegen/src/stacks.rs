//! `kstack`/`ustack`, `ksym()` and `usym()` values, and the maps behind them.
//!
//! A stack value is what `bpf_get_stackid` returns — the id of the frames it stored in a
//! stack-trace map, negative on failure — plus, for user stacks, the pid whose addresses
//! they are. `-EFAULT` means there were no frames (a `kstack` taken while the CPU ran user
//! code); any other failure (a hash bucket holding another stack, `-EEXIST`) loses the
//! stack and is counted in `globals`, reported at exit like the other losses.
//!
//! User addresses are only meaningful with the process's memory map, which is gone once it
//! exits. So the first time a program sees a pid it says so to user space (an event record
//! [`sema::NEW_PROCESS_EVENT_ID`]), which saves the map while the process is still there.
//! An LRU hash of pids already announced keeps that to once per process.

use object::helpers::Helper;
use object::insn::{Insn, JmpOp, Size, Src};
use object::{map_type, MapDef, MapRef, Reg};
use sema::types::StackMap;
use sema::Analysis;

use crate::frame::read;
use crate::lower::Lowering;
use crate::{GLOBALS_LOST_STACKS, MAP_USER_BASE};

/// `BPF_F_USER_STACK`: walk the user stack instead of the kernel's.
const BPF_F_USER_STACK: i32 = 1 << 8;
/// `BPF_F_STACK_BUILD_ID` (a map flag): store (build id, file offset) frames.
const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
/// `BPF_NOEXIST`: insert only.
const BPF_NOEXIST: i32 = 1;
const EFAULT: i32 = 14;
/// Processes remembered as announced; the least recently seen is forgotten first (and
/// announced again if it shows up again, which costs one more look at its memory map).
pub const PROCESS_MAP_ENTRIES: u32 = 8192;
/// The object name of the map of announced pids.
pub const PROCESS_MAP: &str = "stack_pids";

/// Where the maps that follow the script's `@maps` sit in the object: the stack-trace
/// maps, then the announced-pids map when user addresses are recorded, then the syscall
/// name table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InternalMaps {
    stacks: u32,
    processes: Option<u32>,
    pub(crate) syscall_names: u32,
}

impl InternalMaps {
    pub(crate) fn of(analysis: &Analysis) -> InternalMaps {
        let stacks = MAP_USER_BASE + analysis.maps.len() as u32;
        let after_stacks = stacks + analysis.stack_maps.len() as u32;
        let processes = analysis.user_addresses.then_some(after_stacks);
        InternalMaps {
            stacks,
            processes,
            syscall_names: after_stacks + processes.is_some() as u32,
        }
    }
}

/// The object name of a stack-trace map: `kstack_127`, `ustack_bid_20`.
pub fn stack_map_name(m: StackMap) -> String {
    format!(
        "{}stack_{}{}",
        if m.user { 'u' } else { 'k' },
        if m.build_id { "bid_" } else { "" },
        m.limit
    )
}

/// The definitions of the maps [`InternalMaps`] places, in order (syscall names aside).
pub(crate) fn map_defs(analysis: &Analysis) -> Vec<MapDef> {
    let mut defs: Vec<MapDef> = analysis
        .stack_maps
        .iter()
        .map(|&m| MapDef {
            name: stack_map_name(m),
            map_type: map_type::STACK_TRACE,
            key_size: 4,
            value_size: m.frame_size() * m.limit as u32,
            max_entries: analysis.stack_map_entries.max(1),
            flags: if m.build_id { BPF_F_STACK_BUILD_ID } else { 0 },
        })
        .collect();
    if analysis.user_addresses {
        defs.push(MapDef {
            name: PROCESS_MAP.into(),
            map_type: map_type::LRU_HASH,
            key_size: 4,
            value_size: 8,
            max_entries: PROCESS_MAP_ENTRIES,
            flags: 0,
        });
    }
    defs
}

impl Lowering<'_> {
    /// Records the current stack into stack-trace map `map` and writes the value to the
    /// frame at `dst`: the id (8 bytes), then for user stacks the pid and 4 zero bytes.
    pub(crate) fn stack_into(&mut self, map: usize, dst: i16) {
        let m = self.stack_maps[map];
        let ctx = self.ctx();
        self.em.emit(Insn::mov64(Reg::R1, ctx));
        self.em.emit(Insn::LdMap {
            dst: Reg::R2,
            map: MapRef(self.internal.stacks + map as u32),
        });
        let flags = if m.user { BPF_F_USER_STACK } else { 0 };
        self.em.emit(Insn::mov64_imm(Reg::R3, flags));
        self.call(Helper::GetStackid);
        self.em.store_fp(Size::DW, dst, Src::Reg(Reg::R0));
        let kept = self.em.label();
        self.em.jump_if(JmpOp::Jsge, Reg::R0, Src::Imm(0), kept);
        self.em
            .jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(-EFAULT), kept);
        self.count_in_globals(GLOBALS_LOST_STACKS);
        self.em.bind(kept);
        if m.user {
            self.current_process_into(dst + 8);
        }
    }

    /// `ksym(addr)`: the address, 8 bytes at `dst`.
    pub(crate) fn ksym_into(&mut self, addr: &sema::hir::Expr, dst: i16) {
        let t = self.expr(addr);
        let r = read(&mut self.em, t, Reg::R0);
        self.em.store_fp(Size::DW, dst, Src::Reg(r));
        self.frame.pop_temp();
    }

    /// `usym(addr)`: the address, then the pid and 4 zero bytes.
    pub(crate) fn usym_into(&mut self, addr: &sema::hir::Expr, dst: i16) {
        self.ksym_into(addr, dst);
        self.current_process_into(dst + 8);
    }

    /// Writes the current pid and 4 zero bytes at `dst`, announcing the pid to user space
    /// the first time this object sees it.
    fn current_process_into(&mut self, dst: i16) {
        self.call(Helper::GetCurrentPidTgid);
        self.em
            .emit(Insn::alu64(object::insn::AluOp::Rsh, Reg::R0, Src::Imm(32)));
        self.em.store_fp(Size::DW, dst, Src::Reg(Reg::R0));
        let Some(processes) = self.internal.processes else {
            return;
        };
        // Key and value: the pid (the value is not read); the record: id, pid.
        let slot = self.frame.alloc(24);
        self.em.store_fp(Size::DW, slot, Src::Reg(Reg::R0));
        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: MapRef(processes),
        });
        self.em.fp_addr(Reg::R2, slot);
        self.em.fp_addr(Reg::R3, slot);
        self.em.emit(Insn::mov64_imm(Reg::R4, BPF_NOEXIST));
        self.call(Helper::MapUpdateElem);
        let known = self.em.label();
        self.em.jump_if(JmpOp::Jne, Reg::R0, Src::Imm(0), known);
        // The record {NEW_PROCESS_EVENT_ID, pid} after the key.
        self.em.load_fp(Size::DW, Reg::R0, slot);
        self.em.store_fp(Size::DW, slot + 16, Src::Reg(Reg::R0));
        self.em.store_fp(
            Size::DW,
            slot + 8,
            Src::Imm(sema::NEW_PROCESS_EVENT_ID as i64 as i32),
        );
        self.output(slot + 8, 16);
        self.em.bind(known);
    }
}
