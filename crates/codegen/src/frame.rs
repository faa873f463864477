//! The BPF stack frame (512 bytes below r10) and the temporaries expressions evaluate into.
//!
//! Temporaries form a stack: the first three live in the callee-saved registers r7–r9, so
//! they survive helper calls; deeper ones spill to frame slots. r0–r5 are only ever used
//! inside a single lowering step, between calls.
//!
//! A probe whose frame would not fit in 512 bytes (long strings, big printf records) gets a
//! split frame: words (integers, temporaries, loop counters) stay on the BPF stack, where
//! the verifier tracks their values (a bounded loop needs that), and buffers go to a per-CPU
//! scratch area, an entry of a per-CPU array looked up once on entry and addressed through
//! r7, which then no longer holds a temporary. Offsets tell the two apart: stack slots are
//! within [`STACK_LIMIT`] bytes below r10, scratch slots further down, relative to a base
//! [`STACK_LIMIT`] bytes past the end of the scratch area. The kernel does not run a program
//! again on the CPU it is already running on (tracepoints and perf events guard against
//! recursion), so one entry per probe and CPU is never shared by two live runs.

use object::insn::{Insn, Size, Src};
use object::Reg;

use crate::emitter::Emitter;

pub(crate) const STACK_LIMIT: i32 = 512;
/// The most a probe may keep in per-CPU scratch memory: the kernel's limit on a per-CPU map
/// value (`PCPU_MIN_UNIT_SIZE`, 32 KiB), less what keeps every offset an `i16`.
pub(crate) const SCRATCH_LIMIT: i32 = 32 * 1024 - STACK_LIMIT - 8;
/// Stack bytes a split frame keeps for itself at the top: the scratch entry's key and the
/// word through which callbacks receive the scratch base.
pub(crate) const SPLIT_RESERVED: i32 = 16;
const TEMP_REGS: [Reg; 3] = [Reg::R7, Reg::R8, Reg::R9];
/// The register a scratch area is addressed from; temporaries then use the other two.
pub(crate) const SCRATCH_BASE: Reg = Reg::R7;

/// Whether frame offset `off` is in the scratch area of a split frame.
pub(crate) fn in_scratch(off: i16) -> bool {
    (off as i32) < -STACK_LIMIT
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Temp {
    Reg(Reg),
    Slot(i16),
}

/// Where allocation stood, to free what came after with [`Frame::release`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    stack: i32,
    scratch: i32,
}

pub(crate) struct Frame {
    /// Stack bytes used so far (the next slot ends at `-stack`).
    stack: i32,
    /// Scratch bytes used so far; `None` for a frame with no scratch area.
    scratch: Option<i32>,
    /// The most scratch bytes ever used at once: the size of the scratch area.
    pub(crate) scratch_peak: i32,
    temps: &'static [Reg],
    depth: usize,
    spill_slots: Vec<i16>,
    pub(crate) overflow: Option<i32>,
}

impl Frame {
    /// A frame on the 512-byte BPF stack.
    pub(crate) fn new() -> Frame {
        Frame {
            stack: 0,
            scratch: None,
            scratch_peak: 0,
            temps: &TEMP_REGS,
            depth: 0,
            spill_slots: Vec::new(),
            overflow: None,
        }
    }

    /// A split frame: words on the stack, buffers in scratch memory from [`SCRATCH_BASE`].
    pub(crate) fn split() -> Frame {
        Frame {
            stack: SPLIT_RESERVED,
            scratch: Some(0),
            temps: &TEMP_REGS[1..],
            ..Frame::new()
        }
    }

    /// Reserves `size` bytes, 8-aligned; returns the offset from the frame's base: on the
    /// stack for a frame without scratch area and, in a split frame, for a word while the
    /// stack has room.
    pub(crate) fn alloc(&mut self, size: u32) -> i16 {
        let size = (size as i32 + 7) / 8 * 8;
        match self.scratch {
            Some(used) if size > 8 || self.stack + size > STACK_LIMIT => {
                let used = used + size;
                self.scratch = Some(used);
                self.scratch_peak = self.scratch_peak.max(used);
                if used > SCRATCH_LIMIT {
                    self.overflow = Some(used);
                    return -(STACK_LIMIT as i16) - 8;
                }
                -((STACK_LIMIT + used) as i16)
            }
            _ => {
                self.stack += size;
                if self.stack > STACK_LIMIT {
                    self.overflow = Some(self.stack);
                    // Keep emitting valid offsets; the overflow is reported once lowering
                    // ends.
                    return -8;
                }
                -(self.stack as i16)
            }
        }
    }

    /// Reserves `size` bytes of the scratch area for a while (a callback's own), without
    /// handing out an offset: only the area's size grows.
    pub(crate) fn reserve_scratch(&mut self, size: i32) {
        if let Some(used) = self.scratch {
            self.scratch_peak = self.scratch_peak.max(used + size);
            if used + size > SCRATCH_LIMIT {
                self.overflow = Some(used + size);
            }
        }
    }

    /// Scratch bytes in use now (0 without a scratch area).
    pub(crate) fn scratch_used(&self) -> i32 {
        self.scratch.unwrap_or(0)
    }

    /// The current allocation point, to free everything allocated after it with
    /// [`Frame::release`] (per statement, so sibling statements share frame space).
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            stack: self.stack,
            scratch: self.scratch_used(),
        }
    }

    pub(crate) fn release(&mut self, mark: Mark) {
        self.stack = mark.stack;
        if self.scratch.is_some() {
            self.scratch = Some(mark.scratch);
        }
        self.spill_slots.retain(|&off| -(off as i32) <= mark.stack);
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
                src: em.base_for(off),
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
            dst: em.base_for(off),
            off,
            src: Src::Reg(from),
        }),
    }
}
