//! The first stage: bpftrace script text in, syntax tree plus diagnostics out.
//!
//! Parsing never fails and never panics: malformed input yields a partial [`ast::Script`] and
//! a list of [`Diagnostic`]s, each pointing at a [`Span`] of the source.

pub mod ast;
mod diagnostic;
pub mod dump;
mod lexer;
mod parser;
mod span;

pub use diagnostic::{render_all, Diagnostic, LineMap, Severity};
pub use span::Span;

/// Parses a whole script. Errors are collected, not returned early: several can be reported
/// at once.
pub fn parse(source: &str) -> (ast::Script, Vec<Diagnostic>) {
    parser::parse(source)
}
