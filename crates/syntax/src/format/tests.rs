//! Snapshot tests of the layout: each input next to the exact text `fmt` prints for it.

use super::{format, FormatError};

/// Formats `input`, compares with `expected`, and checks that formatting the result again
/// changes nothing.
#[track_caller]
fn check(input: &str, expected: &str) {
    let out = format(input).unwrap_or_else(|e| panic!("not formatted: {e}"));
    assert_eq!(out, expected, "formatted:\n{out}");
    let again = format(&out).unwrap_or_else(|e| panic!("output not formatted: {e}"));
    assert_eq!(again, out, "not idempotent");
}

#[test]
fn one_liner_becomes_one_statement_per_line() {
    check(
        r#"BEGIN { printf("hello, %s %d\n", "world", 1 + 2 * 3); exit(); }"#,
        r#"BEGIN {
    printf("hello, %s %d\n", "world", 1 + 2 * 3);
    exit();
}
"#,
    );
}

#[test]
fn probes_predicates_and_blank_lines_between_items() {
    check(
        "tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_enter_open   /pid!=0&&comm==\"ls\"/{@[comm]=count()}\nEND{print(@)}",
        r#"tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open /pid != 0 && comm == "ls"/ {
    @[comm] = count();
}

END {
    print(@)
}
"#,
    );
}

#[test]
fn parentheses_follow_precedence() {
    check(
        "BEGIN { $a = ((1 + 2)) * 3; $b = 1 + (2 * 3); $c = (1 - 2) - 3; $d = 1 - (2 - 3); $e = -(-$a); $f = ((int8)$a)->x; $g = $a ? $b : $c ? 1 : 2; $h = ($a ? $b : $c) + 1; $i = $a ?: 7; $j = !($a == 1); $k = (struct task_struct *)curtask; }",
        r#"BEGIN {
    $a = (1 + 2) * 3;
    $b = 1 + 2 * 3;
    $c = 1 - 2 - 3;
    $d = 1 - (2 - 3);
    $e = -(-$a);
    $f = ((int8)$a)->x;
    $g = $a ? $b : $c ? 1 : 2;
    $h = ($a ? $b : $c) + 1;
    $i = $a ?: 7;
    $j = !($a == 1);
    $k = (struct task_struct *)curtask;
}
"#,
    );
}

#[test]
fn literals_keep_their_spelling() {
    check(
        r#"BEGIN { $a = 0x10 + 1e3 + 5s; printf("a\tb\n%s", "\x41"); }"#,
        r#"BEGIN {
    $a = 0x10 + 1e3 + 5s;
    printf("a\tb\n%s", "\x41");
}
"#,
    );
}

#[test]
fn control_flow() {
    check(
        "BEGIN{if($x>1){ @a=1; } else if ($x) { @b = 2 } else { } while ($i < 10) { $i++; if ($i == 5) { break; } } unroll(3) { @c += 1; } for ($kv : @a) { print($kv.0); } for ($i : 0..($n + 1)) { continue; } }",
        r#"BEGIN {
    if ($x > 1) {
        @a = 1;
    } else if ($x) {
        @b = 2;
    } else {}
    while ($i < 10) {
        $i++;
        if ($i == 5) {
            break;
        }
    }
    unroll(3) {
        @c += 1;
    }
    for ($kv : @a) {
        print($kv.0);
    }
    for ($i : 0..($n + 1)) {
        continue;
    }
}
"#,
    );
}

#[test]
fn comments_are_kept() {
    check(
        r#"#!/usr/bin/env beetrace
// Count opens.
/* by process */
tracepoint:syscalls:sys_enter_openat // the probe
{ // starts here
  @opens[comm] = count(); // one more
  printf("%d\n", /* who */ pid);


  // last
} // end

// the end
"#,
        r#"#!/usr/bin/env beetrace
// Count opens.
/* by process */
tracepoint:syscalls:sys_enter_openat {
    // the probe
    // starts here
    @opens[comm] = count(); // one more
    /* who */
    printf("%d\n", pid);

    // last
} // end

// the end
"#,
    );
}

#[test]
fn items_of_every_kind() {
    check(
        r#"#include <linux/sched.h>
struct S { int a; };
config = { max_map_keys = 100; stack_mode=perf }
let @m = hash(10);
macro add_one($x) { $x + 1 }
BEGIN { let $v: uint32 = 1; $t = (1, "a"); $r = (name = 1, size = 2); $u = (1,); _ = sizeof(struct task_struct); $o = offsetof(struct task_struct, se.vruntime); @m[1, 2] = { let $q = 1; $q }; return; }
"#,
        r#"#include <linux/sched.h>
struct S { int a; };
config = {
    max_map_keys = 100;
    stack_mode = perf;
}
let @m = hash(10);

macro add_one($x) {
    $x + 1
}

BEGIN {
    let $v: uint32 = 1;
    $t = (1, "a");
    $r = (name = 1, size = 2);
    $u = (1,);
    _ = sizeof(struct task_struct);
    $o = offsetof(struct task_struct, se.vruntime);
    @m[1, 2] = { let $q = 1; $q };
    return;
}
"#,
    );
}

#[test]
fn a_script_that_does_not_parse_is_refused() {
    match format("BEGIN { $x = ; }") {
        Err(FormatError::Syntax(errors)) => {
            assert_eq!(errors.len(), 1);
            assert!(
                errors[0].message.contains("expected an expression"),
                "{errors:?}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn empty_and_comment_only_scripts() {
    check("", "");
    check("\n\n// nothing yet\n\n", "// nothing yet\n");
}

#[test]
fn operators_that_would_run_together_are_kept_apart() {
    check(
        "BEGIN { $a = - -1; $b = -(--$a); $c = 4 / ({ 2 }); $d = $a - -1; }",
        r#"BEGIN {
    $a = -(-1);
    $b = -(--$a);
    $c = 4 / ({ 2 });
    $d = $a - -1;
}
"#,
    );
}
