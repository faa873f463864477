//! `join(argv[, sep])`: up to [`JOIN_MAX_ARGS`] strings of a NULL-terminated pointer array.
//!
//! The record (16 KiB) cannot live on the 512-byte stack, so it is reserved in the ring
//! buffer and every string is read straight into its slot. Truncated and failed reads are
//! noted on the stack and counted after the record is submitted, so no function call
//! happens while the reservation is held.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, JmpOp, Size, Src};
use object::{MapRef, Reg};
use sema::hir::Expr;
use sema::{JOIN_ARG_SIZE, JOIN_MAX_ARGS, JOIN_RECORD_SIZE};

use crate::lower::Lowering;
use crate::{GLOBALS_FAILED_READS, GLOBALS_LOST_EVENTS, GLOBALS_TRUNCATED_STRINGS, MAP_EVENTS};

impl Lowering<'_> {
    pub(crate) fn join(&mut self, id: usize, array: &Expr, user: bool) {
        let [array_slot, element, record, truncated, failed] = [(); 5].map(|_| self.frame.alloc(8));
        let r = self.expr_value(array, Reg::R0);
        self.em.store_fp(Size::DW, array_slot, Src::Reg(r));
        self.em.store_fp(Size::DW, truncated, Src::Imm(0));
        self.em.store_fp(Size::DW, failed, Src::Imm(0));

        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: MapRef(MAP_EVENTS),
        });
        self.em
            .emit(Insn::mov64_imm(Reg::R2, JOIN_RECORD_SIZE as i32));
        self.em.emit(Insn::mov64_imm(Reg::R3, 0));
        self.call(Helper::RingbufReserve);
        let (reserved, submitted, end) = (self.em.label(), self.em.label(), self.em.label());
        self.em.jump_if(JmpOp::Jne, Reg::R0, Src::Imm(0), reserved);
        self.count_in_globals(GLOBALS_LOST_EVENTS);
        self.em.goto(end);
        self.em.bind(reserved);
        self.em.store_fp(Size::DW, record, Src::Reg(Reg::R0));
        self.em.emit(Insn::Store {
            size: Size::DW,
            dst: Reg::R0,
            off: 0,
            src: Src::Imm(id as i32),
        });
        self.em.emit(Insn::Store {
            size: Size::DW,
            dst: Reg::R0,
            off: 8,
            src: Src::Imm(0),
        });
        let (read_pointer, read_string) = if user {
            (Helper::ProbeReadUser, Helper::ProbeReadUserStr)
        } else {
            (Helper::ProbeReadKernel, Helper::ProbeReadKernelStr)
        };
        let done = self.em.label();
        let failed_read = self.em.label();
        for i in 0..JOIN_MAX_ARGS as i32 {
            // element = array[i]; a NULL element ends the list.
            self.em.load_fp(Size::DW, Reg::R3, array_slot);
            self.em
                .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(8 * i)));
            self.em.fp_addr(Reg::R1, element);
            self.em.emit(Insn::mov64_imm(Reg::R2, 8));
            self.call(read_pointer);
            self.em
                .jump_if(JmpOp::Jne, Reg::R0, Src::Imm(0), failed_read);
            self.em.load_fp(Size::DW, Reg::R3, element);
            self.em.jump_if(JmpOp::Jeq, Reg::R3, Src::Imm(0), done);
            self.em.load_fp(Size::DW, Reg::R1, record);
            self.em.emit(Insn::alu64(
                AluOp::Add,
                Reg::R1,
                Src::Imm(16 + i * JOIN_ARG_SIZE as i32),
            ));
            self.em.emit(Insn::mov64_imm(Reg::R2, JOIN_ARG_SIZE as i32));
            self.call(read_string);
            let whole = self.em.label();
            self.em
                .jump_if(JmpOp::Jne, Reg::R0, Src::Imm(JOIN_ARG_SIZE as i32), whole);
            self.em.store_fp(Size::DW, truncated, Src::Imm(1));
            self.em.bind(whole);
            // The count covers this string even if its read failed (the helper leaves an
            // empty string then), so the positions of the others stay right.
            self.em.load_fp(Size::DW, Reg::R1, record);
            self.em.emit(Insn::Store {
                size: Size::DW,
                dst: Reg::R1,
                off: 8,
                src: Src::Imm(i + 1),
            });
        }
        self.em.goto(done);
        self.em.bind(failed_read);
        self.em.store_fp(Size::DW, failed, Src::Imm(1));
        self.em.bind(done);
        self.em.load_fp(Size::DW, Reg::R1, record);
        self.em.emit(Insn::mov64_imm(Reg::R2, 0));
        self.call(Helper::RingbufSubmit);
        self.em.bind(submitted);
        for (flag, counter) in [
            (truncated, GLOBALS_TRUNCATED_STRINGS),
            (failed, GLOBALS_FAILED_READS),
        ] {
            let clean = self.em.label();
            self.em.load_fp(Size::DW, Reg::R1, flag);
            self.em.jump_if(JmpOp::Jeq, Reg::R1, Src::Imm(0), clean);
            self.count_in_globals(counter);
            self.em.bind(clean);
        }
        self.em.bind(end);
    }
}
