//! Runtime tests: run the real `beetrace` binary against the running kernel.
//!
//! Run with `cargo test -p beetrace --test runtime` (as root; otherwise every
//! case is reported as ignored with reason "needs root"). Each case of each
//! `tests/runtime/<suite>.test` file becomes one test named `<suite>::<NAME>`;
//! the teardown checks of `runtime/cleanup.rs` appear as `cleanup::<name>`.
//! Usual libtest flags work (`--list`, filters, `--exact`, `--nocapture`);
//! `--test-threads` defaults to 2. Cases marked `KNOWN_BUG` are skipped unless
//! `--include-ignored` is given or `BEETRACE_RUN_KNOWN_BUGS=1` is set.
//!
//! # The `.test` format
//!
//! A file is a sequence of directives, one per line: a keyword in column 0,
//! one space, then the value (kept verbatim, leading spaces included). Lines
//! starting with `#` are comments; blank lines are ignored. `NAME` starts a
//! new case. `PROG`, `RUN`, `EXPECT_EXACT` and `EXPECT_STDERR_EXACT` may span
//! several lines: each following line that starts with whitespace continues the
//! value, with its indentation up to the column where the first line's value
//! began removed (so aligning continuation lines under the first one keeps
//! them exact). Expected blocks cannot contain empty lines.
//!
//! | directive | meaning |
//! |---|---|
//! | `NAME n` | case name, unique per file |
//! | `PROG p` | the script, passed as `beetrace -e p` |
//! | `ARGS a` | extra command-line text, interpreted by `/bin/sh` (quotes work) |
//! | `RUN cmd` | a shell command run instead of `beetrace -e PROG ARGS` |
//! | `EXPECT l` | stdout has a line equal to `l` |
//! | `EXPECT_NONE l` | stdout has no line equal to `l` |
//! | `EXPECT_REGEX r` | some stdout line matches the regular expression `r` |
//! | `EXPECT_REGEX_NONE r` | no stdout line matches `r` |
//! | `EXPECT_EXACT l...` | stdout is exactly these lines |
//! | `EXPECT_STDERR s` | stderr contains the text `s` |
//! | `EXPECT_STDERR_NONE s` | stderr does not contain `s` |
//! | `EXPECT_STDERR_EXACT l...` | stderr is exactly these lines |
//! | `EXIT_CODE n` | expected exit status (default 0) |
//! | `TIMEOUT s` | seconds before beetrace is killed and the case fails (default 10) |
//! | `AFTER cmd` | shell command started once stderr shows a line beginning `Attached`; killed (with its process group) when beetrace exits. Needs the `Attached` line, so do not combine with `-q` |
//! | `SETUP cmd` | shell command run before beetrace; must succeed (repeatable) |
//! | `CHECK cmd` | shell command run after beetrace exits, with beetrace's output saved in `$CASE_DIR/stdout` and `$CASE_DIR/stderr`; must succeed (repeatable) |
//! | `REQUIRES cmd` | shell command that must succeed, else the case is ignored (repeatable) |
//! | `KNOWN_BUG why` | the case shows a beetrace bug; it is ignored with this reason |
//!
//! Every shell command (`RUN`, `ARGS`, `AFTER`, `SETUP`, `CHECK`, `REQUIRES`)
//! runs under `/bin/sh -c` in a fresh scratch directory, with `$BEETRACE` set
//! to the binary under test, `$CASE_DIR` to that directory (deleted when the
//! case passes, kept for inspection when it fails) and `$FIXTURES` to
//! `tests/runtime/fixtures` (C sources of programs to probe, built by `SETUP`). To trigger events there are
//! two ways: `ARGS -c 'cmd'` (beetrace runs the command after attaching and
//! stops when it exits) or `AFTER cmd` (runs alongside; the program must stop
//! itself, e.g. with `exit()`, or be bounded by `--duration`).

#[path = "runtime/case.rs"]
mod case;
#[path = "runtime/cleanup.rs"]
mod cleanup;
#[path = "runtime/exec.rs"]
mod exec;
mod support;

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Completion, Trial};

use crate::case::Case;
use crate::exec::Env;

/// Parallel tests unless `--test-threads` says otherwise: the VM has two cores.
const DEFAULT_THREADS: usize = 2;

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(DEFAULT_THREADS);
    }
    let env = Env {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_beetrace")),
    };
    let root = support::is_root();
    let run_known_bugs =
        args.include_ignored || std::env::var_os("BEETRACE_RUN_KNOWN_BUGS").is_some();

    let mut trials = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime");
    for (suite, parsed) in support::load_suites(&dir, "test", |text| {
        case::parse(text).map_err(|e| (e.line, e.message))
    }) {
        match parsed {
            Ok(cases) => {
                for case in cases {
                    trials.push(case_trial(&suite, case, &env, root, run_known_bugs));
                }
            }
            Err(message) => {
                trials.push(Trial::test(format!("{suite}::<file>"), move || {
                    Err(message.into())
                }));
            }
        }
    }
    for &(name, stop) in cleanup::SCENARIOS {
        let env = env.clone();
        trials.push(Trial::ignorable_test(
            format!("cleanup::{name}"),
            move || {
                if !root {
                    return Ok(Completion::ignored_with("needs root"));
                }
                cleanup::run(stop, &env)
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// The trial for one case; it decides at run time whether to skip.
fn case_trial(suite: &str, case: Case, env: &Env, root: bool, run_known_bugs: bool) -> Trial {
    let env = env.clone();
    let name = format!("{suite}::{}", case.name);
    Trial::ignorable_test(name, move || {
        if !root {
            return Ok(Completion::ignored_with("needs root"));
        }
        if let Some(bug) = &case.known_bug {
            if !run_known_bugs {
                return Ok(Completion::ignored_with(format!("KNOWN_BUG: {bug}")));
            }
        }
        exec::run_case(&case, &env)
    })
}
