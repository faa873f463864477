//! The second stage: names resolved, types inferred, probes expanded.
//!
//! Input is the syntax tree and what the running kernel offers ([`kernel::KernelInfo`]);
//! output is an [`Analysis`]: one typed [`hir::Probe`] per concrete attach point plus the
//! resource tables (printf formats) that user space needs to decode events.
//!
//! Invariant: errors are collected, never returned early, and a probe with errors produces
//! no HIR; nothing here touches the kernel except through `KernelInfo`.

mod check;
pub mod hir;
pub mod maps;
pub mod printf;
mod probes;
pub mod types;

use kernel::KernelInfo;
use syntax::ast;
use syntax::Diagnostic;

pub use types::Type;

/// The id of the event record that asks user space to stop (printf ids count up from 0).
pub const EXIT_EVENT_ID: u64 = u64::MAX;

/// The argument of a printf directive: known at compile time, or carried by the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintfArg {
    Const(printf::Value),
    /// Read from the event record at `offset` (after the 8-byte id).
    Field {
        ty: Type,
        offset: u32,
    },
}

/// One `printf` call site: what user space needs to print its events.
#[derive(Clone, Debug)]
pub struct PrintfFormat {
    pub pieces: Vec<printf::Piece>,
    pub args: Vec<PrintfArg>,
    /// Bytes of the event record, the 8-byte id included.
    pub record_size: u32,
}

/// Everything later stages need.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub probes: Vec<hir::Probe>,
    pub printfs: Vec<PrintfFormat>,
    /// Every `@map` of the script, in order of first appearance.
    pub maps: Vec<maps::MapInfo>,
}

/// Options that change how a script is understood.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-p PID` / `-c CMD`: the pid the `pid` filter of probes applies to. Kept for later.
    pub target_pid: Option<u32>,
}

/// Analyzes a parsed script. On errors the analysis is partial and must not be compiled.
pub fn analyze(
    script: &ast::Script,
    kernel: &dyn KernelInfo,
    _options: &Options,
) -> (Analysis, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut analysis = Analysis::default();
    for item in &script.items {
        match item {
            ast::Item::Probe(probe) => {
                let attaches = probes::expand(probe, kernel, &mut diags);
                for attach in attaches {
                    let tp_format = match &attach {
                        hir::Attach::Tracepoint { category, name } => {
                            match kernel.tracepoint_format(category, name) {
                                Ok(f) => Some(f),
                                Err(e) => {
                                    diags.push(Diagnostic::error(
                                        probe.attach_points[0].span,
                                        e.to_string(),
                                    ));
                                    continue;
                                }
                            }
                        }
                        _ => None,
                    };
                    let mut checker =
                        check::Checker::new(&attach, tp_format.as_ref(), &mut analysis.printfs);
                    let predicate = probe.predicate.as_ref().map(|p| checker.condition(p));
                    let body = checker.block(&probe.body);
                    let (vars, errors) = checker.finish();
                    let failed = !errors.is_empty();
                    for e in errors {
                        if !diags.contains(&e) {
                            diags.push(e);
                        }
                    }
                    if !failed {
                        analysis.probes.push(hir::Probe {
                            tracepoint_id: tp_format.as_ref().map(|f| f.id),
                            attach,
                            predicate,
                            body,
                            vars,
                            span: probe.span,
                        });
                    }
                }
            }
            ast::Item::Preprocessor(p) => match p.kind {
                ast::PreprocessorKind::Include => diags.push(
                    Diagnostic::warning(
                        p.span,
                        "#include is ignored: beetrace reads kernel types from BTF",
                    )
                    .with_hint("remove the line; no kernel headers are needed"),
                ),
                _ => diags.push(Diagnostic::error(
                    p.span,
                    "preprocessor directives other than #include are not supported yet",
                )),
            },
            ast::Item::CDefinition(c) => diags.push(Diagnostic::error(
                c.span,
                "C struct definitions are not supported yet; kernel types come from BTF",
            )),
            ast::Item::Config(c) => diags.push(Diagnostic::warning(
                c.span,
                "config blocks are accepted but not applied yet",
            )),
            ast::Item::Import(i) => {
                diags.push(Diagnostic::error(i.span, "import is not supported yet"))
            }
            ast::Item::MapDecl(m) => diags.push(Diagnostic::error(
                m.span,
                "map declarations are not supported yet",
            )),
            ast::Item::Macro(m) => {
                diags.push(Diagnostic::error(m.span, "macros are not supported yet"))
            }
        }
    }
    if analysis.probes.is_empty() && !diags.iter().any(Diagnostic::is_error) {
        diags.push(
            Diagnostic::error(syntax::Span::new(0, 0), "the script has no probes")
                .with_hint("add one, e.g. BEGIN { printf(\"hello\\n\"); }"),
        );
    }
    (analysis, diags)
}
