//! `@maps`: their types are inferred from every use in the script (two passes, so a probe may
//! read a map that a later probe assigns), checked for consistency, and lowered to map HIR.

use std::collections::HashMap;

use syntax::ast::{self, BinaryOp, ExprKind as A, UnaryOp};
use syntax::{Diagnostic, Span};

use super::{int, Checker};
use crate::hir::{AggFunc, AtomicUpdate, Expr, ExprKind, MapCommand, MapId, Stmt, StmtKind};
use crate::maps::{MapInfo, MapValue};
use crate::types::Type;

/// bpftrace's default `max_map_keys`.
pub const DEFAULT_MAX_ENTRIES: u32 = 4096;

/// Every map of the script as far as it is known.
#[derive(Default)]
pub(crate) struct MapTable {
    pub(crate) maps: Vec<MapInfo>,
    /// `let @m = hash(n);` declarations: name → max entries.
    pub(crate) declared: HashMap<String, u32>,
    /// The size of undeclared maps (`max_map_keys`).
    pub(crate) default_max_entries: u32,
}

impl MapTable {
    fn find(&self, name: &str) -> Option<MapId> {
        self.maps.iter().position(|m| m.name == name)
    }
}

pub(super) fn describe(value: &MapValue) -> String {
    match value {
        MapValue::Plain(t) => format!("a {t} value"),
        MapValue::Count => "count()".into(),
        MapValue::Sum { .. } => "sum()".into(),
        MapValue::Min { .. } => "min()".into(),
        MapValue::Max { .. } => "max()".into(),
        MapValue::Avg { .. } => "avg()".into(),
        MapValue::Stats { .. } => "stats()".into(),
        MapValue::Hist { .. } => "hist()".into(),
        MapValue::Lhist { .. } => "lhist()".into(),
    }
}

/// The type a value takes once stored: integers widen to 64 bits.
fn stored(ty: Type) -> Type {
    match ty {
        Type::Int { signed, .. } => Type::Int { bytes: 8, signed },
        Type::Bool | Type::Ptr { .. } => Type::U64,
        other => other,
    }
}

const AGGREGATIONS: &[&str] = &[
    "count", "sum", "min", "max", "avg", "stats", "hist", "lhist",
];

impl Checker<'_> {
    /// Checks the key expressions of `@m[k1, k2]` (a single tuple key counts as its parts).
    fn map_key(&mut self, keys: &[ast::Expr]) -> (Vec<Expr>, Vec<Type>) {
        let parts: &[ast::Expr] = match keys {
            [ast::Expr {
                kind: A::Tuple(items),
                ..
            }] => items,
            _ => keys,
        };
        let mut exprs = Vec::new();
        let mut types = Vec::new();
        for k in parts {
            let e = if let A::Str(s) = &k.kind {
                self.string_literal(s, k.span)
            } else {
                self.expr(k)
            };
            // A tuple value as the only key is its fields, like `@m[(a, b)]` and `@m[a, b]`.
            if let (Type::Tuple(tuple), 1) = (e.ty, parts.len()) {
                for (index, &field) in tuple.fields.iter().enumerate() {
                    types.push(stored(field));
                    exprs.push(Expr {
                        kind: ExprKind::TupleField {
                            tuple: Box::new(e.clone()),
                            index,
                        },
                        ty: field,
                        span: e.span,
                    });
                }
                continue;
            }
            if e.ty == Type::None {
                self.push(Diagnostic::error(
                    k.span,
                    "this expression has no value to use as a map key",
                ));
                continue;
            }
            if self.reject_object(&e) {
                continue;
            }
            types.push(stored(e.ty));
            exprs.push(e);
        }
        (exprs, types)
    }

    /// Records a use of map `name` that stores `value` under `key`; returns its id, or
    /// reports why this use conflicts with earlier ones.
    fn define_map(
        &mut self,
        name: &str,
        span: Span,
        key: &[Type],
        value: MapValue,
    ) -> Option<MapId> {
        let display = format!("@{name}");
        let Some(id) = self.maps.find(name) else {
            let max_entries = self
                .maps
                .declared
                .get(name)
                .copied()
                .unwrap_or(self.maps.default_max_entries);
            self.maps.maps.push(MapInfo {
                name: name.to_string(),
                key: key.to_vec(),
                value,
                max_entries,
            });
            return Some(self.maps.maps.len() - 1);
        };
        let existing = self.maps.maps[id].clone();
        if existing.key.len() != key.len() {
            self.push(Diagnostic::error(
                span,
                format!(
                    "{display} is used with {} key part(s) here but {} elsewhere",
                    key.len(),
                    existing.key.len()
                ),
            ));
            return None;
        }
        let mut merged_key = Vec::new();
        for (a, b) in existing.key.iter().zip(key) {
            match Type::unify(*a, *b) {
                Some(t) => merged_key.push(t),
                None => {
                    self.push(Diagnostic::error(
                        span,
                        format!("{display} has {a} keys elsewhere; this key is {b}"),
                    ));
                    return None;
                }
            }
        }
        let merged_value = match (&existing.value, &value) {
            (MapValue::Plain(a), MapValue::Plain(b)) => Type::unify(*a, *b).map(MapValue::Plain),
            (a, b) if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                if a != b && matches!(a, MapValue::Hist { .. } | MapValue::Lhist { .. }) {
                    self.push(Diagnostic::error(
                        span,
                        format!("{display} is a histogram with different parameters elsewhere"),
                    ));
                    return None;
                }
                Some(existing.value.clone())
            }
            _ => None,
        };
        let Some(merged_value) = merged_value else {
            self.push(Diagnostic::error(
                span,
                format!(
                    "{display} holds {} elsewhere; it cannot also hold {}",
                    describe(&existing.value),
                    describe(&value)
                ),
            ));
            return None;
        };
        let m = &mut self.maps.maps[id];
        m.key = merged_key;
        m.value = merged_value;
        Some(id)
    }

    /// A map being read: its id once its type is known. In the inference pass an unknown
    /// map is not an error yet (a later probe may assign it).
    fn use_map(&mut self, name: &str, span: Span, key: &[Type]) -> Option<MapId> {
        let display = format!("@{name}");
        let Some(id) = self.maps.find(name) else {
            if self.final_pass {
                self.push(
                    Diagnostic::error(span, format!("{display} is read but never assigned"))
                        .with_hint(format!("assign it somewhere, e.g. {display} = 0;")),
                );
            }
            return None;
        };
        let expected = self.maps.maps[id].key.len();
        if expected != key.len() {
            self.push(Diagnostic::error(
                span,
                format!("{display} takes {expected} key part(s), not {}", key.len()),
            ));
            return None;
        }
        Some(id)
    }

    /// `@m[k] = value`, `@m[k] op= value`.
    pub(super) fn assign_map(
        &mut self,
        target: &ast::Expr,
        op: Option<BinaryOp>,
        value: &ast::Expr,
        span: Span,
        out: &mut Vec<Stmt>,
    ) {
        let A::Map { name, keys } = &target.kind else {
            return;
        };
        if op.is_none() {
            if let A::Call {
                name: func, args, ..
            } = &value.kind
            {
                if AGGREGATIONS.contains(&func.as_str()) {
                    return self.aggregate(name, keys, func, args, target.span, value.span, out);
                }
            }
        }
        let (key, key_types) = self.map_key(keys);
        let rhs = match &value.kind {
            A::Str(s) if op.is_none() => self.string_literal(s, value.span),
            _ => self.expr(value),
        };
        if rhs.ty == Type::None {
            self.push(Diagnostic::error(
                value.span,
                "this expression has no value to store",
            ));
            return;
        }
        match op {
            None => {
                if let Some(map) = self.define_map(
                    name,
                    target.span,
                    &key_types,
                    MapValue::Plain(stored(rhs.ty)),
                ) {
                    out.push(Stmt {
                        kind: StmtKind::MapStore {
                            map,
                            key,
                            value: rhs,
                        },
                        span,
                    });
                }
            }
            Some(op @ (BinaryOp::Add | BinaryOp::Sub)) => {
                if !rhs.ty.is_integer() {
                    self.push(Diagnostic::error(
                        value.span,
                        format!("'{}=' needs an integer", op.symbol()),
                    ));
                    return;
                }
                let delta = if op == BinaryOp::Sub {
                    Expr {
                        span: rhs.span,
                        ty: Type::I64,
                        kind: ExprKind::Unary {
                            op: UnaryOp::Neg,
                            expr: Box::new(rhs),
                        },
                    }
                } else {
                    rhs
                };
                self.map_add(
                    name,
                    target.span,
                    key,
                    key_types,
                    delta,
                    AtomicUpdate::Add,
                    span,
                    out,
                );
            }
            Some(op @ (BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor)) => {
                if !rhs.ty.is_integer() {
                    self.push(Diagnostic::error(
                        value.span,
                        format!("'{}=' needs an integer", op.symbol()),
                    ));
                    return;
                }
                let update = match op {
                    BinaryOp::BitAnd => AtomicUpdate::And,
                    BinaryOp::BitOr => AtomicUpdate::Or,
                    _ => AtomicUpdate::Xor,
                };
                self.map_add(name, target.span, key, key_types, rhs, update, span, out);
            }
            Some(op) => {
                // Read-modify-write for the operators BPF has no atomic form of.
                let Some(map) =
                    self.define_map(name, target.span, &key_types, MapValue::Plain(Type::I64))
                else {
                    return;
                };
                let current = Expr {
                    kind: ExprKind::MapRead {
                        map,
                        key: key.clone(),
                    },
                    ty: self.map_value_type(map),
                    span: target.span,
                };
                if !rhs.ty.is_integer() || !current.ty.is_integer() {
                    self.push(Diagnostic::error(
                        span,
                        format!("'{}=' needs integers", op.symbol()),
                    ));
                    return;
                }
                if let Some(message) = super::constant_operand_error(op, &rhs) {
                    self.push(Diagnostic::error(rhs.span, message));
                    return;
                }
                // Division is signed if either side is; a shift is arithmetic if the map's
                // values are signed (as for `a >> b` in expressions).
                let signed = match op {
                    BinaryOp::Shr | BinaryOp::Shl => current.ty.is_signed(),
                    _ => current.ty.is_signed() || rhs.ty.is_signed(),
                };
                out.push(Stmt {
                    kind: StmtKind::MapExchange {
                        map,
                        key,
                        op,
                        signed,
                        value: rhs,
                    },
                    span,
                });
            }
        }
    }

    fn map_value_type(&self, map: MapId) -> Type {
        match self.maps.maps[map].value {
            MapValue::Plain(t) => t,
            _ => Type::I64,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn map_add(
        &mut self,
        name: &str,
        target_span: Span,
        key: Vec<Expr>,
        key_types: Vec<Type>,
        delta: Expr,
        op: AtomicUpdate,
        span: Span,
        out: &mut Vec<Stmt>,
    ) {
        let signed = delta.ty.is_signed();
        let value = MapValue::Plain(Type::Int { bytes: 8, signed });
        if let Some(map) = self.define_map(name, target_span, &key_types, value) {
            if !self.map_value_type(map).is_integer() {
                self.push(Diagnostic::error(
                    target_span,
                    format!("@{name} holds strings; it cannot be incremented"),
                ));
                return;
            }
            out.push(Stmt {
                kind: StmtKind::MapAdd {
                    map,
                    key,
                    value: delta,
                    op,
                },
                span,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn aggregate(
        &mut self,
        name: &str,
        keys: &[ast::Expr],
        func: &str,
        args: &[ast::Expr],
        target_span: Span,
        call_span: Span,
        out: &mut Vec<Stmt>,
    ) {
        let (key, key_types) = self.map_key(keys);
        let want = match func {
            "count" => 0..=0,
            "hist" => 1..=2,
            "lhist" => 4..=4,
            _ => 1..=1,
        };
        if !want.contains(&args.len()) {
            let expected = match func {
                "count" => "no arguments".to_string(),
                "hist" => "a value and optionally the bits (0-5)".to_string(),
                "lhist" => "a value, min, max and step".to_string(),
                _ => "one value".to_string(),
            };
            self.push(Diagnostic::error(
                call_span,
                format!("{func}() takes {expected}"),
            ));
            return;
        }
        let value = match args.first() {
            Some(a) => {
                let v = self.expr(a);
                if !v.ty.is_integer() {
                    self.push(Diagnostic::error(
                        a.span,
                        format!("{func}() needs an integer, not {}", v.ty),
                    ));
                    return;
                }
                Some(v)
            }
            None => None,
        };
        let signed = value.as_ref().is_some_and(|v| v.ty.is_signed());
        let constant = |me: &mut Self, e: &ast::Expr, what: &str| -> Option<i64> {
            match &e.kind {
                A::Int(v) => Some(*v as i64),
                A::Unary {
                    op: UnaryOp::Neg,
                    expr,
                } => match expr.kind {
                    A::Int(v) => Some(-(v as i64)),
                    _ => None,
                },
                _ => None,
            }
            .or_else(|| {
                me.push(Diagnostic::error(
                    e.span,
                    format!("{func}(): {what} must be an integer literal"),
                ));
                None
            })
        };
        let (func_kind, map_value) = match func {
            "count" => (AggFunc::Count, MapValue::Count),
            "sum" => (AggFunc::Sum, MapValue::Sum { signed }),
            "min" => (AggFunc::Min, MapValue::Min { signed }),
            "max" => (AggFunc::Max, MapValue::Max { signed }),
            "avg" => (AggFunc::Avg, MapValue::Avg { signed }),
            "stats" => (AggFunc::Stats, MapValue::Stats { signed }),
            "hist" => {
                let bits = match args.get(1) {
                    Some(b) => match constant(self, b, "the bits argument") {
                        Some(v @ 0..=5) => v as u8,
                        Some(_) => {
                            self.push(Diagnostic::error(
                                b.span,
                                "hist(): bits must be between 0 and 5",
                            ));
                            return;
                        }
                        None => return,
                    },
                    None => 0,
                };
                (AggFunc::Hist { bits }, MapValue::Hist { bits })
            }
            _ => {
                let (Some(min), Some(max), Some(step)) = (
                    constant(self, &args[1], "min"),
                    constant(self, &args[2], "max"),
                    constant(self, &args[3], "step"),
                ) else {
                    return;
                };
                if step <= 0 || max <= min {
                    self.push(Diagnostic::error(
                        call_span,
                        "lhist(): needs min < max and a positive step",
                    ));
                    return;
                }
                if (max - min) / step > 1000 {
                    self.push(Diagnostic::error(
                        call_span,
                        "lhist(): more than 1000 buckets; use a larger step",
                    ));
                    return;
                }
                (
                    AggFunc::Lhist { min, max, step },
                    MapValue::Lhist { min, max, step },
                )
            }
        };
        if let Some(map) = self.define_map(name, target_span, &key_types, map_value) {
            out.push(Stmt {
                kind: StmtKind::Aggregate {
                    map,
                    key,
                    func: func_kind,
                    value,
                },
                span: target_span.to(call_span),
            });
        }
    }

    /// `@m[k]` as a value.
    pub(super) fn read_map(&mut self, name: &str, keys: &[ast::Expr], span: Span) -> Expr {
        let (key, key_types) = self.map_key(keys);
        let Some(map) = self.use_map(name, span, &key_types) else {
            return int(0, Type::I64, span);
        };
        match self.maps.maps[map].value {
            MapValue::Plain(ty) => Expr {
                kind: ExprKind::MapRead { map, key },
                ty,
                span,
            },
            ref agg if Self::aggregation_int(agg).is_some() => {
                let ty = Self::aggregation_int(agg).expect("checked by the guard");
                self.read_aggregation(map, key, ty, span)
            }
            ref other => {
                let what = describe(other);
                self.error(
                    span,
                    format!("@{name} holds {what}, which has no single integer value to read"),
                )
            }
        }
    }

    /// The integer type of an aggregation that can be read as one value (bpftrace's
    /// "castable" aggregations: count, sum, min, max, avg); `None` for the others.
    pub(super) fn aggregation_int(value: &MapValue) -> Option<Type> {
        match *value {
            MapValue::Count => Some(Type::U64),
            MapValue::Sum { signed }
            | MapValue::Min { signed }
            | MapValue::Max { signed }
            | MapValue::Avg { signed } => Some(if signed { Type::I64 } else { Type::U64 }),
            _ => None,
        }
    }

    /// `count sum min max avg` values read as an integer: merged over every CPU in the kernel.
    fn read_aggregation(&mut self, map: MapId, key: Vec<Expr>, ty: Type, span: Span) -> Expr {
        match self.kernel.possible_cpu_ids() {
            Ok(cpus) => Expr {
                kind: ExprKind::AggRead { map, key, cpus },
                ty,
                span,
            },
            Err(e) => self.error(span, format!("cannot read this aggregation: {e}")),
        }
    }

    /// The map argument of `delete`, `clear`, `print`...: `@m` or `@m[k]`.
    fn map_arg<'e>(
        &mut self,
        func: &str,
        arg: Option<&'e ast::Expr>,
        span: Span,
    ) -> Option<(&'e str, &'e [ast::Expr], Span)> {
        match arg.map(|a| (&a.kind, a.span)) {
            Some((A::Map { name, keys }, s)) => Some((name.as_str(), keys.as_slice(), s)),
            _ => {
                self.push(Diagnostic::error(
                    span,
                    format!("{func}() needs a map as its first argument"),
                ));
                None
            }
        }
    }

    /// Map functions used as statements. Returns false if `name` is not one.
    pub(super) fn map_call_stmt(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        span: Span,
        out: &mut Vec<Stmt>,
    ) -> bool {
        match name {
            "delete" => {
                let Some((map_name, keys, map_span)) = self.map_arg(name, args.first(), span)
                else {
                    return true;
                };
                // delete(@m[k]) or delete(@m, k)
                let key_exprs: Vec<ast::Expr> = if keys.is_empty() {
                    args[1..].to_vec()
                } else {
                    keys.to_vec()
                };
                let (key, key_types) = self.map_key(&key_exprs);
                if let Some(map) = self.use_map(map_name, map_span, &key_types) {
                    out.push(Stmt {
                        kind: StmtKind::MapDelete { map, key },
                        span,
                    });
                }
                true
            }
            "clear" | "zero" | "print"
                if matches!(args.first().map(|a| &a.kind), Some(A::Map { .. })) =>
            {
                let Some((map_name, keys, map_span)) = self.map_arg(name, args.first(), span)
                else {
                    return true;
                };
                if !keys.is_empty() {
                    if name == "print" && args.len() == 1 {
                        // print(@m[k]) prints one value.
                        return false;
                    }
                    self.push(Diagnostic::error(
                        map_span,
                        format!("{name}() takes a whole map, without a key"),
                    ));
                    return true;
                }
                let Some(map) = self.maps.find(map_name) else {
                    if self.final_pass {
                        self.push(Diagnostic::error(
                            map_span,
                            format!("@{map_name} is never assigned"),
                        ));
                    }
                    return true;
                };
                let command = match name {
                    "clear" => MapCommand::Clear,
                    "zero" => MapCommand::Zero,
                    _ => {
                        let mut nums = [0u64, 1];
                        for (i, a) in args.iter().skip(1).enumerate() {
                            match (i, &a.kind) {
                                (0 | 1, A::Int(v)) => nums[i] = *v,
                                _ => {
                                    self.push(Diagnostic::error(
                                        a.span,
                                        "print(@map, top, div): top and div must be integer literals",
                                    ));
                                    return true;
                                }
                            }
                        }
                        MapCommand::Print {
                            top: nums[0],
                            div: nums[1].max(1),
                        }
                    }
                };
                if name != "print" && args.len() > 1 {
                    self.push(Diagnostic::error(
                        span,
                        format!("{name}() takes only the map"),
                    ));
                }
                out.push(Stmt {
                    kind: StmtKind::MapCommand { map, command },
                    span,
                });
                true
            }
            _ => false,
        }
    }

    /// The map and key of `@m[k]++` used as a value (a plain integer map).
    pub(super) fn fetch_add_map(
        &mut self,
        name: &str,
        keys: &[ast::Expr],
        span: Span,
    ) -> Option<(MapId, Vec<Expr>)> {
        let (key, key_types) = self.map_key(keys);
        let map = self.define_map(name, span, &key_types, MapValue::Plain(Type::I64))?;
        if !self.map_value_type(map).is_integer() {
            self.push(Diagnostic::error(
                span,
                format!("@{name} holds strings; it cannot be incremented"),
            ));
            return None;
        }
        Some((map, key))
    }

    /// `len(@m)`: the number of entries.
    pub(super) fn map_len(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some((map_name, keys, map_span)) = self.map_arg("len", args.first(), span) else {
            return int(0, Type::U64, span);
        };
        if !keys.is_empty() || args.len() != 1 {
            return self.error(span, "len() takes a whole map: len(@m)");
        }
        match self.maps.find(map_name) {
            Some(map) => Expr {
                kind: ExprKind::MapLen { map },
                ty: Type::U64,
                span,
            },
            None => {
                if self.final_pass {
                    self.push(Diagnostic::error(
                        map_span,
                        format!("@{map_name} is never assigned"),
                    ));
                }
                int(0, Type::U64, span)
            }
        }
    }

    /// `has_key(@m, k)`.
    pub(super) fn has_key(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some((map_name, keys, map_span)) = self.map_arg("has_key", args.first(), span) else {
            return int(0, Type::Bool, span);
        };
        if !keys.is_empty() || args.len() < 2 {
            return self.error(span, "has_key() takes a map and a key: has_key(@m, k)");
        }
        let (key, key_types) = self.map_key(&args[1..]);
        match self.use_map(map_name, map_span, &key_types) {
            Some(map) => Expr {
                kind: ExprKind::HasKey { map, key },
                ty: Type::Bool,
                span,
            },
            None => int(0, Type::Bool, span),
        }
    }
}
