//! Composite values built in a frame buffer: tuples (field by field, read back field by
//! field) and `ntop()` addresses.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, Size, Src};
use object::Reg;
use sema::hir::{Expr, ExprKind, NtopAddr};
use sema::Type;

use crate::frame::Temp;
use crate::lower::Lowering;

impl Lowering<'_> {
    /// Writes the tuple `(items...)` of type `ty` to the frame at `dst` (at most `cap`
    /// bytes): every field at its offset, integers as 64-bit words.
    pub(crate) fn tuple_into(&mut self, items: &[Expr], ty: Type, dst: i16, cap: u32) {
        let Type::Tuple(tuple) = ty else {
            unreachable!("sema types tuple expressions as tuples")
        };
        self.zero(dst, cap.div_ceil(8) * 8);
        for ((item, &field), &offset) in items.iter().zip(&tuple.fields).zip(&tuple.offsets) {
            if offset >= cap {
                break;
            }
            let at = dst + offset as i16;
            if field.is_buffer() {
                self.string_into(item, at, field.size().min(cap - offset));
            } else {
                let r = self.expr_value(item, Reg::R0);
                self.em.store_fp(Size::DW, at, Src::Reg(r));
            }
        }
    }

    /// Where the bytes of tuple value `tuple` are: its variable's slot, or a frame buffer
    /// it is evaluated into. Returns the base register and the offset of field `index`.
    fn tuple_field_location(&mut self, tuple: &Expr, index: usize) -> (Reg, i16) {
        let Type::Tuple(layout) = tuple.ty else {
            unreachable!("sema only reads fields of tuples")
        };
        let offset = layout.offsets[index] as i16;
        if let ExprKind::Var(v) = tuple.kind {
            let (base, slot) = self.probe_slot(self.var_slots[v]);
            return (base, slot + offset);
        }
        let buf = self.frame.alloc(layout.size);
        self.string_into(tuple, buf, layout.size);
        (self.em.base_for(buf), buf + offset)
    }

    /// An integer field of a tuple into a new temporary.
    pub(crate) fn tuple_field_int(&mut self, tuple: &Expr, index: usize) -> Temp {
        let (base, off) = self.tuple_field_location(tuple, index);
        self.load_to_temp(base, off)
    }

    /// A string (or tuple) field of a tuple copied to the frame at `dst`.
    pub(crate) fn tuple_field_into(&mut self, tuple: &Expr, index: usize, dst: i16, len: u32) {
        let (base, off) = self.tuple_field_location(tuple, index);
        self.copy_bytes((base, off), (self.em.base_for(dst), dst), len);
    }
}

impl Lowering<'_> {
    /// `ntop()`: the family as a u64, then the address bytes.
    pub(crate) fn ntop_into(&mut self, family: &Expr, addr: &NtopAddr, dst: i16, cap: u32) {
        self.zero(dst, cap.div_ceil(8) * 8);
        let r = self.expr_value(family, Reg::R0);
        self.em.store_fp(Size::DW, dst, Src::Reg(r));
        match addr {
            NtopAddr::Int(e) => {
                let r = self.expr_value(e, Reg::R0);
                self.em.store_fp(Size::W, dst + 8, Src::Reg(r));
            }
            NtopAddr::TracepointBytes { offset, len } => {
                let ctx = self.ctx();
                self.em.emit(Insn::mov64(Reg::R3, ctx));
                self.em
                    .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(*offset as i32)));
                self.em.fp_addr(Reg::R1, dst + 8);
                self.em.emit(Insn::mov64_imm(Reg::R2, *len as i32));
                self.call(Helper::ProbeReadKernel);
            }
        }
    }
}
