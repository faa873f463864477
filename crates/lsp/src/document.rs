//! One open script: its text and everything the stages said about it, recomputed on each
//! change. The checks are the command line's own (`syntax::parse`, `sema::analyze`,
//! `codegen::compile`), in the same order and with the same stopping rule, so the editor
//! shows exactly what `beetrace script.bt` would print.

use kernel::KernelInfo;
use syntax::{Diagnostic, Parsed};

use crate::position::LineIndex;

pub struct Document {
    pub text: String,
    pub index: LineIndex,
    pub parsed: Parsed,
    /// What the command line would report, in its order.
    pub diagnostics: Vec<Diagnostic>,
    /// The types sema found; partial (and still useful to hover) when the script has errors.
    pub analysis: sema::Analysis,
}

impl Document {
    pub fn new(text: String, kernel: &dyn KernelInfo) -> Document {
        let parsed = syntax::parse_with_comments(&text);
        let analysis = analyze(&parsed.script, kernel);
        let mut diagnostics = parsed.diagnostics.clone();
        // Like the command line: syntax errors stop the checking there.
        if !diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.extend(analysis.1);
            if !diagnostics.iter().any(Diagnostic::is_error) {
                if let Err(errors) = codegen::compile(&analysis.0) {
                    diagnostics.extend(errors);
                }
            }
        }
        Document {
            index: LineIndex::new(&text),
            text,
            parsed,
            diagnostics,
            analysis: analysis.0,
        }
    }
}

/// Types a (possibly partial) tree, recording every expression's type.
pub fn analyze(
    script: &syntax::ast::Script,
    kernel: &dyn KernelInfo,
) -> (sema::Analysis, Vec<Diagnostic>) {
    let options = sema::Options {
        record_types: true,
        ..sema::Options::default()
    };
    sema::analyze(script, kernel, &options)
}
