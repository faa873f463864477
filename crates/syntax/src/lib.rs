//! The first stage: bpftrace script text in, syntax tree plus diagnostics out.
//!
//! Parsing never fails and never panics: malformed input yields a partial [`ast::Script`] and
//! a list of [`Diagnostic`]s, each pointing at a [`Span`] of the source.

pub mod ast;
mod diagnostic;
pub mod dump;
pub mod format;
mod lexer;
mod parser;
mod span;

pub use diagnostic::{render_all, Diagnostic, LineMap, Severity};
pub use span::Span;

/// Parses a whole script. Errors are collected, not returned early: several can be reported
/// at once.
pub fn parse(source: &str) -> (ast::Script, Vec<Diagnostic>) {
    let parsed = parser::parse(source);
    (parsed.script, parsed.diagnostics)
}

/// Parses a whole script and also reports where its comments are (the formatter keeps them;
/// the tree itself has no place for them).
pub fn parse_with_comments(source: &str) -> Parsed {
    parser::parse(source)
}

/// Everything the parser found in one script.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub script: ast::Script,
    pub diagnostics: Vec<Diagnostic>,
    /// `//` and `/* */` comments between tokens, sorted, each once. Comments inside text the
    /// parser keeps verbatim (preprocessor lines, C definitions) are part of that text and
    /// may or may not be listed.
    pub comments: Vec<Span>,
}
