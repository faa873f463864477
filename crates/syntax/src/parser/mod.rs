//! A hand-written recursive-descent parser with precedence climbing for binary operators.
//!
//! Split by grammar area: [`items`] (top level), [`stmt`] (blocks and statements), [`expr`]
//! (expressions) and [`types`] (type syntax). This module holds the token cursor, diagnostics
//! and the error-recovery helpers they share. Ambiguities (casts, types in `sizeof`) are
//! settled by token look-ahead, never by backtracking, so no input makes parsing blow up.
//!
//! Robustness rules, relied upon by the fuzz-style tests: every loop either consumes a token
//! per iteration or bails out, and every recursive descent goes through [`Parser::enter`],
//! which caps nesting at [`MAX_DEPTH`].

mod expr;
mod items;
mod stmt;
mod types;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::ast::{Expr, ExprKind, Script};
use crate::lexer::{Lexer, Token, TokenKind};
use crate::{Diagnostic, Span};

/// How deeply expressions, blocks and types may nest before the parser gives up on that
/// part of the input (keeps recursion far away from the thread's stack limit).
pub const MAX_DEPTH: usize = 256;

/// How deep the syntax tree itself may get, counting left-leaning chains such as
/// `a + b + c + ...` that the parser builds in a loop. Walking or dropping the tree is
/// recursive, so this keeps those walks within a thread's stack.
pub const MAX_TREE_DEPTH: usize = 4096;

pub fn parse(source: &str) -> crate::Parsed {
    let mut parser = Parser::new(source);
    let items = parser.parse_items();
    crate::Parsed {
        script: Script { items },
        diagnostics: parser.diags,
        comments: parser.lexer.take_comments(),
    }
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    /// Look-ahead tokens not consumed yet; `lookahead[0]` is the current token.
    lookahead: VecDeque<Token>,
    /// End of the last consumed token, for spans that end "here".
    prev_end: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
    /// Depth of the syntax tree being built (recursion plus operator/postfix chains).
    tree_depth: usize,
    /// Set when nesting got too deep: the rest of the input is abandoned and further
    /// diagnostics (each enclosing level missing its closer) are dropped as noise.
    bailed: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        let lexer = Lexer::new(src);
        let prev_end = lexer.pos();
        Parser {
            src,
            lexer,
            lookahead: VecDeque::new(),
            prev_end,
            diags: Vec::new(),
            depth: 0,
            tree_depth: 0,
            bailed: false,
        }
    }

    // ----- token cursor -----

    fn fill(&mut self, n: usize) {
        while self.lookahead.len() <= n {
            let tok = self.lexer.next_token();
            self.lookahead.push_back(tok);
        }
    }

    /// The token `n` places ahead of the current one.
    fn nth(&mut self, n: usize) -> &Token {
        self.fill(n);
        &self.lookahead[n]
    }

    fn peek(&mut self) -> &TokenKind {
        &self.nth(0).kind
    }

    fn peek_span(&mut self) -> Span {
        self.nth(0).span
    }

    fn nth_kind(&mut self, n: usize) -> &TokenKind {
        &self.nth(n).kind
    }

    fn at(&mut self, kind: &TokenKind) -> bool {
        self.peek() == kind
    }

    fn at_eof(&mut self) -> bool {
        self.at(&TokenKind::Eof)
    }

    /// Whether the current token is the identifier `word` (keywords are identifiers to the
    /// lexer).
    fn at_word(&mut self, word: &str) -> bool {
        matches!(self.peek(), TokenKind::Ident(w) if w == word)
    }

    /// Consumes the current token, reporting any problems the lexer found in it.
    fn bump(&mut self) -> Token {
        self.fill(0);
        let tok = match self.lookahead.pop_front() {
            Some(tok) => tok,
            None => self.lexer.next_token(),
        };
        if tok.kind != TokenKind::Eof {
            self.prev_end = tok.span.end as usize;
        }
        self.diags.extend(tok.errors.iter().cloned());
        tok
    }

    /// Consumes the current token without reporting its lexer problems (used when skipping
    /// input that is already reported as wrong).
    fn skip_token(&mut self) {
        self.fill(0);
        if self.lookahead[0].kind == TokenKind::Eof {
            return;
        }
        if let Some(tok) = self.lookahead.pop_front() {
            self.prev_end = tok.span.end as usize;
        }
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes `kind` or reports "expected X, found Y" (without consuming anything).
    fn expect(&mut self, kind: &TokenKind, context: &str) -> bool {
        if self.eat(kind) {
            return true;
        }
        let found = self.peek().describe();
        let span = self.peek_span();
        self.error(
            span,
            format!("expected `{}` {context}, found {found}", kind.symbol()),
        );
        false
    }

    /// Current byte offset of the next unconsumed token's start.
    fn offset(&mut self) -> usize {
        self.peek_span().start as usize
    }

    /// Moves the cursor to byte `pos`, dropping look-ahead (after scanning raw text).
    fn seek(&mut self, pos: usize) {
        self.lookahead.clear();
        self.lexer.seek(pos);
        self.prev_end = pos;
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.prev_end.max(start))
    }

    // ----- diagnostics -----

    /// Records an error unless one was already reported at the same place (a single mistake
    /// often trips several expectations at one token) or parsing was abandoned.
    fn error(&mut self, span: Span, message: impl Into<String>) {
        if self.bailed
            || self
                .diags
                .last()
                .is_some_and(|d| d.span.start == span.start)
        {
            return;
        }
        self.diags.push(Diagnostic::error(span, message));
    }

    /// Reports the current token as unexpected and consumes it.
    fn unexpected(&mut self, context: &str) {
        let tok = self.nth(0).clone();
        let message = if context.is_empty() {
            format!("unexpected {}", tok.kind.describe())
        } else {
            format!("unexpected {} {context}", tok.kind.describe())
        };
        self.error(tok.span, message);
        self.skip_token();
    }

    /// A placeholder expression for input that could not be parsed; an error is always
    /// reported alongside, so later stages never see it.
    fn error_expr(&self, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Ident(String::new()),
            span,
        }
    }

    // ----- nesting guard -----

    /// Enters one nesting level; `false` (after one diagnostic) when too deep, in which case
    /// the caller must not recurse. Always pair a `true` with [`Parser::leave`].
    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.bail(format!("nesting too deep: more than {MAX_DEPTH} levels"));
        }
        if !self.add_tree_level() {
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.tree_depth -= 1;
    }

    /// Counts one more level of syntax-tree depth for a node built by a loop rather than by
    /// recursion (`a + b + c`, `a.b.c`); `false` (after one diagnostic) when the tree would
    /// get deep enough to endanger the recursive code that later walks (or drops) it. The
    /// caller undoes its levels with [`Parser::drop_tree_levels`].
    fn add_tree_level(&mut self) -> bool {
        if self.tree_depth >= MAX_TREE_DEPTH {
            self.bail(format!(
                "expression too deeply nested: more than {MAX_TREE_DEPTH} levels"
            ));
        }
        if self.bailed {
            return false;
        }
        self.tree_depth += 1;
        true
    }

    fn drop_tree_levels(&mut self, n: usize) {
        self.tree_depth -= n;
    }

    /// Gives up on the rest of the input: reports `why` once and jumps to the end, so every
    /// enclosing construct finishes quickly (their complaints are dropped as noise).
    fn bail(&mut self, why: String) {
        if self.bailed {
            return;
        }
        let span = self.peek_span();
        self.error(span, format!("{why}; the rest of the script is not parsed"));
        self.bailed = true;
        self.seek(self.src.len());
    }

    // ----- recovery -----

    /// Skips to the end of the current statement: past the next `;` at this nesting level, or
    /// up to (not past) the `}` closing the enclosing block.
    fn recover_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::Semi if depth == 0 => {
                    self.skip_token();
                    return;
                }
                TokenKind::RBrace if depth == 0 => return,
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    depth = depth.saturating_sub(1)
                }
                _ => {}
            }
            self.skip_token();
        }
    }

    /// Skips to where the next top-level item probably starts: past a balanced `}` at the
    /// top, or before a token in the first column of a line.
    fn recover_item(&mut self) {
        let start = self.offset();
        let mut depth = 0usize;
        loop {
            let span = self.peek_span();
            let kind = self.peek().clone();
            let pos = span.start as usize;
            let at_line_start = pos > start && self.src.as_bytes().get(pos - 1) == Some(&b'\n');
            match kind {
                TokenKind::Eof => return,
                _ if depth == 0 && at_line_start && kind != TokenKind::RBrace => return,
                TokenKind::LBrace => depth += 1,
                TokenKind::RBrace => {
                    self.skip_token();
                    if depth <= 1 {
                        return;
                    }
                    depth -= 1;
                    continue;
                }
                _ => {}
            }
            self.skip_token();
        }
    }
}
