//! The BPF stack frame (512 bytes below r10) and the temporaries expressions evaluate into.
//!
//! Temporaries form a stack: the first three live in the callee-saved registers r7–r9, so
//! they survive helper calls; deeper ones spill to frame slots. r0–r5 are only ever used
//! inside a single lowering step, between calls.
//!
//! A probe whose frame would not fit in 512 bytes (long strings, big printf records) gets a
//! scratch frame instead: an entry of a per-CPU array, looked up once on entry and addressed
//! through r7, which then no longer holds a temporary. The kernel does not run a program
//! again on the CPU it is already running on (tracepoints and perf events guard against
//! recursion), so one entry per probe and CPU is never shared by two live runs.

use object::insn::{Insn, Size, Src};
use object::Reg;

use crate::emitter::Emitter;

pub(crate) const STACK_LIMIT: i32 = 512;
/// The largest frame a probe may keep in per-CPU scratch memory: the kernel's limit on a
/// per-CPU map value (`PCPU_MIN_UNIT_SIZE`), less a word of slack.
pub(crate) const SCRATCH_LIMIT: i32 = 32 * 1024 - 8;
const TEMP_REGS: [Reg; 3] = [Reg::R7, Reg::R8, Reg::R9];
/// The register a scratch frame is addressed from; temporaries then use the other two.
pub(crate) const SCRATCH_BASE: Reg = Reg::R7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Temp {
    Reg(Reg),
    Slot(i16),
}

pub(crate) struct Frame {
    /// Bytes used so far (the next slot ends at `-used`).
    used: i32,
    /// The most bytes ever used at once: the size of a scratch frame.
    pub(crate) peak: i32,
    limit: i32,
    temps: &'static [Reg],
    depth: usize,
    spill_slots: Vec<i16>,
    pub(crate) overflow: Option<i32>,
}

impl Frame {
    /// A frame on the 512-byte BPF stack.
    pub(crate) fn new() -> Frame {
        Frame::with_limit(STACK_LIMIT, &TEMP_REGS)
    }

    /// A frame in per-CPU scratch memory, addressed from [`SCRATCH_BASE`].
    pub(crate) fn scratch() -> Frame {
        Frame::with_limit(SCRATCH_LIMIT, &TEMP_REGS[1..])
    }

    fn with_limit(limit: i32, temps: &'static [Reg]) -> Frame {
        Frame {
            used: 0,
            peak: 0,
            limit,
            temps,
            depth: 0,
            spill_slots: Vec::new(),
            overflow: None,
        }
    }

    /// Reserves `size` bytes, 8-aligned; returns the offset from r10.
    pub(crate) fn alloc(&mut self, size: u32) -> i16 {
        let size = (size as i32 + 7) / 8 * 8;
        self.used += size;
        self.peak = self.peak.max(self.used);
        if self.used > self.limit {
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
        if d < self.temps.len() {
            return Temp::Reg(self.temps[d]);
        }
        let i = d - self.temps.len();
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
                src: em.base,
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
            dst: em.base,
            off,
            src: Src::Reg(from),
        }),
    }
}
