//! Integer expressions → instructions. Every expression leaves its value, as a 64-bit
//! integer sign- or zero-extended from its type, in a fresh temporary.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, JmpOp, Size, Src, Width};
use object::{MapRef, Reg};
use sema::hir::{Builtin, Expr, ExprKind};
use sema::Type;
use syntax::ast::{BinaryOp, UnaryOp};

use crate::emitter::Label;
use crate::frame::{read, write, Temp};
use crate::lower::Lowering;
use crate::{GLOBALS_CPID, GLOBALS_START_NS, MAP_GLOBALS};

impl Lowering<'_> {
    /// Evaluates an integer expression into a new temporary (the caller pops it).
    pub(crate) fn expr(&mut self, e: &Expr) -> Temp {
        let saved = self.em.span;
        self.em.span = e.span;
        let t = self.expr_inner(e);
        self.em.span = saved;
        t
    }

    /// `size` bytes at the kernel address `addr`, copied to the stack with
    /// bpf_probe_read_kernel (which zeroes them if the read faults) and loaded from there.
    fn kernel_read(&mut self, addr: &Expr, size: u8, signed: bool) -> Temp {
        self.memory_read(addr, size, signed, Helper::ProbeReadKernel)
    }

    /// `size` bytes at `addr` through `read` (`bpf_probe_read_kernel` or `_user`).
    fn memory_read(&mut self, addr: &Expr, size: u8, signed: bool, read: Helper) -> Temp {
        let t = self.frame.push_temp();
        let buf = self.frame.alloc(8);
        self.expr_into(addr, Reg::R3);
        self.em.fp_addr(Reg::R1, buf);
        self.em.emit(Insn::mov64_imm(Reg::R2, size as i32));
        self.call(read);
        let size_kind = Size::of_bytes(size as usize).expect("sema reads 1, 2, 4 or 8 bytes");
        self.em.load_fp(size_kind, Reg::R0, buf);
        if signed && size < 8 {
            let shift = 64 - 8 * size as i32;
            self.em
                .emit(Insn::alu64(AluOp::Lsh, Reg::R0, Src::Imm(shift)));
            self.em
                .emit(Insn::alu64(AluOp::Arsh, Reg::R0, Src::Imm(shift)));
        }
        write(&mut self.em, t, Reg::R0);
        t
    }

    /// The address of a per-CPU kernel variable's copy: `ld_imm64` of its BTF id, then
    /// `bpf_this_cpu_ptr`, or `bpf_per_cpu_ptr` for a given CPU. The latter returns NULL for
    /// a CPU that does not exist, and the verifier allows no arithmetic on a pointer that
    /// may be NULL: the explicit test leaves a plain 0 on that path (reads from it give 0).
    fn percpu_var(&mut self, btf_id: u32, cpu: Option<&Expr>) -> Temp {
        let t = self.frame.push_temp();
        match cpu {
            Some(cpu) => {
                self.expr_into(cpu, Reg::R2);
                self.em.emit(Insn::LdBtfVar {
                    dst: Reg::R1,
                    btf_id,
                });
                self.call(Helper::PerCpuPtr);
                let found = self.em.label();
                self.em.jump_if(JmpOp::Jne, Reg::R0, Src::Imm(0), found);
                self.em.emit(Insn::mov64_imm(Reg::R0, 0));
                self.em.bind(found);
            }
            None => {
                self.em.emit(Insn::LdBtfVar {
                    dst: Reg::R1,
                    btf_id,
                });
                self.call(Helper::ThisCpuPtr);
            }
        }
        write(&mut self.em, t, Reg::R0);
        t
    }

    fn expr_inner(&mut self, e: &Expr) -> Temp {
        match &e.kind {
            ExprKind::Int(v) => {
                let t = self.frame.push_temp();
                let r = match t {
                    Temp::Reg(r) => r,
                    Temp::Slot(_) => Reg::R0,
                };
                self.load_const(r, *v);
                write(&mut self.em, t, r);
                t
            }
            ExprKind::Var(v) => {
                let t = self.frame.push_temp();
                let scratch = match t {
                    Temp::Reg(r) => r,
                    Temp::Slot(_) => Reg::R0,
                };
                let (base, off) = self.probe_slot(self.var_slots[*v]);
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: scratch,
                    src: base,
                    off,
                });
                write(&mut self.em, t, scratch);
                t
            }
            ExprKind::Builtin(b) => {
                let t = self.frame.push_temp();
                self.builtin(*b);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::TracepointField {
                offset,
                size,
                signed,
            } => {
                let t = self.frame.push_temp();
                let size_kind = Size::of_bytes(*size as usize).expect("sema checks field sizes");
                let ctx = self.ctx();
                self.em.emit(Insn::Load {
                    size: size_kind,
                    dst: Reg::R0,
                    src: ctx,
                    off: *offset as i16,
                });
                if *signed && *size < 8 {
                    let shift = 64 - 8 * *size as i32;
                    self.em
                        .emit(Insn::alu64(AluOp::Lsh, Reg::R0, Src::Imm(shift)));
                    self.em
                        .emit(Insn::alu64(AluOp::Arsh, Reg::R0, Src::Imm(shift)));
                }
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::SyscallArg { index } => {
                // regs = ctx->args[0]; the argument is a register saved in *regs.
                const ARG_REGS: [i32; 6] = [112, 104, 96, 56, 72, 64]; // di si dx r10 r8 r9
                let t = self.frame.push_temp();
                let tmp = self.frame.alloc(8);
                let ctx = self.ctx();
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R3,
                    src: ctx,
                    off: 0,
                });
                self.em.emit(Insn::alu64(
                    AluOp::Add,
                    Reg::R3,
                    Src::Imm(ARG_REGS[*index as usize]),
                ));
                self.em.fp_addr(Reg::R1, tmp);
                self.em.emit(Insn::mov64_imm(Reg::R2, 8));
                self.call(Helper::ProbeReadKernel);
                self.em.load_fp(Size::DW, Reg::R0, tmp);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::UserValue {
                location,
                size,
                signed,
            } => self.user_value(*location, *size, *signed),
            ExprKind::RawArg { index } => {
                let ctx = self.ctx();
                self.load_to_temp(ctx, 8 * *index as i16)
            }
            ExprKind::SyscallNrIn { enter, ranges } => {
                let t = self.frame.push_temp();
                let scratch = self.frame.alloc(8);
                let ctx = self.ctx();
                crate::dispatch::syscall_nr(&mut self.em, *enter, ctx, scratch);
                let (yes, end) = (self.em.label(), self.em.label());
                for &(first, last) in ranges {
                    let next = self.em.label();
                    self.em
                        .jump_if(JmpOp::Jlt, Reg::R3, Src::Imm(first as i32), next);
                    self.em
                        .jump_if(JmpOp::Jle, Reg::R3, Src::Imm(last as i32), yes);
                    self.em.bind(next);
                }
                self.em.emit(Insn::mov64_imm(Reg::R0, 0));
                self.em.goto(end);
                self.em.bind(yes);
                self.em.emit(Insn::mov64_imm(Reg::R0, 1));
                self.em.bind(end);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::KernelRead { addr, size, signed } => self.kernel_read(addr, *size, *signed),
            ExprKind::UserRead { addr, size } => {
                self.memory_read(addr, *size, false, Helper::ProbeReadUser)
            }
            ExprKind::UserSymbol { delta, .. } => {
                let t = self.frame.push_temp();
                let ctx = self.ctx();
                self.em.emit(Insn::mov64(Reg::R1, ctx));
                self.call(Helper::GetFuncIp);
                let delta = self.const_operand(*delta, Reg::R1);
                self.em.emit(Insn::alu64(AluOp::Add, Reg::R0, delta));
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::PercpuVar { btf_id, cpu } => self.percpu_var(*btf_id, cpu.as_deref()),
            ExprKind::SyscallRet => {
                let ctx = self.ctx();
                self.load_to_temp(ctx, 8)
            }
            ExprKind::TupleField { tuple, index } => self.tuple_field_int(tuple, *index),
            ExprKind::TracepointString { .. }
            | ExprKind::TracepointDynString { .. }
            | ExprKind::Tuple(_)
            | ExprKind::Ntop { .. }
            | ExprKind::KernelChars { .. }
            | ExprKind::SyscallName { .. }
            | ExprKind::Str(_)
            | ExprKind::StrRead { .. }
            | ExprKind::CgroupPath { .. }
            | ExprKind::Stack { .. }
            | ExprKind::Ksym { .. }
            | ExprKind::Usym { .. } => {
                unreachable!("sema keeps strings out of integer expressions")
            }
            ExprKind::MapRead { map, key } => {
                let t = self.frame.push_temp();
                self.map_read_int(*map, key);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::AggRead { map, key, cpus } => {
                let t = self.frame.push_temp();
                self.agg_read(*map, key, *cpus);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::StrCmp {
                lhs,
                rhs,
                equal,
                limit,
            } => {
                let t = self.frame.push_temp();
                let mut buffers = Vec::new();
                // No zeroing: every string fills its own type's size, and the comparison
                // stops at the first NUL, so what lies after it does not matter.
                for side in [lhs, rhs] {
                    let len = side.ty.size();
                    let buf = self.frame.alloc(len);
                    self.string_into(side, buf, len);
                    buffers.push(buf);
                }
                let n = lhs
                    .ty
                    .size()
                    .min(rhs.ty.size())
                    .min(limit.unwrap_or(u32::MAX));
                self.compare_strings(buffers[0], buffers[1], n, *equal);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::StrContains { haystack, needle } => {
                let t = self.frame.push_temp();
                // As for comparisons, the search stops at NULs: no zeroing needed.
                let [hay, pin] = [haystack, needle].map(|side| {
                    let len = side.ty.size();
                    let buf = self.frame.alloc(len);
                    self.string_into(side, buf, len);
                    (buf, len)
                });
                self.find_substring(hay, pin);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::ForKey { map, part } => {
                let ptr = self.for_entry_ptr(false);
                let off = self.key_part_offset(*map, *part);
                self.load_to_temp(ptr, off)
            }
            ExprKind::ForValue { .. } => {
                let ptr = self.for_entry_ptr(true);
                self.load_to_temp(ptr, 0)
            }
            ExprKind::ForAggValue { map, cpus } => {
                let t = self.frame.push_temp();
                self.agg_merge(*map, None, *cpus);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::MapFetchAdd {
                map,
                key,
                delta,
                prefix,
            } => {
                let t = self.frame.push_temp();
                self.map_fetch_add(*map, key, *delta);
                if *prefix {
                    self.em
                        .emit(Insn::alu64(AluOp::Add, Reg::R0, Src::Imm(*delta as i32)));
                }
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::VarFetchAdd { var, delta, prefix } => {
                let t = self.frame.push_temp();
                let (base, slot) = self.probe_slot(self.var_slots[*var]);
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R0,
                    src: base,
                    off: slot,
                });
                self.em.emit(Insn::mov64(Reg::R1, Reg::R0));
                self.em
                    .emit(Insn::alu64(AluOp::Add, Reg::R1, Src::Imm(*delta as i32)));
                let ty = self.vars[*var];
                let r1 = self.normalize(Reg::R1, Type::I64, ty);
                self.em.emit(Insn::Store {
                    size: Size::DW,
                    dst: base,
                    off: slot,
                    src: Src::Reg(r1),
                });
                if *prefix {
                    self.em.emit(Insn::mov64(Reg::R0, r1));
                }
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::MapLen { map } => {
                let t = self.frame.push_temp();
                self.map_len(*map);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::HasKey { map, key } => {
                let t = self.frame.push_temp();
                self.map_has_key(*map, key);
                write(&mut self.em, t, Reg::R0);
                t
            }
            ExprKind::Cast(inner) => {
                let t = self.expr(inner);
                let r = read(&mut self.em, t, Reg::R0);
                let r = self.normalize(r, inner.ty, e.ty);
                write(&mut self.em, t, r);
                t
            }
            ExprKind::Unary { op, expr } => {
                let t = self.expr(expr);
                let r = read(&mut self.em, t, Reg::R0);
                match op {
                    UnaryOp::Neg => self.em.emit(Insn::Alu {
                        op: AluOp::Neg,
                        width: Width::W64,
                        dst: r,
                        src: Src::Imm(0),
                    }),
                    UnaryOp::BitNot => self.em.emit(Insn::alu64(AluOp::Xor, r, Src::Imm(-1))),
                    UnaryOp::Not => self.set_if(r, JmpOp::Jeq, Src::Imm(0)),
                    UnaryOp::Deref | UnaryOp::AddrOf => {
                        unreachable!("sema rejects pointer operators")
                    }
                }
                write(&mut self.em, t, r);
                t
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And | BinaryOp::Or => self.logical(*op, lhs, rhs),
                _ => self.binary(*op, lhs, rhs),
            },
            ExprKind::Ternary { cond, then, els } => {
                let result = self.frame.push_temp();
                let else_label = self.em.label();
                let end = self.em.label();
                let c = self.expr(cond);
                let r = read(&mut self.em, c, Reg::R0);
                self.frame.pop_temp();
                self.em.jump_if(JmpOp::Jeq, r, Src::Imm(0), else_label);
                for (branch, label) in [(then, Some(end)), (els, None)] {
                    let v = self.expr(branch);
                    let r = read(&mut self.em, v, Reg::R0);
                    write(&mut self.em, result, r);
                    self.frame.pop_temp();
                    if let Some(end) = label {
                        self.em.goto(end);
                        self.em.bind(else_label);
                    }
                }
                self.em.bind(end);
                result
            }
        }
    }

    /// r0 = whether the NUL-terminated strings at `a` and `b` are equal (`equal`) or differ,
    /// comparing at most `n` bytes.
    fn compare_strings(&mut self, a: i16, b: i16, n: u32, equal: bool) {
        if n == 0 {
            // Empty prefixes are equal; emitting the `differ` branch would leave it
            // unreachable, which the verifier rejects.
            self.em.emit(Insn::mov64_imm(Reg::R0, equal as i32));
            return;
        }
        let same = self.em.label();
        let differ = self.em.label();
        let end = self.em.label();
        for i in 0..n as i16 {
            for (r, base) in [(Reg::R1, a), (Reg::R2, b)] {
                self.em.load_fp(Size::B, r, base + i);
            }
            self.em
                .jump_if(JmpOp::Jne, Reg::R1, Src::Reg(Reg::R2), differ);
            // After the last byte "same" is next anyway.
            if i + 1 < n as i16 {
                self.em.jump_if(JmpOp::Jeq, Reg::R1, Src::Imm(0), same);
            }
        }
        self.em.bind(same);
        self.em.emit(Insn::mov64_imm(Reg::R0, equal as i32));
        self.em.goto(end);
        self.em.bind(differ);
        self.em.emit(Insn::mov64_imm(Reg::R0, !equal as i32));
        self.em.bind(end);
    }

    /// A new temporary holding `*(u64 *)(base + off)`.
    pub(crate) fn load_to_temp(&mut self, base: Reg, off: i16) -> Temp {
        let t = self.frame.push_temp();
        self.em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R0,
            src: base,
            off,
        });
        write(&mut self.em, t, Reg::R0);
        t
    }

    pub(crate) fn load_const(&mut self, r: Reg, v: i64) {
        if let Ok(small) = i32::try_from(v) {
            self.em.emit(Insn::mov64_imm(r, small));
        } else {
            self.em.emit(Insn::LdImm64 { dst: r, imm: v });
        }
    }

    /// `v` as an instruction operand: an immediate when it fits 32 bits (sign-extended by
    /// the CPU), else loaded into `scratch`.
    pub(crate) fn const_operand(&mut self, v: i64, scratch: Reg) -> Src {
        match i32::try_from(v) {
            Ok(small) => Src::Imm(small),
            Err(_) => {
                self.em.emit(Insn::LdImm64 {
                    dst: scratch,
                    imm: v,
                });
                Src::Reg(scratch)
            }
        }
    }

    /// `r = (r op src) ? 1 : 0`
    fn set_if(&mut self, r: Reg, op: JmpOp, src: Src) {
        let yes = self.em.label();
        let end = self.em.label();
        self.em.jump_if(op, r, src, yes);
        self.em.emit(Insn::mov64_imm(r, 0));
        self.em.goto(end);
        self.em.bind(yes);
        self.em.emit(Insn::mov64_imm(r, 1));
        self.em.bind(end);
    }

    fn logical(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Temp {
        // a && b: 0 if a is 0, else (b != 0).  a || b: 1 if a is non-zero, else (b != 0).
        let short = self.em.label();
        let end = self.em.label();
        let t = self.expr(lhs);
        let r = read(&mut self.em, t, Reg::R0);
        let (jump, short_value) = match op {
            BinaryOp::And => (JmpOp::Jeq, 0),
            _ => (JmpOp::Jne, 1),
        };
        self.em.jump_if(jump, r, Src::Imm(0), short);
        let u = self.expr(rhs);
        let r2 = read(&mut self.em, u, Reg::R1);
        self.set_if(r2, JmpOp::Jne, Src::Imm(0));
        let r2 = self.move_to_r0(r2);
        self.frame.pop_temp();
        write(&mut self.em, t, r2);
        self.em.goto(end);
        self.em.bind(short);
        self.em.emit(Insn::mov64_imm(Reg::R0, short_value));
        write(&mut self.em, t, Reg::R0);
        self.em.bind(end);
        t
    }

    fn move_to_r0(&mut self, r: Reg) -> Reg {
        if r != Reg::R0 {
            self.em.emit(Insn::mov64(Reg::R0, r));
        }
        Reg::R0
    }

    /// Evaluates `lhs` into a temporary and `rhs` into an operand: an immediate when it is a
    /// small constant, else a second temporary (popped once the caller has used it, see
    /// [`Self::release`]).
    fn operands(&mut self, lhs: &Expr, rhs: &Expr) -> (Temp, Reg, Src) {
        let a = self.expr(lhs);
        if let ExprKind::Int(v) = rhs.kind {
            if let Ok(imm) = i32::try_from(v) {
                let ra = read(&mut self.em, a, Reg::R0);
                return (a, ra, Src::Imm(imm));
            }
        }
        let b = self.expr(rhs);
        let rb = read(&mut self.em, b, Reg::R1);
        let ra = read(&mut self.em, a, Reg::R0);
        (a, ra, Src::Reg(rb))
    }

    /// Pops the second temporary of [`Self::operands`], if it made one.
    fn release(&mut self, src: Src) {
        if let Src::Reg(_) = src {
            self.frame.pop_temp();
        }
    }

    /// The jump that is taken when comparison `op` holds.
    fn comparison(op: BinaryOp, signed: bool) -> Option<JmpOp> {
        Some(match (op, signed) {
            (BinaryOp::Eq, _) => JmpOp::Jeq,
            (BinaryOp::Ne, _) => JmpOp::Jne,
            (BinaryOp::Lt, false) => JmpOp::Jlt,
            (BinaryOp::Lt, true) => JmpOp::Jslt,
            (BinaryOp::Le, false) => JmpOp::Jle,
            (BinaryOp::Le, true) => JmpOp::Jsle,
            (BinaryOp::Gt, false) => JmpOp::Jgt,
            (BinaryOp::Gt, true) => JmpOp::Jsgt,
            (BinaryOp::Ge, false) => JmpOp::Jge,
            (BinaryOp::Ge, true) => JmpOp::Jsge,
            _ => return None,
        })
    }

    /// Jumps to `label` when `cond` is false.
    pub(crate) fn branch_if_false(&mut self, cond: &Expr, label: Label) {
        self.branch(cond, false, label);
    }

    /// Jumps to `label` when the truth of `cond` equals `when`. Comparisons, `!`, `&&` and
    /// `||` become jumps directly instead of materialising 0/1 values first.
    fn branch(&mut self, cond: &Expr, when: bool, label: Label) {
        let saved = self.em.span;
        self.em.span = cond.span;
        match &cond.kind {
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.branch(expr, !when, label),
            ExprKind::Binary { op, lhs, rhs } if matches!(op, BinaryOp::And | BinaryOp::Or) => {
                // `a && b` is false when either is false; `a || b` is true when either is true.
                let shortcut = (*op == BinaryOp::Or) == when;
                if shortcut {
                    self.branch(lhs, when, label);
                    self.branch(rhs, when, label);
                } else {
                    let skip = self.em.label();
                    self.branch(lhs, !when, skip);
                    self.branch(rhs, when, label);
                    self.em.bind(skip);
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let signed = lhs.ty.is_signed() || rhs.ty.is_signed();
                if let Some(jmp) = Self::comparison(*op, signed) {
                    let (_, ra, src) = self.operands(lhs, rhs);
                    let jmp = if when { jmp } else { jmp.negate() };
                    self.em.jump_if(jmp, ra, src, label);
                    self.release(src);
                    self.frame.pop_temp();
                } else {
                    self.branch_on_value(cond, when, label);
                }
            }
            _ => self.branch_on_value(cond, when, label),
        }
        self.em.span = saved;
    }

    fn branch_on_value(&mut self, cond: &Expr, when: bool, label: Label) {
        let r = self.expr_value(cond, Reg::R0);
        let jmp = if when { JmpOp::Jne } else { JmpOp::Jeq };
        self.em.jump_if(jmp, r, Src::Imm(0), label);
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Temp {
        let signed = lhs.ty.is_signed() || rhs.ty.is_signed();
        let (a, ra, src) = self.operands(lhs, rhs);
        let alu = |op| Some(op);
        let alu_op = match op {
            BinaryOp::Add => alu(AluOp::Add),
            BinaryOp::Sub => alu(AluOp::Sub),
            BinaryOp::Mul => alu(AluOp::Mul),
            BinaryOp::Div => alu(if signed { AluOp::SDiv } else { AluOp::Div }),
            BinaryOp::Mod => alu(if signed { AluOp::SMod } else { AluOp::Mod }),
            BinaryOp::BitAnd => alu(AluOp::And),
            BinaryOp::BitOr => alu(AluOp::Or),
            BinaryOp::BitXor => alu(AluOp::Xor),
            BinaryOp::Shl => alu(AluOp::Lsh),
            BinaryOp::Shr => alu(if lhs.ty.is_signed() {
                AluOp::Arsh
            } else {
                AluOp::Rsh
            }),
            _ => None,
        };
        match alu_op {
            Some(op) => self.em.emit(Insn::alu64(op, ra, src)),
            None => {
                let jmp =
                    Self::comparison(op, signed).expect("logical operators are lowered separately");
                self.set_if(ra, jmp, src);
            }
        }
        write(&mut self.em, a, ra);
        self.release(src);
        a
    }

    /// Leaves the builtin's value in r0.
    fn builtin(&mut self, b: Builtin) {
        let low32 = |me: &mut Self| {
            me.em.emit(Insn::Alu {
                op: AluOp::Mov,
                width: Width::W32,
                dst: Reg::R0,
                src: Src::Reg(Reg::R0),
            })
        };
        match b {
            Builtin::Pid => {
                self.call(Helper::GetCurrentPidTgid);
                self.em.emit(Insn::alu64(AluOp::Rsh, Reg::R0, Src::Imm(32)));
            }
            Builtin::Tid => {
                self.call(Helper::GetCurrentPidTgid);
                low32(self);
            }
            Builtin::Uid => {
                self.call(Helper::GetCurrentUidGid);
                low32(self);
            }
            Builtin::Gid => {
                self.call(Helper::GetCurrentUidGid);
                self.em.emit(Insn::alu64(AluOp::Rsh, Reg::R0, Src::Imm(32)));
            }
            Builtin::Nsecs => self.call(Helper::KtimeGetNs),
            Builtin::Cpu => self.call(Helper::GetSmpProcessorId),
            Builtin::Cgroup => self.call(Helper::GetCurrentCgroupId),
            Builtin::Rand => self.call(Helper::GetPrandomU32),
            Builtin::Curtask => self.call(Helper::GetCurrentTask),
            Builtin::Elapsed => self.elapsed(),
            Builtin::Cpid => self.cpid(),
            Builtin::Comm => unreachable!("comm is a string"),
        }
    }

    /// `globals[GLOBALS_CPID]`, which user space set to the `-c` command's pid (0 without).
    fn cpid(&mut self) {
        self.load_global(Reg::R0, GLOBALS_CPID, Size::W);
    }

    /// `dst = globals[off]`, read in place.
    fn load_global(&mut self, dst: Reg, off: i16, size: Size) {
        self.em.emit(Insn::LdMapValue {
            dst,
            map: MapRef(MAP_GLOBALS),
            off: off as i32,
        });
        self.em.emit(Insn::Load {
            size,
            dst,
            src: dst,
            off: 0,
        });
    }

    /// `ktime_get_ns() - start`, where user space stored the start time in the globals.
    fn elapsed(&mut self) {
        self.call(Helper::KtimeGetNs);
        self.load_global(Reg::R1, GLOBALS_START_NS, Size::DW);
        self.em
            .emit(Insn::alu64(AluOp::Sub, Reg::R0, Src::Reg(Reg::R1)));
    }
}
