//! The BPF stack frame (512 bytes below r10) and the temporaries expressions evaluate into.
//!
//! Temporaries form a stack: the first three live in the callee-saved registers r7–r9, so
//! they survive helper calls; deeper ones spill to frame slots. r0–r5 are only ever used
//! inside a single lowering step, between calls.

use object::insn::{Insn, Size, Src};
use object::Reg;

use crate::emitter::Emitter;

pub(crate) const STACK_LIMIT: i32 = 512;
const TEMP_REGS: [Reg; 3] = [Reg::R7, Reg::R8, Reg::R9];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Temp {
    Reg(Reg),
    Slot(i16),
}

pub(crate) struct Frame {
    /// Bytes used so far (the next slot ends at `-used`).
    used: i32,
    depth: usize,
    spill_slots: Vec<i16>,
    pub(crate) overflow: Option<i32>,
}

impl Frame {
    pub(crate) fn new() -> Frame {
        Frame {
            used: 0,
            depth: 0,
            spill_slots: Vec::new(),
            overflow: None,
        }
    }

    /// Reserves `size` bytes, 8-aligned; returns the offset from r10.
    pub(crate) fn alloc(&mut self, size: u32) -> i16 {
        let size = (size as i32 + 7) / 8 * 8;
        self.used += size;
        if self.used > STACK_LIMIT {
            self.overflow = Some(self.used);
            // Keep emitting valid offsets; the overflow is reported once lowering ends.
            return -8;
        }
        -(self.used as i16)
    }

    /// The current allocation point, to free everything allocated after it with
    /// [`Frame::release`] (per statement, so sibling statements share stack space).
    pub(crate) fn mark(&self) -> i32 {
        self.used
    }

    pub(crate) fn release(&mut self, mark: i32) {
        self.used = mark;
        self.spill_slots.retain(|&off| -(off as i32) <= mark);
    }

    pub(crate) fn push_temp(&mut self) -> Temp {
        let d = self.depth;
        self.depth += 1;
        if d < TEMP_REGS.len() {
            return Temp::Reg(TEMP_REGS[d]);
        }
        let i = d - TEMP_REGS.len();
        if i >= self.spill_slots.len() {
            let slot = self.alloc(8);
            self.spill_slots.push(slot);
        }
        Temp::Slot(self.spill_slots[i])
    }

    /// Releases the most recent temporary.
    pub(crate) fn pop_temp(&mut self) {
        self.depth -= 1;
    }
}

/// The register holding `t`'s value, loading a spilled one into `scratch`.
pub(crate) fn read(em: &mut Emitter, t: Temp, scratch: Reg) -> Reg {
    match t {
        Temp::Reg(r) => r,
        Temp::Slot(off) => {
            em.emit(Insn::Load {
                size: Size::DW,
                dst: scratch,
                src: Reg::FP,
                off,
            });
            scratch
        }
    }
}

/// Stores `from` into `t`.
pub(crate) fn write(em: &mut Emitter, t: Temp, from: Reg) {
    match t {
        Temp::Reg(r) => {
            if r != from {
                em.emit(Insn::mov64(r, from));
            }
        }
        Temp::Slot(off) => em.emit(Insn::Store {
            size: Size::DW,
            dst: Reg::FP,
            off,
            src: Src::Reg(from),
        }),
    }
}
