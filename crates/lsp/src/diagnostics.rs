//! `syntax::Diagnostic` → LSP diagnostics: the message, then the hints and notes the command
//! line prints under the code frame, each on its own line.

use lsp_types::DiagnosticSeverity;
use syntax::{Diagnostic, Severity};

use crate::document::Document;

pub fn to_lsp(doc: &Document) -> Vec<lsp_types::Diagnostic> {
    doc.diagnostics.iter().map(|d| convert(doc, d)).collect()
}

fn convert(doc: &Document, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    for hint in &d.hints {
        message.push_str(&format!("\nHINT: {hint}"));
    }
    for note in &d.notes {
        message.push('\n');
        message.push_str(note.trim_end());
    }
    lsp_types::Diagnostic {
        range: doc.index.range(&doc.text, d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        source: Some("beetrace".to_string()),
        message,
        ..lsp_types::Diagnostic::default()
    }
}
