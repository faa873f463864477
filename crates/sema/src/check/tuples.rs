//! Tuples `(a, b, ...)` and records `(name = a, other = b)`: their values and fields
//! (`t.0` / `t[0]`, `r.name`).

use syntax::ast::{self, ExprKind as A};
use syntax::{Diagnostic, Span};

use super::{int, Checker};
use crate::hir::{Expr, ExprKind};
use crate::types::{TupleType, Type};

impl Checker<'_> {
    /// `(a, b, ...)`: integers are kept as 64-bit fields, like map values.
    pub(super) fn tuple(&mut self, items: &[ast::Expr], span: Span) -> Expr {
        let items: Vec<&ast::Expr> = items.iter().collect();
        self.composite(&items, Vec::new(), span)
    }

    /// `(name = a, other = b)`: a tuple whose fields have names.
    pub(super) fn record(&mut self, items: &[(String, ast::Expr)], span: Span) -> Expr {
        let mut names: Vec<String> = Vec::new();
        for (name, e) in items {
            if names.contains(name) {
                return self.error(e.span, format!("the record has two fields named '{name}'"));
            }
            names.push(name.clone());
        }
        let exprs: Vec<&ast::Expr> = items.iter().map(|(_, e)| e).collect();
        self.composite(&exprs, names, span)
    }

    fn composite(&mut self, items: &[&ast::Expr], names: Vec<String>, span: Span) -> Expr {
        let mut fields = Vec::new();
        let mut exprs = Vec::new();
        for item in items {
            let e = match &item.kind {
                A::Str(s) => self.string_literal(s, item.span),
                _ => self.expr(item),
            };
            let ty = match e.ty {
                Type::None => {
                    return self.error(item.span, "this expression has no value to put in a tuple")
                }
                t if t.resolved_at_run_time() => {
                    return self.error(
                        item.span,
                        format!("a {t} value cannot be part of a tuple yet; use it as a map key"),
                    )
                }
                Type::Int { signed, .. } => Type::Int { bytes: 8, signed },
                other => other,
            };
            fields.push(ty);
            exprs.push(e);
        }
        Expr {
            kind: ExprKind::Tuple(exprs),
            ty: Type::Tuple(TupleType::intern_record(fields, names)),
            span,
        }
    }

    /// Field `name` (`"0"`, `"1"`, ...) of the tuple `base`.
    pub(super) fn tuple_field(&mut self, base: Expr, name: &str, span: Span) -> Expr {
        let Type::Tuple(tuple) = base.ty else {
            return self.error(
                span,
                format!(
                    "{} has no fields; fields are read from args and tuples",
                    base.ty
                ),
            );
        };
        if !tuple.names.is_empty() {
            return match tuple.names.iter().position(|n| n == name) {
                Some(index) => Expr {
                    kind: ExprKind::TupleField {
                        tuple: Box::new(base),
                        index,
                    },
                    ty: tuple.fields[index],
                    span,
                },
                None => {
                    self.push(
                        Diagnostic::error(span, format!("the record has no field '{name}'"))
                            .with_hint(format!("its fields are: {}", tuple.names.join(", "))),
                    );
                    int(0, Type::I64, span)
                }
            };
        }
        match name.parse::<usize>() {
            Ok(index) if index < tuple.fields.len() => Expr {
                kind: ExprKind::TupleField {
                    tuple: Box::new(base),
                    index,
                },
                ty: tuple.fields[index],
                span,
            },
            _ => self.error(
                span,
                format!(
                    "{} has {} field(s), numbered from .0",
                    base.ty,
                    tuple.fields.len()
                ),
            ),
        }
    }

    /// `t[i]` with a literal `i`: the same as `t.i`.
    pub(super) fn index(&mut self, base: Expr, index: &ast::Expr, span: Span) -> Expr {
        if !matches!(base.ty, Type::Tuple(_)) {
            return self.error(
                span,
                format!("{} cannot be indexed; only tuples can", base.ty),
            );
        }
        match index.kind {
            A::Int(i) => self.tuple_field(base, &i.to_string(), span),
            _ => {
                self.error(index.span, "a tuple index must be an integer literal");
                int(0, Type::I64, span)
            }
        }
    }
}
