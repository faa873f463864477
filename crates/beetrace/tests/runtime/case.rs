//! The `.test` file format: parsing a file into [`Case`]s.
//!
//! See the module documentation of `runtime.rs` for the format description.

use std::time::Duration;

use regex::Regex;

/// Seconds a case may run before it is killed, unless `TIMEOUT` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

/// One test case of a `.test` file.
#[derive(Debug, Clone)]
pub struct Case {
    /// `NAME`: unique within its file.
    pub name: String,
    /// Line of the `NAME` directive, for messages.
    pub line: usize,
    /// `PROG`: the script, passed with `-e`.
    pub prog: Option<String>,
    /// `RUN`: a shell command used instead of the default invocation.
    pub run: Option<String>,
    /// `ARGS`: extra flags, interpreted by `/bin/sh`.
    pub args: Option<String>,
    /// `SETUP`: shell commands run (in order) before beetrace; each must succeed.
    pub setup: Vec<String>,
    /// `AFTER`: shell command started once beetrace reports `Attached`.
    pub after: Option<String>,
    /// `CHECK`: shell commands run after beetrace exits; each must succeed.
    pub checks: Vec<String>,
    /// `REQUIRES`: shell commands that must succeed, else the case is skipped.
    pub requires: Vec<String>,
    /// `KNOWN_BUG`: the case documents a beetrace bug and is skipped by default.
    pub known_bug: Option<String>,
    /// `EXIT_CODE`: expected exit status (default 0).
    pub exit_code: i32,
    /// `TIMEOUT`: how long beetrace may run.
    pub timeout: Duration,
    /// Every `EXPECT*` directive, in file order.
    pub expectations: Vec<Expectation>,
}

/// A check on the output of a finished run.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// `EXPECT`: this exact line appears in stdout.
    Line(String),
    /// `EXPECT_NONE`: this exact line does not appear in stdout.
    NoLine(String),
    /// `EXPECT_REGEX`: some stdout line matches.
    Regex(Regex),
    /// `EXPECT_REGEX_NONE`: no stdout line matches.
    NoRegex(Regex),
    /// `EXPECT_EXACT`: stdout is exactly these lines.
    Exact(String),
    /// `EXPECT_STDERR`: stderr contains this text.
    Stderr(String),
    /// `EXPECT_STDERR_NONE`: stderr does not contain this text.
    NoStderr(String),
    /// `EXPECT_STDERR_EXACT`: stderr is exactly these lines.
    StderrExact(String),
}

/// A problem in a `.test` file.
#[derive(Debug, Clone)]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

/// Directives whose value may continue on indented lines.
const MULTI_LINE: &[&str] = &["PROG", "RUN", "EXPECT_EXACT", "EXPECT_STDERR_EXACT"];

/// Every directive the parser knows.
const KEYWORDS: &[&str] = &[
    "NAME",
    "PROG",
    "RUN",
    "ARGS",
    "SETUP",
    "AFTER",
    "CHECK",
    "REQUIRES",
    "KNOWN_BUG",
    "EXIT_CODE",
    "TIMEOUT",
    "EXPECT",
    "EXPECT_NONE",
    "EXPECT_REGEX",
    "EXPECT_REGEX_NONE",
    "EXPECT_EXACT",
    "EXPECT_STDERR",
    "EXPECT_STDERR_NONE",
    "EXPECT_STDERR_EXACT",
];

/// A directive with its (possibly multi-line) value, before interpretation.
struct Directive {
    keyword: String,
    value: String,
    line: usize,
}

/// Parses the text of a `.test` file.
pub fn parse(text: &str) -> Result<Vec<Case>, FormatError> {
    let directives = split_directives(text)?;
    let mut cases: Vec<Case> = Vec::new();
    let mut current: Option<Case> = None;
    for d in directives {
        if d.keyword == "NAME" {
            if let Some(done) = current.take() {
                cases.push(finish(done)?);
            }
            if d.value.trim().is_empty() {
                return Err(err(d.line, "NAME needs a value"));
            }
            if cases.iter().any(|c| c.name == d.value.trim()) {
                return Err(err(d.line, format!("duplicate NAME `{}`", d.value.trim())));
            }
            current = Some(Case {
                name: d.value.trim().to_string(),
                line: d.line,
                prog: None,
                run: None,
                args: None,
                setup: Vec::new(),
                after: None,
                checks: Vec::new(),
                requires: Vec::new(),
                known_bug: None,
                exit_code: 0,
                timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
                expectations: Vec::new(),
            });
            continue;
        }
        let Some(case) = current.as_mut() else {
            return Err(err(d.line, format!("{} before the first NAME", d.keyword)));
        };
        apply(case, d)?;
    }
    if let Some(done) = current.take() {
        cases.push(finish(done)?);
    }
    Ok(cases)
}

fn err(line: usize, message: impl Into<String>) -> FormatError {
    FormatError {
        line,
        message: message.into(),
    }
}

/// Splits the file into directives, joining continuation lines.
///
/// A directive line starts (in column 0) with a keyword, then one space, then
/// the value, which is kept verbatim (leading spaces included). Lines starting
/// with `#` are comments, and blank lines separate nothing in particular. For
/// [`MULTI_LINE`] directives, following lines that start with whitespace are
/// continuation lines: the indentation up to the column where the first
/// line's value started is removed and the rest is kept verbatim.
fn split_directives(text: &str) -> Result<Vec<Directive>, FormatError> {
    let mut out: Vec<Directive> = Vec::new();
    // Whether the last directive accepts continuation lines.
    let mut open = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let starts_indented = raw.starts_with([' ', '\t']);
        if open && starts_indented && !raw.trim().is_empty() {
            let last = out.last_mut().ok_or_else(|| err(line_no, "internal"))?;
            let column = last.keyword.len() + 1;
            let indent = raw.len() - raw.trim_start_matches([' ', '\t']).len();
            let strip = indent.min(column);
            last.value.push('\n');
            last.value.push_str(&raw[strip..]);
            continue;
        }
        open = false;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        if starts_indented {
            return Err(err(
                line_no,
                "indented line outside a multi-line PROG/RUN/EXPECT_EXACT/EXPECT_STDERR_EXACT",
            ));
        }
        let (keyword, value) = match raw.split_once(' ') {
            Some((k, v)) => (k, v),
            None => (raw, ""),
        };
        if !KEYWORDS.contains(&keyword) {
            return Err(err(line_no, format!("unknown directive `{keyword}`")));
        }
        open = MULTI_LINE.contains(&keyword);
        out.push(Directive {
            keyword: keyword.to_string(),
            value: value.to_string(),
            line: line_no,
        });
    }
    Ok(out)
}

/// Records one directive in `case`.
fn apply(case: &mut Case, d: Directive) -> Result<(), FormatError> {
    let line = d.line;
    let value = d.value;
    let set_once = |slot: &mut Option<String>, what: &str| {
        if slot.is_some() {
            return Err(err(line, format!("{what} given twice")));
        }
        *slot = Some(value.clone());
        Ok(())
    };
    let regex = |text: &str| {
        Regex::new(text).map_err(|e| err(line, format!("bad regular expression: {e}")))
    };
    match d.keyword.as_str() {
        "PROG" => set_once(&mut case.prog, "PROG")?,
        "RUN" => set_once(&mut case.run, "RUN")?,
        "ARGS" => set_once(&mut case.args, "ARGS")?,
        "AFTER" => set_once(&mut case.after, "AFTER")?,
        "KNOWN_BUG" => set_once(&mut case.known_bug, "KNOWN_BUG")?,
        "SETUP" => case.setup.push(value),
        "CHECK" => case.checks.push(value),
        "REQUIRES" => case.requires.push(value),
        "EXIT_CODE" => {
            case.exit_code = value
                .trim()
                .parse()
                .map_err(|_| err(line, format!("EXIT_CODE `{value}` is not an integer")))?;
        }
        "TIMEOUT" => {
            let secs: f64 = value
                .trim()
                .parse()
                .map_err(|_| err(line, format!("TIMEOUT `{value}` is not a number")))?;
            if !(secs > 0.0 && secs < 3600.0) {
                return Err(err(line, "TIMEOUT must be between 0 and 3600 seconds"));
            }
            case.timeout = Duration::from_secs_f64(secs);
        }
        "EXPECT" => case.expectations.push(Expectation::Line(value)),
        "EXPECT_NONE" => case.expectations.push(Expectation::NoLine(value)),
        "EXPECT_REGEX" => case.expectations.push(Expectation::Regex(regex(&value)?)),
        "EXPECT_REGEX_NONE" => case.expectations.push(Expectation::NoRegex(regex(&value)?)),
        "EXPECT_EXACT" => case.expectations.push(Expectation::Exact(value)),
        "EXPECT_STDERR" => case.expectations.push(Expectation::Stderr(value)),
        "EXPECT_STDERR_NONE" => case.expectations.push(Expectation::NoStderr(value)),
        "EXPECT_STDERR_EXACT" => case.expectations.push(Expectation::StderrExact(value)),
        other => return Err(err(line, format!("unhandled directive `{other}`"))),
    }
    Ok(())
}

/// Validates a complete case.
fn finish(case: Case) -> Result<Case, FormatError> {
    if case.prog.is_some() && case.run.is_some() {
        return Err(err(case.line, "a case has either PROG or RUN, not both"));
    }
    if case.run.is_some() && case.args.is_some() {
        return Err(err(case.line, "ARGS has no effect with RUN"));
    }
    if case.prog.is_none() && case.run.is_none() && case.args.is_none() {
        return Err(err(case.line, "a case needs PROG, RUN or ARGS"));
    }
    let exact = |e: &Expectation| matches!(e, Expectation::Exact(_));
    if case.expectations.iter().filter(|e| exact(e)).count() > 1 {
        return Err(err(case.line, "EXPECT_EXACT given twice"));
    }
    Ok(case)
}
