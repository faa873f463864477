//! Kernel types in scripts against the sample BTF of `FakeKernel::with_samples`: what the
//! checker makes of member access, casts and raw tracepoint args, and its diagnostics.

use kernel::FakeKernel;
use sema::hir::{ExprKind, StmtKind};
use sema::Type;

fn analyze(source: &str, kernel: &FakeKernel) -> (sema::Analysis, String) {
    let (script, parse_diags) = syntax::parse(source);
    assert!(parse_diags.is_empty(), "parse errors: {parse_diags:?}");
    let (analysis, diags) = sema::analyze(&script, kernel, &sema::Options::default());
    (analysis, syntax::render_all(&diags, "script.bt", source))
}

fn check(source: &str, expected: &str) {
    let (_, rendered) = analyze(source, &FakeKernel::new().with_samples());
    assert_eq!(rendered, expected, "\n--- actual ---\n{rendered}");
}

/// The type of the first printf argument of the first probe.
fn first_arg(source: &str) -> (ExprKind, Type) {
    let (a, rendered) = analyze(source, &FakeKernel::new().with_samples());
    assert_eq!(rendered, "");
    match &a.probes[0].body[0].kind {
        StmtKind::Printf { args, .. } => (args[0].kind.clone(), args[0].ty),
        other => panic!("not a printf: {other:?}"),
    }
}

#[test]
fn typed_raw_tracepoint_args_and_members() {
    let (kind, ty) = first_arg("rt:sched_switch { printf(\"%d\", args.prev->pid); }");
    assert_eq!(
        ty,
        Type::Int {
            bytes: 4,
            signed: true
        }
    );
    let ExprKind::KernelRead {
        addr,
        size: 4,
        signed: true,
    } = kind
    else {
        panic!("{kind:?}")
    };
    // prev + offsetof(pid): 10112 bits = 1264 bytes.
    let ExprKind::Binary { lhs, rhs, .. } = addr.kind else {
        panic!()
    };
    assert!(matches!(lhs.kind, ExprKind::RawArg { index: 1 }));
    assert!(matches!(rhs.kind, ExprKind::Int(1264)));

    let (kind, ty) = first_arg("rt:sched_switch { printf(\"%s\", args.next->comm); }");
    assert_eq!(ty, Type::Str { len: 16 });
    assert!(matches!(kind, ExprKind::KernelChars { len: 16, .. }));

    // Nested struct: one read at task + se + vruntime.
    let (kind, _) = first_arg("BEGIN { printf(\"%d\", curtask->se.vruntime); }");
    let ExprKind::KernelRead { addr, size: 8, .. } = kind else {
        panic!()
    };
    assert!(matches!(addr.rhs_int(), Some(304)));

    let (_, ty) = first_arg("rt:sys_enter { printf(\"%d\", args.id); }");
    assert_eq!(
        ty,
        Type::Int {
            bytes: 8,
            signed: true
        }
    );
    let (_, ty) = first_arg("rt:sched_switch { printf(\"%d\", args.prev_state); }");
    assert_eq!(
        ty,
        Type::Int {
            bytes: 4,
            signed: false
        }
    );
}

trait RhsInt {
    fn rhs_int(&self) -> Option<i64>;
}

impl RhsInt for sema::hir::Expr {
    fn rhs_int(&self) -> Option<i64> {
        match &self.kind {
            ExprKind::Binary { rhs, .. } => match rhs.kind {
                ExprKind::Int(v) => Some(v),
                _ => None,
            },
            _ => None,
        }
    }
}

#[test]
fn bitfields_are_shifted_and_masked() {
    let (kind, _) = first_arg("BEGIN { printf(\"%d\", ((struct bits *)0)->mid); }");
    // (word >> 3) & 0x1f
    let ExprKind::Binary { rhs, lhs, .. } = kind else {
        panic!()
    };
    assert!(matches!(rhs.kind, ExprKind::Int(0x1f)));
    assert_eq!(lhs.rhs_int(), Some(3));
}

#[test]
fn sizeof_offsetof_enumerators() {
    let (kind, _) = first_arg("BEGIN { printf(\"%d\", sizeof(struct task_struct)); }");
    assert!(matches!(kind, ExprKind::Int(3264)));
    let (kind, _) = first_arg("BEGIN { printf(\"%d\", offsetof(struct task_struct, comm)); }");
    assert!(matches!(kind, ExprKind::Int(1752)));
    let (kind, _) = first_arg("BEGIN { printf(\"%d\", PIDTYPE_TGID); }");
    assert!(matches!(kind, ExprKind::Int(1)));
}

#[test]
fn unknown_field_did_you_mean() {
    check(
        "BEGIN { printf(\"%d\", curtask->real_parnet); }",
        "script.bt:1:31-42: ERROR: struct task_struct has no field 'real_parnet'\n\
         BEGIN { printf(\"%d\", curtask->real_parnet); }\n\
         \x20                             ~~~~~~~~~~~\n\
         HINT: did you mean 'real_parent'?\n",
    );
}

#[test]
fn unknown_field_lists_fields_when_nothing_is_close() {
    check(
        "BEGIN { printf(\"%d\", ((struct bits *)0)->zzzzzz); }",
        "script.bt:1:42-48: ERROR: struct bits has no field 'zzzzzz'\n\
         BEGIN { printf(\"%d\", ((struct bits *)0)->zzzzzz); }\n\
         \x20                                        ~~~~~~\n\
         HINT: its fields are: lo, mid, hi, whole\n",
    );
}

#[test]
fn unknown_struct_type() {
    check(
        "BEGIN { $x = (struct pid_type *)0; }",
        "script.bt:1:15-30: ERROR: unknown type 'struct pid_type'\n\
         BEGIN { $x = (struct pid_type *)0; }\n\
         \x20             ~~~~~~~~~~~~~~~\n\
         HINT: the running kernel's BTF has no type of that name\n",
    );
}

#[test]
fn errors_do_not_cascade_through_member_chains() {
    check(
        "rt:sched_switch { printf(\"%d\", args.nxt->real_parent->pid); }",
        "script.bt:1:32-40: ERROR: raw tracepoint sched_switch has no argument 'nxt'\n\
         rt:sched_switch { printf(\"%d\", args.nxt->real_parent->pid); }\n\
         \x20                              ~~~~~~~~\n\
         HINT: did you mean 'next'? its arguments are: preempt, prev, next, prev_state\n",
    );
}

#[test]
fn without_btf_the_error_says_so() {
    let k = FakeKernel::new().with_samples().without_btf();
    let (_, rendered) = analyze("rt:sched_switch { printf(\"%d\", args.prev->pid); }", &k);
    assert_eq!(
        rendered,
        "script.bt:1:32-41: ERROR: kernel BTF <fake>/btf/vmlinux: not found: this fake kernel has no BTF\n\
         rt:sched_switch { printf(\"%d\", args.prev->pid); }\n\
         \x20                              ~~~~~~~~~\n"
    );
    // curtask stays an integer, and raw args stay usable.
    let (a, rendered) = analyze("rt:sched_switch { printf(\"%d %d\", curtask, arg1); }", &k);
    assert_eq!(rendered, "");
    assert_eq!(a.probes.len(), 1);
}

/// The text of printf `id`'s format, directives as written.
fn format_text(a: &sema::Analysis, id: usize) -> String {
    a.printfs[id]
        .pieces
        .iter()
        .map(|p| match p {
            sema::printf::Piece::Literal(l) => String::from_utf8_lossy(l).into_owned(),
            sema::printf::Piece::Spec(s) => {
                format!("%{}{}", if s.bits == 64 { "l" } else { "" }, s.conv as char)
            }
        })
        .collect()
}

#[test]
fn print_of_a_struct_is_one_printf_of_its_members() {
    let (a, rendered) = analyze(
        "BEGIN { print(curtask->se); print(*(struct bits *)0); }",
        &FakeKernel::new().with_samples(),
    );
    assert_eq!(rendered, "");
    assert_eq!(format_text(&a, 0), "{ .vruntime = %lu }\n");
    assert_eq!(
        format_text(&a, 1),
        "{ .lo = %lu, .mid = %lu, .hi = %ld, .whole = %u }\n"
    );
}

#[test]
fn syscall_name_of_a_constant_is_a_literal() {
    let (kind, ty) = first_arg("BEGIN { printf(\"%s\", syscall_name(268)); }");
    assert_eq!(ty, Type::Str { len: 32 });
    if cfg!(target_arch = "x86_64") {
        assert!(matches!(kind, ExprKind::Str(ref s) if s == b"fchmodat"));
    }
    let (kind, _) = first_arg("BEGIN { printf(\"%s\", syscall_name(pid)); }");
    assert!(matches!(kind, ExprKind::SyscallName { .. }));
}

#[test]
fn signed_bitfields_are_sign_extended() {
    // `int hi:4` at bit 8: the byte at offset 1, (byte << 60) >> 60, arithmetic.
    let (kind, ty) = first_arg("BEGIN { printf(\"%d\", ((struct bits *)0)->hi); }");
    assert_eq!(ty, Type::I64);
    let ExprKind::Binary { rhs, lhs, .. } = kind else {
        panic!()
    };
    assert!(matches!(rhs.kind, ExprKind::Int(60)));
    assert_eq!(lhs.ty, Type::I64);
    assert_eq!(lhs.rhs_int(), Some(60));
}
