//! `print(s)` of a kernel struct or union (`print(curtask->se.load)`, `print(*p)`): bpftrace's
//! `{ .weight = 1048576, .inv_weight = 4194304 }`, nested structs in braces, arrays as
//! `[3,0,0,0]`, members of anonymous structs and unions inline.
//!
//! The struct becomes one printf whose format spells the braces and member names and
//! whose arguments read each member, so nothing new is needed downstream: codegen reads the
//! members as it reads any, user space formats a printf. The price is the record limit: a
//! struct whose members need more than one record holds is an error naming the size.

use kernel::btf::{BtfType, TypeRef};
use syntax::{Diagnostic, Span};

use super::kernel_types::{is_char, offset_addr};
use super::{Checker, MAX_RECORD};
use crate::hir::{Expr, Stmt, StmtKind};
use crate::printf;
use crate::types::Type;
use crate::{FormatKind, PrintfArg, PrintfFormat};

/// Nesting beyond this is cut short as `{ ... }` (and guards against damaged BTF).
const MAX_DEPTH: usize = 8;
/// Arrays longer than this are not spelled out element by element.
const MAX_ARRAY: u32 = 64;

/// The format text and the member reads of one struct print.
struct Layout {
    format: Vec<u8>,
    args: Vec<Expr>,
    bytes: u32,
}

impl Checker<'_> {
    /// `print(v)` where `v` is a struct or union in kernel memory.
    pub(super) fn print_struct(&mut self, v: Expr, span: Span, out: &mut Vec<Stmt>) {
        let Type::Object { ty } = v.ty else {
            unreachable!("called for kernel objects only")
        };
        let mut layout = Layout {
            format: Vec::new(),
            args: Vec::new(),
            bytes: 8,
        };
        if let Err(msg) = self.spell_value(v.clone(), ty, &mut layout, 0, span) {
            self.push(
                Diagnostic::error(v.span, msg)
                    .with_hint("print the members you need, e.g. print(s.member)"),
            );
            return;
        }
        if layout.bytes > MAX_RECORD {
            let d = Diagnostic::error(
                v.span,
                format!(
                    "{} is too large to print: its members need {} bytes, one event holds {MAX_RECORD}",
                    self.spell(v.ty),
                    layout.bytes
                ),
            )
            .with_hint("print the members you need, e.g. print(s.member)");
            self.push(d);
            return;
        }
        layout.format.push(b'\n');
        let Ok(pieces) = printf::parse(&layout.format) else {
            self.push(Diagnostic::error(span, "this struct cannot be printed"));
            return;
        };
        let mut offset = 8;
        let mut fields = Vec::new();
        for a in &layout.args {
            fields.push(PrintfArg::Field { ty: a.ty, offset });
            offset += a.ty.size().div_ceil(8) * 8;
        }
        let id = self.printfs.len();
        self.printfs.push(PrintfFormat {
            pieces,
            args: fields,
            record_size: offset,
            kind: FormatKind::Printf,
        });
        out.push(Stmt {
            kind: StmtKind::Printf {
                id,
                args: layout.args,
            },
            span,
        });
    }

    /// Appends the value of type `ty` at address `addr` to the layout.
    fn spell_value(
        &mut self,
        addr: Expr,
        ty: TypeRef,
        layout: &mut Layout,
        depth: usize,
        span: Span,
    ) -> Result<(), String> {
        let btf = self.kernel.btf().map_err(|e| e.to_string())?;
        let (resolved, t) = btf.resolve(ty).map_err(|e| e.to_string())?;
        match t {
            BtfType::Struct(_) if depth >= MAX_DEPTH => layout.format.extend_from_slice(b"{ ... }"),
            BtfType::Struct(_) => {
                layout.format.extend_from_slice(b"{ ");
                let mut first = true;
                self.spell_members(addr, resolved, layout, depth, span, &mut first)?;
                layout
                    .format
                    .extend_from_slice(if first { b"}" } else { b" }" });
            }
            BtfType::Array { elem, len } if !is_char(btf, elem) => {
                if len > MAX_ARRAY {
                    return Err(format!(
                        "{} has {len} elements, too many to print",
                        btf.c_spelling(resolved)
                    ));
                }
                let size = btf.size_of(elem).map_err(|e| e.to_string())?.unwrap_or(0);
                layout.format.push(b'[');
                for i in 0..len {
                    if i > 0 {
                        layout.format.push(b',');
                    }
                    let at = offset_addr(addr.clone(), i * size, span);
                    self.spell_value(at, elem, layout, depth + 1, span)?;
                }
                layout.format.push(b']');
            }
            _ => {
                let v = self.value_at(addr, resolved, span);
                self.spell_scalar(v, layout)?;
            }
        }
        Ok(())
    }

    /// The members of struct or union `ty` at `addr`, anonymous ones inline.
    fn spell_members(
        &mut self,
        addr: Expr,
        ty: TypeRef,
        layout: &mut Layout,
        depth: usize,
        span: Span,
        first: &mut bool,
    ) -> Result<(), String> {
        let btf = self.kernel.btf().map_err(|e| e.to_string())?;
        let BtfType::Struct(c) = btf.resolve(ty).map_err(|e| e.to_string())?.1 else {
            return Ok(());
        };
        for m in c.members {
            if m.name.is_empty() {
                let at = offset_addr(addr.clone(), m.bit_offset / 8, span);
                self.spell_members(at, m.ty, layout, depth, span, first)?;
                continue;
            }
            if !*first {
                layout.format.extend_from_slice(b", ");
            }
            *first = false;
            layout.format.push(b'.');
            layout.format.extend_from_slice(m.name.as_bytes());
            layout.format.extend_from_slice(b" = ");
            if m.bitfield_size > 0 {
                let v = self.bitfield(addr.clone(), &m, span);
                self.spell_scalar(v, layout)?;
            } else {
                let at = offset_addr(addr.clone(), m.bit_offset / 8, span);
                self.spell_value(at, m.ty, layout, depth + 1, span)?;
            }
        }
        Ok(())
    }

    /// One integer, pointer or string member as a printf argument.
    fn spell_scalar(&mut self, v: Expr, layout: &mut Layout) -> Result<(), String> {
        // Without a length modifier printf prints 32 bits, as C's int.
        let conv: &[u8] = match v.ty {
            Type::Str { .. } => b"%s",
            Type::Ptr { .. } => b"%p",
            Type::Int { bytes: 8, signed } => {
                if signed {
                    b"%ld"
                } else {
                    b"%lu"
                }
            }
            t if t.is_signed() => b"%d",
            t if t.is_integer() => b"%u",
            _ => return Err("a member of this type cannot be printed yet".to_string()),
        };
        layout.format.extend_from_slice(conv);
        layout.bytes += v.ty.size().div_ceil(8) * 8;
        layout.args.push(v);
        Ok(())
    }
}
