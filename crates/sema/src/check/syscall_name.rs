//! `syscall_name(nr)`: a system call's name from its number, for `args.id` of
//! `rawtracepoint:sys_enter` and `tracepoint:raw_syscalls:*` (`@[syscall_name(args.id)] =
//! count()`). A constant number becomes its name at compile time; any other is looked up
//! at run time in a table of x86-64 names (`kernel::syscalls`) that the runtime loads into
//! an array map, so the name is an ordinary string: a map key, a printf `%s`, comparable.

use syntax::ast::{self, ExprKind as A};
use syntax::Span;

use super::Checker;
use crate::hir::{Expr, ExprKind};
use crate::types::Type;
use crate::SYSCALL_NAME_LEN;

impl Checker<'_> {
    pub(super) fn syscall_name(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let [arg] = args else {
            return self.error(span, "syscall_name() takes one argument: a syscall number");
        };
        if let A::Int(n) = arg.kind {
            let name = u32::try_from(n)
                .ok()
                .and_then(kernel::syscalls::name)
                .unwrap_or("");
            let mut e = self.string_literal(name.as_bytes(), span);
            e.ty = Type::Str {
                len: SYSCALL_NAME_LEN,
            };
            return e;
        }
        let nr = self.expr(arg);
        if !nr.ty.is_integer() {
            return self.error(
                arg.span,
                format!("syscall_name() needs a syscall number, not {}", nr.ty),
            );
        }
        Expr {
            kind: ExprKind::SyscallName { nr: Box::new(nr) },
            ty: Type::Str {
                len: SYSCALL_NAME_LEN,
            },
            span,
        }
    }
}
