//! Kernel types in scripts, answered from kernel BTF (`KernelInfo::btf`): typed `args` of
//! raw tracepoints, `->` and `.` member access, `*p`, `p[i]`, pointer arithmetic, casts to
//! `struct x *`, `curtask` as `struct task_struct *`, enumerators by name, and `sizeof` /
//! `offsetof` of kernel types.
//!
//! Reads of kernel memory become [`ExprKind::KernelRead`] and [`ExprKind::KernelChars`]
//! (codegen copies the bytes with bpf_probe_read_kernel). An expression of a struct, union
//! or array type ([`Type::Object`]) evaluates to the object's address, so `a->b.c` is one
//! read at `a + offsetof(b) + offsetof(c)`. Offsets are the running kernel's own, which is
//! why scripts need no CO-RE relocations.

use kernel::btf::{BtfType, KernelBtf, NameKind, TypeRef};
use syntax::ast::{self, BinaryOp};
use syntax::{Diagnostic, Span};

use super::{int, Checker, MAX_STRLEN};
use crate::hir::{Expr, ExprKind};
use crate::types::Type;
use crate::NotedAs;

/// Suggestions listed when a field is unknown and none is close.
const MAX_LISTED_FIELDS: usize = 12;

impl<'a> Checker<'a> {
    /// Kernel BTF, or `None` after reporting at `span` why it cannot be had.
    pub(super) fn btf(&mut self, span: Span) -> Option<&'a KernelBtf> {
        match self.kernel.btf() {
            Ok(btf) => Some(btf),
            Err(e) => {
                self.push(Diagnostic::error(span, e.to_string()));
                None
            }
        }
    }

    fn btf_error(&mut self, span: Span, e: kernel::KernelError) -> Expr {
        self.error(span, e.to_string())
    }

    /// The C spelling of a type for messages: kernel types by their BTF names.
    pub(super) fn spell(&self, ty: Type) -> String {
        ty.spell(self.kernel.btf().ok())
    }

    /// `args.<name>` in `rawtracepoint:<tp>`: the argument typed from the tracepoint's BTF
    /// prototype.
    pub(super) fn raw_tracepoint_arg(&mut self, tp: &str, name: &str, span: Span) -> Expr {
        let Some(btf) = self.btf(span) else {
            return int(0, Type::I64, span);
        };
        let found = match btf.raw_tracepoint(None, tp) {
            Ok(Some(found)) => found,
            Ok(None) => {
                return self.error(
                    span,
                    format!("the kernel's BTF does not describe raw tracepoint '{tp}', so its args have no names; use arg0, arg1, ..."),
                )
            }
            Err(e) => return self.btf_error(span, e),
        };
        let Some(index) = found.args.iter().position(|a| a.name == name) else {
            let names: Vec<&str> = found.args.iter().map(|a| a.name.as_str()).collect();
            let mut d = Diagnostic::error(
                span,
                format!("raw tracepoint {tp} has no argument '{name}'"),
            );
            d = match nearest(name, &names) {
                Some(n) => d.with_hint(format!(
                    "did you mean '{n}'? its arguments are: {}",
                    names.join(", ")
                )),
                None => d.with_hint(format!("its arguments are: {}", names.join(", "))),
            };
            self.push(d);
            return int(0, Type::I64, span);
        };
        let raw = Expr {
            kind: ExprKind::RawArg { index: index as u8 },
            ty: Type::U64,
            span,
        };
        // Each argument is a u64 slot holding the C value converted to 64 bits.
        match btf.resolve(found.args[index].ty) {
            Ok((_, BtfType::Ptr { to })) => Expr {
                ty: Type::Ptr { to },
                ..raw
            },
            Ok((_, BtfType::Int { size, signed, .. } | BtfType::Enum { size, signed, .. }))
                if matches!(size, 1 | 2 | 4 | 8) =>
            {
                Expr {
                    kind: ExprKind::Cast(Box::new(raw)),
                    ty: Type::Int {
                        bytes: size as u8,
                        signed,
                    },
                    span,
                }
            }
            Ok(_) => self.error(
                span,
                format!(
                    "argument '{name}' has type {}, which beetrace cannot read yet",
                    btf.c_spelling(found.args[index].ty)
                ),
            ),
            Err(e) => self.btf_error(span, e),
        }
    }

    /// `curtask`: `struct task_struct *` where the kernel has BTF, an integer otherwise.
    pub(super) fn curtask_type(&self) -> Type {
        let task = self
            .kernel
            .btf()
            .ok()
            .and_then(|b| b.find("task_struct", NameKind::Struct).ok().flatten());
        match task {
            Some(to) => Type::Ptr { to },
            None => Type::U64,
        }
    }

    /// `b->name` (`arrow`) or `b.name` on a kernel pointer or struct; `base_span` is `b`'s.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn member_access(
        &mut self,
        b: Expr,
        base_span: Span,
        name: &str,
        name_span: Span,
        arrow: bool,
        span: Span,
    ) -> Expr {
        let composite = match (b.ty, arrow) {
            (Type::Ptr { to }, true) => to,
            (Type::Object { ty }, false) => ty,
            (Type::Ptr { .. }, false) => {
                let d = Diagnostic::error(
                    span,
                    format!(
                        "'.' needs a struct, but this is a pointer ({})",
                        self.spell(b.ty)
                    ),
                )
                .with_hint(format!(
                    "use '->' to reach a member through a pointer: ...->{name}"
                ));
                self.push(d);
                return int(0, Type::I64, span);
            }
            (Type::Object { .. }, true) => {
                let d = Diagnostic::error(
                    span,
                    format!("'->' needs a pointer, but this is a {}", self.spell(b.ty)),
                )
                .with_hint(format!("use '.' for a member of a struct: ....{name}"));
                self.push(d);
                return int(0, Type::I64, span);
            }
            (ty, _) => {
                let mut d = Diagnostic::error(
                    base_span,
                    format!("cannot access field '{name}': this is a {ty}, not a kernel struct or pointer"),
                );
                if ty.is_integer() {
                    d = d.with_hint(format!(
                        "cast the address to a pointer first, e.g. ((struct task_struct *)x)->{name}"
                    ));
                }
                self.push(d);
                return int(0, Type::I64, span);
            }
        };
        let Some(btf) = self.btf(span) else {
            return int(0, Type::I64, span);
        };
        match btf.resolve(composite) {
            Ok((_, BtfType::Struct(_))) => {}
            Ok((_, BtfType::Fwd { .. })) => {
                return self.error(
                    span,
                    format!(
                        "{} is only declared, not defined, in the kernel's BTF",
                        btf.c_spelling(composite)
                    ),
                )
            }
            Ok(_) => {
                return self.error(
                    span,
                    format!(
                        "cannot access field '{name}' of {}, which is not a struct or union",
                        btf.c_spelling(composite)
                    ),
                )
            }
            Err(e) => return self.btf_error(span, e),
        }
        let member = match btf.member(composite, name) {
            Ok(Some(m)) => m,
            Ok(None) => {
                let names = btf.member_names(composite).unwrap_or_default();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let d = Diagnostic::error(
                    name_span,
                    format!("{} has no field '{name}'", btf.c_spelling(composite)),
                );
                let d = match nearest(name, &names) {
                    Some(n) => d.with_hint(format!("did you mean '{n}'?")),
                    None if names.len() <= MAX_LISTED_FIELDS => {
                        d.with_hint(format!("its fields are: {}", names.join(", ")))
                    }
                    None => d.with_hint(format!(
                        "its fields include: {}, ...",
                        names[..MAX_LISTED_FIELDS].join(", ")
                    )),
                };
                self.push(d);
                return int(0, Type::I64, span);
            }
            Err(e) => return self.btf_error(span, e),
        };
        if member.bitfield_size > 0 {
            return self.bitfield(b, &member, span);
        }
        let addr = offset_addr(b, member.bit_offset / 8, span);
        self.value_at(addr, member.ty, span)
    }

    /// The value of kernel type `ty` stored at address `addr`.
    pub(super) fn value_at(&mut self, addr: Expr, ty: TypeRef, span: Span) -> Expr {
        let Some(btf) = self.btf(span) else {
            return int(0, Type::I64, span);
        };
        let (r, t) = match btf.resolve(ty) {
            Ok(x) => x,
            Err(e) => return self.btf_error(span, e),
        };
        let read = |size: u32, signed: bool, ty: Type| Expr {
            kind: ExprKind::KernelRead {
                addr: Box::new(addr.clone()),
                size: size as u8,
                signed,
            },
            ty,
            span,
        };
        match t {
            BtfType::Int { size, signed, .. } | BtfType::Enum { size, signed, .. }
                if matches!(size, 1 | 2 | 4 | 8) =>
            {
                read(
                    size,
                    signed,
                    Type::Int {
                        bytes: size as u8,
                        signed,
                    },
                )
            }
            BtfType::Ptr { to } => read(8, false, Type::Ptr { to }),
            BtfType::Array { elem, len } if is_char(btf, elem) => {
                if len == 0 || len > MAX_STRLEN {
                    return self.error(
                        span,
                        format!("{} cannot be read as a string: beetrace reads char arrays of 1 to {MAX_STRLEN} bytes", btf.c_spelling(ty)),
                    );
                }
                // A string to the program, but `char[16]` to the reader of the script.
                self.note_type(span, Type::Str { len }, NotedAs::Kernel(ty));
                Expr {
                    kind: ExprKind::KernelChars {
                        addr: Box::new(addr),
                        len,
                    },
                    ty: Type::Str { len },
                    span,
                }
            }
            BtfType::Array { .. } | BtfType::Struct(_) => Expr {
                ty: Type::Object { ty: r },
                ..addr
            },
            BtfType::Fwd { .. } | BtfType::Void => self.error(
                span,
                format!(
                    "{} has no definition in the kernel's BTF, so it cannot be read",
                    btf.c_spelling(ty)
                ),
            ),
            _ => self.error(
                span,
                format!("values of type {} cannot be read yet", btf.c_spelling(ty)),
            ),
        }
    }

    /// A bitfield member of the struct at `base`: the containing bytes read as an unsigned
    /// integer, shifted and masked.
    pub(super) fn bitfield(&mut self, base: Expr, m: &kernel::btf::Member, span: Span) -> Expr {
        let first_byte = m.bit_offset / 8;
        let last_bit = m.bit_offset as u64 + m.bitfield_size as u64;
        let end = |size: u32| first_byte as u64 * 8 + size as u64 * 8;
        let size = [1u32, 2, 4, 8]
            .into_iter()
            .find(|&s| end(s) >= last_bit)
            .unwrap_or(8);
        if end(size) < last_bit {
            return self.error(
                span,
                "this bitfield straddles 8 bytes and cannot be read yet",
            );
        }
        let shift = m.bit_offset - first_byte * 8;
        let ty = Type::Int {
            bytes: size as u8,
            signed: false,
        };
        let word = Expr {
            kind: ExprKind::KernelRead {
                addr: Box::new(offset_addr(base, first_byte, span)),
                size: size as u8,
                signed: false,
            },
            ty,
            span,
        };
        let bin = |op, lhs: Expr, v: i64| Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(int(v, Type::U64, span)),
            },
            ty: Type::U64,
            span,
        };
        let signed = matches!(
            self.kernel.btf().ok().and_then(|b| b.resolve(m.ty).ok()),
            Some((
                _,
                BtfType::Int { signed: true, .. } | BtfType::Enum { signed: true, .. }
            ))
        );
        if signed && m.bitfield_size < 64 {
            // The field's top bit to bit 63, then an arithmetic shift back sign-extends it.
            let bits = m.bitfield_size as i64;
            let mut up = bin(BinaryOp::Shl, word, 64 - shift as i64 - bits);
            up.ty = Type::I64;
            let mut down = bin(BinaryOp::Shr, up, 64 - bits);
            down.ty = Type::I64;
            return down;
        }
        let mask = if m.bitfield_size >= 64 {
            -1
        } else {
            (1i64 << m.bitfield_size) - 1
        };
        bin(
            BinaryOp::BitAnd,
            bin(BinaryOp::Shr, word, shift as i64),
            mask,
        )
    }

    /// `uptr(p)` / `kptr(p)`: `p`, marked as an address in user or kernel memory for the
    /// read that uses it (`str(uptr(x))`); the flag is `Some(true)` for user memory. A
    /// kernel pointer typed by BTF cannot be a user address, so `uptr` of one is an error.
    pub(super) fn address_space(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        span: Span,
    ) -> (Expr, Option<bool>) {
        let [arg] = args else {
            return (
                self.error(span, format!("{name}() takes one argument: an address")),
                None,
            );
        };
        let v = self.expr(arg);
        let user = name == "uptr";
        if user && matches!(v.ty, Type::Ptr { .. }) {
            let d = Diagnostic::error(
                arg.span,
                format!(
                    "uptr() marks a user-space address, but this is a kernel pointer ({})",
                    self.spell(v.ty)
                ),
            )
            .with_hint("pointers typed by kernel BTF are read from kernel memory; drop uptr()");
            self.push(d);
            return (int(0, Type::I64, span), None);
        }
        if !v.ty.is_integer() {
            return (
                self.error(arg.span, format!("{name}() needs an address, not {}", v.ty)),
                None,
            );
        }
        (v, Some(user))
    }

    /// `uptr(p)`/`kptr(p)` or any other expression, with the address space it names.
    pub(super) fn maybe_address_space(&mut self, e: &ast::Expr) -> (Expr, Option<bool>) {
        match &e.kind {
            ast::ExprKind::Call { name, args, .. } if name == "uptr" || name == "kptr" => {
                self.address_space(name, args, e.span)
            }
            _ => (self.expr(e), None),
        }
    }

    /// `*p`: the value a kernel pointer points at (`*array` is its first element, as in C).
    pub(super) fn deref(&mut self, p: Expr, span: Span) -> Expr {
        let array_elem = match (p.ty, self.kernel.btf()) {
            (Type::Object { ty }, Ok(btf)) => match btf.resolve(ty) {
                Ok((_, BtfType::Array { elem, .. })) => Some(elem),
                _ => None,
            },
            _ => None,
        };
        if let Some(elem) = array_elem {
            return self.value_at(p, elem, span);
        }
        if let ExprKind::KernelChars { addr, .. } = p.kind {
            return char_at(*addr, span);
        }
        if let ExprKind::UserSymbol { size, .. } = p.kind {
            // `*uaddr("sym")`: the variable in the probed process.
            return Expr {
                kind: ExprKind::UserRead {
                    addr: Box::new(p),
                    size,
                },
                ty: Type::Int {
                    bytes: size,
                    signed: false,
                },
                span,
            };
        }
        match p.ty {
            Type::Ptr { to } => self.value_at(p, to, span),
            ty => {
                let mut d = Diagnostic::error(
                    span,
                    format!("'*' needs a kernel pointer, not {}", self.spell(ty)),
                );
                if ty.is_integer() {
                    // An address (`kaddr("jiffies")`) says nothing of what lies there.
                    d = d.with_hint("cast the address to a pointer first: *(uint64 *)addr");
                }
                self.push(d);
                int(0, Type::I64, span)
            }
        }
    }

    /// `b[index]` on a kernel pointer or array (`b` evaluated, `base_span` its span).
    pub(super) fn kernel_index(
        &mut self,
        b: Expr,
        base_span: Span,
        index: &ast::Expr,
        span: Span,
    ) -> Expr {
        let errors = self.errors.len();
        let i = self.expr(index);
        if self.errors.len() > errors {
            return int(0, Type::I64, span);
        }
        if !i.ty.is_integer() || matches!(i.ty, Type::Ptr { .. }) {
            return self.error(index.span, "an index must be an integer");
        }
        // A char array member reads as a string; indexed, it is its chars.
        if let ExprKind::KernelChars { addr, len } = b.kind {
            if let ExprKind::Int(v) = i.kind {
                if v < 0 || v as u64 >= len as u64 {
                    return self.error(
                        index.span,
                        format!("index {v} is out of bounds for char[{len}]"),
                    );
                }
            }
            return char_at(scaled_add(*addr, i, 1, BinaryOp::Add, span), span);
        }
        let Some(btf) = (if matches!(b.ty, Type::Ptr { .. } | Type::Object { .. }) {
            self.btf(span)
        } else {
            None
        }) else {
            return self.error(
                base_span,
                format!(
                    "only kernel pointers and arrays can be indexed, not {}",
                    b.ty
                ),
            );
        };
        let elem = match b.ty {
            Type::Ptr { to } => to,
            Type::Object { ty } => match btf.resolve(ty) {
                Ok((_, BtfType::Array { elem, len })) => {
                    if let ExprKind::Int(v) = i.kind {
                        if v < 0 || (len > 0 && v as u64 >= len as u64) {
                            return self.error(
                                index.span,
                                format!("index {v} is out of bounds for {}", btf.c_spelling(ty)),
                            );
                        }
                    }
                    elem
                }
                _ => {
                    return self.error(
                        base_span,
                        format!("{} cannot be indexed", btf.c_spelling(ty)),
                    )
                }
            },
            _ => unreachable!("checked above"),
        };
        let size = match btf.size_of(elem) {
            Ok(Some(s)) => s,
            _ => return self.error(span, format!("{} has no size", btf.c_spelling(elem))),
        };
        let addr = scaled_add(b, i, size, BinaryOp::Add, span);
        self.value_at(addr, elem, span)
    }

    /// `p + n` / `p - n` on a kernel pointer: moves by `n` pointees, as in C.
    pub(super) fn pointer_arith(&mut self, op: BinaryOp, p: Expr, n: Expr, span: Span) -> Expr {
        let Type::Ptr { to } = p.ty else {
            unreachable!("called for pointers only")
        };
        let size = self
            .kernel
            .btf()
            .ok()
            .and_then(|b| b.size_of(to).ok().flatten())
            .unwrap_or(1);
        let mut e = scaled_add(p, n, size, op, span);
        e.ty = Type::Ptr { to };
        e
    }

    /// The BTF type named by a type expression (`struct task_struct`, `u64`).
    fn kernel_type(&mut self, t: &ast::TypeExpr) -> Option<TypeRef> {
        let (name, kind, spelled) = match &t.kind {
            ast::TypeKind::Struct { keyword, name } => {
                let (kind, word) = match keyword {
                    ast::StructKeyword::Struct => (NameKind::Struct, "struct"),
                    ast::StructKeyword::Union => (NameKind::Union, "union"),
                    ast::StructKeyword::Enum => (NameKind::Enum, "enum"),
                };
                (name.as_str(), kind, format!("{word} {name}"))
            }
            ast::TypeKind::Named(name) => {
                // `(uint64 *)kaddr("jiffies")`: bpftrace's integer names are the kernel's
                // fixed-width typedefs.
                let kernel_name = kernel_int_name(name).unwrap_or(name.as_str());
                (kernel_name, NameKind::Typedef, name.clone())
            }
            _ => {
                self.push(Diagnostic::error(
                    t.span,
                    "pointers to pointers and arrays are not supported yet",
                ));
                return None;
            }
        };
        let btf = self.btf(t.span)?;
        let mut found = btf.find(name, kind);
        if kind == NameKind::Typedef {
            found = match found {
                Ok(None) => btf.find(name, NameKind::Base),
                other => other,
            };
        }
        match found {
            Ok(Some(r)) => Some(r),
            Ok(None) => {
                let mut d = Diagnostic::error(t.span, format!("unknown type '{spelled}'"));
                if kind == NameKind::Struct
                    && btf.find(name, NameKind::Union).ok().flatten().is_some()
                {
                    d = d.with_hint(format!("the kernel has 'union {name}'"));
                } else if kind == NameKind::Typedef {
                    d = d.with_hint("kernel types need their keyword: struct x, union x, enum x");
                } else {
                    d = d.with_hint("the running kernel's BTF has no type of that name");
                }
                self.push(d);
                None
            }
            Err(e) => {
                self.push(Diagnostic::error(t.span, e.to_string()));
                None
            }
        }
    }

    /// `(struct x *)expr`: an integer or pointer reinterpreted as a kernel pointer. `None`
    /// when `ty` is not a pointer type (an ordinary integer cast).
    pub(super) fn pointer_cast(
        &mut self,
        ty: &ast::TypeExpr,
        inner: &ast::Expr,
        span: Span,
    ) -> Option<Expr> {
        let ast::TypeKind::Pointer(pointee) = &ty.kind else {
            if let ast::TypeKind::Struct { .. } = ty.kind {
                return Some(self.error(
                    ty.span,
                    "a value cannot be cast to a struct; cast it to a pointer: (struct x *)",
                ));
            }
            return None;
        };
        let to = match &pointee.kind {
            ast::TypeKind::Named(n) if n == "void" => TypeRef::VOID,
            _ => match self.kernel_type(pointee) {
                Some(r) => r,
                None => return Some(int(0, Type::I64, span)),
            },
        };
        let v = self.expr(inner);
        if !v.ty.is_integer() {
            return Some(self.error(
                span,
                format!("cannot cast {} to a pointer", self.spell(v.ty)),
            ));
        }
        Some(Expr {
            kind: ExprKind::Cast(Box::new(v)),
            ty: Type::Ptr { to },
            span,
        })
    }

    /// `sizeof(struct x)` and friends; `None` if `t` names no kernel type.
    pub(super) fn kernel_sizeof(&mut self, t: &ast::TypeExpr, span: Span) -> Option<Expr> {
        if !matches!(t.kind, ast::TypeKind::Struct { .. }) {
            return None;
        }
        let r = self.kernel_type(t)?;
        let btf = self.btf(span)?;
        match btf.size_of(r) {
            Ok(Some(s)) => Some(int(s as i64, Type::U64, span)),
            _ => Some(self.error(span, format!("{} has no size", btf.c_spelling(r)))),
        }
    }

    /// The size of the kernel object an expression denotes (`sizeof(*p)`, `sizeof(p->s)`).
    pub(super) fn object_size(&mut self, ty: Type, span: Span) -> Option<u32> {
        let Type::Object { ty } = ty else {
            return None;
        };
        self.btf(span)?.size_of(ty).ok().flatten()
    }

    /// `offsetof(struct x, a.b)`: the byte offset of a (nested) member.
    pub(super) fn offsetof(&mut self, of: &ast::TypeOrExpr, fields: &[String], span: Span) -> Expr {
        let mut cur = match of {
            ast::TypeOrExpr::Type(t) => match self.kernel_type(t) {
                Some(r) => r,
                None => return int(0, Type::U64, span),
            },
            ast::TypeOrExpr::Expr(e) => match self.expr(e).ty {
                Type::Object { ty } => ty,
                ty => {
                    return self.error(
                        e.span,
                        format!("offsetof needs a struct, not {}", self.spell(ty)),
                    )
                }
            },
        };
        let Some(btf) = self.btf(span) else {
            return int(0, Type::U64, span);
        };
        let mut offset = 0u32;
        for f in fields {
            match btf.member(cur, f) {
                Ok(Some(m)) => {
                    offset = offset.saturating_add(m.bit_offset / 8);
                    cur = m.ty;
                }
                Ok(None) => {
                    return self.error(span, format!("{} has no field '{f}'", btf.c_spelling(cur)))
                }
                Err(e) => return self.btf_error(span, e),
            }
        }
        int(offset as i64, Type::U64, span)
    }

    /// An identifier that is no builtin: an enumerator of some kernel enum, if BTF has one.
    pub(super) fn enumerator(&mut self, name: &str, span: Span) -> Option<Expr> {
        let btf = self.kernel.btf().ok()?;
        let (v, e) = btf.enumerator(name).ok()??;
        let (size, signed) = match btf.get(e) {
            Ok(BtfType::Enum { size, signed, .. }) if matches!(size, 1 | 2 | 4 | 8) => {
                (size as u8, signed)
            }
            _ => (8, true),
        };
        Some(int(
            v,
            Type::Int {
                bytes: size,
                signed,
            },
            span,
        ))
    }

    /// Reports a struct, union or array used as a value (they can only be read member by
    /// member for now); true if `e` is one.
    pub(super) fn reject_object(&mut self, e: &Expr) -> bool {
        if !matches!(e.ty, Type::Object { .. }) {
            return false;
        }
        let d = Diagnostic::error(
            e.span,
            format!("a {} cannot be used as a value yet", self.spell(e.ty)),
        )
        .with_hint("use one of its members, or take a pointer to it");
        self.push(d);
        true
    }
}

/// The `char` at kernel address `addr`.
fn char_at(addr: Expr, span: Span) -> Expr {
    Expr {
        kind: ExprKind::KernelRead {
            addr: Box::new(addr),
            size: 1,
            signed: true,
        },
        ty: Type::Int {
            bytes: 1,
            signed: true,
        },
        span,
    }
}

/// The kernel typedef of one of bpftrace's integer type names (`uint64` is `u64`).
fn kernel_int_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "uint8" => "u8",
        "uint16" => "u16",
        "uint32" => "u32",
        "uint64" => "u64",
        "int8" => "s8",
        "int16" => "s16",
        "int32" => "s32",
        "int64" => "s64",
        _ => return None,
    })
}

/// `base + offset` as an address; offsets into the same object fold into one constant
/// (`a->b.c.d` adds one number to `a`).
pub(super) fn offset_addr(base: Expr, offset: u32, span: Span) -> Expr {
    if offset == 0 {
        return Expr {
            ty: Type::U64,
            ..base
        };
    }
    if let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs,
        rhs,
    } = &base.kind
    {
        // Addition is associative, so any `x + k` can absorb the offset.
        if let ExprKind::Int(k) = rhs.kind {
            if let Some(total) = k
                .checked_add(offset as i64)
                .and_then(|t| u32::try_from(t).ok())
            {
                return offset_addr((**lhs).clone(), total, span);
            }
        }
    }
    Expr {
        kind: ExprKind::Binary {
            op: BinaryOp::Add,
            lhs: Box::new(Expr {
                ty: Type::U64,
                ..base
            }),
            rhs: Box::new(int(offset as i64, Type::U64, span)),
        },
        ty: Type::U64,
        span,
    }
}

/// `base op index * size` as an address.
fn scaled_add(base: Expr, index: Expr, size: u32, op: BinaryOp, span: Span) -> Expr {
    let scaled = if size == 1 {
        index
    } else {
        Expr {
            kind: ExprKind::Binary {
                op: BinaryOp::Mul,
                lhs: Box::new(index),
                rhs: Box::new(int(size as i64, Type::U64, span)),
            },
            ty: Type::I64,
            span,
        }
    };
    Expr {
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(Expr {
                ty: Type::U64,
                ..base
            }),
            rhs: Box::new(scaled),
        },
        ty: Type::U64,
        span,
    }
}

/// Whether array elements of type `elem` make the array a C string (`char`, and any 1-byte
/// type spelled with `char`).
pub(super) fn is_char(btf: &KernelBtf, elem: TypeRef) -> bool {
    match btf.resolve(elem) {
        Ok((
            _,
            BtfType::Int {
                size: 1,
                is_char,
                name,
                ..
            },
        )) => is_char || name.contains("char"),
        _ => false,
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo.
pub(crate) fn nearest<'n>(name: &str, candidates: &[&'n str]) -> Option<&'n str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbouring characters as one edit (`wrok` is one
/// edit from `work`), as typos usually are.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Rows i-2, i-1 and i of the distance table.
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = (a[i - 1] != b[j - 1]) as usize;
            row[j] = (prev[j - 1] + cost).min(prev[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(two_back[j - 2] + 1);
            }
        }
        two_back = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, nearest};

    #[test]
    fn swapped_neighbours_are_one_edit() {
        assert_eq!(edit_distance("wrok", "work"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(nearest("wrok", &["main", "work"]), Some("work"));
    }
}
