//! Robustness: the parser must return (never panic or hang) on any input, and report an error
//! for input that is not a script.

use crate::parse;

/// A large valid script touching most of the grammar.
const SCRIPT: &str = r#"#!/usr/bin/env beetrace
#include <linux/sched.h>
#define RED "\033[31m"
struct S { int x; char s[4]; };
config = { stack_mode = perf; max_map_keys = 2 }
import "lib.bt";
let @a = lruhash(100);
macro add($a, b, @c) { $a += b; @c[1, 2] = (x = 1, y = "s"); }
macro one { 1 }
tracepoint:syscalls:sys_enter_open,
tracepoint:syscalls:sys_enter_openat /comm != "bash" && pid > 1/ {
    let $x: uint32 = 1_000;
    let $p = (struct task_struct *)curtask;
    $t = (1, "a", (2,));
    $r = $t.2.0 + sizeof(uint8[4]) + offsetof(struct S, x);
    @m[tid, comm] = count();
    if ($x > 0x10) { $x <<= 2; } else if ($x) { $x--; } else { return; }
    for ($kv : @m) { print($kv.0.0); continue; }
    for ($i : 0..10) { if ($i == 5) { break; } }
    unroll(2) { @a[$1] = $#; }
    while ($x < 100) { $x++ }
    $v = { let $b = -~!*$p; $b ? 1 : 2 };
    _ = add!($x, 1 + 2, @m);
    printf("%s %d\n", str(args.filename), (int8[8])$x);
}
uprobe:/bin/bash:readline, uprobe:/lib/x.so:"quoted" { @[ustack] = hist(retval) }
interval:s:1 { print(@m); clear(@m); exit() }
"#;

/// A tiny deterministic generator so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn the_script_parses_cleanly() {
    let (script, diags) = parse(SCRIPT);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(script.items.len(), 11);
}

#[test]
fn every_prefix_and_suffix_parses_without_panic() {
    for (i, _) in SCRIPT.char_indices() {
        let _ = parse(&SCRIPT[..i]);
        let _ = parse(&SCRIPT[i..]);
    }
}

#[test]
fn every_prefix_with_a_closing_brace_appended() {
    for (i, _) in SCRIPT.char_indices() {
        let _ = parse(&format!("{}}}", &SCRIPT[..i]));
    }
}

#[test]
fn random_token_deletion_and_duplication() {
    let mut rng = Lcg(7);
    let chars: Vec<char> = SCRIPT.chars().collect();
    for _ in 0..500 {
        let mut mutated = chars.clone();
        for _ in 0..(rng.next() % 5 + 1) {
            let at = (rng.next() as usize) % mutated.len();
            match rng.next() % 3 {
                0 => {
                    mutated.remove(at);
                }
                1 => mutated.insert(at, mutated[at]),
                _ => mutated[at] = b"(){}[];,/\"$@:*.="[(rng.next() % 16) as usize] as char,
            }
        }
        let text: String = mutated.into_iter().collect();
        let _ = parse(&text);
    }
}

#[test]
fn random_byte_soup_is_an_error() {
    let mut rng = Lcg(42);
    for _ in 0..2000 {
        let len = (rng.next() % 64 + 8) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let (_, diags) = parse(&text);
        assert!(!diags.is_empty(), "no error for {text:?}");
    }
}

#[test]
fn random_punctuation_soup_terminates() {
    let alphabet = b"(){}[];,/\"'$@#:*.=+-<>!&|^~?0x1a_ \n";
    let mut rng = Lcg(3);
    for _ in 0..3000 {
        let len = (rng.next() % 40 + 1) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(rng.next() as usize) % alphabet.len()] as char)
            .collect();
        let _ = parse(&text);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [
        ("(", ")"),
        ("{", "}"),
        ("-", ""),
        ("!", ""),
        ("{ $y = ", "}"),
        ("1 ? 2 : ", "3"),
        ("f(", ")"),
        ("(uint8)", "1"),
        ("sizeof(", ")"),
        ("typeof(", ")"),
    ] {
        let n = 100_000 / open.len().max(1);
        let n = n.min(20_000);
        let src = format!("begin {{ $x = {}1{}; }}", open.repeat(n), close.repeat(n));
        let (_, diags) = parse(&src);
        assert!(
            diags
                .iter()
                .any(|d| d.message.starts_with("nesting too deep")),
            "{open}: {:?}",
            diags.first()
        );
        assert_eq!(diags.len(), 1, "{open}: {diags:?}");
    }
    // Moderate nesting is fine.
    let src = format!("begin {{ $x = {}1{}; }}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&src).1.is_empty());
}

#[test]
fn deep_statement_nesting() {
    let src = format!(
        "begin {{ {} {} }}",
        "if (1) { ".repeat(20_000),
        "}".repeat(20_000)
    );
    let (_, diags) = parse(&src);
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.starts_with("nesting too deep"));
}

#[test]
fn deep_else_if_chains() {
    let src = format!("begin {{ {} }}", "if (1) {} else ".repeat(10_000) + "{}");
    let (_, diags) = parse(&src);
    assert!(diags
        .iter()
        .any(|d| d.message.starts_with("nesting too deep")));
}

#[test]
fn nested_type_contexts_with_errors_stay_fast() {
    for open in ["typeof(", "sizeof(", "(typeof(", "offsetof(typeof("] {
        let src = format!(
            "begin {{ $x = {}1 +{}; }}",
            open.repeat(60),
            ")".repeat(200)
        );
        let started = std::time::Instant::now();
        let (_, diags) = parse(&src);
        assert!(!diags.is_empty());
        assert!(
            started.elapsed().as_secs() < 2,
            "{open}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn large_inputs_stay_fast() {
    let started = std::time::Instant::now();
    let big_script = SCRIPT.repeat(200);
    assert!(!parse(&big_script).1.is_empty()); // repeated config/imports are out of order
    let long_typeof = format!(
        "begin {{ $x = sizeof(typeof({}1)); }}",
        "a + ".repeat(100_000)
    );
    let _ = parse(&long_typeof);
    let one_line_garbage = "a b c ; ) ( ".repeat(50_000);
    assert!(!parse(&one_line_garbage).1.is_empty());
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn long_operator_and_postfix_chains() {
    let ok = format!(
        "begin {{ $x = {}1; $y = $a{}; }}",
        "1 + ".repeat(1000),
        ".f".repeat(1000)
    );
    assert!(parse(&ok).1.is_empty());
    for chain in [
        "1 + ".repeat(10_000),
        "$a.f".to_string() + &".f".repeat(10_000),
    ] {
        let (_, diags) = parse(&format!("begin {{ $x = {chain}1; }}"));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.starts_with("expression too deeply nested"));
    }
}
