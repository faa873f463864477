//! Semantic errors as users see them: each case is a script and the exact rendered text.

use kernel::FakeKernel;

fn check(source: &str, expected: &str) {
    let (script, parse_diags) = syntax::parse(source);
    assert!(
        parse_diags.is_empty(),
        "unexpected parse errors: {parse_diags:?}"
    );
    let kernel = FakeKernel::new().with_samples();
    let (_, diags) = sema::analyze(&script, &kernel, &sema::Options::default());
    let rendered = syntax::render_all(&diags, "script.bt", source);
    assert_eq!(rendered, expected, "\n--- actual ---\n{rendered}");
}

#[test]
fn unknown_probe_type() {
    check(
        "foo:bar { exit(); }",
        "script.bt:1:1-8: ERROR: unknown probe type 'foo'\n\
         foo:bar { exit(); }\n\
         ~~~~~~~\n\
         HINT: probe types: begin, end, tracepoint (t), interval (i), rawtracepoint (rt), kprobe (k), kretprobe (kr), uprobe (u), uretprobe (ur), usdt (U), profile (p), software (s), hardware (h), fentry (f), fexit (fr)\n",
    );
}

#[test]
fn unknown_tracepoint_suggests_listing() {
    check(
        "tracepoint:syscalls:sys_enter_nope { exit(); }",
        "script.bt:1:1-35: ERROR: unknown tracepoint 'syscalls:sys_enter_nope'\n\
         tracepoint:syscalls:sys_enter_nope { exit(); }\n\
         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\
         HINT: list the available ones with: beetrace -l 'tracepoint:syscalls:*'\n",
    );
}

#[test]
fn unknown_field_lists_the_fields() {
    check(
        "t:syscalls:sys_enter_openat { printf(\"%d\\n\", args.nope); }",
        "script.bt:1:46-55: ERROR: tracepoint syscalls:sys_enter_openat has no field 'nope'\n\
         t:syscalls:sys_enter_openat { printf(\"%d\\n\", args.nope); }\n\
         \x20                                            ~~~~~~~~~\n\
         HINT: its fields are: __syscall_nr, dfd, filename, flags, mode\n",
    );
}

#[test]
fn unknown_function_and_printf_mismatches_reported_together() {
    check(
        "BEGIN {\n  foo();\n  printf(\"%d %d\\n\", 1);\n  printf(\"%d\\n\", comm);\n}",
        "script.bt:2:3-8: ERROR: unknown function 'foo'\n\
         \x20 foo();\n\
         \x20 ~~~~~\n\
         script.bt:3:3-23: ERROR: printf: the format has 2 directive(s) but 1 argument(s) were given\n\
         \x20 printf(\"%d %d\\n\", 1);\n\
         \x20 ~~~~~~~~~~~~~~~~~~~~\n\
         script.bt:4:18-22: ERROR: printf: %d expects an integer, not a string\n\
         \x20 printf(\"%d\\n\", comm);\n\
         \x20                ~~~~\n",
    );
}

#[test]
fn variables_must_be_assigned_before_use() {
    check(
        "BEGIN { printf(\"%d\\n\", $x); }",
        "script.bt:1:24-26: ERROR: $x is used before it is assigned\n\
         BEGIN { printf(\"%d\\n\", $x); }\n\
         \x20                      ~~\n",
    );
}

#[test]
fn wildcards_expand_to_every_matching_tracepoint() {
    let (script, _) = syntax::parse("tracepoint:syscalls:sys_*_openat { exit(); }");
    let kernel = FakeKernel::new().with_samples();
    let (analysis, diags) = sema::analyze(&script, &kernel, &sema::Options::default());
    assert!(diags.is_empty(), "{diags:?}");
    let names: Vec<String> = analysis
        .probes
        .iter()
        .map(|p| p.attach.probe_name())
        .collect();
    assert_eq!(
        names,
        [
            "tracepoint:syscalls:sys_enter_openat",
            "tracepoint:syscalls:sys_exit_openat"
        ]
    );
}

#[test]
fn interval_units() {
    for (probe, name) in [
        ("interval:s:2", "interval:s:2"),
        ("i:ms:100", "interval:ms:100"),
        ("interval:1s", "interval:s:1"),
        ("interval:hz:4", "interval:ms:250"),
    ] {
        let (script, _) = syntax::parse(&format!("{probe} {{ exit(); }}"));
        let (analysis, diags) =
            sema::analyze(&script, &FakeKernel::new(), &sema::Options::default());
        assert!(diags.is_empty(), "{probe}: {diags:?}");
        assert_eq!(analysis.probes[0].attach.probe_name(), name);
    }
}

#[test]
fn uprobe_without_a_function() {
    check(
        "uprobe:/bin/sh { exit(); }",
        "script.bt:1:1-15: ERROR: uprobe probes need a binary and a target\n\
         uprobe:/bin/sh { exit(); }\n\
         ~~~~~~~~~~~~~~\n\
         HINT: e.g. uprobe:/bin/bash:readline\n",
    );
}

#[test]
fn uprobe_on_a_missing_file() {
    check(
        "uretprobe:/no/such/prog:main { exit(); }",
        "script.bt:1:1-29: ERROR: /no/such/prog does not exist\n\
         uretprobe:/no/such/prog:main { exit(); }\n\
         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
    );
}

#[test]
fn uprobe_wildcard_in_the_path() {
    check(
        "uprobe:/usr/lib/*.so:malloc { exit(); }",
        "script.bt:1:1-28: ERROR: wildcards in binary paths ('/usr/lib/*.so') are not supported; name one file\n\
         uprobe:/usr/lib/*.so:malloc { exit(); }\n\
         ~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
    );
}
