//! Parsing of `.diff` case files (the format is documented in `differential.rs`).

use std::time::Duration;

use crate::normalise::Rule;

/// Seconds each tool may run before it is killed and the case fails.
const DEFAULT_TIMEOUT_SECS: u64 = 20;

/// One differential case: a script run by both tools and compared.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The script given to beetrace (and to bpftrace unless `bpftrace_prog` is set).
    pub prog: String,
    /// A spelling of the script for bpftrace 0.17 when its syntax differs.
    pub bpftrace_prog: Option<String>,
    /// Extra arguments for both tools, split on whitespace.
    pub args: Vec<String>,
    /// Shell script both tools run with `-c` once their probes are attached.
    pub workload: Option<String>,
    /// Shell commands run once in the scratch directory before either tool (e.g. building a
    /// program to probe from `$FIXTURES`).
    pub setup: Vec<String>,
    /// Case-specific normalisation, applied in order after the global one.
    pub rules: Vec<Rule>,
    /// A deliberate difference: the outputs must differ.
    pub differs: Option<String>,
    /// With `differs`: what beetrace must print (after normalisation).
    pub expect_beetrace: Option<String>,
    /// The case shows a beetrace bug; it is ignored with this reason.
    pub known_bug: Option<String>,
    pub timeout: Duration,
}

/// A syntax error in a case file.
#[derive(Debug)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// One directive with its (possibly multi-line) value and its first line number.
struct Directive {
    keyword: String,
    /// The value's lines: the text after the keyword (when there is any),
    /// then one entry per continuation line.
    lines: Vec<String>,
    line: usize,
}

/// Parses a whole file into its cases.
pub fn parse(text: &str) -> Result<Vec<Case>, ParseError> {
    let mut cases: Vec<Case> = Vec::new();
    for d in directives(text)? {
        let value = d.lines.join("\n");
        let err = |message: String| ParseError {
            line: d.line,
            message,
        };
        if d.keyword == "NAME" {
            if value.is_empty() {
                return Err(err("NAME needs a value".into()));
            }
            if cases.iter().any(|c| c.name == value) {
                return Err(err(format!("duplicate case name `{}`", value)));
            }
            cases.push(Case {
                name: value,
                prog: String::new(),
                bpftrace_prog: None,
                args: Vec::new(),
                workload: None,
                setup: Vec::new(),
                rules: Vec::new(),
                differs: None,
                expect_beetrace: None,
                known_bug: None,
                timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            return Err(err(format!("`{}` before the first NAME", d.keyword)));
        };
        match d.keyword.as_str() {
            "PROG" => case.prog = value,
            "BPFTRACE_PROG" => case.bpftrace_prog = Some(value),
            "ARGS" => case.args = value.split_whitespace().map(String::from).collect(),
            "WORKLOAD" => case.workload = Some(value),
            "SETUP" => case.setup.push(value),
            "NORMALISE" => case.rules.push(Rule::parse(&value).map_err(err)?),
            "DIFFERS" => case.differs = Some(value),
            "EXPECT_BEETRACE" => case.expect_beetrace = Some(value),
            "KNOWN_BUG" => case.known_bug = Some(value),
            "TIMEOUT" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| err(format!("bad TIMEOUT `{}`", value)))?;
                case.timeout = Duration::from_secs(secs);
            }
            other => return Err(err(format!("unknown directive `{other}`"))),
        }
    }
    for case in &cases {
        let problem = if case.prog.trim().is_empty() {
            Some("has no PROG")
        } else if case.expect_beetrace.is_some() && case.differs.is_none() {
            Some("has EXPECT_BEETRACE without DIFFERS")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ParseError {
                line: 0,
                message: format!("case `{}` {problem}", case.name),
            });
        }
    }
    Ok(cases)
}

/// Splits a file into directives, joining continuation lines.
///
/// A directive line is `KEYWORD value` (or a bare `KEYWORD`, whose value then
/// starts on the next line). A continuation line either starts with `|` (its
/// text is what follows `|` and one optional space; `|` alone is an empty
/// line) or with whitespace (its indentation up to the column where the
/// directive's value began is removed).
fn directives(text: &str) -> Result<Vec<Directive>, ParseError> {
    let mut out: Vec<Directive> = Vec::new();
    let mut value_column = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let continuation = if let Some(rest) = line.strip_prefix('|') {
            Some(rest.strip_prefix(' ').unwrap_or(rest))
        } else if line.starts_with([' ', '\t']) && !line.trim().is_empty() {
            let indent = line.len() - line.trim_start().len();
            Some(&line[indent.min(value_column)..])
        } else {
            None
        };
        if let Some(text) = continuation {
            let Some(last) = out.last_mut() else {
                return Err(ParseError {
                    line: number,
                    message: "continuation line before any directive".into(),
                });
            };
            last.lines.push(text.to_string());
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (keyword, value) = line.split_once(' ').unwrap_or((line, ""));
        if !keyword.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            return Err(ParseError {
                line: number,
                message: format!("expected a directive, found `{line}`"),
            });
        }
        value_column = keyword.len() + 1;
        let lines = if value.is_empty() {
            Vec::new()
        } else {
            vec![value.to_string()]
        };
        out.push(Directive {
            keyword: keyword.to_string(),
            lines,
            line: number,
        });
    }
    Ok(out)
}
