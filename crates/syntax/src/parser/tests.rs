//! Parser tests as data: source in, s-expression dump (see [`crate::dump`]) or diagnostics out.

use crate::dump::{block, dump, expr};
use crate::{parse, render_all, Span};

/// Parses `src`, which must be error-free, and compares the dump with `expected`.
#[track_caller]
fn check(src: &str, expected: &str) {
    let (script, diags) = parse(src);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics:\n{}",
        render_all(&diags, "test.bt", src)
    );
    assert_eq!(dump(&script), expected.trim());
}

/// The dump of the value of `begin { <src> }`, which must be error-free.
#[track_caller]
fn e(src: &str) -> String {
    let full = format!("begin {{ {src} }}");
    let (script, diags) = parse(&full);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics:\n{}",
        render_all(&diags, "test.bt", &full)
    );
    match &script.items[..] {
        [crate::ast::Item::Probe(p)] if p.body.stmts.is_empty() => match &p.body.value {
            Some(v) => expr(v),
            None => panic!("no value in {full}"),
        },
        _ => panic!("not a single expression: {}", dump(&script)),
    }
}

/// The dump of the body of `begin { <src> }`, which must be error-free.
#[track_caller]
fn s(src: &str) -> String {
    let full = format!("begin {{ {src} }}");
    let (script, diags) = parse(&full);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics:\n{}",
        render_all(&diags, "test.bt", &full)
    );
    match &script.items[..] {
        [crate::ast::Item::Probe(p)] => block(&p.body),
        _ => panic!("not a single probe: {}", dump(&script)),
    }
}

/// Diagnostics of `src` as `start-end: message`.
fn errs(src: &str) -> Vec<String> {
    let (_, diags) = parse(src);
    diags
        .iter()
        .map(|d| format!("{}-{}: {}", d.span.start, d.span.end, d.message))
        .collect()
}

#[track_caller]
fn check_errs(src: &str, expected: &[&str]) {
    assert_eq!(errs(src), expected, "source: {src}");
}

// ----- top level -----

#[test]
fn shebang_and_comments() {
    check(
        "#!/usr/bin/env beetrace\n// line\n/* block\n comment */ begin { /* in */ exit(); } // end",
        r#"(probe ["begin"] {(exit)})"#,
    );
}

#[test]
fn preprocessor_lines() {
    check(
        "#include <linux/sched.h>\n#define RED \"\\033[31m\"\n#define M(a) \\\n  (a + 1)\n#pragma once\nbegin {}",
        r#"
(include "<linux/sched.h>")
(define "RED \"\\033[31m\"")
(define "M(a) \\\n  (a + 1)")
(pp "pragma once")
(probe ["begin"] {})"#,
    );
}

#[test]
fn preprocessor_span() {
    let (script, _) = parse("#include <x.h>   \nbegin {}");
    let crate::ast::Item::Preprocessor(p) = &script.items[0] else {
        panic!()
    };
    assert_eq!(p.span, Span::new(0, 14));
}

#[test]
fn c_definitions() {
    check(
        "struct S { int x; struct { char c; } inner; /* } */ char s[2]; };\nunion U { int a; long b; }\nenum E { A = 1, B }\nstruct __attribute__((packed)) P { int y; } __attribute__((aligned(8)));\nbegin {}",
        r#"
(cdef "struct S { int x; struct { char c; } inner; /* } */ char s[2]; };")
(cdef "union U { int a; long b; }")
(cdef "enum E { A = 1, B }")
(cdef "struct __attribute__((packed)) P { int y; } __attribute__((aligned(8)));")
(probe ["begin"] {})"#,
    );
}

#[test]
fn c_definition_unclosed() {
    check_errs(
        "struct S { int x;\nbegin {}",
        &["9-10: expected `}` to close the definition opened here"],
    );
    check_errs(
        "#foo bar
# 
",
        &[
            "0-8: unknown preprocessor directive `#foo`",
            "9-10: expected a preprocessor directive such as `#include` after `#`",
        ],
    );
}

#[test]
fn config_block() {
    check(
        "config = {\n  stack_mode=perf;\n  max_map_keys = 2;\n  license = \"GPL\";\n  print_maps_on_exit = false\n}\nbegin {}",
        r#"
(config (stack_mode perf) (max_map_keys 2) (license "GPL") (print_maps_on_exit false))
(probe ["begin"] {})"#,
    );
    check("config = {}", "(config)");
}

#[test]
fn config_errors() {
    check_errs(
        "config = { a = ; b = 1 }",
        &["15-16: expected a config value (integer, string or name), found `;`"],
    );
    check_errs(
        "config = { a = 1 b = 2 }",
        &["17-18: expected `;` after the config entry, found identifier `b`"],
    );
    check_errs(
        "config = { a = 1",
        &["9-10: expected `}` to close the config block opened here"],
    );
}

#[test]
fn imports() {
    check(
        "import \"helpers.bt\";\nimport \"lib\";",
        r#"
(import "helpers.bt")
(import "lib")"#,
    );
    check_errs(
        "import helpers;",
        &["7-14: expected a path string after `import`, found identifier `helpers`"],
    );
    check_errs(
        "import \"a\" begin {}",
        &["11-16: expected `;` after the import, found identifier `begin`"],
    );
}

#[test]
fn map_declarations() {
    check(
        "let @a = hash(100);\nlet @b = percpulruhash(20);",
        "(mapdecl @a hash 100)\n(mapdecl @b percpulruhash 20)",
    );
    check_errs(
        "let $a = hash(1);",
        &["4-6: expected a map name after `let` at the top level, found variable `$a`"],
    );
}

#[test]
fn macros() {
    check(
        "macro one() { 1 }\nmacro add($a, b, @c) { $a += 1; @c = b; }\nmacro greet { print(\"hi\"); }",
        r#"
(macro one () {=> 1})
(macro add ($a b @c) {(+= $a 1) (= @c b)})
(macro greet () {(print "hi")})"#,
    );
    check_errs(
        "macro f(1) {}",
        &["8-9: expected a macro parameter (`$var`, `@map` or `name`), found integer literal"],
    );
    check_errs(
        "macro (a) {}",
        &["6-7: expected a macro name after `macro`, found `(`"],
    );
}

#[test]
fn section_order() {
    check_errs(
        "begin {}\n#include <a.h>\nconfig = {}",
        &[
            "9-23: preprocessor lines and C definitions must come before everything else",
            "24-35: `config` and `import` must come before probes, macros and map declarations",
        ],
    );
    // Config and imports may be interleaved.
    check(
        "import \"a\";\nconfig = {}\nimport \"b\";",
        "(import \"a\")\n(config)\n(import \"b\")",
    );
}

// ----- probes -----

#[test]
fn attach_points() {
    check(
        "tracepoint:syscalls:sys_enter_open,\n  tracepoint:syscalls:sys_enter_openat { }",
        r#"(probe ["tracepoint:syscalls:sys_enter_open" "tracepoint:syscalls:sys_enter_openat"] {})"#,
    );
    check(
        "kprobe:tcp_*,kprobe:*sock?t* {}",
        r#"(probe ["kprobe:tcp_*" "kprobe:*sock?t*"] {})"#,
    );
    check("BEGIN {} END {} begin {} end {}", "(probe [\"BEGIN\"] {})\n(probe [\"END\"] {})\n(probe [\"begin\"] {})\n(probe [\"end\"] {})");
    check(
        "uprobe:/bin/bash:readline {}",
        r#"(probe ["uprobe:/bin/bash:readline"] {})"#,
    );
    check(
        "uprobe:/lib/x.so:\"quoted name\" {}",
        r#"(probe ["uprobe:/lib/x.so:quoted name"] {})"#,
    );
    check(
        "uprobe:\"/system/Foo.apk!/lib/libfoo.so\":func {}",
        r#"(probe ["uprobe:/system/Foo.apk!/lib/libfoo.so:func"] {})"#,
    );
    check(
        "usdt:/path/x:prov:name {}",
        r#"(probe ["usdt:/path/x:prov:name"] {})"#,
    );
    check("kprobe:mod:fn {}", r#"(probe ["kprobe:mod:fn"] {})"#);
    check("kprobe:fn+0x10 {}", r#"(probe ["kprobe:fn+0x10"] {})"#);
    check("interval:s:1 {}", r#"(probe ["interval:s:1"] {})"#);
    check("interval:1s{}", r#"(probe ["interval:1s"] {})"#);
    check("profile:hz:99 {}", r#"(probe ["profile:hz:99"] {})"#);
    check(
        "watchpoint:0x1000:8:rw {}",
        r#"(probe ["watchpoint:0x1000:8:rw"] {})"#,
    );
    check(
        "hardware:cache-misses:1000 {}",
        r#"(probe ["hardware:cache-misses:1000"] {})"#,
    );
    check(
        "t:sched:x, k:f, u:/bin/sh:main, ur:./a.out:f {}",
        r#"(probe ["t:sched:x" "k:f" "u:/bin/sh:main" "ur:./a.out:f"] {})"#,
    );
    check(
        "uprobe:/bin/bash@readline.c:362 {}",
        r#"(probe ["uprobe:/bin/bash@readline.c:362"] {})"#,
    );
    check(
        "uprobe:/usr/lib/*.so:malloc {}",
        r#"(probe ["uprobe:/usr/lib/*.so:malloc"] {})"#,
    );
    check(
        "iter:task_file:/sys/fs/bpf/files {}",
        r#"(probe ["iter:task_file:/sys/fs/bpf/files"] {})"#,
    );
    check("name=kprobe:f {}", r#"(probe [name="kprobe:f"] {})"#);
    // A trailing comma before the body is accepted.
    check("k:a, k:b, {}", r#"(probe ["k:a" "k:b"] {})"#);
}

#[test]
fn attach_point_spans() {
    let src = "kprobe:a,\n  uprobe:/bin/x:\"q\" /1/ {}";
    let (script, diags) = parse(src);
    assert!(diags.is_empty());
    let crate::ast::Item::Probe(p) = &script.items[0] else {
        panic!()
    };
    assert_eq!(p.attach_points[0].span, Span::new(0, 8));
    assert_eq!(p.attach_points[1].span, Span::new(12, 29));
    assert_eq!(p.attach_points[1].provider(), "uprobe");
    assert_eq!(p.attach_points[1].parts(), ["/bin/x", "q"]);
    assert_eq!(p.span, Span::new(0, src.len()));
}

#[test]
fn predicates() {
    check(
        "kprobe:vfs_read /arg2 < 16/ { }",
        r#"(probe ["kprobe:vfs_read"] /(< arg2 16)/ {})"#,
    );
    check(
        "kprobe:f /comm == \"bash\" && pid / 2 > 1/{}",
        r#"(probe ["kprobe:f"] /(&& (== comm "bash") (> (/ pid 2) 1))/ {})"#,
    );
    check("BEGIN/$1/{}", r#"(probe ["BEGIN"] /$1/ {})"#);
    check(
        "uprobe:/bin/bash:readline /pid/ {}",
        r#"(probe ["uprobe:/bin/bash:readline"] /pid/ {})"#,
    );
    check(
        "kretprobe:d_lookup\n/@fname[tid]/\n{ }",
        r#"(probe ["kretprobe:d_lookup"] /@fname[tid]/ {})"#,
    );
    check(
        "tracepoint:block:block_rq_issue\n/args.bytes > $1/ {}",
        r#"(probe ["tracepoint:block:block_rq_issue"] /(> (. args bytes) $1)/ {})"#,
    );
}

#[test]
fn probe_errors() {
    check_errs(
        "kprobe:f /pid {}",
        &["14-15: expected `/` to close the predicate, found `{`"],
    );
    check_errs(
        "kprobe:f exit(); }\nbegin {}",
        &["9-13: expected `{` to start the probe body, found identifier `exit`"],
    );
    check_errs(
        "{ exit(); }\nbegin { }",
        &["0-1: expected an attach point such as `kprobe:name`, found `{`"],
    );
    check_errs(
        "kprobe:f { exit();",
        &["9-10: expected `}` to close the block opened here"],
    );
    check_errs(
        "kprobe:f\u{1} {}",
        &["8-9: unexpected character '\\u{1}' in attach point"],
    );
    check_errs(
        "uprobe:/x:\"abc {}",
        &[
            "10-17: unterminated string in attach point",
            "17-17: expected `{` to start the probe body, found end of file",
        ],
    );
}

// ----- statements -----

#[test]
fn statements() {
    assert_eq!(s("exit();"), "{(exit)}");
    assert_eq!(
        s("@x++; ++$y; $z--"),
        "{(post++ @x) (pre++ $y) => (post-- $z)}"
    );
    assert_eq!(s("let $x;"), "{(let $x)}");
    assert_eq!(s("let $x: uint32 = 1;"), "{(let $x <uint32> 1)}");
    assert_eq!(
        s("let $p: struct task_struct * ;"),
        "{(let $p <struct task_struct*>)}"
    );
    assert_eq!(
        s("let $a = { let $b = 1; $b };"),
        "{(let $a {(let $b 1) => $b})}"
    );
    assert_eq!(s("$a = { let $b = 1; $b };"), "{(= $a {(let $b 1) => $b})}");
    assert_eq!(s("_ = has_key(@a, 1);"), "{(_ (has_key @a 1))}");
    assert_eq!(s("return;"), "{(return)}");
    assert_eq!(s("return 1;"), "{(return 1)}");
    assert_eq!(s("return"), "{(return)}");
    assert_eq!(s("break; continue"), "{(break) (continue)}");
    assert_eq!(s("{ $x = 1; } { }"), "{{(= $x 1)} {}}");
    assert_eq!(s(";;"), "{}");
}

#[test]
fn assignments() {
    assert_eq!(s("$x = 1;"), "{(= $x 1)}");
    assert_eq!(s("@m = 1;"), "{(= @m 1)}");
    assert_eq!(s("@m[k] = 1;"), "{(= @m[k] 1)}");
    assert_eq!(s("@m[pid, comm] = count();"), "{(= @m[pid comm] (count))}");
    assert_eq!(s("@[pid] = 1;"), "{(= @[pid] 1)}");
    assert_eq!(s("@ = 1"), "{(= @ 1)}");
    assert_eq!(
        s("$a += 1; $a -= 1; $a *= 1; $a /= 1; $a %= 1; $a &= 1; $a |= 1; $a ^= 1; $a <<= 1; $a >>= 1"),
        "{(+= $a 1) (-= $a 1) (*= $a 1) (/= $a 1) (%= $a 1) (&= $a 1) (|= $a 1) (^= $a 1) (<<= $a 1) (>>= $a 1)}"
    );
    assert_eq!(s("@m[1].x = 2;"), "{(= (. @m[1] x) 2)}");
}

#[test]
fn control_flow() {
    assert_eq!(s("if ($x) { exit(); }"), "{(if $x {(exit)})}");
    assert_eq!(
        s("if (pid == 1) { @a = 1 } else if (pid == 2) { @a = 2 } else { @a = 3 }"),
        "{(if (== pid 1) {(= @a 1)} {(if (== pid 2) {(= @a 2)} {(= @a 3)})})}"
    );
    assert_eq!(s("if $x > 1 { }"), "{(if (> $x 1) {})}");
    assert_eq!(s("unroll(3) { print(1); }"), "{(unroll 3 {(print 1)})}");
    assert_eq!(
        s("while ($i < 10) { $i++; }"),
        "{(while (< $i 10) {(post++ $i)})}"
    );
    assert_eq!(
        s("for ($kv : @map) { print($kv.0.0); }"),
        "{(for $kv @map {(print (. (. $kv 0) 0))})}"
    );
    assert_eq!(s("for ($i : 0..ncpus) { }"), "{(for $i (.. 0 ncpus) {})}");
    assert_eq!(s("for ($i : 1..$n) { }"), "{(for $i (.. 1 $n) {})}");
    assert_eq!(s("for $i : 0..10 { }"), "{(for $i (.. 0 10) {})}");
    // Block-like statements need no `;`.
    assert_eq!(s("if (1) {} $x = 1"), "{(if 1 {}) (= $x 1)}");
}

#[test]
fn block_values() {
    assert_eq!(s("$x = { 1 }"), "{(= $x {=> 1})}");
    assert_eq!(s("{ 1 }"), "{{=> 1}}");
    assert_eq!(s("print(1); 2"), "{(print 1) => 2}");
    assert_eq!(s("$x = { 1 } + 1;"), "{(= $x (+ {=> 1} 1))}");
}

#[test]
fn statement_errors() {
    check_errs(
        "begin { $x = 1 $y = 2; }",
        &["15-17: expected `;` after the assignment, found variable `$y`"],
    );
    // On a new line, parsing carries on with the next statement.
    let (script, diags) = parse("begin { $x = 1\n $y = 2; }");
    assert_eq!(diags.len(), 1);
    assert_eq!(dump(&script), r#"(probe ["begin"] {(= $x 1) (= $y 2)})"#);
    check_errs("begin { ) }", &["8-9: expected an expression, found `)`"]);
    check_errs(
        "begin { 1 = 2; }",
        &["8-9: invalid assignment target: expected a variable, a map, or a field or index of one"],
    );
    check_errs(
        "begin { let 1; }",
        &["12-13: expected a variable such as `$x` after `let`, found integer literal"],
    );
    check_errs(
        "begin { let $x: = 1; }",
        &["16-17: expected a type, found `=`"],
    );
    check_errs(
        "begin { if 1 exit(); }",
        &["13-17: expected `{` after the `if` condition, found identifier `exit`"],
    );
    check_errs(
        "begin { if (1) {} else exit(); }",
        &["23-27: expected `{` or `if` after `else`, found identifier `exit`"],
    );
    check_errs(
        "begin { for (1 : @m) {} print(1); }",
        &["13-14: expected a variable such as `$x` after `for`, found integer literal"],
    );
    check_errs(
        "begin { for ($x : 5) {} }",
        &["18-19: expected a map (`@name`) or a range (`start..end`) to iterate over"],
    );
    check_errs(
        "begin { for ($x : @m[1]) {} }",
        &["18-23: expected a map (`@name`) or a range (`start..end`) to iterate over"],
    );
    check_errs(
        "begin { break 1; }",
        &["14-15: expected `;` after `break`, found integer literal"],
    );
    check_errs("begin { 5++; }", &["8-9: `++` needs a variable or a map"]);
    check_errs(
        "begin { if }",
        &["11-12: expected an expression, found `}`"],
    );
}

#[test]
fn several_errors_at_once() {
    let src = "begin { $x = ; }\nkprobe:f { @a[1 = 2; }\nend { print(\"\\q\"); }";
    assert_eq!(
        errs(src),
        [
            "13-14: expected an expression, found `;`",
            "33-34: expected `]` to close the map keys, found `=`",
            "53-55: unknown escape sequence `\\q`",
        ]
    );
}

// ----- expressions -----

#[test]
fn literals() {
    assert_eq!(e("1m"), "60000000000");
    assert_eq!(
        e("0x1f + 0X1F + 0123 + 1_000 + 2e3 + 10UL"),
        "(+ (+ (+ (+ (+ 31 31) 83) 1000) 2000) 10)"
    );
    assert_eq!(e("true"), "true");
    assert_eq!(e("false"), "false");
    assert_eq!(e(r#""a\n\t\\\"\033\x41""#), r#""a\n\t\\\"\x1bA""#);
    assert_eq!(e("$1 + $#"), "(+ $1 $#)");
}

#[test]
fn literal_errors() {
    check_errs(
        "begin { 99999999999999999999 }",
        &["8-28: integer literal too large (it does not fit in 64 bits)"],
    );
    check_errs(
        "begin { print(\"abc); }",
        &[
            "14-22: unterminated string: missing closing `\"`",
            "22-22: expected `)` to close the argument list, found end of file",
            "6-7: expected `}` to close the block opened here",
        ],
    );
    check_errs("begin { 12xyz }", &["10-13: invalid integer suffix `xyz`"]);
}

#[test]
fn precedence() {
    assert_eq!(e("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(e("1 - 2 - 3"), "(- (- 1 2) 3)");
    assert_eq!(
        e("a || b && c | d ^ e & f == g < h << i + j * k"),
        "(|| a (&& b (| c (^ d (& e (== f (< g (<< h (+ i (* j k))))))))))"
    );
    assert_eq!(e("1 << 2 >> 3"), "(>> (<< 1 2) 3)");
    assert_eq!(e("a != b <= c >= d > e"), "(!= a (> (>= (<= b c) d) e))");
    assert_eq!(e("a % b / c"), "(/ (% a b) c)");
    assert_eq!(e("a ? b : c ? d : e"), "(? a b (? c d e))");
    assert_eq!(e("a || b ? 1 : 2"), "(? (|| a b) 1 2)");
    assert_eq!(e("a ?: b"), "(? a a b)");
    assert_eq!(e("-a * !b + ~c"), "(+ (* (- a) (! b)) (~ c))");
    assert_eq!(e("*$p + &$x + &@m"), "(+ (+ (* $p) (& $x)) (& @m))");
    assert_eq!(e("--$x + $y++"), "(+ (pre-- $x) (post++ $y))");
    assert_eq!(e("- -1"), "(- (- 1))");
}

#[test]
fn postfix_and_calls() {
    assert_eq!(e("f(a, b)"), "(f a b)");
    assert_eq!(e("f()"), "(f)");
    assert_eq!(e("f!(a)"), "(f! a)");
    assert_eq!(e("greet!()"), "(greet!)");
    assert_eq!(e("a.b.c"), "(. (. a b) c)");
    assert_eq!(e("$p->next->val"), "(-> (-> $p next) val)");
    assert_eq!(e("$kv.0.1"), "(. (. $kv 0) 1)");
    assert_eq!(e("$a[1][2]"), "([] ([] $a 1) 2)");
    assert_eq!(e("@m[1].f[0]"), "([] (. @m[1] f) 0)");
    assert_eq!(e("str(args.filename)"), "(str (. args filename))");
    assert_eq!(
        e("(1, \"hello\")[1 - 1]"),
        "([] (tuple 1 \"hello\") (- 1 1))"
    );
    assert_eq!(e("@"), "@");
    assert_eq!(e("@[1, 2]"), "@[1 2]");
    assert_eq!(e("@m[(1, 2)]"), "@m[(tuple 1 2)]");
    assert_eq!(e("f(1,)"), "(f 1)");
}

#[test]
fn tuples_and_records() {
    assert_eq!(e("(1, 2)"), "(tuple 1 2)");
    assert_eq!(e("(1,)"), "(tuple 1)");
    assert_eq!(e("()"), "(tuple)");
    assert_eq!(e("(1)"), "1");
    assert_eq!(e("((1, 2), 3)"), "(tuple (tuple 1 2) 3)");
    assert_eq!(e("(x = 1, y = \"s\")"), "(record (x 1) (y \"s\"))");
    assert_eq!(e("(x = 1,)"), "(record (x 1))");
    check_errs(
        "begin { (a = 1, a = 2) }",
        &["16-17: duplicate record field `a`"],
    );
}

#[test]
fn casts() {
    assert_eq!(e("(uint32)x"), "(cast <uint32> x)");
    assert_eq!(
        e("(struct task_struct *)curtask"),
        "(cast <struct task_struct*> curtask)"
    );
    assert_eq!(e("(int8[8])x"), "(cast <int8[8]> x)");
    assert_eq!(e("(string[64])arg0"), "(cast <string[64]> arg0)");
    assert_eq!(e("(int32*[4])p"), "(cast <int32*[4]> p)");
    assert_eq!(e("(int8[])\"s\""), "(cast <int8[]> \"s\")");
    assert_eq!(e("(uint64)$a + 1"), "(+ (cast <uint64> $a) 1)");
    assert_eq!(
        e("(bool[2])(uint16)1"),
        "(cast <bool[2]> (cast <uint16> 1))"
    );
    assert_eq!(
        e("((struct path *)arg0).dentry"),
        "(. (cast <struct path*> arg0) dentry)"
    );
    assert_eq!(e("(typeof(x))y"), "(cast <typeof(<x>)> y)");
    assert_eq!(
        e("(typeof(uint64_t()))$z"),
        "(cast <typeof((uint64_t))> $z)"
    );
    // The docs' cast-parsing rules.
    assert_eq!(e("(myident)"), "myident");
    assert_eq!(e("(myident)*$a"), "(cast <myident> (* $a))");
    assert_eq!(e("(pid)*tid"), "(* pid tid)");
    assert_eq!(e("(myident)*arg0"), "(cast <myident> (* arg0))");
    assert_eq!(e("(arg0)-1"), "(- arg0 1)");
    assert_eq!(e("(x)-1"), "(cast <x> (- 1))");
    assert_eq!(e("(a * b)"), "(* a b)");
    assert_eq!(e("(x[1])"), "([] x 1)");
    assert_eq!(e("(x[1]) + 2"), "(+ ([] x 1) 2)");
}

#[test]
fn type_context_builtins() {
    assert_eq!(e("sizeof(uint32)"), "(sizeof <uint32>)");
    assert_eq!(e("sizeof(uint32*[10])"), "(sizeof <uint32*[10]>)");
    assert_eq!(
        e("sizeof(struct task_struct)"),
        "(sizeof <struct task_struct>)"
    );
    assert_eq!(
        e("sizeof({ $a = (int8)1; $a })"),
        "(sizeof {(= $a (cast <int8> 1)) => $a})"
    );
    assert_eq!(e("sizeof(uint64_t())"), "(sizeof (uint64_t))");
    assert_eq!(e("sizeof(ident[1])"), "(sizeof <ident[1]>)");
    assert_eq!(e("sizeof((ident)[1])"), "(sizeof ([] ident 1))");
    assert_eq!(e("sizeof(pid)"), "(sizeof pid)");
    assert_eq!(e("sizeof($x + 1)"), "(sizeof (+ $x 1))");
    assert_eq!(e("offsetof(struct S, a.b)"), "(offsetof <struct S> a.b)");
    assert_eq!(e("offsetof($s, x)"), "(offsetof $s x)");
    assert_eq!(e("typeof(uint8)"), "(typeof <uint8>)");
    assert_eq!(
        e("p_cast(typeof(uint8), -1)"),
        "(p_cast (typeof <uint8>) (- 1))"
    );
    assert_eq!(s("let $x: typeof($y) = 1;"), "{(let $x <typeof($y)> 1)}");
}

#[test]
fn keywords_are_not_values() {
    check_errs(
        "begin { $x = while; }",
        &["13-18: expected an expression, found keyword `while`"],
    );
}

#[test]
fn expression_spans() {
    let src = "begin { $x = (uint8)@m[1] + f(2); }";
    let (script, diags) = parse(src);
    assert!(diags.is_empty());
    let crate::ast::Item::Probe(p) = &script.items[0] else {
        panic!()
    };
    let crate::ast::StmtKind::Assign { target, value, .. } = &p.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(
        &src[target.span.start as usize..target.span.end as usize],
        "$x"
    );
    assert_eq!(
        &src[value.span.start as usize..value.span.end as usize],
        "(uint8)@m[1] + f(2)"
    );
    assert_eq!(
        &src[p.body.stmts[0].span.start as usize..p.body.stmts[0].span.end as usize],
        "$x = (uint8)@m[1] + f(2)"
    );
}

#[test]
fn render_diagnostic() {
    let src = "begin { foo(; }";
    let (_, diags) = parse(src);
    assert_eq!(
        render_all(&diags, "script.bt", src),
        "script.bt:1:13-14: ERROR: expected an expression, found `;`\nbegin { foo(; }\n            ~\n"
    );
    let src = "begin {\n  $x = \"abc\\q\";\n}";
    let (_, diags) = parse(src);
    assert_eq!(
        diags[0].render("script.bt", src),
        "script.bt:2:12-14: ERROR: unknown escape sequence `\\q`\n  $x = \"abc\\q\";\n           ~~\nHINT: supported escapes: \\n \\t \\r \\\\ \\\" \\0nn (octal) \\xnn (hex)\n"
    );
}

#[test]
fn full_script() {
    let src = r#"#!/usr/bin/env beetrace
#include <linux/sched.h>
struct S { int x; };
config = { max_map_keys = 1024 }
import "lib.bt";
let @start = lruhash(1000);
macro elapsed_ms(t) { (nsecs - t) / 1000000 }

tracepoint:syscalls:sys_enter_open,
tracepoint:syscalls:sys_enter_openat
/comm != "bash"/
{
    @start[tid] = nsecs;
    printf("%-6d %-16s %s\n", pid, comm, str(args.filename));
}

kretprobe:do_sys_open /@start[tid]/ {
    $ms = elapsed_ms!(@start[tid]);
    @hist = hist($ms);
    delete(@start, tid);
}

interval:s:1 { print(@hist); clear(@hist); }
END { clear(@start) }
"#;
    check(
        src,
        r#"
(include "<linux/sched.h>")
(cdef "struct S { int x; };")
(config (max_map_keys 1024))
(import "lib.bt")
(mapdecl @start lruhash 1000)
(macro elapsed_ms (t) {=> (/ (- nsecs t) 1000000)})
(probe ["tracepoint:syscalls:sys_enter_open" "tracepoint:syscalls:sys_enter_openat"] /(!= comm "bash")/ {(= @start[tid] nsecs) (printf "%-6d %-16s %s\n" pid comm (str (. args filename)))})
(probe ["kretprobe:do_sys_open"] /@start[tid]/ {(= $ms (elapsed_ms! @start[tid])) (= @hist (hist $ms)) (delete @start tid)})
(probe ["interval:s:1"] {(print @hist) (clear @hist)})
(probe ["END"] {=> (clear @start)})"#,
    );
}
