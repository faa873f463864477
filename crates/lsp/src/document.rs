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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script of the runtime test corpus, as written after `PROG`.
    fn corpus() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../beetrace/tests/runtime");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("the runtime test corpus") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "test") {
                let text = std::fs::read_to_string(&path).expect("a readable file");
                out.extend(
                    text.lines()
                        .filter_map(|l| l.strip_prefix("PROG "))
                        .map(str::to_string),
                );
            }
        }
        out
    }

    /// An editor sends every half-typed state of a script: each prefix of every corpus
    /// script goes through the whole check (sema included, on the partial tree) and
    /// completion at its end. Prefixes that stop inside a probe must have an error.
    #[test]
    fn every_prefix_of_the_corpus_is_checked() {
        let kernel = crate::Kernel::new(Box::new(kernel::FakeKernel::new().with_samples()));
        let mut checked = 0;
        for script in corpus() {
            // Cuts after each character that ends a word or is punctuation.
            let mut cuts: Vec<usize> = (1..script.len())
                .filter(|&i| script.is_char_boundary(i))
                .filter(|&i| {
                    let b = script.as_bytes();
                    !(b[i - 1].is_ascii_alphanumeric() && b[i].is_ascii_alphanumeric())
                })
                .collect();
            cuts.push(script.len());
            for cut in cuts {
                let text = script[..cut].to_string();
                let unclosed = text.matches('{').count() > text.matches('}').count();
                let doc = Document::new(text, kernel.info());
                crate::completion::complete(&doc, &kernel, cut);
                if unclosed {
                    assert!(
                        doc.diagnostics.iter().any(Diagnostic::is_error),
                        "no error for {:?}",
                        doc.text
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 5_000, "only {checked} prefixes");
    }
}
