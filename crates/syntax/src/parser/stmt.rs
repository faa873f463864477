//! Blocks and statements.
//!
//! Statements are separated by `;`. The last one before `}` may leave it out, and then, if it
//! is an expression, it becomes the block's value. Block-like statements (`if`, `for`, `while`,
//! `unroll`, `{ }`) need no `;`.

use super::Parser;
use crate::ast::*;
use crate::lexer::TokenKind;

/// What one statement position produced.
enum Parsed {
    Stmt(Stmt),
    /// An expression directly followed by the block's `}`: the block's value.
    Value(Expr),
    Nothing,
}

impl Parser<'_> {
    /// `{ stmts }`; the caller has checked that the current token is `{`.
    pub(super) fn parse_block(&mut self) -> Block {
        let open = self.bump().span;
        let start = open.start as usize;
        let mut stmts = Vec::new();
        let mut value = None;
        if !self.enter() {
            return Block {
                stmts,
                value,
                span: self.span_from(start),
            };
        }
        loop {
            match self.peek() {
                TokenKind::RBrace => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => {
                    self.error(open, "expected `}` to close the block opened here");
                    break;
                }
                _ => {}
            }
            let before = self.offset();
            let diags_before = self.diags.len();
            match self.statement() {
                Parsed::Stmt(stmt) => stmts.push(stmt),
                Parsed::Value(expr) => value = Some(Box::new(expr)),
                Parsed::Nothing => {}
            }
            let stuck = self.offset() == before
                && !matches!(self.peek(), TokenKind::RBrace | TokenKind::Eof);
            if stuck {
                if self.diags.len() == diags_before {
                    self.unexpected("in block");
                } else {
                    self.skip_token();
                }
            }
            // A value is only a value when nothing follows it.
            if let Some(v) = value.take() {
                if self.at(&TokenKind::RBrace) {
                    value = Some(v);
                } else {
                    let span = v.span;
                    stmts.push(Stmt {
                        kind: StmtKind::Expr(*v),
                        span,
                    });
                }
            }
        }
        self.leave();
        Block {
            stmts,
            value,
            span: self.span_from(start),
        }
    }

    fn statement(&mut self) -> Parsed {
        let start = self.offset();
        let word = match self.peek() {
            TokenKind::Semi => {
                self.bump();
                return Parsed::Nothing;
            }
            TokenKind::LBrace => {
                let block = self.parse_block();
                let span = block.span;
                return Parsed::Stmt(Stmt {
                    kind: StmtKind::Block(block),
                    span,
                });
            }
            TokenKind::Ident(word) => word.clone(),
            _ => String::new(),
        };
        let kind = match word.as_str() {
            "let" => self.let_stmt(),
            "if" => self.if_stmt(),
            "while" | "unroll" => self.loop_stmt(word == "while"),
            "for" => self.for_stmt(),
            "return" => {
                self.bump();
                let value = if matches!(self.peek(), TokenKind::Semi | TokenKind::RBrace) {
                    None
                } else {
                    Some(self.parse_expr())
                };
                self.end_statement("`return`");
                Some(StmtKind::Return(value))
            }
            "break" | "continue" => {
                self.bump();
                self.end_statement(&format!("`{word}`"));
                Some(if word == "break" {
                    StmtKind::Break
                } else {
                    StmtKind::Continue
                })
            }
            "_" if self.nth_kind(1) == &TokenKind::Assign => {
                self.bump();
                self.bump();
                let expr = self.parse_expr();
                self.end_statement("the discarded expression");
                Some(StmtKind::Discard(expr))
            }
            _ => return self.expr_or_assign(start),
        };
        match kind {
            Some(kind) => Parsed::Stmt(Stmt {
                kind,
                span: self.span_from(start),
            }),
            None => Parsed::Nothing,
        }
    }

    /// An expression statement, an assignment, or the block's value.
    fn expr_or_assign(&mut self, start: usize) -> Parsed {
        let expr = self.parse_expr();
        let op = match self.peek() {
            TokenKind::Assign => Some(None),
            TokenKind::CompoundAssign(op) => Some(Some(*op)),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            if !is_assignable(&expr) {
                self.error(
                    expr.span,
                    "invalid assignment target: expected a variable, a map, or a field or index of one",
                );
            }
            let value = self.parse_expr();
            let span = self.span_from(start);
            self.end_statement("the assignment");
            return Parsed::Stmt(Stmt {
                kind: StmtKind::Assign {
                    target: expr,
                    op,
                    value,
                },
                span,
            });
        }
        if self.at(&TokenKind::RBrace) {
            return Parsed::Value(expr);
        }
        let span = self.span_from(start);
        // Block expressions used as statements need no `;`.
        if !matches!(expr.kind, ExprKind::Block(_)) {
            self.end_statement("the expression");
        }
        Parsed::Stmt(Stmt {
            kind: StmtKind::Expr(expr),
            span,
        })
    }

    /// Expects `;` (or the block's `}`) after a statement. When it is missing and the next
    /// token is on a new line, parsing simply goes on there; otherwise the rest of the
    /// statement is skipped.
    fn end_statement(&mut self, what: &str) {
        if self.eat(&TokenKind::Semi) || matches!(self.peek(), TokenKind::RBrace) {
            return;
        }
        let found = self.peek().describe();
        let span = self.peek_span();
        self.error(span, format!("expected `;` after {what}, found {found}"));
        let gap = &self.src[self.prev_end.min(span.start as usize)..span.start as usize];
        if !gap.contains('\n') || self.at_eof() {
            self.recover_statement();
        }
    }

    /// `let $x [: type] [= value];`
    fn let_stmt(&mut self) -> Option<StmtKind> {
        self.bump(); // let
        let tok = self.nth(0).clone();
        let TokenKind::Var(var) = tok.kind else {
            let hint = if matches!(tok.kind, TokenKind::Map(_)) {
                " (maps are declared at the top level)"
            } else {
                ""
            };
            self.error(
                tok.span,
                format!(
                    "expected a variable such as `$x` after `let`, found {}{hint}",
                    tok.kind.describe()
                ),
            );
            self.recover_statement();
            return None;
        };
        self.bump();
        let ty = if self.eat(&TokenKind::Colon) {
            self.parse_type()
        } else {
            None
        };
        let init = if self.eat(&TokenKind::Assign) {
            Some(self.parse_expr())
        } else {
            None
        };
        self.end_statement("the `let` declaration");
        Some(StmtKind::Let {
            var,
            var_span: tok.span,
            ty,
            init,
        })
    }

    /// The `{ ... }` body of a compound statement; reports and returns `None` when missing.
    fn body(&mut self, what: &str) -> Option<Block> {
        if self.at(&TokenKind::LBrace) {
            return Some(self.parse_block());
        }
        let found = self.peek().describe();
        let span = self.peek_span();
        self.error(span, format!("expected `{{` {what}, found {found}"));
        self.recover_statement();
        None
    }

    /// `if cond { } [else if ... | else { }]`
    fn if_stmt(&mut self) -> Option<StmtKind> {
        self.bump(); // if
        let cond = self.parse_expr();
        let then = self.body("after the `if` condition")?;
        let mut els = None;
        if self.at_word("else") {
            self.bump();
            if self.at_word("if") {
                let start = self.offset();
                if !self.enter() {
                    return None;
                }
                let inner = self.if_stmt();
                self.leave();
                let span = self.span_from(start);
                els = inner.map(|kind| Block {
                    stmts: vec![Stmt { kind, span }],
                    value: None,
                    span,
                });
            } else {
                els = self.body("or `if` after `else`");
            }
        }
        Some(StmtKind::If { cond, then, els })
    }

    /// `while cond { }` or `unroll(n) { }`
    fn loop_stmt(&mut self, is_while: bool) -> Option<StmtKind> {
        self.bump();
        let cond = self.parse_expr();
        if is_while {
            let body = self.body("after the `while` condition")?;
            Some(StmtKind::While { cond, body })
        } else {
            let body = self.body("after `unroll(n)`")?;
            Some(StmtKind::Unroll { count: cond, body })
        }
    }

    /// `for ($x : @map) { }` or `for ($i : start..end) { }` (the parentheses are optional).
    fn for_stmt(&mut self) -> Option<StmtKind> {
        self.bump(); // for
        let paren = self.eat(&TokenKind::LParen);
        let tok = self.nth(0).clone();
        let TokenKind::Var(var) = tok.kind else {
            self.error(
                tok.span,
                format!(
                    "expected a variable such as `$x` after `for`, found {}",
                    tok.kind.describe()
                ),
            );
            self.skip_past_body();
            return None;
        };
        self.bump();
        if !self.expect(&TokenKind::Colon, "after the loop variable") {
            self.skip_past_body();
            return None;
        }
        let first = self.parse_unary();
        let iter = if self.eat(&TokenKind::DotDot) {
            let end = self.parse_unary();
            ForIter::Range(first, end)
        } else if matches!(&first.kind, ExprKind::Map { keys, .. } if keys.is_empty()) {
            ForIter::Map(first)
        } else {
            self.error(
                first.span,
                "expected a map (`@name`) or a range (`start..end`) to iterate over",
            );
            self.skip_past_body();
            return None;
        };
        if paren && !self.expect(&TokenKind::RParen, "to close the `for` header") {
            self.skip_past_body();
            return None;
        }
        let body = self.body("after the `for` header")?;
        Some(StmtKind::For {
            var,
            var_span: tok.span,
            iter,
            body,
        })
    }

    /// Error recovery inside a statement header: skips up to and over the body `{ ... }`.
    fn skip_past_body(&mut self) {
        loop {
            match self.peek() {
                TokenKind::Eof | TokenKind::RBrace | TokenKind::Semi => return,
                TokenKind::LBrace => break,
                _ => self.skip_token(),
            }
        }
        let mut depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::LBrace => depth += 1,
                TokenKind::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        self.skip_token();
                        return;
                    }
                }
                _ => {}
            }
            self.skip_token();
        }
    }
}

/// Whether `expr` can be assigned to: a variable, a map, or a field or element of one.
fn is_assignable(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Var(_) | ExprKind::Map { .. } => true,
        ExprKind::Field { base, .. } | ExprKind::Index { base, .. } => is_assignable(base),
        _ => false,
    }
}
