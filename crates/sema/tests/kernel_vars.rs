//! Kernel variables in scripts against `FakeKernel`: `percpu_kaddr` typed from the sample
//! BTF's per-CPU `VAR`s, `kaddr` from the fake kallsyms, and the diagnostics that send each
//! misuse to the form that works.

use kernel::FakeKernel;
use sema::hir::{ExprKind, StmtKind};
use sema::Type;

const RUNQUEUES: u64 = 0xffff_ffff_8340_0000;
const JIFFIES: u64 = 0xffff_ffff_82a0_5000;

/// A kernel whose kallsyms lists variables (CONFIG_KALLSYMS_ALL), as the verifier needs.
fn full_kallsyms() -> FakeKernel {
    FakeKernel::new()
        .with_samples()
        .with_symbol("init_task", 0xffff_ffff_8300_0000)
        .with_symbol("runqueues", RUNQUEUES)
        .with_symbol("jiffies", JIFFIES)
}

fn analyze(source: &str, kernel: &FakeKernel) -> (sema::Analysis, String) {
    let (script, parse_diags) = syntax::parse(source);
    assert!(parse_diags.is_empty(), "parse errors: {parse_diags:?}");
    let (analysis, diags) = sema::analyze(&script, kernel, &sema::Options::default());
    (analysis, syntax::render_all(&diags, "script.bt", source))
}

fn check(source: &str, kernel: &FakeKernel, expected: &str) {
    let (_, rendered) = analyze(source, kernel);
    assert_eq!(rendered, expected, "\n--- actual ---\n{rendered}");
}

/// The first printf argument of the first probe.
fn first_arg(source: &str, kernel: &FakeKernel) -> sema::hir::Expr {
    let (a, rendered) = analyze(source, kernel);
    assert_eq!(rendered, "");
    match &a.probes[0].body[0].kind {
        StmtKind::Printf { args, .. } => args[0].clone(),
        other => panic!("not a printf: {other:?}"),
    }
}

#[test]
fn percpu_variable_members_are_typed_from_btf() {
    let kernel = full_kallsyms();
    let e = first_arg(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\", 1)->nr_running); }",
        &kernel,
    );
    assert_eq!(
        e.ty,
        Type::Int {
            bytes: 4,
            signed: false
        }
    );
    let ExprKind::KernelRead { addr, size: 4, .. } = e.kind else {
        panic!("not a 4-byte read: {:?}", e.kind);
    };
    // nr_running is 4 bytes into struct rq: the copy's address plus 4.
    let ExprKind::Binary { lhs, rhs, .. } = addr.kind else {
        panic!("not an offset: {:?}", addr.kind);
    };
    assert!(matches!(rhs.kind, ExprKind::Int(4)));
    let ExprKind::PercpuVar { cpu: Some(cpu), .. } = &lhs.kind else {
        panic!("not a given CPU's copy: {:?}", lhs.kind);
    };
    assert!(matches!(cpu.kind, ExprKind::Int(1)));

    // Without a CPU: this CPU's copy, a `struct rq *`.
    let e = first_arg(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\")); }",
        &kernel,
    );
    assert!(matches!(e.kind, ExprKind::PercpuVar { cpu: None, .. }));
    assert!(matches!(e.ty, Type::Ptr { .. }));
}

#[test]
fn kaddr_reads_through_an_integer_pointer_cast() {
    let e = first_arg(
        "BEGIN { printf(\"%d\", *(uint64 *)kaddr(\"jiffies\")); }",
        &full_kallsyms(),
    );
    let ExprKind::KernelRead { addr, size: 8, .. } = e.kind else {
        panic!("not an 8-byte read: {:?}", e.kind);
    };
    let ExprKind::Cast(inner) = addr.kind else {
        panic!("not a cast: {:?}", addr.kind);
    };
    assert!(matches!(inner.kind, ExprKind::Int(a) if a as u64 == JIFFIES));
}

#[test]
fn each_misuse_names_the_form_that_works() {
    let kernel = full_kallsyms();
    check(
        "BEGIN { printf(\"%d\", kaddr(\"runqueues\")); }",
        &kernel,
        "script.bt:1:22-40: ERROR: kaddr(): 'runqueues' is a per-CPU variable (struct rq): its symbol is an offset, not an address\n\
         BEGIN { printf(\"%d\", kaddr(\"runqueues\")); }\n\
         \x20                    ~~~~~~~~~~~~~~~~~~\n\
         HINT: use percpu_kaddr(\"runqueues\") for this CPU's copy, or percpu_kaddr(\"runqueues\", cpu) for a given CPU's\n",
    );
    check(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"jiffies\")); }",
        &kernel,
        "script.bt:1:22-45: ERROR: percpu_kaddr(): 'jiffies' is not a per-CPU variable: kernel BTF has no type for it\n\
         BEGIN { printf(\"%d\", percpu_kaddr(\"jiffies\")); }\n\
         \x20                    ~~~~~~~~~~~~~~~~~~~~~~~\n\
         HINT: read it through its address with a cast: *(uint64 *)kaddr(\"jiffies\")\n",
    );
    check(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"not_percpu\", 0)); }",
        &kernel,
        "script.bt:1:22-51: ERROR: percpu_kaddr(): 'not_percpu' is a kernel variable, but not a per-CPU one\n\
         BEGIN { printf(\"%d\", percpu_kaddr(\"not_percpu\", 0)); }\n\
         \x20                    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\
         HINT: read it through its address with a cast: *(uint64 *)kaddr(\"not_percpu\")\n",
    );
    check(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"nothing\")); }",
        &kernel,
        "script.bt:1:22-45: ERROR: percpu_kaddr(): no per-CPU kernel variable named 'nothing'\n\
         BEGIN { printf(\"%d\", percpu_kaddr(\"nothing\")); }\n\
         \x20                    ~~~~~~~~~~~~~~~~~~~~~~~\n",
    );
    check(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\", \"x\")); }",
        &kernel,
        "script.bt:1:48-51: ERROR: percpu_kaddr(): the CPU must be an integer\n\
         BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\", \"x\")); }\n\
         \x20                                              ~~~\n",
    );
}

#[test]
fn without_kallsyms_variables_the_kernel_is_blamed() {
    // What this machine's kernel is: BTF describes runqueues, kallsyms lists only functions.
    let kernel = FakeKernel::new().with_samples();
    check(
        "BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\")); }",
        &kernel,
        "script.bt:1:22-47: ERROR: percpu_kaddr(): the kernel cannot load a program that reads 'runqueues': its verifier finds variables through /proc/kallsyms, which does not list it\n\
         BEGIN { printf(\"%d\", percpu_kaddr(\"runqueues\")); }\n\
         \x20                    ~~~~~~~~~~~~~~~~~~~~~~~~~\n\
         this kernel was built without CONFIG_KALLSYMS_ALL, so BPF programs cannot name its variables\n",
    );
    check(
        "BEGIN { printf(\"%d\", kaddr(\"jiffies\")); }",
        &kernel,
        "script.bt:1:22-38: ERROR: kaddr(): no kernel symbol named 'jiffies'\n\
         BEGIN { printf(\"%d\", kaddr(\"jiffies\")); }\n\
         \x20                    ~~~~~~~~~~~~~~~~\n\
         this kernel was built without CONFIG_KALLSYMS_ALL: /proc/kallsyms lists its functions but none of its variables\n",
    );
}
