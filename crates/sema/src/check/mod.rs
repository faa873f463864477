//! Types one probe body for one attach point and lowers it to HIR.

mod kernel_types;
mod kernel_vars;
mod maps;
mod ntop;
mod print_struct;
mod stacks;
mod syscall_name;
mod tuples;
mod user_values;

pub(crate) use kernel_types::nearest;

pub(crate) use maps::{MapTable, DEFAULT_MAX_ENTRIES};
pub(crate) use stacks::StackTables;

use std::collections::BTreeMap;

use kernel::{FieldKind, KernelInfo, TracepointFormat};
use syntax::ast::{self, BinaryOp, ExprKind as A, StmtKind as S, UnaryOp};
use syntax::{Diagnostic, Span};

use crate::hir::{Attach, Builtin, Expr, ExprKind, Stmt, StmtKind, Var, VarId};
use crate::maps::MapValue;
use crate::printf::{self, Piece};
use crate::types::Type;
use crate::{ExprType, FormatKind, NotedAs, Options, PrintfArg, PrintfFormat};

/// Functions of bpftrace's standard library that beetrace does not compile yet: calling one is
/// a clear "not yet", not "unknown".
pub(crate) const KNOWN_FUNCTIONS: &[&str] = &[
    "print",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stats",
    "hist",
    "lhist",
    "tseries",
    "delete",
    "clear",
    "zero",
    "has_key",
    "str",
    "buf",
    "kstack",
    "ustack",
    "ksym",
    "usym",
    "kaddr",
    "uaddr",
    "reg",
    "ntop",
    "pton",
    "join",
    "time",
    "strftime",
    "cat",
    "system",
    "signal",
    "override",
    "sizeof",
    "cgroupid",
    "cgroup_path",
    "macaddr",
    "strncmp",
    "strcontains",
    "path",
    "bswap",
    "skboutput",
    "nsecs",
    "errorf",
    "warnf",
    "debugf",
    "percpu_kaddr",
    "socket_cookie",
    "unwatch",
    "kptr",
    "uptr",
    "offsetof",
    "strerror",
    "fail",
];

/// Bytes `str()` reads when no length is given (bpftrace 0.17's default `max_strlen`).
const DEFAULT_STRLEN: u32 = 64;
/// The longest `str()`: strings this long no longer fit the 512-byte BPF stack, so the
/// probe's frame moves to per-CPU scratch memory, itself limited to 32 KiB.
const MAX_STRLEN: u32 = 4096;

/// Maximum bytes of one event record (printf, print of a struct). Records are built in the
/// probe's frame, which moves to per-CPU scratch memory (32 KiB at most) when it outgrows
/// the BPF stack; half of that leaves room for the values the record is built from.
const MAX_RECORD: u32 = 16 * 1024;

/// The script-wide tables every probe's checking adds to.
pub(crate) struct Tables<'a> {
    pub(crate) printfs: &'a mut Vec<PrintfFormat>,
    pub(crate) maps: &'a mut MapTable,
    pub(crate) cgroup_filters: &'a mut Vec<String>,
    /// Where to note each expression's type, when asked to (see `Options::record_types`).
    pub(crate) expr_types: Option<&'a mut BTreeMap<Span, ExprType>>,
    pub(crate) stacks: &'a mut StackTables,
}

pub(crate) struct Checker<'a> {
    attach: &'a Attach,
    format: Option<&'a TracepointFormat>,
    printfs: &'a mut Vec<PrintfFormat>,
    maps: &'a mut MapTable,
    cgroup_filters: &'a mut Vec<String>,
    expr_types: Option<&'a mut BTreeMap<Span, ExprType>>,
    stacks: &'a mut StackTables,
    options: &'a Options,
    kernel: &'a dyn KernelInfo,
    /// False while inferring map types from a first walk over all probes.
    final_pass: bool,
    vars: Vec<Var>,
    /// Inside `for ($kv : @map)`: the loop variable and the map.
    for_binding: Option<(String, crate::hir::MapId)>,
    /// Lexical scopes, innermost last: the variables each block declared.
    scopes: Vec<Vec<VarId>>,
    errors: Vec<Diagnostic>,
    loop_depth: usize,
}

fn int(value: i64, ty: Type, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Int(value),
        ty,
        span,
    }
}

/// A literal right operand the kernel's verifier would reject: division by zero, and shifts
/// by a negative amount or by 64 or more (computed values are fine: BPF defines them).
fn constant_operand_error(op: BinaryOp, rhs: &Expr) -> Option<&'static str> {
    let ExprKind::Int(v) = rhs.kind else {
        return None;
    };
    match op {
        BinaryOp::Div | BinaryOp::Mod if v == 0 => Some("division by zero"),
        BinaryOp::Shl | BinaryOp::Shr if !(0..64).contains(&v) => {
            Some("a shift amount must be from 0 to 63")
        }
        _ => None,
    }
}

/// The smallest type bpftrace gives an integer literal, widened to 64 bits for arithmetic.
fn literal_type(value: u64) -> Type {
    if value > i64::MAX as u64 {
        Type::U64
    } else {
        Type::I64
    }
}

impl<'a> Checker<'a> {
    pub(crate) fn new(
        attach: &'a Attach,
        format: Option<&'a TracepointFormat>,
        tables: Tables<'a>,
        options: &'a Options,
        kernel: &'a dyn KernelInfo,
        final_pass: bool,
    ) -> Checker<'a> {
        let Tables {
            printfs,
            maps,
            cgroup_filters,
            expr_types,
            stacks,
        } = tables;
        Checker {
            attach,
            format,
            printfs,
            maps,
            cgroup_filters,
            expr_types,
            stacks,
            options,
            kernel,
            final_pass,
            vars: Vec::new(),
            scopes: vec![Vec::new()],
            for_binding: None,
            errors: Vec::new(),
            loop_depth: 0,
        }
    }

    pub(crate) fn finish(self) -> (Vec<Var>, Vec<Diagnostic>) {
        (self.vars, self.errors)
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) -> Expr {
        self.errors.push(Diagnostic::error(span, msg));
        int(0, Type::I64, span)
    }

    fn push(&mut self, diag: Diagnostic) {
        self.errors.push(diag);
    }

    /// A `{ ... }` block: variables first assigned inside are not visible after it.
    pub(crate) fn block(&mut self, block: &ast::Block) -> Vec<Stmt> {
        self.scopes.push(Vec::new());
        let mut out = Vec::new();
        for stmt in &block.stmts {
            self.stmt(stmt, &mut out);
        }
        if let Some(value) = &block.value {
            self.expr_stmt(value, &mut out);
        }
        self.scopes.pop();
        out
    }

    /// A predicate or `if` condition: any integer (non-zero is true).
    pub(crate) fn condition(&mut self, e: &ast::Expr) -> Expr {
        let c = self.expr(e);
        if !c.ty.is_integer() {
            return self.error(
                e.span,
                format!("a condition must be an integer or bool, not {}", c.ty),
            );
        }
        c
    }

    /// The variable `name` visible here (innermost scope first).
    fn var_id(&self, name: &str) -> Option<VarId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .copied()
            .find(|&id| self.vars[id].name == name)
    }

    /// Declares a new variable in the innermost scope.
    fn declare_var(&mut self, name: &str, ty: Type) -> VarId {
        let ty = match ty {
            Type::Int { signed, .. } => Type::Int { bytes: 8, signed },
            other => other,
        };
        self.declare_var_exact(name, ty)
    }

    /// Declares a variable of exactly `ty` (`let $x: uint8`): stores into it truncate.
    fn declare_var_exact(&mut self, name: &str, ty: Type) -> VarId {
        self.vars.push(Var {
            name: name.to_string(),
            ty,
        });
        let id = self.vars.len() - 1;
        self.scopes
            .last_mut()
            .expect("the probe body scope is never popped")
            .push(id);
        id
    }

    /// The variable `name` holding `ty`, declared on first assignment.
    fn bind_var(&mut self, name: &str, ty: Type, span: Span) -> Option<VarId> {
        match self.var_id(name) {
            Some(id) => {
                let old = self.vars[id].ty;
                let Some(merged) = Type::unify(old, ty) else {
                    self.push(Diagnostic::error(
                        span,
                        format!("type mismatch for ${name}: it holds {old}, not {ty}"),
                    ));
                    return None;
                };
                self.vars[id].ty = merged;
                Some(id)
            }
            None => Some(self.declare_var(name, ty)),
        }
    }

    fn assign(&mut self, name: &str, value: Expr, span: Span, out: &mut Vec<Stmt>) {
        if value.ty == Type::None {
            self.push(Diagnostic::error(
                value.span,
                "this expression has no value to assign",
            ));
            return;
        }
        if self.reject_object(&value) {
            return;
        }
        if let Some(var) = self.bind_var(name, value.ty, span) {
            // A literal must fit a variable declared narrower (`let $x: uint8; $x = 300;`);
            // computed values are truncated, as in C.
            if let (ExprKind::Int(v), Type::Int { bytes, signed }) =
                (&value.kind, self.vars[var].ty)
            {
                if bytes < 8 && !fits(*v, bytes, signed) {
                    self.push(
                        Diagnostic::error(
                            value.span,
                            format!("{v} does not fit ${name}, which is {}", self.vars[var].ty),
                        )
                        .with_hint(format!(
                            "cast it if truncation is meant: ({})",
                            self.vars[var].ty
                        )),
                    );
                    return;
                }
            }
            out.push(Stmt {
                kind: StmtKind::AssignVar { var, value },
                span,
            });
        }
    }

    fn stmt(&mut self, stmt: &ast::Stmt, out: &mut Vec<Stmt>) {
        let span = stmt.span;
        match &stmt.kind {
            S::Expr(e) => self.expr_stmt(e, out),
            S::Discard(e) => {
                let e = self.expr(e);
                out.push(Stmt {
                    kind: StmtKind::Expr(e),
                    span,
                });
            }
            S::Let {
                var,
                var_span,
                ty,
                init,
            } => {
                let declared = ty.as_ref().map(|t| self.type_expr(t));
                let value = match init {
                    Some(init) => {
                        let v = self.expr(init);
                        match declared {
                            Some(t) if t.is_integer() && v.ty.is_integer() => Expr {
                                span: v.span,
                                ty: t,
                                kind: ExprKind::Cast(Box::new(v)),
                            },
                            _ => v,
                        }
                    }
                    None => int(0, declared.unwrap_or(Type::I64), *var_span),
                };
                // `let` declares in this block, shadowing any outer $var of the same name.
                let declared_here = self
                    .scopes
                    .last()
                    .is_some_and(|scope| scope.iter().any(|&id| self.vars[id].name == *var));
                if !declared_here && value.ty != Type::None {
                    match declared {
                        Some(t) if t.is_integer() => self.declare_var_exact(var, t),
                        _ => self.declare_var(var, value.ty),
                    };
                }
                self.assign(var, value, span, out);
            }
            S::Assign { target, op, value } => self.assign_stmt(target, *op, value, span, out),
            S::If { cond, then, els } => {
                let cond = self.condition(cond);
                let then = self.block(then);
                let els = els.as_ref().map(|b| self.block(b)).unwrap_or_default();
                out.push(Stmt {
                    kind: StmtKind::If { cond, then, els },
                    span,
                });
            }
            S::Unroll { count, body } => {
                let n = match count.kind {
                    A::Int(n) if (1..=100).contains(&n) => n,
                    _ => {
                        self.push(Diagnostic::error(
                            count.span,
                            "unroll needs an integer literal between 1 and 100",
                        ));
                        return;
                    }
                };
                for _ in 0..n {
                    let body = self.block(body);
                    out.extend(body);
                }
            }
            S::While { cond, body } => {
                let cond = self.condition(cond);
                self.loop_depth += 1;
                let body = self.block(body);
                self.loop_depth -= 1;
                out.push(Stmt {
                    kind: StmtKind::While {
                        cond,
                        body,
                        step: Vec::new(),
                    },
                    span,
                });
            }
            S::For {
                var,
                var_span,
                iter,
                body,
            } => match iter {
                ast::ForIter::Range(start, end) => {
                    let start = self.expr(start);
                    let end = self.expr(end);
                    if !start.ty.is_integer() || !end.ty.is_integer() {
                        self.push(Diagnostic::error(span, "a range needs integer bounds"));
                        return;
                    }
                    // for ($i : a..b) { body }  ==>  $end = b; $i = a; while ($i < $end) { body; $i++ }
                    // The loop variable lives in a scope of its own around the loop.
                    self.scopes.push(Vec::new());
                    let end_span = end.span;
                    let e = self.declare_var(&format!("{var}..end"), end.ty);
                    let i = self.declare_var(var, start.ty);
                    out.push(Stmt {
                        kind: StmtKind::AssignVar { var: e, value: end },
                        span: end_span,
                    });
                    out.push(Stmt {
                        kind: StmtKind::AssignVar {
                            var: i,
                            value: start,
                        },
                        span: *var_span,
                    });
                    let ity = self.vars[i].ty;
                    let ety = self.vars[e].ty;
                    let cond = Expr {
                        kind: ExprKind::Binary {
                            op: BinaryOp::Lt,
                            lhs: Box::new(Expr {
                                kind: ExprKind::Var(i),
                                ty: ity,
                                span: *var_span,
                            }),
                            rhs: Box::new(Expr {
                                kind: ExprKind::Var(e),
                                ty: ety,
                                span: end_span,
                            }),
                        },
                        ty: Type::Bool,
                        span,
                    };
                    self.loop_depth += 1;
                    let body = self.block(body);
                    self.loop_depth -= 1;
                    let step = Expr {
                        kind: ExprKind::Binary {
                            op: BinaryOp::Add,
                            lhs: Box::new(Expr {
                                kind: ExprKind::Var(i),
                                ty: ity,
                                span: *var_span,
                            }),
                            rhs: Box::new(int(1, Type::I64, *var_span)),
                        },
                        ty: ity,
                        span: *var_span,
                    };
                    let step = vec![Stmt {
                        kind: StmtKind::AssignVar {
                            var: i,
                            value: step,
                        },
                        span: *var_span,
                    }];
                    out.push(Stmt {
                        kind: StmtKind::While { cond, body, step },
                        span,
                    });
                    self.scopes.pop();
                }
                ast::ForIter::Map(map) => self.for_map(var, map, body, span, out),
            },
            S::Return(value) => {
                if let Some(v) = value {
                    self.push(Diagnostic::error(v.span, "a probe's return takes no value"));
                }
                out.push(Stmt {
                    kind: StmtKind::Return,
                    span,
                });
            }
            S::Break | S::Continue => {
                if self.loop_depth == 0 {
                    self.push(Diagnostic::error(
                        span,
                        "break and continue are only allowed in loops",
                    ));
                    return;
                }
                let kind = if matches!(stmt.kind, S::Break) {
                    StmtKind::Break
                } else {
                    StmtKind::Continue
                };
                out.push(Stmt { kind, span });
            }
            S::Block(block) => {
                let body = self.block(block);
                out.extend(body);
            }
        }
    }

    fn assign_stmt(
        &mut self,
        target: &ast::Expr,
        op: Option<BinaryOp>,
        value: &ast::Expr,
        span: Span,
        out: &mut Vec<Stmt>,
    ) {
        match &target.kind {
            A::Var(name) => {
                let value = match op {
                    None => self.expr(value),
                    Some(op) => {
                        let combined = ast::Expr {
                            kind: A::Binary {
                                op,
                                lhs: Box::new(target.clone()),
                                rhs: Box::new(value.clone()),
                            },
                            span,
                        };
                        self.expr(&combined)
                    }
                };
                self.assign(name, value, span, out);
                // The variable's type after the assignment, for editors hovering on `$x =`.
                if let Some(id) = self.var_id(name) {
                    let ty = self.vars[id].ty;
                    self.note_type(target.span, ty, NotedAs::Value);
                }
            }
            A::Map { .. } => self.assign_map(target, op, value, span, out),
            _ => self.push(Diagnostic::error(
                target.span,
                "only $variables and @maps can be assigned to",
            )),
        }
    }

    fn expr_stmt(&mut self, e: &ast::Expr, out: &mut Vec<Stmt>) {
        let span = e.span;
        match &e.kind {
            A::Call { name, args, .. } if self.map_call_stmt(name, args, span, out) => {}
            A::Call { name, args, .. } if name == "print" => self.print_value(args, span, out),
            A::Call { name, args, .. }
                if matches!(name.as_str(), "printf" | "system" | "cat" | "time") =>
            {
                let kind = match name.as_str() {
                    "printf" => FormatKind::Printf,
                    "system" => FormatKind::System,
                    "cat" => FormatKind::Cat,
                    _ => FormatKind::Time,
                };
                if kind == FormatKind::System && !self.options.unsafe_allowed {
                    self.push(
                        Diagnostic::error(span, "system() runs commands and needs --unsafe")
                            .with_hint("rerun with --unsafe if you mean it"),
                    );
                    return;
                }
                if let Some(kind) = self.printf(name, kind, args, span) {
                    out.push(Stmt { kind, span });
                }
            }
            A::Call { name, args, .. } if name == "join" => self.join(args, span, out),
            A::Call { name, args, .. } if name == "signal" => {
                if !self.options.unsafe_allowed {
                    self.push(
                        Diagnostic::error(span, "signal() sends signals and needs --unsafe")
                            .with_hint("rerun with --unsafe if you mean it"),
                    );
                    return;
                }
                let [arg] = args.as_slice() else {
                    self.push(Diagnostic::error(
                        span,
                        "signal() takes one signal: a number or a name like \"SIGKILL\"",
                    ));
                    return;
                };
                let sig = match &arg.kind {
                    A::Str(name) => {
                        match signal_number(&String::from_utf8_lossy(name)) {
                            Some(n) => int(n, Type::I64, arg.span),
                            None => {
                                self.push(Diagnostic::error(arg.span, "unknown signal name").with_hint("use e.g. \"SIGKILL\", \"SIGTERM\", \"SIGUSR1\" or a number"));
                                return;
                            }
                        }
                    }
                    _ => self.expr(arg),
                };
                if !sig.ty.is_integer() {
                    self.push(Diagnostic::error(
                        arg.span,
                        "the signal must be a number or a name",
                    ));
                    return;
                }
                out.push(Stmt {
                    kind: StmtKind::Signal(sig),
                    span,
                });
            }
            A::Call { name, args, .. } if name == "exit" => {
                if args.len() > 1 {
                    self.push(Diagnostic::error(
                        span,
                        "exit() takes at most one argument (the exit code)",
                    ));
                }
                let code = args.first().map(|a| self.expr(a));
                if let Some(c) = &code {
                    if !c.ty.is_integer() {
                        self.push(Diagnostic::error(
                            c.span,
                            "the exit code must be an integer",
                        ));
                    }
                }
                out.push(Stmt {
                    kind: StmtKind::Exit { code },
                    span,
                });
            }
            A::IncDec {
                increment, target, ..
            } => {
                let op = if *increment {
                    BinaryOp::Add
                } else {
                    BinaryOp::Sub
                };
                let one = ast::Expr {
                    kind: A::Int(1),
                    span,
                };
                self.assign_stmt(target, Some(op), &one, span, out);
            }
            _ => {
                let e = self.expr(e);
                out.push(Stmt {
                    kind: StmtKind::Expr(e),
                    span,
                });
            }
        }
    }

    /// `printf(fmt, ...)` and the calls formatted like it (`system`, `cat`, `time`).
    fn printf(
        &mut self,
        func: &str,
        kind: FormatKind,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<StmtKind> {
        if kind == FormatKind::Time {
            // time(fmt) formats the time in user space; the format is strftime's, not ours.
            let format = match args {
                [] => b"%H:%M:%S\n".to_vec(),
                [ast::Expr {
                    kind: A::Str(f), ..
                }] => f.clone(),
                _ => {
                    self.push(Diagnostic::error(
                        span,
                        "time() takes an optional strftime format literal",
                    ));
                    return None;
                }
            };
            let id = self.printfs.len();
            self.printfs.push(PrintfFormat {
                pieces: vec![Piece::Literal(format)],
                args: Vec::new(),
                record_size: 8,
                kind,
            });
            return Some(StmtKind::Printf {
                id,
                args: Vec::new(),
            });
        }
        let Some(first) = args.first() else {
            self.push(Diagnostic::error(
                span,
                format!("{func} needs a format string"),
            ));
            return None;
        };
        let A::Str(format) = &first.kind else {
            self.push(Diagnostic::error(
                first.span,
                format!("{func}'s first argument must be a string literal"),
            ));
            return None;
        };
        let pieces = match printf::parse(format) {
            Ok(p) => p,
            Err((_, msg)) => {
                self.push(Diagnostic::error(first.span, msg));
                return None;
            }
        };
        let specs: Vec<&printf::Spec> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Spec(s) => Some(s),
                Piece::Literal(_) => None,
            })
            .collect();
        let values = &args[1..];
        if specs.len() != values.len() {
            self.push(Diagnostic::error(
                span,
                format!(
                    "printf: the format has {} directive(s) but {} argument(s) were given",
                    specs.len(),
                    values.len()
                ),
            ));
            return None;
        }
        let mut printf_args = Vec::new();
        let mut event_args = Vec::new();
        let mut offset = 8u32;
        for (spec, value) in specs.iter().zip(values) {
            if let A::Str(s) = &value.kind {
                if spec.wants_integer() {
                    self.push(Diagnostic::error(
                        value.span,
                        format!(
                            "printf: %{} expects an integer, not a string",
                            spec.conv as char
                        ),
                    ));
                }
                printf_args.push(PrintfArg::Const(printf::Value::Str(s.clone())));
                continue;
            }
            if let A::Call { name, args, .. } = &value.kind {
                if name == "strftime" {
                    if let Some((format, ns)) = self.strftime_call(spec, args, value.span) {
                        printf_args.push(PrintfArg::Strftime { format, offset });
                        offset += 8;
                        event_args.push(ns);
                    }
                    continue;
                }
            }
            let v = self.expr(value);
            if self.reject_object(&v) {
                continue;
            }
            match v.ty {
                Type::None => {
                    self.push(Diagnostic::error(
                        value.span,
                        "printf: this argument has no value",
                    ));
                    continue;
                }
                Type::Tuple(_) => {
                    self.push(
                        Diagnostic::error(value.span, "printf cannot format a tuple")
                            .with_hint("print it with print(), or pass its fields: $t.0, $t.1"),
                    );
                    continue;
                }
                t if t.is_buffer() && spec.wants_integer() => {
                    self.push(Diagnostic::error(
                        value.span,
                        format!(
                            "printf: %{} expects an integer, not a string",
                            spec.conv as char
                        ),
                    ));
                    continue;
                }
                _ => {}
            }
            let size = v.ty.size().div_ceil(8) * 8;
            printf_args.push(PrintfArg::Field { ty: v.ty, offset });
            offset += size;
            event_args.push(v);
        }
        if offset > MAX_RECORD {
            self.push(Diagnostic::error(
                span,
                format!("printf: the arguments need {offset} bytes; at most {MAX_RECORD} fit in one event"),
            ));
            return None;
        }
        let id = self.printfs.len();
        self.printfs.push(PrintfFormat {
            pieces,
            args: printf_args,
            record_size: offset,
            kind,
        });
        Some(StmtKind::Printf {
            id,
            args: event_args,
        })
    }

    /// `join(argv[, sep])`: the strings of a NULL-terminated `char *` array, printed by user
    /// space with `sep` (a space by default) between them.
    fn join(&mut self, args: &[ast::Expr], span: Span, out: &mut Vec<Stmt>) {
        let (array, sep) = match args {
            [array] => (array, b" ".to_vec()),
            [array, ast::Expr {
                kind: A::Str(sep), ..
            }] => (array, sep.clone()),
            _ => {
                self.push(
                    Diagnostic::error(
                        span,
                        "join() takes a char * array and optionally a separator literal",
                    )
                    .with_hint("e.g. join(args.argv) or join(args.argv, \",\")"),
                );
                return;
            }
        };
        let array = self.expr(array);
        if !array.ty.is_integer() {
            self.push(Diagnostic::error(
                array.span,
                format!(
                    "join() needs a pointer to an array of strings, not {}",
                    array.ty
                ),
            ));
            return;
        }
        let id = self.printfs.len();
        self.printfs.push(PrintfFormat {
            pieces: vec![Piece::Literal(sep)],
            args: Vec::new(),
            record_size: crate::JOIN_RECORD_SIZE,
            kind: FormatKind::Join,
        });
        let user = self.user_memory();
        out.push(Stmt {
            kind: StmtKind::Join { id, array, user },
            span,
        });
    }

    /// Whether pointers this probe reads point into the traced process: syscall arguments
    /// (and the registers of `rawtracepoint:sys_enter`/`sys_exit`) do, everything else is
    /// kernel memory.
    fn user_memory(&self) -> bool {
        match self.attach {
            Attach::Tracepoint { category, .. } => category == "syscalls",
            Attach::Syscall { .. } | Attach::User(_) => true,
            Attach::RawTracepoint { name } => name == "sys_enter" || name == "sys_exit",
            _ => false,
        }
    }

    /// `strftime(fmt, ns)` as a printf argument: the strftime(3) format and the timestamp.
    /// It formats in user space, so it has no value a probe could use otherwise.
    fn strftime_call(
        &mut self,
        spec: &printf::Spec,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<(Vec<u8>, Expr)> {
        let [ast::Expr {
            kind: A::Str(format),
            ..
        }, ns] = args
        else {
            self.push(
                Diagnostic::error(span, "strftime() takes a format literal and a timestamp")
                    .with_hint("e.g. strftime(\"%H:%M:%S\", nsecs)"),
            );
            return None;
        };
        if spec.conv != b's' {
            self.push(Diagnostic::error(
                span,
                format!("strftime() is printed with %s, not %{}", spec.conv as char),
            ));
            return None;
        }
        if let A::Unary {
            op: UnaryOp::Neg, ..
        } = ns.kind
        {
            self.push(Diagnostic::error(
                ns.span,
                "strftime() needs a non-negative timestamp (nanoseconds since boot)",
            ));
            return None;
        }
        let ns = self.expr(ns);
        if !ns.ty.is_integer() {
            self.push(Diagnostic::error(
                ns.span,
                format!("strftime() needs an integer timestamp, not {}", ns.ty),
            ));
            return None;
        }
        Some((format.clone(), ns))
    }

    /// `str(ptr[, len])`: a NUL-terminated string read from memory.
    fn str_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if args.is_empty() || args.len() > 2 {
            return self.error(
                span,
                "str() takes a pointer and optionally a length: str(p[, n])",
            );
        }
        let (ptr, forced_user) = self.maybe_address_space(&args[0]);
        if let Type::Str { .. } = ptr.ty {
            // str() of something that already is a string is that string.
            return ptr;
        }
        if !ptr.ty.is_integer() {
            return self.error(args[0].span, "str() needs a pointer");
        }
        let len = match args.get(1).map(|a| &a.kind) {
            // max_strlen counts the terminating NUL, as in bpftrace.
            None => self
                .options
                .max_strlen
                .unwrap_or(DEFAULT_STRLEN)
                .clamp(2, MAX_STRLEN + 1),
            Some(A::Int(n)) if (1..=MAX_STRLEN as u64).contains(n) => *n as u32 + 1,
            Some(_) => {
                return self.error(
                    args[1].span,
                    format!("str(): the length must be an integer literal from 1 to {MAX_STRLEN}"),
                )
            }
        };
        // Kernel pointers (typed by BTF) point into the kernel wherever they come from.
        let user = forced_user
            .unwrap_or_else(|| !matches!(ptr.ty, Type::Ptr { .. }) && self.user_memory());
        Expr {
            kind: ExprKind::StrRead {
                ptr: Box::new(ptr),
                user,
            },
            ty: Type::Str { len },
            span,
        }
    }

    /// A field of a dispatched syscall probe: the record layout is `__syscall_nr` at 8, then
    /// the arguments (or `ret`) in 8-byte slots from 16; the dispatcher's programs read the
    /// same values from the saved registers instead.
    fn syscall_field(&mut self, field: &kernel::TracepointField, span: Span) -> Expr {
        let Attach::Syscall { enter, nr, .. } = *self.attach else {
            unreachable!("only called for syscall probes")
        };
        if field.name == "__syscall_nr" {
            return int(
                nr as i64,
                Type::Int {
                    bytes: 4,
                    signed: true,
                },
                span,
            );
        }
        let (size, signed) = match c_int_type(&field.c_type) {
            Some(Type::Int { bytes, signed }) if field.kind == FieldKind::Int => (bytes, signed),
            _ => (8, false),
        };
        let ty = Type::Int {
            bytes: size,
            signed,
        };
        let raw = if enter {
            let index = field.offset.saturating_sub(16) / 8;
            if index > 5 {
                return self.error(
                    span,
                    format!("syscall argument '{}' is past the sixth", field.name),
                );
            }
            ExprKind::SyscallArg { index: index as u8 }
        } else {
            ExprKind::SyscallRet
        };
        // The register is 64 bits; narrow it to the argument's C type.
        Expr {
            kind: ExprKind::Cast(Box::new(Expr {
                kind: raw,
                ty: Type::U64,
                span,
            })),
            ty,
            span,
        }
    }

    /// `$x++`, `@m[k]++` and friends used as values: the old value (postfix) or the new one.
    fn incdec_value(
        &mut self,
        increment: bool,
        prefix: bool,
        target: &ast::Expr,
        span: Span,
    ) -> Expr {
        let delta = if increment { 1 } else { -1 };
        match &target.kind {
            A::Var(name) => match self.var_id(name) {
                Some(var) if self.vars[var].ty.is_integer() => Expr {
                    kind: ExprKind::VarFetchAdd { var, delta, prefix },
                    ty: self.vars[var].ty,
                    span,
                },
                Some(_) => self.error(span, format!("${name} is not an integer")),
                None => self.error(span, format!("${name} is used before it is assigned")),
            },
            A::Map { name, keys } => match self.fetch_add_map(name, keys, target.span) {
                Some((map, key)) => Expr {
                    kind: ExprKind::MapFetchAdd {
                        map,
                        key,
                        delta,
                        prefix,
                    },
                    ty: Type::I64,
                    span,
                },
                None => int(0, Type::I64, span),
            },
            _ => self.error(span, "++ and -- apply to $variables and @maps"),
        }
    }

    /// `for ($kv : @map) { body }`
    fn for_map(
        &mut self,
        var: &str,
        map: &ast::Expr,
        body: &ast::Block,
        span: Span,
        out: &mut Vec<Stmt>,
    ) {
        let A::Map { name, keys } = &map.kind else {
            self.push(Diagnostic::error(
                map.span,
                "for ($x : ...) iterates over a map or a range a..b",
            ));
            return;
        };
        if !keys.is_empty() {
            self.push(Diagnostic::error(
                map.span,
                "iterate over the whole map: for ($kv : @m)",
            ));
            return;
        }
        if self.for_binding.is_some() {
            self.push(Diagnostic::error(
                span,
                "nested for loops over maps are not supported yet",
            ));
            return;
        }
        let Some(id) = self.maps.maps.iter().position(|m| &m.name == name) else {
            if self.final_pass {
                self.push(Diagnostic::error(
                    map.span,
                    format!("@{name} is never assigned"),
                ));
            }
            return;
        };
        let info = &self.maps.maps[id];
        if info.key.is_empty() {
            self.push(Diagnostic::error(
                map.span,
                format!("@{name} has no keys; only keyed maps can be iterated"),
            ));
            return;
        }
        if Self::aggregation_int(&info.value).is_none() && info.value.per_cpu() {
            self.push(
                Diagnostic::error(
                    map.span,
                    format!(
                        "@{name} holds {}, which has no single value to iterate over",
                        maps::describe(&info.value)
                    ),
                )
                .with_hint("for loops work over plain maps and count/sum/min/max/avg maps"),
            );
            return;
        }
        self.for_binding = Some((var.to_string(), id));
        self.loop_depth += 1;
        let body = self.block(body);
        self.loop_depth -= 1;
        self.for_binding = None;
        out.push(Stmt {
            kind: StmtKind::ForMap { map: id, body },
            span,
        });
    }

    /// `$kv.0`, `$kv.0.N` and `$kv.1` inside `for ($kv : @map)`; `None` if `base` is not
    /// the loop variable.
    fn for_entry_field(&mut self, base: &ast::Expr, name: &str, span: Span) -> Option<Expr> {
        let (var, map) = self.for_binding.clone()?;
        let is_var = |e: &ast::Expr| matches!(&e.kind, A::Var(v) if *v == var);
        let info = self.maps.maps[map].clone();
        let key_part = |me: &mut Self, part: usize| match info.key.get(part) {
            Some(&ty) => Expr {
                kind: ExprKind::ForKey { map, part },
                ty,
                span,
            },
            None => me.error(
                span,
                format!(
                    "the key of {} has {} part(s)",
                    info.display_name(),
                    info.key.len()
                ),
            ),
        };
        if is_var(base) {
            return Some(match name {
                "0" if info.key.len() == 1 => key_part(self, 0),
                "0" => self.error(
                    span,
                    format!(
                        "the key of {} has {} parts: use ${var}.0.0, ${var}.0.1, ...",
                        info.display_name(),
                        info.key.len()
                    ),
                ),
                "1" => match (&info.value, Self::aggregation_int(&info.value)) {
                    (MapValue::Plain(ty), _) => Expr {
                        kind: ExprKind::ForValue { map },
                        ty: *ty,
                        span,
                    },
                    (_, Some(ty)) => match self.kernel.possible_cpu_ids() {
                        Ok(cpus) => Expr {
                            kind: ExprKind::ForAggValue { map, cpus },
                            ty,
                            span,
                        },
                        Err(e) => self.error(span, format!("cannot read this aggregation: {e}")),
                    },
                    _ => self.error(span, "this aggregation has no single value"),
                },
                _ => self.error(
                    span,
                    format!("${var} has two fields: .0 (the key) and .1 (the value)"),
                ),
            });
        }
        if let A::Field {
            base: inner,
            name: zero,
            ..
        } = &base.kind
        {
            if is_var(inner) && zero == "0" && info.key.len() > 1 {
                return Some(match name.parse::<usize>() {
                    Ok(part) => key_part(self, part),
                    Err(_) => self.error(span, "key parts are numbered: .0, .1, ..."),
                });
            }
        }
        None
    }

    /// `cgroup_path(id[, "filter"])`. Filters are numbered once each, so the same cgroup under
    /// the same filter is the same value however many call sites make it.
    fn cgroup_path(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let (id, filter) = match args {
            [id] => (id, "*".to_string()),
            [id, ast::Expr {
                kind: A::Str(f), ..
            }] => (id, String::from_utf8_lossy(f).into_owned()),
            _ => {
                return self.error(
                    span,
                    "cgroup_path() takes a cgroup id and optionally a hierarchy filter literal",
                )
            }
        };
        let id = self.expr(id);
        if !id.ty.is_integer() {
            return self.error(id.span, "cgroup_path() needs a cgroup id (an integer)");
        }
        let index = match self.cgroup_filters.iter().position(|f| *f == filter) {
            Some(i) => i,
            None => {
                self.cgroup_filters.push(filter);
                self.cgroup_filters.len() - 1
            }
        };
        Expr {
            kind: ExprKind::CgroupPath {
                id: Box::new(id),
                filter: index as u32,
            },
            ty: Type::CgroupPath,
            span,
        }
    }

    /// `strncmp(a, b, n)`: 0 when the first `n` bytes are equal, as in bpftrace.
    fn strncmp(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let [a, b, n] = args else {
            return self.error(
                span,
                "strncmp() takes two strings and a length: strncmp(a, b, n)",
            );
        };
        let A::Int(n) = &n.kind else {
            return self.error(n.span, "strncmp(): the length must be an integer literal");
        };
        let (a, b) = (self.expr(a), self.expr(b));
        if !matches!(a.ty, Type::Str { .. }) || !matches!(b.ty, Type::Str { .. }) {
            return self.error(span, "strncmp() compares two strings");
        }
        Expr {
            kind: ExprKind::StrCmp {
                lhs: Box::new(a),
                rhs: Box::new(b),
                equal: false,
                limit: Some((*n).min(u32::MAX as u64) as u32),
            },
            ty: Type::Bool,
            span,
        }
    }

    /// `strcontains(haystack, needle)`: whether `needle` occurs in `haystack`.
    fn strcontains(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let [haystack, needle] = args else {
            return self.error(
                span,
                "strcontains() takes two strings: strcontains(haystack, needle)",
            );
        };
        let (haystack, needle) = (self.expr(haystack), self.expr(needle));
        for side in [&haystack, &needle] {
            if !matches!(side.ty, Type::Str { .. }) && side.ty != Type::None {
                return self.error(
                    side.span,
                    format!("strcontains() searches strings, not {}", side.ty),
                );
            }
        }
        // Each needle byte is a step the verifier walks with all its branches; beyond this
        // it gives up ("sequence of jumps is too complex").
        const MAX_NEEDLE: u32 = 2048;
        if needle.ty.size() > MAX_NEEDLE {
            self.push(
                Diagnostic::error(
                    needle.span,
                    format!(
                        "strcontains(): the needle may hold at most {MAX_NEEDLE} bytes, this one {}",
                        needle.ty.size()
                    ),
                )
                .with_hint(format!("read a shorter needle, e.g. str(p, {})", MAX_NEEDLE - 1)),
            );
            return int(0, Type::Bool, span);
        }
        Expr {
            kind: ExprKind::StrContains {
                haystack: Box::new(haystack),
                needle: Box::new(needle),
            },
            ty: Type::Bool,
            span,
        }
    }

    /// `sizeof(type)` or `sizeof(expr)`: a constant.
    fn sizeof(&mut self, of: &ast::TypeOrExpr, span: Span) -> Expr {
        let ty = match of {
            ast::TypeOrExpr::Type(t) => match &t.kind {
                ast::TypeKind::Named(n) if n == "string" => Type::Str {
                    len: self.options.max_strlen.unwrap_or(DEFAULT_STRLEN),
                },
                ast::TypeKind::Struct { .. } => {
                    return self
                        .kernel_sizeof(t, span)
                        .unwrap_or_else(|| int(0, Type::U64, span))
                }
                ast::TypeKind::Pointer(_) => Type::U64,
                _ => self.type_expr(t),
            },
            ast::TypeOrExpr::Expr(e) => {
                let ty = self.expr(e).ty;
                if let Some(size) = self.object_size(ty, e.span) {
                    return int(size as i64, Type::U64, span);
                }
                ty
            }
        };
        int(ty.size() as i64, Type::U64, span)
    }

    /// A string literal as a value (map keys and values, variables).
    fn string_literal(&mut self, s: &[u8], span: Span) -> Expr {
        Expr {
            kind: ExprKind::Str(s.to_vec()),
            ty: Type::Str {
                len: s.len() as u32 + 1,
            },
            span,
        }
    }

    /// `print(value)`: the value on a line of its own, like a one-argument printf.
    fn print_value(&mut self, args: &[ast::Expr], span: Span, out: &mut Vec<Stmt>) {
        let [arg] = args else {
            self.push(Diagnostic::error(
                span,
                "print() takes a map (print(@m), print(@m, top, div)) or one value",
            ));
            return;
        };
        let v = self.expr(arg);
        if let Type::Object { .. } = v.ty {
            return self.print_struct(v, span, out);
        }
        let conv = match v.ty {
            t if t.is_buffer() => b's',
            Type::None => {
                self.push(Diagnostic::error(
                    arg.span,
                    "this expression has no value to print",
                ));
                return;
            }
            t if t.is_signed() => b'd',
            _ => b'u',
        };
        let format = [b'%', conv, b'\n'];
        let pieces = printf::parse(&format).expect("a fixed, valid format");
        let size = v.ty.size().div_ceil(8) * 8;
        let id = self.printfs.len();
        self.printfs.push(PrintfFormat {
            pieces,
            args: vec![PrintfArg::Field {
                ty: v.ty,
                offset: 8,
            }],
            record_size: 8 + size,
            kind: FormatKind::PrintValue,
        });
        out.push(Stmt {
            kind: StmtKind::Printf { id, args: vec![v] },
            span,
        });
    }

    fn type_expr(&mut self, t: &ast::TypeExpr) -> Type {
        match &t.kind {
            ast::TypeKind::Named(name) => match Type::from_name(name) {
                Some(ty) => ty,
                None => {
                    self.push(Diagnostic::error(
                        t.span,
                        format!("unknown or unsupported type '{name}'"),
                    ));
                    Type::I64
                }
            },
            _ => {
                self.push(Diagnostic::error(
                    t.span,
                    "only integer types can be used in casts in this version of beetrace",
                ));
                Type::I64
            }
        }
    }

    /// Types and lowers one expression, noting its type for editors when asked to.
    pub(crate) fn expr(&mut self, e: &ast::Expr) -> Expr {
        let errors = self.errors.len();
        let out = self.expr_inner(e);
        // A stand-in for an expression with errors has no type worth showing.
        if self.errors.len() == errors {
            self.note_type(e.span, out.ty, NotedAs::Value);
        }
        out
    }

    /// Records the type of the expression at `span` unless one is known already (the
    /// first word wins: a kernel read notes its C type before the generic one, and the
    /// first attach point of a wildcard probe before the others).
    pub(super) fn note_type(&mut self, span: Span, ty: Type, noted_as: NotedAs) {
        if let Some(types) = self.expr_types.as_mut() {
            types.entry(span).or_insert(ExprType { ty, noted_as });
        }
    }

    fn expr_inner(&mut self, e: &ast::Expr) -> Expr {
        let span = e.span;
        match &e.kind {
            A::Int(v) => int(*v as i64, literal_type(*v), span),
            A::Bool(b) => int(*b as i64, Type::Bool, span),
            A::Str(s) => self.string_literal(s, span),
            A::Var(name) if self.for_binding.as_ref().is_some_and(|(n, _)| n == name) => self.error(
                span,
                format!("${name} is a (key, value) pair: use ${name}.0 for the key and ${name}.1 for the value"),
            ),
            A::Var(name) => match self.var_id(name) {
                Some(id) => Expr {
                    kind: ExprKind::Var(id),
                    ty: self.vars[id].ty,
                    span,
                },
                None => self.error(span, format!("${name} is used before it is assigned")),
            },
            A::Ident(name) => self.ident(name, span),
            A::Map { name, keys } => self.read_map(name, keys, span),
            A::Field {
                base,
                name,
                name_span,
                arrow,
            } => self.field(base, name, *name_span, *arrow, span),
            A::Index { base: b, index } => {
                let errors = self.errors.len();
                let base = self.expr(b);
                if self.errors.len() > errors {
                    return int(0, Type::I64, span);
                }
                match (&base.ty, &base.kind) {
                    (Type::Ptr { .. } | Type::Object { .. }, _)
                    | (_, ExprKind::KernelChars { .. }) => {
                        self.kernel_index(base, b.span, index, span)
                    }
                    _ => self.index(base, index, span),
                }
            }
            A::Call { name, args, .. } if name == "has_key" => self.has_key(args, span),
            A::Call { name, args, .. } if name == "len" => self.map_len(args, span),
            A::Call { name, args, .. } if name == "cgroup_path" => self.cgroup_path(args, span),
            A::Call { name, args, .. } if name == "str" => self.str_call(args, span),
            A::Call { name, args, .. } if name == "kaddr" => self.kaddr(args, span),
            A::Call { name, args, .. } if name == "percpu_kaddr" => {
                self.percpu_kaddr(args, span)
            }
            A::Call { name, args, .. } if name == "kstack" || name == "ustack" => {
                self.stack(name == "ustack", args, span)
            }
            A::Call { name, args, .. } if name == "ksym" || name == "usym" => {
                self.symbol(name == "usym", args, span)
            }
            A::Call { name, args, .. } if name == "uaddr" => self.uaddr(args, span),
            A::Call { name, args, .. } if name == "uptr" || name == "kptr" => {
                self.address_space(name, args, span).0
            }
            A::Call { name, args, .. } if name == "syscall_name" => self.syscall_name(args, span),
            A::Call { name, args, .. } if name == "strncmp" => self.strncmp(args, span),
            A::Call { name, args, .. } if name == "strcontains" => self.strcontains(args, span),
            A::Call { name, args, .. } if name == "ntop" => self.ntop(args, span),
            A::Sizeof(of) => self.sizeof(of, span),
            A::Call { name, .. } => {
                if name == "printf" || name == "exit" {
                    self.error(
                        span,
                        format!("{name}() has no value and cannot be used in an expression"),
                    )
                } else if name == "strftime" {
                    self.push(
                        Diagnostic::error(span, "strftime() can only be printed")
                            .with_hint("pass it to printf with %s: printf(\"%s\\n\", strftime(\"%H:%M:%S\", nsecs))"),
                    );
                    int(0, Type::I64, span)
                } else if KNOWN_FUNCTIONS.contains(&name.as_str()) {
                    self.error(
                        span,
                        format!("{name}() is not supported by this version of beetrace yet"),
                    )
                } else {
                    self.error(span, format!("unknown function '{name}'"))
                }
            }
            A::Unary {
                op: UnaryOp::Deref,
                expr,
            } => {
                let errors = self.errors.len();
                let p = self.expr(expr);
                if self.errors.len() > errors {
                    return p;
                }
                self.deref(p, span)
            }
            A::Unary { op, expr } => {
                let inner = self.expr(expr);
                if !inner.ty.is_integer() {
                    return self.error(
                        span,
                        format!("'{}' needs an integer operand", unary_symbol(*op)),
                    );
                }
                let ty = match op {
                    UnaryOp::Not => Type::Bool,
                    UnaryOp::Neg => Type::I64,
                    UnaryOp::BitNot => Type::promote(inner.ty, inner.ty),
                    UnaryOp::Deref | UnaryOp::AddrOf => {
                        return self.error(
                            span,
                            "pointers are not supported by this version of beetrace yet",
                        )
                    }
                };
                Expr {
                    kind: ExprKind::Unary {
                        op: *op,
                        expr: Box::new(inner),
                    },
                    ty,
                    span,
                }
            }
            A::IncDec {
                increment,
                prefix,
                target,
            } => self.incdec_value(*increment, *prefix, target, span),
            A::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                if let (BinaryOp::Add | BinaryOp::Sub, Type::Ptr { .. }) = (op, l.ty) {
                    if r.ty.is_integer() && !matches!(r.ty, Type::Ptr { .. }) {
                        return self.pointer_arith(*op, l, r, span);
                    }
                }
                if !l.ty.is_integer() || !r.ty.is_integer() {
                    let both_strings =
                        matches!(l.ty, Type::Str { .. }) && matches!(r.ty, Type::Str { .. });
                    if both_strings && matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                        return Expr {
                            kind: ExprKind::StrCmp {
                                lhs: Box::new(l),
                                rhs: Box::new(r),
                                equal: *op == BinaryOp::Eq,
                                limit: None,
                            },
                            ty: Type::Bool,
                            span,
                        };
                    }
                    if both_strings {
                        return self.error(
                            span,
                            format!(
                                "strings can only be compared with == and !=, not '{}'",
                                op.symbol()
                            ),
                        );
                    }
                    if matches!(l.ty, Type::Str { .. }) || matches!(r.ty, Type::Str { .. }) {
                        return self.error(
                            span,
                            format!("'{}' cannot mix a string and an integer", op.symbol()),
                        );
                    }
                    return self.error(span, format!("'{}' needs integer operands", op.symbol()));
                }
                if let Some(message) = constant_operand_error(*op, &r) {
                    return self.error(r.span, message);
                }
                let ty = match op {
                    BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
                    | BinaryOp::And
                    | BinaryOp::Or => Type::Bool,
                    BinaryOp::Sub => Type::I64,
                    _ => Type::promote(l.ty, r.ty),
                };
                Expr {
                    kind: ExprKind::Binary {
                        op: *op,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    ty,
                    span,
                }
            }
            A::Ternary { cond, then, els } => {
                let c = self.condition(cond);
                let t = self.expr(then);
                let f = self.expr(els);
                let ty = match (t.ty, f.ty) {
                    (a, b) if a.is_integer() && b.is_integer() => Type::promote(a, b),
                    (a, b) => match Type::unify(a, b).filter(|t| t.is_buffer()) {
                        Some(t) => t,
                        None => {
                            return self.error(
                                span,
                                format!("ternary branches differ in type: {a} and {b}"),
                            )
                        }
                    },
                };

                Expr {
                    kind: ExprKind::Ternary {
                        cond: Box::new(c),
                        then: Box::new(t),
                        els: Box::new(f),
                    },
                    ty,
                    span,
                }
            }
            A::Cast { ty, expr } => {
                if let Some(e) = self.pointer_cast(ty, expr, span) {
                    return e;
                }
                let target = self.type_expr(ty);
                let inner = self.expr(expr);
                if !inner.ty.is_integer() {
                    return self.error(span, format!("cannot cast {} to {target}", inner.ty));
                }
                Expr {
                    kind: ExprKind::Cast(Box::new(inner)),
                    ty: target,
                    span,
                }
            }
            A::Tuple(items) => self.tuple(items, span),
            A::Record(items) => self.record(items, span),
            A::Block(_) => self.error(
                span,
                "this expression is not supported by this version of beetrace yet",
            ),
            A::Offsetof { of, fields } => self.offsetof(of, fields, span),
            A::Typeof(_) => self.error(span, "typeof is not supported by this version yet"),
            A::Positional(_) | A::PositionalCount => self.error(
                span,
                "positional parameters are not supported by this version yet",
            ),
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> Expr {
        let (builtin, ty) = match name {
            "pid" => (Builtin::Pid, Type::U32),
            "tid" => (Builtin::Tid, Type::U32),
            "uid" => (Builtin::Uid, Type::U32),
            "gid" => (Builtin::Gid, Type::U32),
            "nsecs" => (Builtin::Nsecs, Type::U64),
            "elapsed" => (Builtin::Elapsed, Type::U64),
            "cpu" => (Builtin::Cpu, Type::U32),
            "comm" => (Builtin::Comm, Type::Str { len: 16 }),
            "cgroup" => (Builtin::Cgroup, Type::U64),
            "rand" => (Builtin::Rand, Type::U32),
            "cpid" => (Builtin::Cpid, Type::U32),
            "curtask" => (Builtin::Curtask, self.curtask_type()),
            "args" => {
                return self.error(
                    span,
                    "args can only be used with a field, e.g. args.filename",
                )
            }
            _ if name.starts_with("arg") && matches!(self.attach, Attach::RawTracepoint { .. }) => {
                return match name[3..].parse::<u8>() {
                    Ok(index) if index < 12 => Expr {
                        kind: ExprKind::RawArg { index },
                        ty: Type::U64,
                        span,
                    },
                    _ => self.error(span, format!("{name}: raw tracepoints have arg0 to arg11")),
                }
            }
            _ if matches!(self.attach, Attach::User(_))
                && (name == "retval"
                    || name == "func"
                    || (name.starts_with("arg") && name[3..].parse::<u32>().is_ok())) =>
            {
                return self.user_probe_builtin(name, span)
            }
            _ if name.starts_with("arg") && name[3..].parse::<u32>().is_ok() => {
                return self.error(
                    span,
                    format!(
                        "{name} is not available in {} probes; tracepoints use args.<field>",
                        self.attach.probe_name()
                    ),
                )
            }
            "probe" => return self.string_literal(self.attach.probe_name().as_bytes(), span),
            "kstack" | "ustack" => return self.stack(name == "ustack", &[], span),
            "func" | "retval" | "username" | "ncpus" | "jiffies" | "numaid" | "usermode"
            | "sarg0" => {
                return self.error(
                    span,
                    format!(
                        "the builtin '{name}' is not supported by this version of beetrace yet"
                    ),
                )
            }
            _ => {
                return match self.enumerator(name, span) {
                    Some(e) => e,
                    None => self.error(span, format!("unknown identifier '{name}'")),
                }
            }
        };
        Expr {
            kind: ExprKind::Builtin(builtin),
            ty,
            span,
        }
    }

    fn field(
        &mut self,
        base: &ast::Expr,
        name: &str,
        name_span: Span,
        arrow: bool,
        span: Span,
    ) -> Expr {
        if let Some(e) = self.for_entry_field(base, name, span) {
            return e;
        }
        let on_args = matches!(&base.kind, A::Ident(b) if b == "args");
        if self.for_binding.is_some() && on_args {
            return self.error(
                span,
                "args cannot be used inside for ($kv : @map) loops yet",
            );
        }
        if !on_args {
            let errors = self.errors.len();
            let b = self.expr(base);
            if self.errors.len() > errors {
                // Already reported; its stand-in value has no fields to complain of.
                return int(0, Type::I64, span);
            }
            if arrow || matches!(b.ty, Type::Ptr { .. } | Type::Object { .. }) {
                return self.member_access(b, base.span, name, name_span, arrow, span);
            }
            return self.tuple_field(b, name, span);
        }
        if let Attach::RawTracepoint { name: tp } = self.attach {
            return self.raw_tracepoint_arg(tp, name, span);
        }
        if let Attach::User(_) = self.attach {
            return self.user_probe_arg(name, span);
        }
        let Some(format) = self.format else {
            return self.error(
                base.span,
                format!(
                    "args is not available in {} probes",
                    self.attach.probe_name()
                ),
            );
        };
        let Some(field) = format.args().find(|f| f.name == name) else {
            let names: Vec<&str> = format.args().map(|f| f.name.as_str()).collect();
            let diag = Diagnostic::error(
                span,
                format!(
                    "tracepoint {}:{} has no field '{name}'",
                    format.category, format.name
                ),
            )
            .with_hint(if names.is_empty() {
                "it has no fields".to_string()
            } else {
                format!("its fields are: {}", names.join(", "))
            });
            self.push(diag);
            return int(0, Type::I64, span);
        };
        let errors = self.errors.len();
        let out = match field.kind {
            FieldKind::Int | FieldKind::Pointer
                if field.size <= 8
                    && field.size.is_power_of_two()
                    && matches!(self.attach, Attach::Syscall { .. }) =>
            {
                self.syscall_field(field, span)
            }
            FieldKind::Int | FieldKind::Pointer
                if field.size <= 8 && field.size.is_power_of_two() =>
            {
                // Syscall records store every argument in an 8-byte unsigned slot; the C
                // type says how to read it (`int dfd` is -100, not 4294967196).
                let (size, signed) = match c_int_type(&field.c_type) {
                    Some(Type::Int { bytes, signed })
                        if field.kind == FieldKind::Int && bytes as u32 <= field.size =>
                    {
                        (bytes as u32, signed)
                    }
                    _ => (field.size, field.signed && field.kind == FieldKind::Int),
                };
                Expr {
                    kind: ExprKind::TracepointField {
                        offset: field.offset,
                        size,
                        signed,
                    },
                    ty: Type::Int {
                        bytes: size as u8,
                        signed,
                    },
                    span,
                }
            }
            FieldKind::CharArray { len } if len > 0 && len <= 128 => Expr {
                kind: ExprKind::TracepointString {
                    offset: field.offset,
                    len,
                },
                ty: Type::Str { len },
                span,
            },
            FieldKind::DataLoc | FieldKind::RelLoc if field.c_type.contains("char") => {
                // A string stored after the fixed fields, read like str() reads one.
                let len = self
                    .options
                    .max_strlen
                    .unwrap_or(DEFAULT_STRLEN)
                    .clamp(2, MAX_STRLEN + 1);
                Expr {
                    kind: ExprKind::TracepointDynString {
                        offset: field.offset,
                        relative: field.kind == FieldKind::RelLoc,
                    },
                    ty: Type::Str { len },
                    span,
                }
            }
            _ => self.error(
                span,
                format!(
                    "field '{name}' has type '{}', which this version of beetrace cannot read yet",
                    field.c_type
                ),
            ),
        };
        if self.errors.len() == errors {
            // Editors show the field's C type, as the format file declares it.
            self.note_type(span, out.ty, NotedAs::Declared(field.c_type.clone()));
        }
        out
    }
}

/// Whether `v` is representable in an integer of `bytes` bytes.
fn fits(v: i64, bytes: u8, signed: bool) -> bool {
    let bits = 8 * bytes as u32;
    if signed {
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << (bits - 1)) - 1;
        (min..=max).contains(&(v as i128))
    } else {
        v >= 0 && (v as u128) < (1u128 << bits)
    }
}

/// The number of a signal named like `SIGKILL` or `KILL` (x86-64 numbering).
fn signal_number(name: &str) -> Option<i64> {
    const SIGNALS: &[(&str, i64)] = &[
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("STKFLT", 16),
        ("CHLD", 17),
        ("CONT", 18),
        ("STOP", 19),
        ("TSTP", 20),
        ("TTIN", 21),
        ("TTOU", 22),
        ("URG", 23),
        ("XCPU", 24),
        ("XFSZ", 25),
        ("VTALRM", 26),
        ("PROF", 27),
        ("WINCH", 28),
        ("IO", 29),
        ("PWR", 30),
        ("SYS", 31),
    ];
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().find(|(n, _)| *n == bare).map(|&(_, v)| v)
}

/// The integer type a tracepoint field's C type names, ignoring qualifiers.
fn c_int_type(c_type: &str) -> Option<Type> {
    let words: Vec<&str> = c_type
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile" | "signed"))
        .collect();
    let name = words.join(" ");
    let int = |bytes, signed| Some(Type::Int { bytes, signed });
    match name.as_str() {
        "long long" | "long int" | "ssize_t" | "loff_t" | "off_t" | "__s64" => int(8, true),
        "unsigned long long" | "unsigned long int" | "size_t" | "__u64" | "dma_addr_t" => {
            int(8, false)
        }
        "unsigned short" | "__u16" | "umode_t" => int(2, false),
        "__s16" => int(2, true),
        "pid_t" | "__s32" | "key_serial_t" | "clockid_t" | "timer_t" | "mqd_t" => int(4, true),
        "__u32" | "uid_t" | "gid_t" | "qid_t" | "rwf_t" | "aio_context_t" => int(4, false),
        "__u8" | "unsigned char" => int(1, false),
        "__s8" => int(1, true),
        other => Type::from_name(other),
    }
}

fn unary_symbol(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-",
        UnaryOp::Not => "!",
        UnaryOp::BitNot => "~",
        UnaryOp::Deref => "*",
        UnaryOp::AddrOf => "&",
    }
}
