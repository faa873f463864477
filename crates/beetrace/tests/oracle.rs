//! The kernel as oracle: random well-typed integer programs are compiled by beetrace,
//! loaded into the running kernel and run; every one must pass the verifier and print
//! what an evaluator of the language's rules (tests/oracle/gen.rs) computes.
//!
//! `cargo test -p beetrace --test oracle` runs `BEETRACE_ORACLE_SCRIPTS` scripts (default
//! 200; half integer expressions, half control flow, keyed maps, strings and tuples), from seed `BEETRACE_ORACLE_SEED` (default fixed, so CI is
//! reproducible; set another to explore). A failure prints the script, the expected and
//! the actual output. Needs root; otherwise each trial is ignored.

#[path = "oracle/gen.rs"]
mod gen;
mod support;

use std::process::Command;

use libtest_mimic::{Arguments, Completion, Trial};

const DEFAULT_SCRIPTS: u64 = 200;
const DEFAULT_SEED: u64 = 0x5eed_bee7;
const STATEMENTS: usize = 16;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(2);
    }
    let scripts = env_u64("BEETRACE_ORACLE_SCRIPTS", DEFAULT_SCRIPTS);
    let seed = env_u64("BEETRACE_ORACLE_SEED", DEFAULT_SEED);
    let root = support::is_root();
    let mut generator = gen::Gen::new(seed);
    let mut trials = Vec::new();
    for i in 0..scripts {
        // Half plain integer scripts, half with control flow, maps, strings and tuples.
        let (kind, (script, expected)) = if i % 2 == 0 {
            ("integers", generator.script(STATEMENTS))
        } else {
            ("control", generator.control_script(STATEMENTS / 2))
        };
        trials.push(Trial::ignorable_test(
            format!("{kind}::{seed:x}_{i}"),
            move || {
                if !root {
                    return Ok(Completion::ignored_with("needs root"));
                }
                check(&script, &expected).map(|()| Completion::Completed)
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Runs `script`; its printf lines (everything before the maps printed at exit) must be
/// `expected`.
fn check(script: &str, expected: &str) -> Result<(), libtest_mimic::Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_beetrace"))
        .args(["-q", "-e", script])
        .output()
        .map_err(|e| format!("cannot run beetrace: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed = stdout.split("\n\n").next().unwrap_or("");
    let printed = if printed.is_empty() {
        String::new()
    } else {
        format!("{printed}\n")
    };
    if out.status.success() && printed == expected {
        return Ok(());
    }
    Err(format!(
        "script:\n{script}\n--- expected ---\n{expected}--- printed ---\n{printed}--- stderr ({}) ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    )
    .into())
}
