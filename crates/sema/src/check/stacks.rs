//! `kstack`, `ustack` (with an optional mode and frame limit), `ksym()`, `usym()` and
//! `uaddr()`.
//!
//! A stack is recorded by `bpf_get_stackid` into a stack-trace map; the program keeps only
//! the id (and, for user stacks, the pid), so a stack is a small value that works as a map
//! key. User space reads the frames and names them when it prints (runtime `stacks.rs`).
//! Stacks of one side, depth and build-id choice share a map: the script's maps are listed
//! once each in [`StackTables`].

use kernel::elf_symbols::{defined_symbol, ElfSymbols};
use syntax::ast::{self, ExprKind as A};
use syntax::Span;

use super::Checker;
use crate::hir::{Attach, Expr, ExprKind};
use crate::types::{StackMap, StackMode, StackType, Type};

/// Frames a stack keeps unless told otherwise: the kernel's default
/// `kernel.perf_event_max_stack`, which also caps what a stack-trace map may hold.
pub(crate) const MAX_STACK_FRAMES: u8 = 127;

/// The stack-trace maps of a script, and whether any probe records user addresses.
#[derive(Default)]
pub(crate) struct StackTables {
    pub(crate) maps: Vec<StackMap>,
    pub(crate) user_addresses: bool,
}

impl StackTables {
    fn index(&mut self, map: StackMap) -> usize {
        match self.maps.iter().position(|m| *m == map) {
            Some(i) => i,
            None => {
                self.maps.push(map);
                self.maps.len() - 1
            }
        }
    }
}

impl Checker<'_> {
    /// `kstack`, `ustack(perf)`, `kstack(5)`, `ustack(raw, 8)`, `ustack(build_id)`.
    pub(super) fn stack(&mut self, user: bool, args: &[ast::Expr], span: Span) -> Expr {
        let name = if user { "ustack" } else { "kstack" };
        if self.for_binding.is_some() {
            return self.error(
                span,
                format!("{name} cannot be used inside for ($kv : @map) loops yet"),
            );
        }
        if matches!(self.attach, Attach::Begin | Attach::End) && user {
            return self.error(
                span,
                "ustack has no user stack in begin/end, which run inside beetrace",
            );
        }
        // The configured default; kstack has no build-id form and prints raw instead, as
        // in bpftrace.
        let mut mode = match self.options.stack_mode.unwrap_or(StackMode::Bpftrace) {
            StackMode::BuildId if !user => StackMode::Raw,
            m => m,
        };
        let mut limit = MAX_STACK_FRAMES;
        let usage = format!(
            "{name}() takes a mode (bpftrace, perf, raw{}) and/or a frame count: {name}(perf, 5)",
            if user { ", build_id" } else { "" }
        );
        if args.len() > 2 {
            return self.error(span, usage);
        }
        for (i, arg) in args.iter().enumerate() {
            match &arg.kind {
                A::Ident(m) if i == 0 => match StackMode::from_name(m) {
                    Some(StackMode::BuildId) if !user => {
                        return self.error(
                            arg.span,
                            "build_id stacks are user stacks: use ustack(build_id)",
                        )
                    }
                    Some(found) => mode = found,
                    None => {
                        return self.error(
                            arg.span,
                            format!(
                                "unknown stack mode '{m}': use bpftrace, perf, raw or build_id"
                            ),
                        )
                    }
                },
                A::Int(n) if i + 1 == args.len() => match u8::try_from(*n) {
                    Ok(n) if (1..=MAX_STACK_FRAMES).contains(&n) => limit = n,
                    _ => {
                        return self.error(
                            arg.span,
                            format!("a stack keeps 1 to {MAX_STACK_FRAMES} frames"),
                        )
                    }
                },
                _ => return self.error(arg.span, usage),
            }
        }
        let st = StackType { user, mode, limit };
        let map = self.stacks.index(st.map());
        self.stacks.user_addresses |= user;
        Expr {
            kind: ExprKind::Stack { map },
            ty: Type::Stack(st),
            span,
        }
    }

    /// `ksym(addr)` / `usym(addr)`: the address, named when printed.
    pub(super) fn symbol(&mut self, user: bool, args: &[ast::Expr], span: Span) -> Expr {
        let name = if user { "usym" } else { "ksym" };
        let [arg] = args else {
            return self.error(span, format!("{name}() takes one argument: an address"));
        };
        let addr = self.expr(arg);
        if !addr.ty.is_integer() {
            return self.error(
                arg.span,
                format!("{name}() needs an address (an integer), not {}", addr.ty),
            );
        }
        let addr = Box::new(addr);
        if user {
            self.stacks.user_addresses = true;
            Expr {
                kind: ExprKind::Usym { addr },
                ty: Type::Usym,
                span,
            }
        } else {
            Expr {
                kind: ExprKind::Ksym { addr },
                ty: Type::Ksym,
                span,
            }
        }
    }

    /// `uaddr("symbol")` names a symbol of the probed binary, so it needs a uprobe or USDT
    /// probe; no other probe has a binary to look in.
    pub(super) fn uaddr(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let [ast::Expr {
            kind: A::Str(name), ..
        }] = args
        else {
            return self.error(span, "uaddr() takes a symbol name as a string literal");
        };
        let Attach::User(probe) = self.attach else {
            return self.error(
                span,
                format!(
                    "uaddr() looks the symbol up in the probed binary, so it works in uprobe \
                     and usdt probes only, not in {}",
                    self.attach.probe_name()
                ),
            );
        };
        let name = String::from_utf8_lossy(name);
        let path = std::path::Path::new(&probe.path);
        let probe_address = ElfSymbols::read(path)
            .ok()
            .and_then(|elf| elf.address_of_file_offset(probe.offset));
        let symbol = defined_symbol(path, &name).ok().flatten();
        let (Some(probe_address), Some((address, size))) = (probe_address, symbol) else {
            return self.error(
                span,
                format!("uaddr(): {} has no symbol '{name}'", probe.binary),
            );
        };
        Expr {
            kind: ExprKind::UserSymbol {
                delta: address.wrapping_sub(probe_address) as i64,
                // bpftrace's rule: an object of an integer's size reads as that integer.
                size: match size {
                    1 | 2 | 4 | 8 => size as u8,
                    _ => 8,
                },
            },
            ty: Type::U64,
            span,
        }
    }
}
