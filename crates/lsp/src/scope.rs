//! Where the cursor is in the script: which probe or macro it is in, and the names that
//! are visible there.

use syntax::ast::{Block, ExprKind, Item, Probe, Script, StmtKind};
use syntax::Span;

use crate::walk::{self, Node};

/// Whether `offset` is inside `span`, counting a block that runs to the end of an unfinished
/// script as still open at its end.
pub fn contains(text: &str, span: Span, offset: usize) -> bool {
    let (start, end) = (span.start as usize, span.end as usize);
    let closed = text[..end.min(text.len())].ends_with('}');
    start < offset && (offset < end || (offset == end && !closed))
}

/// The probe whose text holds `offset` (attach points, predicate or body).
pub fn probe_at<'a>(script: &'a Script, text: &str, offset: usize) -> Option<&'a Probe> {
    script.items.iter().find_map(|item| match item {
        Item::Probe(p) if p.span.start as usize <= offset && contains(text, p.span, offset) => {
            Some(p)
        }
        _ => None,
    })
}

/// The probe or macro body holding `offset`.
pub fn body_at<'a>(script: &'a Script, text: &str, offset: usize) -> Option<&'a Block> {
    script.items.iter().find_map(|item| match item {
        Item::Probe(p) if contains(text, p.body.span, offset) => Some(&p.body),
        Item::Macro(m) if contains(text, m.body.span, offset) => Some(&m.body),
        _ => None,
    })
}

/// Where each `$variable` of a body is first given a value (`let`, `for`, assignment),
/// in source order.
pub fn variables(body: &Block) -> Vec<(String, Span)> {
    let mut found: Vec<(String, Span)> = Vec::new();
    let mut note = |name: &str, span: Span| {
        // A lone `$` being typed is no variable.
        if !name.is_empty() && !found.iter().any(|(n, _)| n == name) {
            found.push((name.to_string(), span));
        }
    };
    walk::block(body, &mut |node| match node {
        Node::Stmt(s) => match &s.kind {
            StmtKind::Let { var, var_span, .. } | StmtKind::For { var, var_span, .. } => {
                note(var, *var_span)
            }
            StmtKind::Assign { target, .. } => {
                if let ExprKind::Var(name) = &target.kind {
                    note(name, target.span);
                }
            }
            _ => {}
        },
        Node::Expr(e) => {
            if let ExprKind::Var(name) = &e.kind {
                note(name, e.span);
            }
        }
    });
    found.sort_by_key(|(_, span)| span.start);
    found
}

/// Every `@map` of the script with the place that defines it: its `let` declaration, else
/// its first assignment, else its first use.
pub fn maps(script: &Script) -> Vec<(String, Span)> {
    let mut decls: Vec<(String, Span)> = Vec::new();
    let mut assigned: Vec<(String, Span)> = Vec::new();
    let mut used: Vec<(String, Span)> = Vec::new();
    for item in &script.items {
        if let Item::MapDecl(m) = item {
            decls.push((m.name.clone(), m.name_span));
        }
    }
    walk::script(script, &mut |node| match node {
        Node::Stmt(s) => {
            if let StmtKind::Assign { target, .. } = &s.kind {
                if let ExprKind::Map { name, .. } = &target.kind {
                    assigned.push((name.clone(), target.span));
                }
            }
        }
        Node::Expr(e) => {
            if let ExprKind::Map { name, .. } = &e.kind {
                used.push((name.clone(), e.span));
            }
        }
    });
    let mut out: Vec<(String, Span)> = Vec::new();
    for (name, span) in decls.into_iter().chain(assigned).chain(used) {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, span));
        }
    }
    out.sort_by_key(|(_, span)| span.start);
    out
}
