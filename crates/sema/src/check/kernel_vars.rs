//! Kernel global variables in scripts: `kaddr("sym")`, any symbol's address from kallsyms
//! (read through a cast, `*(uint64 *)kaddr("jiffies")`), and `percpu_kaddr("var"[, cpu])`,
//! a per-CPU variable that kernel BTF describes, typed from BTF (`percpu_kaddr("runqueues",
//! 0)->nr_running`).
//!
//! The two cover different variables. BTF describes only the per-CPU ones (as `VAR`s in
//! `.data..percpu`); their kallsyms value is an offset into each CPU's area, not an address,
//! so `kaddr` refuses them. Ordinary globals have no BTF type, only a kallsyms address, and
//! only on kernels built with CONFIG_KALLSYMS_ALL. Each misuse names the form that works.

use kernel::btf::KernelVar;
use syntax::ast::{self, ExprKind as A};
use syntax::{Diagnostic, Span};

use super::{int, Checker};
use crate::hir::{Expr, ExprKind};
use crate::types::Type;

impl<'a> Checker<'a> {
    /// `kaddr("symbol")`: the symbol's address, resolved now from /proc/kallsyms.
    pub(super) fn kaddr(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let [ast::Expr {
            kind: A::Str(name), ..
        }] = args
        else {
            return self.error(span, "kaddr() takes a symbol name as a string literal");
        };
        let name = String::from_utf8_lossy(name).into_owned();
        // A per-CPU variable's kallsyms value is an offset, useless as an address.
        if let Some(var) = self.btf_variable(&name).filter(|v| v.percpu) {
            return self.percpu_instead(&name, &var, span);
        }
        match self.kernel.kernel_symbol(&name) {
            Ok(Some(addr)) => int(addr as i64, Type::U64, span),
            Ok(None) => {
                let mut d =
                    Diagnostic::error(span, format!("kaddr(): no kernel symbol named '{name}'"));
                if !self.kernel.kallsyms_lists_variables().unwrap_or(true) {
                    d = d.with_note(
                        "this kernel was built without CONFIG_KALLSYMS_ALL: /proc/kallsyms \
                         lists its functions but none of its variables",
                    );
                }
                self.push(d);
                int(0, Type::U64, span)
            }
            Err(e) => self.error(span, format!("kaddr(): {e}")),
        }
    }

    /// `percpu_kaddr("var")` (this CPU's copy) or `percpu_kaddr("var", cpu)`: a pointer to
    /// the per-CPU variable, typed from kernel BTF. A CPU that does not exist gives 0.
    pub(super) fn percpu_kaddr(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let (name, cpu) = match args {
            [ast::Expr {
                kind: A::Str(name), ..
            }, rest @ ..]
                if rest.len() <= 1 =>
            {
                (String::from_utf8_lossy(name).into_owned(), rest.first())
            }
            _ => {
                return self.error(
                    span,
                    "percpu_kaddr() takes a variable name as a string literal and an optional \
                     CPU: percpu_kaddr(\"runqueues\") or percpu_kaddr(\"runqueues\", cpu)",
                )
            }
        };
        let cpu = match cpu {
            Some(c) => {
                let e = self.expr(c);
                if !e.ty.is_integer() {
                    return self.error(c.span, "percpu_kaddr(): the CPU must be an integer");
                }
                Some(Box::new(e))
            }
            None => None,
        };
        if self.btf(span).is_none() {
            return int(0, Type::U64, span);
        }
        let var = match self.btf_variable(&name) {
            Some(var) if var.percpu && var.module.is_none() => var,
            Some(var) if var.percpu => {
                let module = var.module.unwrap_or_default();
                return self.error(
                    span,
                    format!(
                        "percpu_kaddr(): '{name}' belongs to module {module}; only vmlinux \
                         variables are supported"
                    ),
                );
            }
            found => {
                let in_kallsyms = matches!(self.kernel.kernel_symbol(&name), Ok(Some(_)));
                let msg = if found.is_some() {
                    format!("percpu_kaddr(): '{name}' is a kernel variable, but not a per-CPU one")
                } else if in_kallsyms {
                    format!(
                        "percpu_kaddr(): '{name}' is not a per-CPU variable: kernel BTF has no \
                         type for it"
                    )
                } else {
                    format!("percpu_kaddr(): no per-CPU kernel variable named '{name}'")
                };
                let mut d = Diagnostic::error(span, msg);
                if found.is_some() || in_kallsyms {
                    d = d.with_hint(format!(
                        "read it through its address with a cast: *(uint64 *)kaddr(\"{name}\")"
                    ));
                }
                self.push(d);
                return int(0, Type::U64, span);
            }
        };
        // The verifier resolves the variable's BTF id to an address through kallsyms, which
        // lists variables only on kernels built with CONFIG_KALLSYMS_ALL.
        if let Ok(None) = self.kernel.kernel_symbol(&name) {
            let mut d = Diagnostic::error(
                span,
                format!(
                    "percpu_kaddr(): the kernel cannot load a program that reads '{name}': its \
                     verifier finds variables through /proc/kallsyms, which does not list it"
                ),
            );
            if !self.kernel.kallsyms_lists_variables().unwrap_or(true) {
                d = d.with_note(
                    "this kernel was built without CONFIG_KALLSYMS_ALL, so BPF programs \
                     cannot name its variables",
                );
            }
            self.push(d);
            return int(0, Type::U64, span);
        }
        Expr {
            kind: ExprKind::PercpuVar {
                btf_id: var.btf_id,
                cpu,
            },
            ty: Type::Ptr { to: var.ty },
            span,
        }
    }

    /// The variable `name` as kernel BTF describes it; `None` without BTF (reported by the
    /// caller that needs it) or without such a variable.
    fn btf_variable(&mut self, name: &str) -> Option<KernelVar> {
        let btf = self.kernel.btf().ok()?;
        btf.variable(name).ok().flatten()
    }

    fn percpu_instead(&mut self, name: &str, var: &KernelVar, span: Span) -> Expr {
        let ty = self
            .kernel
            .btf()
            .map(|b| b.c_spelling(var.ty))
            .unwrap_or_default();
        self.push(
            Diagnostic::error(
                span,
                format!(
                    "kaddr(): '{name}' is a per-CPU variable ({ty}): its symbol is an offset, \
                     not an address"
                ),
            )
            .with_hint(format!(
                "use percpu_kaddr(\"{name}\") for this CPU's copy, or percpu_kaddr(\"{name}\", \
                 cpu) for a given CPU's"
            )),
        );
        int(0, Type::U64, span)
    }
}
