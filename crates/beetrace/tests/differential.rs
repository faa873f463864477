//! Differential tests: each case runs under bpftrace and under beetrace, and
//! their standard outputs must agree once normalised.
//!
//! Run with `cargo test -p beetrace --test differential`. Cases need root and
//! a `bpftrace` binary (found on `PATH`, or named by `$BPFTRACE`); without
//! them every case is reported as ignored with the reason. Each case of each
//! `tests/differential/<suite>.diff` file becomes a test `<suite>::<NAME>`.
//! Usual libtest flags work; `--test-threads` defaults to 2. Cases marked
//! `KNOWN_BUG` are ignored unless `--include-ignored` is given or
//! `BEETRACE_RUN_KNOWN_BUGS=1` is set.
//!
//! The reference is bpftrace 0.17 (Debian's), while beetrace follows bpftrace
//! 0.26's output format: the harness rewrites 0.17's output into 0.26's
//! format before comparing (see `differential/normalise.rs`, where each
//! rewrite names the change), then applies the case's own rules.
//!
//! # The `.diff` format
//!
//! A file is a sequence of directives: a keyword in column 0, one space, then
//! the value. `#` starts a comment line; blank lines are ignored. `NAME`
//! starts a new case. A value continues on following lines that start with
//! whitespace (indentation up to the column where the first line's value
//! began is removed) or with `|` (the text after `|` and one optional space;
//! a lone `|` is an empty line, so expected outputs can hold empty lines).
//! A bare keyword (`EXPECT_BEETRACE` alone) starts its value on the next line.
//!
//! | directive | meaning |
//! |---|---|
//! | `NAME n` | case name, unique per file |
//! | `PROG p` | the script, run as `-e p` by both tools |
//! | `BPFTRACE_PROG p` | the same script spelled for bpftrace 0.17, when 0.17 lacks the syntax `PROG` uses (say why in a comment) |
//! | `ARGS a` | extra arguments for both tools, split on whitespace (e.g. `-f json`) |
//! | `WORKLOAD sh` | a shell script both tools run with `-c` once attached (its output is discarded) |
//! | `SETUP sh` | a shell command run once in the scratch directory before either tool, with `$FIXTURES` naming `tests/runtime/fixtures` (repeatable; e.g. build a program to probe as `./target`) |
//! | `NORMALISE rule` | a rewrite of both outputs, applied in order (repeatable, see below) |
//! | `DIFFERS why` | beetrace deliberately differs: the outputs must differ |
//! | `EXPECT_BEETRACE out` | with `DIFFERS`: beetrace's exact (normalised) output |
//! | `KNOWN_BUG why` | the case shows a beetrace bug; it is ignored with this reason |
//! | `TIMEOUT s` | seconds each tool may run before it is killed (default 20) |
//!
//! `NORMALISE` rules: `numbers` (digit runs become `N`), `counts` (values of
//! one-line map entries become `N`; histogram rows keep only their label),
//! `sort` (sort the lines), `dedup` (collapse repeated lines), `drop-blank`
//! (remove empty lines), `drop-line TEXT` (remove lines containing `TEXT`).
//!
//! Workloads run in a scratch directory that is first on their `PATH` and
//! holds the aliases `dtcat`, `dttrue`, `dtsleep`, `dtls`, `dtecho`, `dthead`
//! and `dtdd` (symlinks to the usual programs). A process started through an
//! alias has the alias as its `comm`, so `/comm == "dtcat"/` sees this case's
//! workload and nothing else running on the machine. Cases with a workload
//! run one at a time.

#[path = "differential/case.rs"]
mod case;
#[path = "differential/normalise.rs"]
mod normalise;
#[path = "differential/run.rs"]
mod run;
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::case::Case;
use crate::normalise::{normalise, Source};
use crate::run::{run_tool, Output, Scratch};

/// Parallel tests unless `--test-threads` says otherwise: loading BPF
/// programs is heavy and the test VM has two cores.
const DEFAULT_THREADS: usize = 2;

/// Held while a case with a workload runs, so that one case's workload is
/// never seen by another case's probes.
static WORKLOAD_LOCK: Mutex<()> = Mutex::new(());

/// Where both tools are, and what to do with known bugs.
#[derive(Clone)]
struct Tools {
    beetrace: PathBuf,
    /// bpftrace, or why the cases cannot run.
    bpftrace: Result<PathBuf, String>,
    run_known_bugs: bool,
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(DEFAULT_THREADS);
    }
    let bpftrace = if !support::is_root() {
        Err("needs root".to_string())
    } else {
        find_bpftrace().ok_or_else(|| "bpftrace is not installed".to_string())
    };
    if let Err(why) = &bpftrace {
        eprintln!("differential tests are skipped: {why}");
    }
    let tools = Tools {
        beetrace: PathBuf::from(env!("CARGO_BIN_EXE_beetrace")),
        bpftrace,
        run_known_bugs: args.include_ignored
            || std::env::var_os("BEETRACE_RUN_KNOWN_BUGS").is_some(),
    };

    let mut trials = vec![Trial::test("harness::normalise_self_check", || {
        normalise::self_check().map_err(Failed::from)
    })];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    for (suite, parsed) in support::load_suites(&dir, "diff", |text| {
        case::parse(text).map_err(|e| (e.line, e.message))
    }) {
        match parsed {
            Ok(cases) => {
                for case in cases {
                    let name = format!("{suite}::{}", case.name);
                    let tools = tools.clone();
                    trials.push(Trial::ignorable_test(name, move || run_case(&case, &tools)));
                }
            }
            Err(message) => trials.push(Trial::test(format!("{suite}::<file>"), move || {
                Err(message.into())
            })),
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Runs one case under both tools and judges the outputs.
fn run_case(case: &Case, tools: &Tools) -> Result<Completion, Failed> {
    let bpftrace = match &tools.bpftrace {
        Ok(path) => path,
        Err(why) => return Ok(Completion::ignored_with(why)),
    };
    if let Some(bug) = &case.known_bug {
        if !tools.run_known_bugs {
            return Ok(Completion::ignored_with(format!("KNOWN_BUG: {bug}")));
        }
    }
    let _guard = case
        .workload
        .as_ref()
        .map(|_| WORKLOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner()));
    let scratch = Scratch::create(case)?;
    let reference_prog = case.bpftrace_prog.as_deref().unwrap_or(&case.prog);
    let reference = run_tool(bpftrace, reference_prog, case, &scratch)?;
    let ours = run_tool(&tools.beetrace, &case.prog, case, &scratch)?;

    let json = case.args.windows(2).any(|w| w[0] == "-f" && w[1] == "json");
    let expected = normalise(
        &reference.stdout,
        Source {
            bpftrace: true,
            json,
        },
        &case.rules,
    );
    let actual = normalise(
        &ours.stdout,
        Source {
            bpftrace: false,
            json,
        },
        &case.rules,
    );

    if let Some(why) = &case.differs {
        if !ours.status.success() {
            return Err(report(
                case,
                "beetrace failed",
                &reference,
                &ours,
                &expected,
                &actual,
            )
            .into());
        }
        if expected == actual {
            return Err(report(
                case,
                &format!("DIFFERS ({why}) but the outputs are the same"),
                &reference,
                &ours,
                &expected,
                &actual,
            )
            .into());
        }
        if let Some(wanted) = &case.expect_beetrace {
            let wanted = format!("{wanted}\n");
            if actual != wanted {
                return Err(report(
                    case,
                    "beetrace's output is not EXPECT_BEETRACE",
                    &reference,
                    &ours,
                    &wanted,
                    &actual,
                )
                .into());
            }
        }
        return Ok(Completion::Completed);
    }

    let problem = if !reference.status.success() {
        Some("bpftrace failed: the case is not valid for bpftrace 0.17")
    } else if !ours.status.success() {
        Some("beetrace failed")
    } else if expected != actual {
        Some("the outputs differ")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(report(case, problem, &reference, &ours, &expected, &actual).into()),
        None => Ok(Completion::Completed),
    }
}

/// A failure message: the script, both normalised outputs with a line diff,
/// and both tools' exit status and stderr.
fn report(
    case: &Case,
    problem: &str,
    reference: &Output,
    ours: &Output,
    expected: &str,
    actual: &str,
) -> String {
    let mut text = format!("{problem}\n--- script ---\n{}\n", case.prog);
    if let Some(p) = &case.bpftrace_prog {
        text += &format!("--- bpftrace 0.17 script ---\n{p}\n");
    }
    text += &format!(
        "--- diff (- bpftrace, + beetrace), normalised ---\n{}",
        diff(expected, actual)
    );
    for (tool, out) in [("bpftrace", reference), ("beetrace", ours)] {
        let stderr: String = out
            .stderr
            .lines()
            .filter(|l| !l.contains("RLIMIT_MEMLOCK"))
            .map(|l| format!("{l}\n"))
            .collect();
        text += &format!(
            "--- {tool}: {} ---\n{}--- {tool} stderr ---\n{stderr}",
            out.status, out.stdout
        );
    }
    text
}

/// A minimal line diff (longest common subsequence), `-` for lines only in
/// `a` and `+` for lines only in `b`.
fn diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!(" {}\n", a[i]);
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+{}\n", b[j]);
            j += 1;
        } else {
            out += &format!("-{}\n", a[i]);
            i += 1;
        }
    }
    out
}

/// The bpftrace to compare against: `$BPFTRACE`, else `bpftrace` on `PATH`.
fn find_bpftrace() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BPFTRACE") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bpftrace"))
        .find(|candidate| candidate.is_file())
}
