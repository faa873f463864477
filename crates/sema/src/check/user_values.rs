//! The builtins of user-space probes: `arg0..argN` (function arguments by the x86-64
//! calling convention, or a USDT site's decoded argument specs), `retval` (uretprobe) and
//! `func` (the probed function's name, a compile-time string: each attach point has its
//! own program).

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
