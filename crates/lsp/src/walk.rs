//! A walk over every statement and expression of a script, in source order, for the
//! lookups of the language server (names in scope, definitions, symbols).

use syntax::ast::*;

/// What the walk shows its visitor.
pub enum Node<'a> {
    Stmt(&'a Stmt),
    Expr(&'a Expr),
}

pub fn block<'a>(b: &'a Block, f: &mut dyn FnMut(Node<'a>)) {
    for s in &b.stmts {
        stmt(s, f);
    }
    if let Some(v) = &b.value {
        expr(v, f);
    }
}

pub fn stmt<'a>(s: &'a Stmt, f: &mut dyn FnMut(Node<'a>)) {
    f(Node::Stmt(s));
    match &s.kind {
        StmtKind::Expr(e) | StmtKind::Discard(e) => expr(e, f),
        StmtKind::Let { init, .. } => {
            if let Some(e) = init {
                expr(e, f);
            }
        }
        StmtKind::Assign { target, value, .. } => {
            expr(target, f);
            expr(value, f);
        }
        StmtKind::If { cond, then, els } => {
            expr(cond, f);
            block(then, f);
            if let Some(els) = els {
                block(els, f);
            }
        }
        StmtKind::Unroll { count: c, body } | StmtKind::While { cond: c, body } => {
            expr(c, f);
            block(body, f);
        }
        StmtKind::For { iter, body, .. } => {
            match iter {
                ForIter::Map(m) => expr(m, f),
                ForIter::Range(a, b) => {
                    expr(a, f);
                    expr(b, f);
                }
            }
            block(body, f);
        }
        StmtKind::Return(v) => {
            if let Some(e) = v {
                expr(e, f);
            }
        }
        StmtKind::Break | StmtKind::Continue => {}
        StmtKind::Block(b) => block(b, f),
    }
}

pub fn expr<'a>(e: &'a Expr, f: &mut dyn FnMut(Node<'a>)) {
    f(Node::Expr(e));
    match &e.kind {
        ExprKind::Map { keys: list, .. }
        | ExprKind::Call { args: list, .. }
        | ExprKind::Tuple(list) => {
            for x in list {
                expr(x, f);
            }
        }
        ExprKind::Record(fields) => {
            for (_, x) in fields {
                expr(x, f);
            }
        }
        ExprKind::Unary { expr: x, .. }
        | ExprKind::IncDec { target: x, .. }
        | ExprKind::Cast { expr: x, .. }
        | ExprKind::Field { base: x, .. } => expr(x, f),
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Index {
            base: lhs,
            index: rhs,
        } => {
            expr(lhs, f);
            expr(rhs, f);
        }
        ExprKind::Ternary { cond, then, els } => {
            expr(cond, f);
            expr(then, f);
            expr(els, f);
        }
        ExprKind::Block(b) => block(b, f),
        ExprKind::Sizeof(x) | ExprKind::Typeof(x) | ExprKind::Offsetof { of: x, .. } => {
            if let TypeOrExpr::Expr(x) = x.as_ref() {
                expr(x, f);
            }
        }
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Var(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount
        | ExprKind::Ident(_) => {}
    }
}

/// Every statement and expression of the script (probe predicates and bodies, macro
/// bodies, map declaration arguments).
pub fn script<'a>(s: &'a Script, f: &mut dyn FnMut(Node<'a>)) {
    for item in &s.items {
        match item {
            Item::Probe(p) => {
                if let Some(pred) = &p.predicate {
                    expr(pred, f);
                }
                block(&p.body, f);
            }
            Item::Macro(m) => block(&m.body, f),
            Item::MapDecl(m) => {
                for a in &m.args {
                    expr(a, f);
                }
            }
            _ => {}
        }
    }
}
