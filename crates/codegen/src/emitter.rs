//! Instruction buffer with forward labels and a source span per instruction.
//!
//! Jumps are emitted against [`Label`]s and patched in [`Emitter::finish`], so lowering code
//! never counts slots by hand.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, JmpOp, Size, Src, Width};
use object::Reg;
use syntax::Span;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Label(usize);

pub(crate) struct Emitter {
    insns: Vec<Insn>,
    spans: Vec<Span>,
    /// Label → instruction index it is bound to.
    labels: Vec<Option<usize>>,
    /// Instruction index of a jump → its target label.
    fixups: Vec<(usize, Label)>,
    pub(crate) span: Span,
    /// The register stack slots are addressed from: r10, or in a callback that reaches its
    /// caller's buffers, the register holding the caller's stack address.
    pub(crate) stack_base: Reg,
    /// For a split frame (see `frame`), the register scratch slots are addressed from.
    pub(crate) scratch_base: Option<Reg>,
}

impl Emitter {
    pub(crate) fn new() -> Emitter {
        Emitter {
            insns: Vec::new(),
            spans: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            span: Span::default(),
            stack_base: Reg::FP,
            scratch_base: None,
        }
    }

    pub(crate) fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
        self.spans.push(self.span);
    }

    /// The register frame offset `off` is relative to: the scratch base for an offset in
    /// the scratch area of a split frame, else the stack base.
    pub(crate) fn base_for(&self, off: i16) -> Reg {
        match self.scratch_base {
            Some(base) if crate::frame::in_scratch(off) => base,
            _ => self.stack_base,
        }
    }

    /// `dst = base + off`: the address of a frame slot.
    pub(crate) fn fp_addr(&mut self, dst: Reg, off: i16) {
        self.emit(Insn::mov64(dst, self.base_for(off)));
        self.emit(Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst,
            src: Src::Imm(off as i32),
        });
    }

    /// `*(size *)(base + off) = src`
    pub(crate) fn store_fp(&mut self, size: Size, off: i16, src: Src) {
        self.emit(Insn::Store {
            size,
            dst: self.base_for(off),
            off,
            src,
        });
    }

    /// `dst = *(size *)(base + off)`
    pub(crate) fn load_fp(&mut self, size: Size, dst: Reg, off: i16) {
        self.emit(Insn::Load {
            size,
            dst,
            src: self.base_for(off),
            off,
        });
    }

    pub(crate) fn call(&mut self, helper: Helper) {
        self.emit(Insn::Call {
            helper: helper as i32,
        });
    }

    pub(crate) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    pub(crate) fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    /// `if dst op src goto label` (64-bit compare).
    pub(crate) fn jump_if(&mut self, op: JmpOp, dst: Reg, src: Src, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.emit(Insn::Jump {
            op,
            width: Width::W64,
            dst,
            src,
            off: 0,
        });
    }

    /// If the last instruction is `reg = src` (a register move) and nothing jumps to the
    /// point after it, removes it and returns `src`, which then holds the value `reg` would
    /// have: lets a value be used where it was computed instead of being copied first.
    pub(crate) fn forward_last_move(&mut self, reg: Reg) -> Option<Reg> {
        let Some(&Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst,
            src: Src::Reg(src),
        }) = self.insns.last()
        else {
            return None;
        };
        let end = self.insns.len();
        if dst != reg || self.labels.contains(&Some(end)) {
            return None;
        }
        self.insns.pop();
        self.spans.pop();
        Some(src)
    }

    /// Inserts `insn` before everything emitted so far (labels and jumps move with it).
    pub(crate) fn prepend(&mut self, insn: Insn) {
        self.insns.insert(0, insn);
        self.spans.insert(0, self.span);
        for bound in self.labels.iter_mut().flatten() {
            *bound += 1;
        }
        for (at, _) in &mut self.fixups {
            *at += 1;
        }
    }

    pub(crate) fn goto(&mut self, label: Label) {
        self.jump_if(JmpOp::Ja, Reg::R0, Src::Imm(0), label);
    }

    /// Resolves labels; returns the instructions and the span of every slot (an `ld_imm64`
    /// contributes its span twice).
    pub(crate) fn finish(mut self) -> (Vec<Insn>, Vec<Span>) {
        let mut slot_of = Vec::with_capacity(self.insns.len() + 1);
        let mut slot = 0usize;
        for insn in &self.insns {
            slot_of.push(slot);
            slot += insn.slots();
        }
        slot_of.push(slot);
        for (at, label) in std::mem::take(&mut self.fixups) {
            let target = self.labels[label.0].expect("every label used by a jump is bound");
            let off = slot_of[target] as i64 - slot_of[at + 1] as i64;
            match &mut self.insns[at] {
                Insn::Jump { off: o, .. } => *o = off as i16,
                _ => unreachable!("only jumps have fixups"),
            }
        }
        let mut spans = Vec::with_capacity(slot);
        for (insn, span) in self.insns.iter().zip(&self.spans) {
            for _ in 0..insn.slots() {
                spans.push(*span);
            }
        }
        (self.insns, spans)
    }
}
