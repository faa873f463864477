//! `strcontains(haystack, needle)`: a substring search over two frame buffers.
//!
//! Both strings are NUL-terminated within their buffers (or fill them). For each start
//! position `i` of the haystack the needle is compared byte by byte. Small searches are two
//! nested bounded loops inline; the verifier walks every iteration of those, and a search of
//! more than [`INLINE_SEARCH_MAX`] position × needle-byte steps would exceed its limits, so
//! larger ones run the positions through `bpf_loop`, whose callback the verifier checks
//! once whatever the count.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, JmpOp, Size, Src};
use object::{FuncRef, Function, Reg};

use crate::emitter::{Emitter, Label};
use crate::lower::{Lowering, SCRATCH_POINTER_SLOT};

/// The largest haystack size × needle size searched by inline loops.
const INLINE_SEARCH_MAX: u32 = 2048;

/// A frame buffer: its offset from the frame base and its size.
type Buffer = (i16, u32);

// Registers of the search; no helper is called while they are live.
const POS: Reg = Reg::R1;
const IDX: Reg = Reg::R2;
const HAY_BYTE: Reg = Reg::R3;
const NEEDLE_BYTE: Reg = Reg::R4;
const AT: Reg = Reg::R5;

impl Lowering<'_> {
    /// r0 = 1 if the string in `needle` occurs in the one in `haystack`, else 0.
    pub(crate) fn find_substring(&mut self, haystack: Buffer, needle: Buffer) {
        if haystack.1.saturating_mul(needle.1) <= INLINE_SEARCH_MAX {
            self.find_substring_inline(haystack, needle);
        } else {
            self.find_substring_looped(haystack, needle);
        }
    }

    fn find_substring_inline(&mut self, haystack: Buffer, needle: Buffer) {
        let em = &mut self.em;
        let [outer, found, missing, end] = [(); 4].map(|_| em.label());
        em.emit(Insn::mov64_imm(POS, 0));
        em.bind(outer);
        em.jump_if(JmpOp::Jge, POS, Src::Imm(haystack.1 as i32), missing);
        match_at(em, haystack, needle, found, missing);
        em.emit(Insn::alu64(AluOp::Add, POS, Src::Imm(1)));
        em.goto(outer);
        em.bind(found);
        em.emit(Insn::mov64_imm(Reg::R0, 1));
        em.goto(end);
        em.bind(missing);
        em.emit(Insn::mov64_imm(Reg::R0, 0));
        em.bind(end);
    }

    /// `bpf_loop(haystack size, callback, r10, 0)`: the callback tries one start position
    /// and sets a result word in the frame when the needle matches there.
    fn find_substring_looped(&mut self, haystack: Buffer, needle: Buffer) {
        let result = self.frame.alloc(8);
        let scratch = self.em.scratch_base.is_some();
        let func = FuncRef(self.next_func + self.callbacks.len() as u32);
        self.callbacks.push(Function {
            name: format!("{}_search{}", self.name_hint, self.callbacks.len()),
            params: 2,
            insns: search_callback(scratch, haystack, needle, result),
        });
        self.em.store_fp(Size::DW, result, Src::Imm(0));
        // The callback's context must be stack memory: a scratch area's base travels
        // through it.
        self.pass_scratch_base();
        let em = &mut self.em;
        em.emit(Insn::mov64_imm(Reg::R1, haystack.1 as i32));
        em.emit(Insn::LdFunc { dst: Reg::R2, func });
        em.emit(Insn::mov64(Reg::R3, Reg::FP));
        em.emit(Insn::mov64_imm(Reg::R4, 0));
        em.call(Helper::Loop);
        em.load_fp(Size::DW, Reg::R0, result);
    }
}

/// `callback(position, ctx)`: 0 to go on to the next position, 1 to stop (found, or the
/// haystack ended). The caller's buffers are reached through `ctx`, its stack (or, for a
/// scratch frame, the address stored there).
fn search_callback(scratch: bool, haystack: Buffer, needle: Buffer, result: i16) -> Vec<Insn> {
    // The caller's stack through r6 (the context), its scratch area through r7.
    let mut em = Emitter::new();
    em.stack_base = Reg::R6;
    em.emit(Insn::mov64(Reg::R6, Reg::R2));
    if scratch {
        em.scratch_base = Some(Reg::R7);
        em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R7,
            src: Reg::R6,
            off: SCRATCH_POINTER_SLOT,
        });
    }
    let [found, stop] = [(); 2].map(|_| em.label());
    em.jump_if(JmpOp::Jge, POS, Src::Imm(haystack.1 as i32), stop);
    match_at(&mut em, haystack, needle, found, stop);
    em.emit(Insn::mov64_imm(Reg::R0, 0));
    em.emit(Insn::Exit);
    em.bind(found);
    em.store_fp(Size::DW, result, Src::Imm(1));
    em.bind(stop);
    em.emit(Insn::mov64_imm(Reg::R0, 1));
    em.emit(Insn::Exit);
    em.finish().0
}

/// Compares the needle with the haystack from position `POS` (known to be inside it):
/// jumps to `found` on a match, to `missing` when the haystack ends at `POS` (no later
/// position can match), and falls through otherwise. Every index is checked against its
/// buffer's size right before the load, which is what lets the verifier accept the
/// variable-offset reads.
fn match_at(em: &mut Emitter, haystack: Buffer, needle: Buffer, found: Label, missing: Label) {
    let [compare, mismatch] = [(); 2].map(|_| em.label());
    em.emit(Insn::mov64_imm(IDX, 0));
    em.bind(compare);
    // The whole needle matched: its NUL, or the end of its buffer, was reached.
    em.jump_if(JmpOp::Jge, IDX, Src::Imm(needle.1 as i32), found);
    load_byte(em, NEEDLE_BYTE, needle.0, IDX);
    em.jump_if(JmpOp::Jeq, NEEDLE_BYTE, Src::Imm(0), found);
    em.emit(Insn::mov64(AT, POS));
    em.emit(Insn::alu64(AluOp::Add, AT, Src::Reg(IDX)));
    em.jump_if(JmpOp::Jge, AT, Src::Imm(haystack.1 as i32), missing);
    load_byte(em, HAY_BYTE, haystack.0, AT);
    em.jump_if(JmpOp::Jne, HAY_BYTE, Src::Reg(NEEDLE_BYTE), mismatch);
    em.emit(Insn::alu64(AluOp::Add, IDX, Src::Imm(1)));
    em.goto(compare);
    em.bind(mismatch);
    load_byte(em, HAY_BYTE, haystack.0, POS);
    em.jump_if(JmpOp::Jeq, HAY_BYTE, Src::Imm(0), missing);
}

/// `dst = *(u8 *)(base + buf + index)`, with `dst` as the address register.
fn load_byte(em: &mut Emitter, dst: Reg, buf: i16, index: Reg) {
    em.fp_addr(dst, buf);
    em.emit(Insn::alu64(AluOp::Add, dst, Src::Reg(index)));
    em.emit(Insn::Load {
        size: Size::B,
        dst,
        src: dst,
        off: 0,
    });
}
