//! The syscall dispatcher: one raw tracepoint program on `sys_enter` (or `sys_exit`) that
//! tail-calls the program of the current syscall from a program array. A syscall nobody
//! traces has an empty slot, so the tail call falls through and costs only the lookup.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, Size, Src};
use object::{MapRef, Reg};

use crate::emitter::Emitter;

/// Offset of `orig_ax` (the syscall number) in x86-64 `struct pt_regs`.
const PT_REGS_ORIG_AX: i32 = 120;

/// Loads the current syscall's number into r3 from the raw tracepoint context in `ctx`
/// (uses the 8 bytes below `scratch` on the stack for `sys_exit`).
pub(crate) fn syscall_nr(em: &mut Emitter, enter: bool, ctx: Reg, scratch: i16) {
    if enter {
        em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R3,
            src: ctx,
            off: 8,
        });
    } else {
        em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R3,
            src: ctx,
            off: 0,
        });
        em.emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(PT_REGS_ORIG_AX)));
        em.fp_addr(Reg::R1, scratch);
        em.emit(Insn::mov64_imm(Reg::R2, 8));
        em.call(Helper::ProbeReadKernel);
        em.load_fp(Size::DW, Reg::R3, scratch);
    }
}

/// The dispatcher's instructions. `sys_enter(regs, id)` passes the number as `args[1]`;
/// `sys_exit(regs, ret)` does not, so it is read from `regs->orig_ax`.
pub(crate) fn dispatcher(enter: bool, prog_array: u32) -> Vec<Insn> {
    let mut em = Emitter::new();
    em.emit(Insn::mov64(Reg::R6, Reg::R1));
    syscall_nr(&mut em, enter, Reg::R6, -8);
    em.emit(Insn::mov64(Reg::R1, Reg::R6));
    em.emit(Insn::LdMap {
        dst: Reg::R2,
        map: MapRef(prog_array),
    });
    em.call(Helper::TailCall);
    em.emit(Insn::mov64_imm(Reg::R0, 0));
    em.emit(Insn::Exit);
    em.finish().0
}
