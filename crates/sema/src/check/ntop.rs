//! `ntop([af, ]addr)`: IP addresses, printed as text by user space.

use kernel::FieldKind;
use syntax::ast::{self, ExprKind as A};
use syntax::{Diagnostic, Span};

use super::{int, Checker};
use crate::hir::{Expr, ExprKind, NtopAddr};
use crate::types::Type;

const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

impl Checker<'_> {
    pub(super) fn ntop(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let (family, addr) = match args {
            [addr] => (None, addr),
            [family, addr] => (Some(family), addr),
            _ => {
                self.push(
                    Diagnostic::error(span, "ntop() takes an address, optionally after its family")
                        .with_hint("ntop(addr) or ntop(AF_INET6, args.daddr_v6)"),
                );
                return int(0, Type::I64, span);
            }
        };
        let (addr, len) = match self.tracepoint_byte_array(addr) {
            Some((offset, len)) => (NtopAddr::TracepointBytes { offset, len }, len),
            None => {
                let e = self.expr(addr);
                if !e.ty.is_integer() {
                    return self.error(
                        addr.span,
                        format!(
                            "ntop() needs an IPv4 address as an integer, or a u8[4] / u8[16] \
                             tracepoint field, not {}",
                            e.ty
                        ),
                    );
                }
                (NtopAddr::Int(Box::new(e)), 4)
            }
        };
        let family = match family {
            Some(f) => {
                let e = self.expr(f);
                if !e.ty.is_integer() {
                    return self.error(f.span, "the address family must be an integer");
                }
                e
            }
            None => int(if len == 4 { AF_INET } else { AF_INET6 }, Type::I64, span),
        };
        Expr {
            kind: ExprKind::Ntop {
                family: Box::new(family),
                addr,
            },
            ty: Type::Inet,
            span,
        }
    }

    /// `args.name` when it names a 4- or 16-byte array of the tracepoint record: its offset
    /// and length.
    fn tracepoint_byte_array(&self, e: &ast::Expr) -> Option<(u32, u32)> {
        let A::Field { base, name, .. } = &e.kind else {
            return None;
        };
        if !matches!(&base.kind, A::Ident(b) if b == "args") {
            return None;
        }
        let field = self.format?.args().find(|f| f.name == *name)?;
        match field.kind {
            FieldKind::Array { elem_size: 1, len } | FieldKind::CharArray { len }
                if len == 4 || len == 16 =>
            {
                Some((field.offset, len))
            }
            _ => None,
        }
    }
}
