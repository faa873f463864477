//! The builtins of user-space probes: `arg0..argN` (function arguments by the x86-64
//! calling convention, or a USDT site's decoded argument specs), `retval` (uretprobe) and
//! `func` (the probed function's name, a compile-time string: each attach point has its
//! own program).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use kernel::dwarf_args::{self, ParamKind, Parameter};
use syntax::Span;

use super::Checker;
use crate::hir::{ArgLocation, Attach, Expr, ExprKind, UserProbe, UserProbeKind};
use crate::types::Type;

/// bpftrace allows any argument index; past the sixth they come from the stack, and past
/// this many they are surely a mistake.
const MAX_FUNCTION_ARGS: u32 = 32;

impl Checker<'_> {
    pub(super) fn user_probe_builtin(&mut self, name: &str, span: Span) -> Expr {
        let Attach::User(probe) = self.attach else {
            unreachable!("only called for user-space probes")
        };
        let probe: &UserProbe = probe;
        match name {
            "func" => match &probe.function {
                Some(f) if probe.kind != UserProbeKind::Usdt => {
                    self.string_literal(f.as_bytes(), span)
                }
                _ => self.error(
                    span,
                    format!(
                        "func is not available in {}: it is not on a named function",
                        self.attach.probe_name()
                    ),
                ),
            },
            "retval" if probe.kind == UserProbeKind::Return => user_value(
                ArgLocation::Register {
                    offset: kernel::pt_regs::RETURN_REGISTER,
                },
                8,
                false,
                Type::U64,
                span,
            ),
            "retval" => self.error(
                span,
                "retval is only available in uretprobe probes (the function has not returned yet)",
            ),
            _ => {
                let index: u32 = name[3..].parse().expect("the caller checked the digits");
                match probe.kind {
                    UserProbeKind::Return => self.error(
                        span,
                        format!(
                            "{name} is not available in uretprobe probes: the arguments are \
                             gone when the function returns (save them in a map at its uprobe)"
                        ),
                    ),
                    UserProbeKind::Entry if index < MAX_FUNCTION_ARGS => user_value(
                        kernel::pt_regs::function_arg(index as u8),
                        8,
                        false,
                        Type::U64,
                        span,
                    ),
                    UserProbeKind::Entry => self.error(
                        span,
                        format!("{name}: at most {MAX_FUNCTION_ARGS} arguments"),
                    ),
                    UserProbeKind::Usdt => match probe.usdt_args.get(index as usize) {
                        Some(Ok(arg)) => user_value(
                            arg.location,
                            arg.size,
                            arg.signed,
                            Type::Int {
                                bytes: 8,
                                signed: arg.signed,
                            },
                            span,
                        ),
                        Some(Err(spec)) => self.error(
                            span,
                            format!(
                                "{name} of {} is '{spec}', an operand beetrace cannot decode yet",
                                self.attach.probe_name()
                            ),
                        ),
                        None => self.error(
                            span,
                            format!(
                                "{} has {} argument{}",
                                self.attach.probe_name(),
                                probe.usdt_args.len(),
                                if probe.usdt_args.len() == 1 { "" } else { "s" }
                            ),
                        ),
                    },
                }
            }
        }
    }
}

impl Checker<'_> {
    /// `args.NAME` in a uprobe: the parameter NAME of the probed function, located and
    /// typed by the binary's DWARF debug information.
    pub(super) fn user_probe_arg(&mut self, name: &str, span: Span) -> Expr {
        let Attach::User(probe) = self.attach else {
            unreachable!("only called for user-space probes")
        };
        let probe_name = self.attach.probe_name();
        let (function, symbol) = match (&probe.kind, &probe.function, &probe.symbol) {
            // At the entry, named: not `f+16` or an address, where the registers may
            // already hold something else.
            (UserProbeKind::Entry, Some(f), Some(s)) if probe.target == *f => {
                (f.clone(), s.clone())
            }
            (UserProbeKind::Return, _, _) => {
                return self.error(
                    span,
                    "args is not available in uretprobe probes: the arguments are gone when \
                     the function returns",
                )
            }
            (UserProbeKind::Usdt, _, _) => {
                return self.error(span, "USDT probes have arg0..argN, not args.NAME")
            }
            _ => {
                return self.error(
                    span,
                    format!("args needs a uprobe at a function's entry, not {probe_name}"),
                )
            }
        };
        let params = match parameters(&probe.path, &symbol) {
            Ok(Some(p)) => p,
            Ok(None) => {
                return self.error(
                    span,
                    format!(
                        "{} has no DWARF description of {function}, so its arguments have no \
                         names; build it with -g, or use arg0..argN",
                        probe.path
                    ),
                )
            }
            Err(e) => return self.error(span, e),
        };
        let Some(param) = params.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return self.error(
                span,
                format!(
                    "{function} has no parameter '{name}'; its parameters are: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            );
        };
        let (size, signed) = match param.kind {
            ParamKind::Int { bytes, signed } => (bytes, signed),
            ParamKind::Pointer => (8, false),
            ParamKind::Other => {
                return self.error(
                    span,
                    format!(
                        "parameter '{name}' has type {}, which beetrace cannot read yet",
                        param.c_type
                    ),
                )
            }
        };
        let Some(index) = param.index else {
            return self.error(
                span,
                format!(
                    "parameter '{name}' follows a parameter that is not an integer or pointer, \
                     so beetrace cannot tell where it is passed"
                ),
            );
        };
        let ty = if param.kind == ParamKind::Pointer {
            Type::U64
        } else {
            Type::Int {
                bytes: size,
                signed,
            }
        };
        user_value(kernel::pt_regs::function_arg(index), size, signed, ty, span)
    }
}

/// The parameters of `function` in `binary`, read once per run (both passes of the checker
/// and every probe ask again).
fn parameters(binary: &str, function: &str) -> Result<Option<Vec<Parameter>>, String> {
    type Cache = HashMap<(String, String), Result<Option<Vec<Parameter>>, String>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry((binary.to_string(), function.to_string()))
        .or_insert_with(|| {
            dwarf_args::parameters(std::path::Path::new(binary), function)
                .map_err(|e| e.to_string())
        })
        .clone()
}

fn user_value(location: ArgLocation, size: u8, signed: bool, ty: Type, span: Span) -> Expr {
    Expr {
        kind: ExprKind::UserValue {
            location,
            size,
            signed,
        },
        ty,
        span,
    }
}
