//! HIR → instructions for one probe.

use object::helpers::Helper;
use object::insn::{AluOp, Insn, JmpOp, Size, Src};
use object::{FuncRef, Function, MapRef, Reg};
use sema::hir::{Builtin, Expr, ExprKind, MapId, Probe, Stmt, StmtKind};
use sema::maps::MapInfo;
use sema::{PrintfArg, PrintfFormat, Type, EXIT_EVENT_ID};

use crate::emitter::{Emitter, Label};
use crate::frame::{read, Frame, Temp, SCRATCH_BASE, STACK_LIMIT};
use crate::{
    GLOBALS_FAILED_READS, GLOBALS_LOST_EVENTS, GLOBALS_TRUNCATED_STRINGS, MAP_EVENTS, MAP_USER_BASE,
};

/// The context pointer, saved on entry because r1 is clobbered by calls.
const CTX: Reg = Reg::R6;
/// The largest area [`Lowering::zero`] clears with one store per word.
const ZERO_BY_STORES_MAX: u32 = 64;
/// In a probe with a scratch frame, the BPF stack slot holding the scratch entry's index
/// for the lookup on entry.
const SCRATCH_KEY_SLOT: i16 = -4;
/// In a probe with a scratch frame, the BPF stack slot through which a `for ($kv : @map)`
/// callback receives the frame's address.
pub(crate) const SCRATCH_POINTER_SLOT: i16 = -16;

#[derive(Clone, Copy)]
struct ForEntry {
    key_ptr: i16,
    value_ptr: i16,
    /// Slot in the probe's frame a callback sets to make the probe return.
    leave_flag: i16,
    next: Label,
    stop: Label,
}

pub(crate) struct Lowering<'a> {
    pub(crate) em: Emitter,
    pub(crate) frame: Frame,
    printfs: &'a [PrintfFormat],
    pub(crate) maps: &'a [MapInfo],
    /// The script's stack-trace maps (`kstack`/`ustack`).
    pub(crate) stack_maps: &'a [sema::types::StackMap],
    /// Where the object's maps after the `@maps` are.
    pub(crate) internal: crate::stacks::InternalMaps,
    pub(crate) var_slots: Vec<i16>,
    /// Where variables live: r10, or in a `for ($kv : @map)` callback the register holding
    /// the probe's frame (the callback has a frame of its own).
    pub(crate) var_base: Reg,
    /// In a callback: the frame slots holding the entry's key and value pointers, and the
    /// labels that end the callback with "continue" (0) and "stop" (1).
    for_entry: Option<ForEntry>,
    /// A `break` ends the callback with "stop".
    stop_used: bool,
    /// A `continue` ends the callback with "go on".
    next_used: bool,
    /// A `return` or `exit()` in the callback asks the probe to return.
    left_probe: bool,
    /// The callbacks of `for ($kv : @map)` loops, to become object functions.
    pub(crate) callbacks: Vec<Function>,
    /// The object function index the next callback gets.
    pub(crate) next_func: u32,
    /// A prefix for callback names (the program's name).
    pub(crate) name_hint: String,
    pub(crate) vars: Vec<Type>,
    /// One reusable buffer for event records, as large as this probe's largest record.
    pub(crate) record: i16,
    exit: Label,
    loops: Vec<(Label, Label)>,
    ctx_used: bool,
    /// The program uses the object's shared functions (loss counter, `len` callback).
    pub(crate) uses_shared_functions: bool,
    /// Bytes of per-CPU scratch the probe's frame takes (0: it is on the BPF stack).
    pub(crate) scratch_size: u32,
    /// Where this probe's block of loss counters starts in the `globals` value.
    pub(crate) loss_counters: i32,
    /// The probe's entry in the scratch map, when its frame lives there.
    scratch_entry: u32,
}

fn max_record(stmts: &[Stmt], printfs: &[PrintfFormat]) -> u32 {
    stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Printf { id, .. } => printfs[*id].record_size,
            StmtKind::Exit { .. } => 16,
            StmtKind::MapCommand { .. } => crate::maps::COMMAND_RECORD,
            StmtKind::If { then, els, .. } => {
                max_record(then, printfs).max(max_record(els, printfs))
            }
            StmtKind::While { body, step, .. } => {
                max_record(body, printfs).max(max_record(step, printfs))
            }
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

impl<'a> Lowering<'a> {
    /// A lowering for `probe`; callbacks it creates become object functions numbered from
    /// `next_func`, named after `name_hint`.
    pub(crate) fn new(
        probe: &Probe,
        analysis: &'a sema::Analysis,
        next_func: u32,
        name_hint: &str,
        scratch_entry: Option<u32>,
    ) -> Lowering<'a> {
        let mut em = Emitter::new();
        let mut frame = if scratch_entry.is_some() {
            em.scratch_base = Some(SCRATCH_BASE);
            Frame::split()
        } else {
            Frame::new()
        };
        let var_slots = probe
            .vars
            .iter()
            .map(|v| frame.alloc(v.ty.size().max(8)))
            .collect();
        let record_size = max_record(&probe.body, &analysis.printfs);
        let record = if record_size > 0 {
            frame.alloc(record_size)
        } else {
            0
        };
        let exit = em.label();
        let var_base = em.stack_base;
        Lowering {
            em,
            frame,
            printfs: &analysis.printfs,
            maps: &analysis.maps,
            stack_maps: &analysis.stack_maps,
            internal: crate::stacks::InternalMaps::of(analysis),
            var_slots,
            vars: probe.vars.iter().map(|v| v.ty).collect(),
            record,
            exit,
            loops: Vec::new(),
            ctx_used: false,
            uses_shared_functions: false,
            scratch_size: 0,
            loss_counters: 0,
            scratch_entry: scratch_entry.unwrap_or(0),
            var_base,
            stop_used: false,
            next_used: false,
            left_probe: false,
            for_entry: None,
            callbacks: Vec::new(),
            next_func,
            name_hint: name_hint.to_string(),
        }
    }

    /// `for ($kv : @map) { body }`: `bpf_for_each_map_elem(map, callback, r10, 0)`, the body
    /// compiled as the callback, which reaches this probe's variables through its last
    /// argument (this frame's address).
    fn for_map(&mut self, map: MapId, body: &[Stmt]) {
        let func = FuncRef(self.next_func + self.callbacks.len() as u32);
        let leave_flag = self.frame.alloc(8);
        let name = format!("{}_for{}", self.name_hint, self.callbacks.len());
        // A probe with a split frame gives its callbacks split frames too, their scratch
        // areas below the part of the probe's in use while the loop runs.
        let scratch = self.em.scratch_base.is_some();
        let parent_used = self.frame.scratch_used();
        let mut cb = Lowering {
            em: Emitter::new(),
            frame: if scratch {
                Frame::split()
            } else {
                Frame::new()
            },
            printfs: self.printfs,
            maps: self.maps,
            stack_maps: self.stack_maps,
            internal: self.internal,
            var_slots: self.var_slots.clone(),
            vars: self.vars.clone(),
            record: 0,
            exit: Label::default(),
            loops: Vec::new(),
            ctx_used: false,
            uses_shared_functions: false,
            scratch_size: 0,
            loss_counters: self.loss_counters,
            scratch_entry: 0,
            var_base: Reg::R6,
            stop_used: false,
            next_used: false,
            left_probe: false,
            for_entry: None,
            callbacks: Vec::new(),
            // Functions the callback's body creates (substring searches) come after it.
            next_func: func.0 + 1,
            name_hint: name.clone(),
        };
        cb.em.span = self.em.span;
        if scratch {
            cb.em.scratch_base = Some(SCRATCH_BASE);
        }
        // callback(map, key, value, ctx): keep the pointers, ctx is this probe's frame.
        let key_ptr = cb.frame.alloc(8);
        let value_ptr = cb.frame.alloc(8);
        let record_size = max_record(body, self.printfs);
        cb.record = if record_size > 0 {
            cb.frame.alloc(record_size)
        } else {
            0
        };
        cb.exit = cb.em.label();
        let stop = cb.em.label();
        cb.for_entry = Some(ForEntry {
            key_ptr,
            value_ptr,
            leave_flag,
            next: cb.exit,
            stop,
        });
        cb.em.emit(Insn::mov64(Reg::R6, Reg::R4));
        if scratch {
            // The probe left its scratch base in its stack's reserved word.
            cb.em.emit(Insn::Load {
                size: Size::DW,
                dst: SCRATCH_BASE,
                src: Reg::R6,
                off: SCRATCH_POINTER_SLOT,
            });
            cb.em.emit(Insn::alu64(
                AluOp::Add,
                SCRATCH_BASE,
                Src::Imm(-parent_used),
            ));
        }
        cb.em.store_fp(Size::DW, key_ptr, Src::Reg(Reg::R2));
        cb.em.store_fp(Size::DW, value_ptr, Src::Reg(Reg::R3));
        cb.stmts(body);
        // Each ending is emitted only if something reaches it: the verifier rejects
        // unreachable instructions.
        let falls_through = !body.last().is_some_and(|last| {
            matches!(
                last.kind,
                StmtKind::Break | StmtKind::Continue | StmtKind::Return | StmtKind::Exit { .. }
            )
        });
        if falls_through || cb.next_used {
            let exit = cb.exit;
            cb.em.bind(exit);
            cb.em.emit(Insn::mov64_imm(Reg::R0, 0));
            cb.em.emit(Insn::Exit);
        }
        if cb.stop_used {
            cb.em.bind(stop);
            cb.em.emit(Insn::mov64_imm(Reg::R0, 1));
            cb.em.emit(Insn::Exit);
        }
        if scratch {
            // Reserve the callback's part of the scratch entry.
            self.frame.reserve_scratch(cb.frame.scratch_peak);
        }
        if let Some(needed) = cb.frame.overflow {
            self.frame.overflow.get_or_insert(needed);
        }
        self.uses_shared_functions |= cb.uses_shared_functions;
        let cb_left = cb.left_probe;
        let (insns, _) = cb.em.finish();
        self.callbacks.push(Function {
            name,
            params: 4,
            insns,
        });
        self.callbacks.append(&mut cb.callbacks);

        if cb_left {
            self.em.store_fp(Size::DW, leave_flag, Src::Imm(0));
        }
        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: MapRef(MAP_USER_BASE + map as u32),
        });
        self.em.emit(Insn::LdFunc { dst: Reg::R2, func });
        self.pass_scratch_base();
        self.em.emit(Insn::mov64(Reg::R3, Reg::FP));
        self.em.emit(Insn::mov64_imm(Reg::R4, 0));
        self.call(Helper::ForEachMapElem);
        if cb_left {
            self.em.load_fp(Size::DW, Reg::R1, leave_flag);
            let exit = self.exit;
            self.em.jump_if(JmpOp::Jne, Reg::R1, Src::Imm(0), exit);
        }
    }

    /// `return` (and the end of `exit()`): jump to the probe's exit; inside a for-map
    /// callback, raise the probe's "leave" flag and stop the iteration, and the probe returns
    /// once `bpf_for_each_map_elem` comes back.
    fn leave_probe(&mut self) {
        match self.for_entry {
            Some(entry) => {
                let (base, off) = self.probe_slot(entry.leave_flag);
                self.em.emit(Insn::Store {
                    size: Size::DW,
                    dst: base,
                    off,
                    src: Src::Imm(1),
                });
                self.stop_used = true;
                self.left_probe = true;
                self.em.goto(entry.stop);
            }
            None => self.em.goto(self.exit),
        }
    }

    /// In a callback: r1 = the entry's key or value pointer.
    pub(crate) fn for_entry_ptr(&mut self, value: bool) -> Reg {
        let entry = self
            .for_entry
            .expect("sema allows $kv only inside its loop");
        let slot = if value {
            entry.value_ptr
        } else {
            entry.key_ptr
        };
        self.em.load_fp(Size::DW, Reg::R1, slot);
        Reg::R1
    }

    /// Where a slot of the probe's frame (a variable's, say) is: `(base, offset)`. In the
    /// probe itself that is its frame; a callback reaches the probe's stack through the
    /// register holding its address, and the probe's scratch area through the base the probe
    /// left in its stack's reserved word, loaded into r5 here.
    pub(crate) fn probe_slot(&mut self, slot: i16) -> (Reg, i16) {
        if self.for_entry.is_none() {
            return (self.em.base_for(slot), slot);
        }
        if !crate::frame::in_scratch(slot) {
            return (self.var_base, slot);
        }
        self.em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R5,
            src: self.var_base,
            off: SCRATCH_POINTER_SLOT,
        });
        (Reg::R5, slot)
    }

    /// Before a helper that runs a callback with this frame's stack as its context: leaves
    /// the scratch base in the stack's reserved word, where the callback finds it.
    pub(crate) fn pass_scratch_base(&mut self) {
        if self.em.scratch_base.is_some() {
            self.em.emit(Insn::Store {
                size: Size::DW,
                dst: Reg::FP,
                off: SCRATCH_POINTER_SLOT,
                src: Src::Reg(SCRATCH_BASE),
            });
        }
    }

    /// Offset of key part `part` of `map` within the key.
    pub(crate) fn key_part_offset(&self, map: MapId, part: usize) -> i16 {
        self.maps[map].key[..part]
            .iter()
            .map(|t| (t.size().div_ceil(8) * 8) as i16)
            .sum()
    }

    pub(crate) fn probe(&mut self, probe: &Probe) {
        self.em.span = probe.span;
        // Variables start at zero, as in bpftrace.
        for (i, ty) in self.vars.clone().iter().enumerate() {
            self.zero(self.var_slots[i], ty.size().max(8));
        }
        if let Some(pred) = &probe.predicate {
            let exit = self.exit;
            self.branch_if_false(pred, exit);
        }
        self.stmts(&probe.body);
        self.em.span = probe.span;
        let exit = self.exit;
        self.em.bind(exit);
        self.em.emit(Insn::mov64_imm(Reg::R0, 0));
        self.em.emit(Insn::Exit);
        if self.em.scratch_base.is_some() {
            self.scratch_prologue();
        }
        if self.ctx_used {
            // Saved on entry only when needed: r1 is clobbered by the first helper call.
            self.em.prepend(Insn::mov64(CTX, Reg::R1));
        }
    }

    /// Puts the scratch area's base in [`SCRATCH_BASE`] before the probe's first
    /// instruction: `base = lookup(scratch, probe's entry) + area size + STACK_LIMIT`, so
    /// scratch slots keep their offsets below the stack's (see `frame`). The map's index is
    /// patched in by `compile`, which places the scratch map after all others once it knows
    /// that some probe needs it.
    fn scratch_prologue(&mut self) {
        let size = (self.frame.scratch_peak + 7) / 8 * 8;
        self.scratch_size = size as u32;
        let prologue = [
            Insn::Store {
                size: Size::W,
                dst: Reg::FP,
                off: SCRATCH_KEY_SLOT,
                src: Src::Imm(self.scratch_entry as i32),
            },
            Insn::LdMap {
                dst: Reg::R1,
                map: MapRef(crate::MAP_SCRATCH_PLACEHOLDER),
            },
            Insn::mov64(Reg::R2, Reg::FP),
            Insn::alu64(AluOp::Add, Reg::R2, Src::Imm(SCRATCH_KEY_SLOT as i32)),
            Insn::Call {
                helper: Helper::MapLookupElem as i32,
            },
            // An array lookup of an index inside it cannot fail, but the verifier wants
            // the NULL case handled.
            Insn::Jump {
                op: JmpOp::Jne,
                width: object::insn::Width::W64,
                dst: Reg::R0,
                src: Src::Imm(0),
                off: 2,
            },
            Insn::mov64_imm(Reg::R0, 0),
            Insn::Exit,
            Insn::mov64(SCRATCH_BASE, Reg::R0),
            Insn::alu64(AluOp::Add, SCRATCH_BASE, Src::Imm(size + STACK_LIMIT)),
        ];
        for insn in prologue.into_iter().rev() {
            self.em.prepend(insn);
        }
    }

    /// The context register, noting that the prologue must save it.
    pub(crate) fn ctx(&mut self) -> Reg {
        self.ctx_used = true;
        CTX
    }

    /// `bpf_probe_read_kernel(fp + dst, len, ptr + off)`: a string out of map memory.
    fn copy_string_from(&mut self, ptr: Reg, off: i16, dst: i16, len: u32) {
        self.em.emit(Insn::mov64(Reg::R3, ptr));
        self.em
            .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(off as i32)));
        self.em.fp_addr(Reg::R1, dst);
        self.em.emit(Insn::mov64_imm(Reg::R2, len as i32));
        self.call(Helper::ProbeReadKernel);
    }

    /// Copies `len` bytes between frames: `(base register, offset)` pairs, where the base is
    /// r10 or, in a callback, the register holding the probe's frame.
    pub(crate) fn copy_bytes(&mut self, src: (Reg, i16), dst: (Reg, i16), len: u32) {
        let mut i = 0;
        while i < len {
            let chunk = if len - i >= 8 { 8 } else { 1 };
            let size = Size::of_bytes(chunk as usize).expect("1 or 8");
            self.em.emit(Insn::Load {
                size,
                dst: Reg::R0,
                src: src.0,
                off: src.1 + i as i16,
            });
            self.em.emit(Insn::Store {
                size,
                dst: dst.0,
                off: dst.1 + i as i16,
                src: Src::Reg(Reg::R0),
            });
            i += chunk;
        }
    }

    /// Clears `size` bytes of the frame at `off`: word stores for small areas; for large
    /// ones a `bpf_probe_read_kernel` from address 0, which fails and (by its contract)
    /// zeroes its destination, in 5 instructions whatever the size.
    pub(crate) fn zero(&mut self, off: i16, size: u32) {
        if size > ZERO_BY_STORES_MAX {
            self.em.fp_addr(Reg::R1, off);
            self.em.emit(Insn::mov64_imm(Reg::R2, size as i32));
            self.em.emit(Insn::mov64_imm(Reg::R3, 0));
            self.call(Helper::ProbeReadKernel);
            return;
        }
        for i in (0..size as i16).step_by(8) {
            self.em.store_fp(Size::DW, off + i, Src::Imm(0));
        }
    }

    /// Lowers statements in order, stopping after one that always leaves the block: the
    /// verifier rejects programs with unreachable instructions.
    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
            if matches!(
                s.kind,
                StmtKind::Return | StmtKind::Exit { .. } | StmtKind::Break | StmtKind::Continue
            ) {
                break;
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let mark = self.frame.mark();
        self.stmt_inner(stmt);
        self.frame.release(mark);
    }

    fn stmt_inner(&mut self, stmt: &Stmt) {
        self.em.span = stmt.span;
        match &stmt.kind {
            StmtKind::MapStore { map, key, value } => self.map_store(*map, key, value),
            StmtKind::MapAdd {
                map,
                key,
                value,
                op,
            } => self.map_add(*map, key, value, *op),
            StmtKind::MapExchange {
                map,
                key,
                op,
                signed,
                value,
            } => self.map_exchange(*map, key, *op, *signed, value),
            StmtKind::Aggregate {
                map,
                key,
                func,
                value,
            } => self.aggregate(*map, key, *func, value.as_ref()),
            StmtKind::MapDelete { map, key } => self.map_delete(*map, key),
            StmtKind::MapCommand { map, command } => self.map_command(*map, *command),
            StmtKind::ForMap { map, body } => self.for_map(*map, body),
            StmtKind::Expr(e) => {
                if e.ty.is_integer() {
                    self.expr(e);
                    self.frame.pop_temp();
                }
            }
            StmtKind::AssignVar { var, value } => {
                let slot = self.var_slots[*var];
                match value.ty {
                    t if t.is_buffer() => {
                        let len = t.size();
                        let cap = self.vars[*var].size();
                        if self.for_entry.is_none() {
                            self.string_into(value, slot, len.min(cap));
                        } else {
                            // In a callback the variable lives in the probe's frame: build
                            // the string here, then copy it over.
                            let tmp = self.frame.alloc(cap);
                            self.zero(tmp, cap.div_ceil(8) * 8);
                            self.string_into(value, tmp, len.min(cap));
                            let to = self.probe_slot(slot);
                            self.copy_bytes((self.em.base_for(tmp), tmp), to, cap);
                        }
                    }
                    _ => {
                        let r = self.expr_value(value, Reg::R0);
                        let r = self.normalize(r, value.ty, self.vars[*var]);
                        let (base, off) = self.probe_slot(slot);
                        self.em.emit(Insn::Store {
                            size: Size::DW,
                            dst: base,
                            off,
                            src: Src::Reg(r),
                        });
                    }
                }
            }
            StmtKind::If { cond, then, els } => {
                let else_label = self.em.label();
                let end = self.em.label();
                self.branch_if_false(cond, else_label);
                self.stmts(then);
                if !els.is_empty() {
                    self.em.goto(end);
                }
                self.em.bind(else_label);
                self.stmts(els);
                self.em.bind(end);
            }
            StmtKind::While { cond, body, step } => {
                let top = self.em.label();
                let next = self.em.label();
                let end = self.em.label();
                self.em.bind(top);
                self.em.span = cond.span;
                self.branch_if_false(cond, end);
                self.loops.push((next, end));
                self.stmts(body);
                self.loops.pop();
                self.em.bind(next);
                self.stmts(step);
                self.em.goto(top);
                self.em.bind(end);
            }
            StmtKind::Break | StmtKind::Continue => {
                let (next, end) = match (self.loops.last(), self.for_entry) {
                    (Some(&inner), _) => inner,
                    // The for-map loop itself: end this callback, stopping or not.
                    (None, Some(entry)) => (entry.next, entry.stop),
                    (None, None) => unreachable!("sema only allows break/continue in loops"),
                };
                let target = if matches!(stmt.kind, StmtKind::Break) {
                    end
                } else {
                    next
                };
                if self.loops.is_empty() {
                    if matches!(stmt.kind, StmtKind::Break) {
                        self.stop_used = true;
                    } else {
                        self.next_used = true;
                    }
                }
                self.em.goto(target);
            }
            StmtKind::Return => self.leave_probe(),
            StmtKind::Exit { code } => {
                let rec = self.record;
                let code_reg = match code {
                    Some(c) => self.expr_value(c, Reg::R0),
                    None => {
                        self.em.emit(Insn::mov64_imm(Reg::R0, 0));
                        Reg::R0
                    }
                };
                self.em.store_fp(Size::DW, rec + 8, Src::Reg(code_reg));
                self.em.emit(Insn::LdImm64 {
                    dst: Reg::R1,
                    imm: EXIT_EVENT_ID as i64,
                });
                self.em.store_fp(Size::DW, rec, Src::Reg(Reg::R1));
                self.output(rec, 16);
                self.leave_probe();
            }
            StmtKind::Printf { id, args } => self.printf(*id, args),
            StmtKind::Join { id, array, user } => self.join(*id, array, *user),
            StmtKind::Signal(sig) => {
                let t = self.expr(sig);
                let r = read(&mut self.em, t, Reg::R1);
                if r != Reg::R1 {
                    self.em.emit(Insn::mov64(Reg::R1, r));
                }
                self.frame.pop_temp();
                self.call(Helper::SendSignal);
            }
        }
    }

    /// `bpf_ringbuf_output(&events, fp + off, size, 0)`.
    pub(crate) fn output(&mut self, off: i16, size: u32) {
        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: MapRef(MAP_EVENTS),
        });
        self.em.fp_addr(Reg::R2, off);
        self.em.emit(Insn::mov64_imm(Reg::R3, size as i32));
        self.em.emit(Insn::mov64_imm(Reg::R4, 0));
        self.call(Helper::RingbufOutput);
        // A full ring buffer drops the record: count it, user space reports the total.
        let sent = self.em.label();
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), sent);
        self.count_in_globals(GLOBALS_LOST_EVENTS);
        self.em.bind(sent);
    }

    pub(crate) fn call(&mut self, helper: Helper) {
        self.em.call(helper);
    }

    fn printf(&mut self, id: usize, args: &[Expr]) {
        let format = &self.printfs[id];
        let size = format.record_size;
        let fields: Vec<(Type, u32)> = format
            .args
            .iter()
            .filter_map(|a| match a {
                PrintfArg::Field { ty, offset } => Some((*ty, *offset)),
                PrintfArg::Strftime { offset, .. } => Some((sema::Type::U64, *offset)),
                PrintfArg::Const(_) => None,
            })
            .collect();
        let rec = self.record;
        // Integers fill their words; strings may end early, and what follows their NUL
        // must not be stale stack (the verifier insists, and it would leak to user space).
        let buffers = fields.iter().filter(|(ty, _)| ty.is_buffer());
        let start = buffers.clone().map(|&(_, off)| off).min();
        let end = buffers
            .map(|&(ty, off)| off + ty.size().div_ceil(8) * 8)
            .max();
        if let (Some(start), Some(end)) = (start, end) {
            self.zero(rec + start as i16, end - start);
        }
        self.em.store_fp(Size::DW, rec, Src::Imm(id as i32));
        for (arg, (ty, offset)) in args.iter().zip(fields) {
            let dst = rec + offset as i16;
            self.em.span = arg.span;
            match ty {
                t if t.is_buffer() => self.string_into(arg, dst, t.size()),
                _ => {
                    let r = self.expr_value(arg, Reg::R0);
                    self.em.store_fp(Size::DW, dst, Src::Reg(r));
                }
            }
        }
        self.output(rec, size);
    }

    /// Evaluates the integer `e` into register `dst` (for a helper argument), its temporary
    /// released.
    pub(crate) fn expr_into(&mut self, e: &Expr, dst: Reg) {
        let r = self.expr_value(e, dst);
        if r != dst {
            self.em.emit(Insn::mov64(dst, r));
        }
    }

    /// Evaluates the integer `e` and releases its temporary; returns the register holding
    /// the value (`scratch` for a spilled one), valid until the next instruction that
    /// writes it. The copy into the temporary is skipped when it was the last instruction.
    pub(crate) fn expr_value(&mut self, e: &Expr, scratch: Reg) -> Reg {
        let t = self.expr(e);
        let r = match t {
            Temp::Reg(r) => self.em.forward_last_move(r).unwrap_or(r),
            Temp::Slot(_) => read(&mut self.em, t, scratch),
        };
        self.frame.pop_temp();
        r
    }

    /// Writes the string value of `e` (at most `cap` bytes) to the frame at `dst`.
    pub(crate) fn string_into(&mut self, e: &Expr, dst: i16, cap: u32) {
        match &e.kind {
            ExprKind::Builtin(Builtin::Comm) => {
                self.em.fp_addr(Reg::R1, dst);
                self.em.emit(Insn::mov64_imm(Reg::R2, cap.min(16) as i32));
                self.call(Helper::GetCurrentComm);
            }
            ExprKind::TracepointString { offset, len } => {
                self.em.fp_addr(Reg::R1, dst);
                self.em
                    .emit(Insn::mov64_imm(Reg::R2, (*len).min(cap) as i32));
                let ctx = self.ctx();
                self.em.emit(Insn::mov64(Reg::R3, ctx));
                self.em
                    .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(*offset as i32)));
                self.call(Helper::ProbeReadKernel);
            }
            ExprKind::TracepointDynString { offset, relative } => {
                // r3 = ctx + (loc & 0xffff) [+ offset + 4]; the string's own length is not
                // needed: the read stops at its NUL.
                let ctx = self.ctx();
                self.em.emit(Insn::Load {
                    size: Size::W,
                    dst: Reg::R3,
                    src: ctx,
                    off: *offset as i16,
                });
                self.em
                    .emit(Insn::alu64(AluOp::And, Reg::R3, Src::Imm(0xffff)));
                if *relative {
                    self.em.emit(Insn::alu64(
                        AluOp::Add,
                        Reg::R3,
                        Src::Imm(*offset as i32 + 4),
                    ));
                }
                self.em
                    .emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Reg(ctx)));
                self.em.fp_addr(Reg::R1, dst);
                self.em
                    .emit(Insn::mov64_imm(Reg::R2, cap.min(e.ty.size()) as i32));
                self.call(Helper::ProbeReadKernelStr);
            }
            ExprKind::SyscallName { nr } => {
                // names[nr], or zeroes: bpf_probe_read_kernel from the NULL of a failed
                // lookup clears its buffer.
                let key = self.frame.alloc(8);
                let r = self.expr_value(nr, Reg::R0);
                self.em.store_fp(Size::W, key, Src::Reg(r));
                self.em.emit(Insn::LdMap {
                    dst: Reg::R1,
                    map: MapRef(self.internal.syscall_names),
                });
                self.em.fp_addr(Reg::R2, key);
                self.call(Helper::MapLookupElem);
                self.em.emit(Insn::mov64(Reg::R3, Reg::R0));
                self.em.fp_addr(Reg::R1, dst);
                self.em
                    .emit(Insn::mov64_imm(Reg::R2, cap.min(e.ty.size()) as i32));
                self.call(Helper::ProbeReadKernel);
            }
            ExprKind::KernelChars { addr, len } => {
                self.expr_into(addr, Reg::R3);
                self.em.fp_addr(Reg::R1, dst);
                self.em
                    .emit(Insn::mov64_imm(Reg::R2, (*len).min(cap) as i32));
                self.call(Helper::ProbeReadKernel);
            }
            ExprKind::Var(v) => {
                let len = self.vars[*v].size().min(cap);
                let from = self.probe_slot(self.var_slots[*v]);
                self.copy_bytes(from, (self.em.base_for(dst), dst), len);
            }
            ExprKind::Str(bytes) => {
                // NUL-terminated, zero-padded to whole words; longer literals are cut to fit.
                let mut padded = vec![0u8; cap.div_ceil(4) as usize * 4];
                let n = bytes.len().min(cap.saturating_sub(1) as usize);
                padded[..n].copy_from_slice(&bytes[..n]);
                for (i, chunk) in padded.chunks(4).enumerate() {
                    let word = i32::from_le_bytes(chunk.try_into().expect("4-byte chunks"));
                    self.em
                        .store_fp(Size::W, dst + 4 * i as i16, Src::Imm(word));
                }
            }
            ExprKind::MapRead { map, key } => self.map_read_string(*map, key, dst, cap),
            ExprKind::CgroupPath { id, filter } => {
                let r = self.expr_value(id, Reg::R0);
                self.em.store_fp(Size::DW, dst, Src::Reg(r));
                self.em
                    .store_fp(Size::DW, dst + 8, Src::Imm(*filter as i32));
            }
            ExprKind::ForKey { map, part } => {
                let ptr = self.for_entry_ptr(false);
                let off = self.key_part_offset(*map, *part);
                self.copy_string_from(ptr, off, dst, cap.min(e.ty.size()));
            }
            ExprKind::ForValue { .. } => {
                let ptr = self.for_entry_ptr(true);
                self.copy_string_from(ptr, 0, dst, cap.min(e.ty.size()));
            }
            ExprKind::Tuple(items) => self.tuple_into(items, e.ty, dst, cap),
            ExprKind::Ntop { family, addr } => self.ntop_into(family, addr, dst, cap),
            ExprKind::Stack { map } => self.stack_into(*map, dst),
            ExprKind::Ksym { addr } => self.ksym_into(addr, dst),
            ExprKind::Usym { addr } => self.usym_into(addr, dst),
            ExprKind::TupleField { tuple, index } => {
                self.tuple_field_into(tuple, *index, dst, cap.min(e.ty.size()))
            }
            ExprKind::Ternary { cond, then, els } => {
                let else_label = self.em.label();
                let end = self.em.label();
                self.branch_if_false(cond, else_label);
                self.string_into(then, dst, cap);
                self.em.goto(end);
                self.em.bind(else_label);
                self.string_into(els, dst, cap);
                self.em.bind(end);
            }
            ExprKind::StrRead { ptr, user } => {
                self.expr_into(ptr, Reg::R3);
                let size = cap.min(e.ty.size()) as i32;
                self.em.fp_addr(Reg::R1, dst);
                self.em.emit(Insn::mov64_imm(Reg::R2, size));
                self.call(if *user {
                    Helper::ProbeReadUserStr
                } else {
                    Helper::ProbeReadKernelStr
                });
                // A result that fills the buffer (NUL included) was probably cut short; a
                // negative one is a failed read (e.g. the page is not resident yet), which
                // leaves an empty string: both are counted, not silent.
                let done = self.em.label();
                let read = self.em.label();
                self.em.jump_if(JmpOp::Jsge, Reg::R0, Src::Imm(0), read);
                self.count_in_globals(GLOBALS_FAILED_READS);
                self.em.goto(done);
                self.em.bind(read);
                self.em.jump_if(JmpOp::Jne, Reg::R0, Src::Imm(size), done);
                self.count_in_globals(GLOBALS_TRUNCATED_STRINGS);
                self.em.bind(done);
            }
            _ => unreachable!("sema only types these expressions as strings"),
        }
    }

    /// Converts the 64-bit register value of type `from` to the representation of `to`:
    /// truncated to `to`'s width, then sign- or zero-extended to 64 bits.
    pub(crate) fn normalize(&mut self, r: Reg, from: Type, to: Type) -> Reg {
        let (bytes, signed) = match to {
            Type::Int { bytes, signed } => (bytes, signed),
            Type::Bool => {
                if from != Type::Bool {
                    // Any non-zero value is true.
                    let skip = self.em.label();
                    self.em.jump_if(JmpOp::Jeq, r, Src::Imm(0), skip);
                    self.em.emit(Insn::mov64_imm(r, 1));
                    self.em.bind(skip);
                }
                return r;
            }
            _ => return r,
        };
        if bytes >= 8 {
            return r;
        }
        let shift = 64 - 8 * bytes as i32;
        self.em.emit(Insn::alu64(AluOp::Lsh, r, Src::Imm(shift)));
        let op = if signed { AluOp::Arsh } else { AluOp::Rsh };
        self.em.emit(Insn::alu64(op, r, Src::Imm(shift)));
        r
    }
}
