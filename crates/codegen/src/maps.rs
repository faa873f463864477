//! `@map` operations: keys built on the stack, lookups, updates, aggregations.
//!
//! Plain maps are shared hash maps: `@m[k] += n` is an atomic add on an existing entry (no
//! lost updates between CPUs). Aggregations live in per-CPU hash maps that user space merges,
//! so their updates need no atomics. A failed insert (map full) is counted in `globals`.

use object::helpers::Helper;
use object::insn::{AluOp, AtomicOp, Insn, JmpOp, Size, Src};
use object::{FuncRef, MapRef, Reg};
use sema::hir::{AggFunc, AtomicUpdate, Builtin, Expr, ExprKind, MapCommand, MapId};
use sema::maps::MapValue;
use sema::{CLEAR_MAP_EVENT_ID, PRINT_MAP_EVENT_ID, ZERO_MAP_EVENT_ID};
use syntax::ast::BinaryOp;

use crate::emitter::{Emitter, Label};
use crate::frame::read;
use crate::lower::Lowering;
use crate::{
    CMPXCHG_ATTEMPTS, FUNC_LEN_CALLBACK, GLOBALS_CONTENDED, GLOBALS_MAP_FULL, MAP_GLOBALS,
    MAP_USER_BASE,
};

/// Bytes of a map command record: id, map index, top, div.
pub(crate) const COMMAND_RECORD: u32 = 32;

const BPF_ANY: i32 = 0;
const BPF_NOEXIST: i32 = 1;

/// The callback behind `len(@m)`: visit every entry (return 0).
pub(crate) fn len_callback_function() -> Vec<Insn> {
    vec![Insn::mov64_imm(Reg::R0, 0), Insn::Exit]
}

impl Lowering<'_> {
    fn map_ref(map: MapId) -> MapRef {
        MapRef(MAP_USER_BASE + map as u32)
    }

    /// `r1 = map; r2 = fp + key`
    fn map_and_key(&mut self, map: MapId, key: i16) {
        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: Self::map_ref(map),
        });
        self.em.fp_addr(Reg::R2, key);
    }

    /// Writes the key of `map` for `parts` into a fresh zeroed stack buffer; returns its
    /// offset. For histograms the last 8 bytes are left for the bucket.
    fn build_key(&mut self, map: MapId, parts: &[Expr]) -> i16 {
        let info = &self.maps[map];
        let size = info.key_size();
        let types = info.key.clone();
        let buf = self.frame.alloc(size);
        // Integer parts fill their words; everything else (string padding, the bucket, the
        // key of a scalar map) starts as zeroes.
        let mut covered = vec![false; size.div_ceil(8) as usize];
        let mut at = 0;
        for (part, ty) in parts.iter().zip(&types) {
            let words = ty.size().div_ceil(8) as usize;
            // bpf_get_current_comm pads the name with zeroes itself.
            let padded_comm =
                matches!(part.kind, ExprKind::Builtin(Builtin::Comm)) && ty.size() == 16;
            if !ty.is_buffer() || padded_comm {
                covered[at..at + words].fill(true);
            }
            at += words;
        }
        let mut word = 0;
        while word < covered.len() {
            let run = covered[word..].iter().take_while(|&&c| !c).count();
            if run > 0 {
                self.zero(buf + 8 * word as i16, 8 * run as u32);
            }
            word += run.max(1);
        }
        let mut off = 0i16;
        for (part, ty) in parts.iter().zip(types) {
            match ty {
                t if t.is_buffer() => self.string_into(part, buf + off, t.size()),
                _ => {
                    let r = self.expr_value(part, Reg::R0);
                    self.em.store_fp(Size::DW, buf + off, Src::Reg(r));
                }
            }
            off += (ty.size().div_ceil(8) * 8) as i16;
        }
        buf
    }

    /// `r0 = bpf_map_lookup_elem(map, key)`
    fn lookup(&mut self, map: MapId, key: i16) {
        self.map_and_key(map, key);
        self.call(Helper::MapLookupElem);
    }

    /// `bpf_map_update_elem(map, key, value, flags)`, counting a failure as a full map
    /// unless `allow_exists` and the entry merely appeared meanwhile.
    fn update(&mut self, map: MapId, key: i16, value: i16, flags: i32) {
        self.map_and_key(map, key);
        self.em.fp_addr(Reg::R3, value);
        self.em.emit(Insn::mov64_imm(Reg::R4, flags));
        self.call(Helper::MapUpdateElem);
        let ok = self.em.label();
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), ok);
        self.count_in_globals(GLOBALS_MAP_FULL);
        self.em.bind(ok);
    }

    /// `globals[offset] += 1` in this probe's block, atomically: the loss counters user space
    /// reports at exit.
    /// The counter is addressed directly (`BPF_PSEUDO_MAP_VALUE`), so no lookup is needed.
    pub(crate) fn count_in_globals(&mut self, offset: i16) {
        self.em.emit(Insn::LdMapValue {
            dst: Reg::R1,
            map: MapRef(MAP_GLOBALS),
            off: self.loss_counters + offset as i32,
        });
        self.em.emit(Insn::mov64_imm(Reg::R2, 1));
        self.em.emit(Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::Add,
            fetch: false,
            dst: Reg::R1,
            off: 0,
            src: Reg::R2,
        });
    }

    /// Evaluates an integer into a fresh 8-byte stack slot.
    fn int_slot(&mut self, e: &Expr) -> i16 {
        let r = self.expr_value(e, Reg::R0);
        let slot = self.frame.alloc(8);
        self.em.store_fp(Size::DW, slot, Src::Reg(r));
        slot
    }

    pub(crate) fn map_store(&mut self, map: MapId, key: &[Expr], value: &Expr) {
        let key = self.build_key(map, key);
        let slot = match self.maps[map].value {
            MapValue::Plain(t) if t.is_buffer() => {
                let len = t.size();
                let size = self.maps[map].value.size();
                let slot = self.frame.alloc(size);
                self.zero(slot, size);
                self.string_into(value, slot, len);
                slot
            }
            _ => self.int_slot(value),
        };
        self.update(map, key, slot, BPF_ANY);
    }

    pub(crate) fn map_add(&mut self, map: MapId, key: &[Expr], value: &Expr, op: AtomicUpdate) {
        let key = self.build_key(map, key);
        let operand = self.int_slot(value);
        let op = match op {
            AtomicUpdate::Add => AtomicOp::Add,
            AtomicUpdate::And => AtomicOp::And,
            AtomicUpdate::Or => AtomicOp::Or,
            AtomicUpdate::Xor => AtomicOp::Xor,
        };
        self.atomic_update(map, key, operand, op, false);
    }

    /// `@m[k] op= value` with an operator BPF has no atomic form of: read the entry, compute,
    /// and store with `cmpxchg` only if no other CPU changed it meanwhile; otherwise retry
    /// (at most [`CMPXCHG_ATTEMPTS`] times, then count the update as lost).
    pub(crate) fn map_exchange(
        &mut self,
        map: MapId,
        key: &[Expr],
        op: BinaryOp,
        signed: bool,
        value: &Expr,
    ) {
        let alu = match (op, signed) {
            (BinaryOp::Mul, _) => AluOp::Mul,
            (BinaryOp::Div, true) => AluOp::SDiv,
            (BinaryOp::Div, false) => AluOp::Div,
            (BinaryOp::Mod, true) => AluOp::SMod,
            (BinaryOp::Mod, false) => AluOp::Mod,
            (BinaryOp::Shl, _) => AluOp::Lsh,
            (BinaryOp::Shr, true) => AluOp::Arsh,
            (BinaryOp::Shr, false) => AluOp::Rsh,
            _ => unreachable!("sema sends only * / % << >> here"),
        };
        let key = self.build_key(map, key);
        let operand = self.int_slot(value);
        // What a missing entry becomes: `0 op value`.
        let initial = self.frame.alloc(8);
        self.em.emit(Insn::mov64_imm(Reg::R1, 0));
        self.em.load_fp(Size::DW, Reg::R5, operand);
        self.em.emit(Insn::alu64(alu, Reg::R1, Src::Reg(Reg::R5)));
        self.em.store_fp(Size::DW, initial, Src::Reg(Reg::R1));
        let tried = self.frame.alloc(8);
        self.em.store_fp(Size::DW, tried, Src::Imm(0));
        let (again, insert, swap, done) = (
            self.em.label(),
            self.em.label(),
            self.em.label(),
            self.em.label(),
        );
        self.em.bind(again);
        self.lookup(map, key);
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), insert);
        // r3 = entry, r4 = attempts; no calls in the loop, so r1-r5 stay ours.
        self.em.emit(Insn::mov64(Reg::R3, Reg::R0));
        self.em.emit(Insn::mov64_imm(Reg::R4, 0));
        self.em.load_fp(Size::DW, Reg::R5, operand);
        self.em.bind(swap);
        self.em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R1,
            src: Reg::R3,
            off: 0,
        });
        self.em.emit(Insn::mov64(Reg::R2, Reg::R1));
        self.em.emit(Insn::alu64(alu, Reg::R2, Src::Reg(Reg::R5)));
        self.em.emit(Insn::mov64(Reg::R0, Reg::R1));
        self.em.emit(Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::Cmpxchg,
            fetch: true,
            dst: Reg::R3,
            off: 0,
            src: Reg::R2,
        });
        self.em
            .jump_if(JmpOp::Jeq, Reg::R0, Src::Reg(Reg::R1), done);
        self.em.emit(Insn::alu64(AluOp::Add, Reg::R4, Src::Imm(1)));
        self.em
            .jump_if(JmpOp::Jlt, Reg::R4, Src::Imm(CMPXCHG_ATTEMPTS), swap);
        self.count_in_globals(GLOBALS_CONTENDED);
        self.em.goto(done);
        self.insert_if_absent(map, key, initial, tried, [insert, again, done]);
    }

    /// The insert path of the atomic updates, bound at `insert`: insert the value at
    /// `initial` only if the key is still absent. If another CPU inserted it first, go back
    /// to `again` (once, as `tried` records) to update that entry; if the insert failed
    /// otherwise, the map is full. Ends at `done`, which it binds.
    fn insert_if_absent(
        &mut self,
        map: MapId,
        key: i16,
        initial: i16,
        tried: i16,
        [insert, again, done]: [Label; 3],
    ) {
        self.em.bind(insert);
        self.em.load_fp(Size::DW, Reg::R1, tried);
        let full = self.em.label();
        self.em.jump_if(JmpOp::Jne, Reg::R1, Src::Imm(0), full);
        self.em.store_fp(Size::DW, tried, Src::Imm(1));
        self.map_and_key(map, key);
        self.em.fp_addr(Reg::R3, initial);
        self.em.emit(Insn::mov64_imm(Reg::R4, BPF_NOEXIST));
        self.call(Helper::MapUpdateElem);
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), done);
        self.em.goto(again);
        self.em.bind(full);
        // r0 still holds the failed lookup's 0, the value a lost increment reports.
        self.count_in_globals(GLOBALS_MAP_FULL);
        self.em.bind(done);
    }

    /// `@m[k]++` as a value: r0 = the value before the add (0 for a new entry).
    pub(crate) fn map_fetch_add(&mut self, map: MapId, key: &[Expr], delta: i64) {
        let key = self.build_key(map, key);
        let slot = self.frame.alloc(8);
        self.em.store_fp(Size::DW, slot, Src::Imm(delta as i32));
        self.atomic_update(map, key, slot, AtomicOp::Add, true);
    }

    /// Applies `op` with the value at `delta` to the entry at `key`, atomically, inserting the
    /// entry if missing (with what `op` makes of 0: the operand, or 0 for `and`). With
    /// `fetch`, r0 ends up holding the previous value.
    fn atomic_update(&mut self, map: MapId, key: i16, delta: i16, op: AtomicOp, fetch: bool) {
        let initial = if op == AtomicOp::And {
            let zero = self.frame.alloc(8);
            self.em.store_fp(Size::DW, zero, Src::Imm(0));
            zero
        } else {
            delta
        };
        let tried = self.frame.alloc(8);
        self.em.store_fp(Size::DW, tried, Src::Imm(0));
        let again = self.em.label();
        let insert = self.em.label();
        let done = self.em.label();
        self.em.bind(again);
        self.lookup(map, key);
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), insert);
        self.em.load_fp(Size::DW, Reg::R1, delta);
        self.em.emit(Insn::Atomic {
            size: Size::DW,
            op,
            fetch,
            dst: Reg::R0,
            off: 0,
            src: Reg::R1,
        });
        if fetch {
            self.em.emit(Insn::mov64(Reg::R0, Reg::R1));
        }
        self.em.goto(done);
        // A successful insert leaves r0 = 0, the "previous value" of a new entry.
        self.insert_if_absent(map, key, initial, tried, [insert, again, done]);
    }

    pub(crate) fn aggregate(
        &mut self,
        map: MapId,
        key: &[Expr],
        func: AggFunc,
        value: Option<&Expr>,
    ) {
        let key_off = self.build_key(map, key);
        let bucket = key_off + self.maps[map].key_size() as i16 - 8;
        // count() and the histograms add a constant 1; the others need the value, kept in
        // a temporary (a callee-saved register, usually) across the lookup.
        let mut v = None;
        match (func, value) {
            (AggFunc::Count, _) | (_, None) => {}
            (AggFunc::Hist { bits }, Some(e)) => {
                self.expr_into(e, Reg::R1);
                self.hist_bucket(bits, bucket);
            }
            (AggFunc::Lhist { min, max, step }, Some(e)) => {
                self.expr_into(e, Reg::R1);
                self.lhist_bucket(min, max, step, bucket);
            }
            (_, Some(e)) => v = Some(self.expr(e)),
        }
        let value_reg = |me: &mut Self| match v {
            Some(t) => Src::Reg(read(&mut me.em, t, Reg::R1)),
            None => Src::Imm(1),
        };
        let insert = self.em.label();
        let done = self.em.label();
        self.lookup(map, key_off);
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), insert);
        // The entry exists: update this CPU's copy in place.
        let src = value_reg(self);
        match func {
            AggFunc::Count | AggFunc::Sum | AggFunc::Hist { .. } | AggFunc::Lhist { .. } => {
                self.add_at(Reg::R0, 0, src)
            }
            AggFunc::Avg | AggFunc::Stats => {
                self.add_at(Reg::R0, 0, Src::Imm(1));
                self.add_at(Reg::R0, 8, src);
            }
            AggFunc::Min | AggFunc::Max => {
                let signed = value.is_some_and(|e| e.ty.is_signed());
                let replace = self.em.label();
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R2,
                    src: Reg::R0,
                    off: 8,
                });
                self.em.jump_if(JmpOp::Jeq, Reg::R2, Src::Imm(0), replace);
                self.em.emit(Insn::Load {
                    size: Size::DW,
                    dst: Reg::R2,
                    src: Reg::R0,
                    off: 0,
                });
                let better = match (func == AggFunc::Min, signed) {
                    (true, true) => JmpOp::Jslt,
                    (true, false) => JmpOp::Jlt,
                    (false, true) => JmpOp::Jsgt,
                    (false, false) => JmpOp::Jgt,
                };
                let Src::Reg(value) = src else {
                    unreachable!("min() and max() always have a value")
                };
                self.em.jump_if(better, value, Src::Reg(Reg::R2), replace);
                self.em.goto(done);
                self.em.bind(replace);
                for (off, src) in [(0, src), (8, Src::Imm(1))] {
                    self.em.emit(Insn::Store {
                        size: Size::DW,
                        dst: Reg::R0,
                        off,
                        src,
                    });
                }
            }
        }
        self.em.goto(done);
        // No entry yet: insert this CPU's first value.
        self.em.bind(insert);
        let size = self.maps[map].value.size();
        let initial = self.frame.alloc(size);
        let src = value_reg(self);
        let (first, second) = match func {
            AggFunc::Count | AggFunc::Sum | AggFunc::Hist { .. } | AggFunc::Lhist { .. } => {
                (src, None)
            }
            AggFunc::Min | AggFunc::Max => (src, Some(Src::Imm(1))),
            AggFunc::Avg | AggFunc::Stats => (Src::Imm(1), Some(src)),
        };
        self.em.store_fp(Size::DW, initial, first);
        if let Some(second) = second {
            self.em.store_fp(Size::DW, initial + 8, second);
        }
        self.update(map, key_off, initial, BPF_ANY);
        self.em.bind(done);
        if v.is_some() {
            self.frame.pop_temp();
        }
    }

    /// `*(u64 *)(base + off) += src` (not atomic: for per-CPU values).
    fn add_at(&mut self, base: Reg, off: i16, src: Src) {
        self.em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R3,
            src: base,
            off,
        });
        self.em.emit(Insn::alu64(AluOp::Add, Reg::R3, src));
        self.em.emit(Insn::Store {
            size: Size::DW,
            dst: base,
            off,
            src: Src::Reg(Reg::R3),
        });
    }

    /// The `hist(v, k)` bucket of the value in r1, stored at `dst`, in the encoding
    /// `output::hist_bucket` documents (bpftrace's): with n = 2^k, 0 for negative values,
    /// v + 1 below n, else `((p - k + 1) << k) + ((v >> (p - k)) & (n - 1)) + 1` where
    /// p = floor(log2 v).
    fn hist_bucket(&mut self, bits: u8, dst: i16) {
        let done = self.em.label();
        let (x, r) = (Reg::R1, Reg::R2);
        let n = 1i32 << bits;
        self.em.emit(Insn::mov64_imm(r, 0));
        self.em.jump_if(JmpOp::Jslt, x, Src::Imm(0), done);
        self.em.emit(Insn::mov64(r, x));
        self.em.emit(Insn::alu64(AluOp::Add, r, Src::Imm(1)));
        self.em.jump_if(JmpOp::Jlt, x, Src::Imm(n), done);
        // p = floor(log2 x) by halving the search range; x itself is kept in r1.
        let (y, p) = (Reg::R4, Reg::R2);
        self.em.emit(Insn::mov64(y, x));
        self.em.emit(Insn::mov64_imm(p, 0));
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.em.label();
            if shift == 32 {
                // 2^32 does not fit an immediate: compare what is left after the shift.
                self.em.emit(Insn::mov64(Reg::R3, y));
                self.em.emit(Insn::alu64(AluOp::Rsh, Reg::R3, Src::Imm(32)));
                self.em.jump_if(JmpOp::Jeq, Reg::R3, Src::Imm(0), skip);
            } else {
                self.em.jump_if(JmpOp::Jlt, y, Src::Imm(1 << shift), skip);
            }
            self.em.emit(Insn::alu64(AluOp::Rsh, y, Src::Imm(shift)));
            self.em.emit(Insn::alu64(AluOp::Add, p, Src::Imm(shift)));
            self.em.bind(skip);
        }
        // r2 = p - k; r1 = (x >> (p - k)) & (n - 1); r2 = ((p - k + 1) << k) + r1 + 1
        self.em
            .emit(Insn::alu64(AluOp::Sub, p, Src::Imm(bits as i32)));
        self.em.emit(Insn::alu64(AluOp::Rsh, x, Src::Reg(p)));
        self.em.emit(Insn::alu64(AluOp::And, x, Src::Imm(n - 1)));
        self.em.emit(Insn::alu64(AluOp::Add, p, Src::Imm(1)));
        self.em
            .emit(Insn::alu64(AluOp::Lsh, p, Src::Imm(bits as i32)));
        self.em.emit(Insn::alu64(AluOp::Add, p, Src::Reg(x)));
        self.em.emit(Insn::alu64(AluOp::Add, p, Src::Imm(1)));
        self.em.bind(done);
        self.em.store_fp(Size::DW, dst, Src::Reg(r));
    }

    /// The linear bucket of the value in r1: 0 below `min`, 1 + (v - min) / step inside,
    /// the last one at or above `max`.
    fn lhist_bucket(&mut self, min: i64, max: i64, step: i64, dst: i16) {
        let done = self.em.label();
        let (x, r) = (Reg::R1, Reg::R2);
        self.em.emit(Insn::mov64_imm(r, 0));
        let below = self.const_operand(min, Reg::R3);
        self.em.jump_if(JmpOp::Jslt, x, below, done);
        self.load_const(r, (max - min) / step + 1);
        let above = self.const_operand(max, Reg::R3);
        self.em.jump_if(JmpOp::Jsge, x, above, done);
        self.em.emit(Insn::mov64(r, x));
        if min != 0 {
            let min = self.const_operand(min, Reg::R3);
            self.em.emit(Insn::alu64(AluOp::Sub, r, min));
        }
        if step != 1 {
            let step = self.const_operand(step, Reg::R3);
            self.em.emit(Insn::alu64(AluOp::Div, r, step));
        }
        self.em.emit(Insn::alu64(AluOp::Add, r, Src::Imm(1)));
        self.em.bind(done);
        self.em.store_fp(Size::DW, dst, Src::Reg(r));
    }

    /// `@m[k]` as an integer, into r0 (0 when missing).
    pub(crate) fn map_read_int(&mut self, map: MapId, key: &[Expr]) {
        let key = self.build_key(map, key);
        self.lookup(map, key);
        let missing = self.em.label();
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), missing);
        self.em.emit(Insn::Load {
            size: Size::DW,
            dst: Reg::R0,
            src: Reg::R0,
            off: 0,
        });
        self.em.bind(missing);
    }

    /// `count sum min max avg` of `@m[k]` as one integer in r0: the value of every CPU
    /// fetched with `bpf_map_lookup_percpu_elem` and merged here (0 for a missing key).
    pub(crate) fn agg_read(&mut self, map: MapId, key: &[Expr], cpus: u32) {
        let key = self.build_key(map, key);
        self.agg_merge(map, Some(key), cpus);
    }

    /// The merge loop of [`Lowering::agg_read`]; the key is at frame offset `key`, or with
    /// `None`, the current entry of the enclosing `for ($kv : @map)`.
    pub(crate) fn agg_merge(&mut self, map: MapId, key: Option<i16>, cpus: u32) {
        let value = self.maps[map].value.clone();
        // acc: sum, total or the min/max so far; aux: avg's count, or whether min/max saw
        // a value yet.
        let [acc, aux, cpu] = [(); 3].map(|_| self.frame.alloc(8));
        for slot in [acc, aux, cpu] {
            self.em.store_fp(Size::DW, slot, Src::Imm(0));
        }
        let (top, next, done) = (self.em.label(), self.em.label(), self.em.label());
        self.em.bind(top);
        self.em.load_fp(Size::DW, Reg::R3, cpu);
        self.em
            .jump_if(JmpOp::Jge, Reg::R3, Src::Imm(cpus as i32), done);
        match key {
            Some(key) => self.map_and_key(map, key),
            None => {
                let entry_key = self.for_entry_ptr(false);
                self.em.emit(Insn::mov64(Reg::R2, entry_key));
                self.em.emit(Insn::LdMap {
                    dst: Reg::R1,
                    map: Self::map_ref(map),
                });
            }
        }
        self.call(Helper::MapLookupPercpuElem);
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), done);
        let field = |em: &mut Emitter, dst: Reg, off: i16| {
            em.emit(Insn::Load {
                size: Size::DW,
                dst,
                src: Reg::R0,
                off,
            })
        };
        let add_to = |em: &mut Emitter, slot: i16, off: i16| {
            field(em, Reg::R1, off);
            em.load_fp(Size::DW, Reg::R2, slot);
            em.emit(Insn::alu64(AluOp::Add, Reg::R2, Src::Reg(Reg::R1)));
            em.store_fp(Size::DW, slot, Src::Reg(Reg::R2));
        };
        match value {
            MapValue::Avg { .. } => {
                add_to(&mut self.em, acc, 8);
                add_to(&mut self.em, aux, 0);
            }
            MapValue::Min { signed } | MapValue::Max { signed } => {
                let is_min = matches!(value, MapValue::Min { .. });
                field(&mut self.em, Reg::R1, 8);
                self.em.jump_if(JmpOp::Jeq, Reg::R1, Src::Imm(0), next);
                field(&mut self.em, Reg::R1, 0);
                let take = self.em.label();
                self.em.load_fp(Size::DW, Reg::R2, aux);
                self.em.jump_if(JmpOp::Jeq, Reg::R2, Src::Imm(0), take);
                self.em.load_fp(Size::DW, Reg::R2, acc);
                // Keep the old value unless the new one is strictly better.
                let keep = match (is_min, signed) {
                    (true, true) => JmpOp::Jsge,
                    (true, false) => JmpOp::Jge,
                    (false, true) => JmpOp::Jsle,
                    (false, false) => JmpOp::Jle,
                };
                self.em.jump_if(keep, Reg::R1, Src::Reg(Reg::R2), next);
                self.em.bind(take);
                self.em.store_fp(Size::DW, acc, Src::Reg(Reg::R1));
                self.em.store_fp(Size::DW, aux, Src::Imm(1));
            }
            _ => add_to(&mut self.em, acc, 0),
        }
        self.em.bind(next);
        self.em.load_fp(Size::DW, Reg::R3, cpu);
        self.em.emit(Insn::alu64(AluOp::Add, Reg::R3, Src::Imm(1)));
        self.em.store_fp(Size::DW, cpu, Src::Reg(Reg::R3));
        self.em.goto(top);
        self.em.bind(done);
        self.em.load_fp(Size::DW, Reg::R0, acc);
        if let MapValue::Avg { signed } = value {
            // BPF division by zero gives 0: the average of nothing.
            self.em.load_fp(Size::DW, Reg::R1, aux);
            let op = if signed { AluOp::SDiv } else { AluOp::Div };
            self.em.emit(Insn::alu64(op, Reg::R0, Src::Reg(Reg::R1)));
        }
    }

    /// `len(@m)` into r0: `bpf_for_each_map_elem` returns how many entries it visited, so
    /// the callback (shared by every `len`) only says "go on".
    pub(crate) fn map_len(&mut self, map: MapId) {
        self.em.emit(Insn::LdMap {
            dst: Reg::R1,
            map: Self::map_ref(map),
        });
        self.em.emit(Insn::LdFunc {
            dst: Reg::R2,
            func: FuncRef(FUNC_LEN_CALLBACK),
        });
        self.em.emit(Insn::mov64_imm(Reg::R3, 0));
        self.em.emit(Insn::mov64_imm(Reg::R4, 0));
        self.call(Helper::ForEachMapElem);
        self.uses_shared_functions = true;
    }

    /// `has_key(@m, k)` into r0.
    pub(crate) fn map_has_key(&mut self, map: MapId, key: &[Expr]) {
        let key = self.build_key(map, key);
        self.lookup(map, key);
        let missing = self.em.label();
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), missing);
        self.em.emit(Insn::mov64_imm(Reg::R0, 1));
        self.em.bind(missing);
    }

    /// `@m[k]` as a string, copied to `dst` (zeros when missing).
    pub(crate) fn map_read_string(&mut self, map: MapId, key: &[Expr], dst: i16, cap: u32) {
        let key = self.build_key(map, key);
        self.lookup(map, key);
        let missing = self.em.label();
        let done = self.em.label();
        self.em.jump_if(JmpOp::Jeq, Reg::R0, Src::Imm(0), missing);
        let len = match self.maps[map].value {
            MapValue::Plain(t) if t.is_buffer() => t.size().min(cap),
            _ => cap,
        };
        self.em.emit(Insn::mov64(Reg::R3, Reg::R0));
        self.em.fp_addr(Reg::R1, dst);
        self.em.emit(Insn::mov64_imm(Reg::R2, len as i32));
        self.call(Helper::ProbeReadKernel);
        self.em.goto(done);
        self.em.bind(missing);
        self.zero(dst, cap.div_ceil(8) * 8);
        self.em.bind(done);
    }

    pub(crate) fn map_delete(&mut self, map: MapId, key: &[Expr]) {
        let key = self.build_key(map, key);
        self.map_and_key(map, key);
        self.call(Helper::MapDeleteElem);
    }

    /// Asks user space to print, clear or zero a map.
    pub(crate) fn map_command(&mut self, map: MapId, command: MapCommand) {
        let (id, top, div) = match command {
            MapCommand::Print { top, div } => (PRINT_MAP_EVENT_ID, top, div),
            MapCommand::Clear => (CLEAR_MAP_EVENT_ID, 0, 1),
            MapCommand::Zero => (ZERO_MAP_EVENT_ID, 0, 1),
        };
        let rec = self.record;
        for (i, value) in [id as i64, map as i64, top as i64, div as i64]
            .into_iter()
            .enumerate()
        {
            self.em.emit(Insn::LdImm64 {
                dst: Reg::R1,
                imm: value,
            });
            self.em
                .store_fp(Size::DW, rec + 8 * i as i16, Src::Reg(Reg::R1));
        }
        self.output(rec, COMMAND_RECORD);
    }
}
