//! Errors and warnings about a script, rendered the way bpftrace users know them:
//!
//! ```text
//! script.bt:1:9-12: ERROR: unknown function 'foo'
//! BEGIN { foo(); }
//!         ~~~
//! HINT: did you mean 'for'?
//! ```
//!
//! Every stage (parser, sema, codegen, verifier mapping) reports through this one type.

use crate::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Advice on what to do instead; printed on its own line.
    pub hints: Vec<String>,
    /// Extra text printed after the code frame (e.g. verifier log lines).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            hints: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders with `file:line:col[-endcol]: ERROR: message`, the source line, and a `~`
    /// underline (a `^` when the span is empty).
    pub fn render(&self, file: &str, source: &str) -> String {
        let map = LineMap::new(source);
        let (line, col) = map.line_col_in(source, self.span.start as usize);
        let (end_line, end_col) = map.line_col_in(source, self.span.end as usize);
        let label = match self.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        let mut out = if end_line == line && end_col > col {
            format!("{file}:{line}:{col}-{end_col}: {label}: {}\n", self.message)
        } else {
            format!("{file}:{line}:{col}: {label}: {}\n", self.message)
        };
        let text = map.line_text(source, line);
        if !source.is_empty() {
            out.push_str(text);
            out.push('\n');
            let pad: String = text
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let width = if end_line == line {
                end_col.saturating_sub(col)
            } else {
                text.chars().count().saturating_sub(col - 1)
            };
            if width == 0 {
                out.push_str(&format!("{pad}^\n"));
            } else {
                out.push_str(&format!("{pad}{}\n", "~".repeat(width)));
            }
        }
        for hint in &self.hints {
            out.push_str(&format!("HINT: {hint}\n"));
        }
        for note in &self.notes {
            out.push_str(note);
            if !note.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Renders all diagnostics, errors and warnings in source order.
pub fn render_all(diagnostics: &[Diagnostic], file: &str, source: &str) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| d.span.start);
    sorted.iter().map(|d| d.render(file, source)).collect()
}

/// Byte offset to 1-based line and (character) column.
pub struct LineMap {
    starts: Vec<usize>,
}

impl LineMap {
    pub fn new(source: &str) -> LineMap {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineMap { starts }
    }

    /// 1-based line and column of byte `offset` (columns count characters).
    pub fn line_col_in(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(source.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let col = source
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }

    /// The text of 1-based `line`, without its newline.
    pub fn line_text<'a>(&self, source: &'a str, line: usize) -> &'a str {
        let start = self.starts.get(line - 1).copied().unwrap_or(source.len());
        let end = self
            .starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(source.len())
            .max(start);
        source.get(start..end).unwrap_or("")
    }
}
