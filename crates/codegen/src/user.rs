//! Values of a probed user program (uprobe, uretprobe and USDT programs, whose context is
//! the x86-64 `struct pt_regs` of the interrupted thread): a saved register, or user memory
//! addressed from one (`bpf_probe_read_user`), or a constant a USDT site recorded.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, Size, Src};
use object::Reg;
use sema::hir::ArgLocation;

use crate::frame::{write, Temp};
use crate::lower::Lowering;

impl Lowering<'_> {
    pub(crate) fn user_value(&mut self, location: ArgLocation, size: u8, signed: bool) -> Temp {
        let t = self.frame.push_temp();
        match location {
            ArgLocation::Constant(v) => {
                self.em.emit(Insn::LdImm64 {
                    dst: Reg::R0,
                    imm: v,
                });
            }
            ArgLocation::Register { offset } => {
                let ctx = self.ctx();
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R0,
                    src: ctx,
                    off: offset as i16,
                });
            }
            ArgLocation::Memory { base, disp } => {
                let buf = self.frame.alloc(8);
                let ctx = self.ctx();
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R3,
                    src: ctx,
                    off: base as i16,
                });
                if disp != 0 {
                    self.em.emit(Insn::LdImm64 {
                        dst: Reg::R2,
                        imm: disp,
                    });
                    self.em
                        .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Reg(Reg::R2)));
                }
                self.em.fp_addr(Reg::R1, buf);
                self.em.emit(Insn::mov64_imm(Reg::R2, 8));
                // A failed read zeroes the buffer, so the value reads as 0.
                self.call(Helper::ProbeReadUser);
                self.em.load_fp(Size::DW, Reg::R0, buf);
            }
        }
        // Keep the low `size` bytes (x86-64 is little-endian), extended by sign or zero.
        if size < 8 {
            let shift = 64 - 8 * size as i32;
            self.em
                .emit(Insn::alu64(AluOp::Lsh, Reg::R0, Src::Imm(shift)));
            let op = if signed { AluOp::Arsh } else { AluOp::Rsh };
            self.em.emit(Insn::alu64(op, Reg::R0, Src::Imm(shift)));
        }
        write(&mut self.em, t, Reg::R0);
        t
    }
}
