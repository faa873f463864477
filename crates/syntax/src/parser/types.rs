//! Type syntax: a base type followed by `*` and `[N]` suffixes in any order, read left to
//! right (`int32*[4]` is an array of 4 pointers).

use super::expr::is_builtin;
use super::Parser;
use crate::ast::*;
use crate::lexer::TokenKind;

impl Parser<'_> {
    /// A type; reports and returns `None` when there is none.
    pub(super) fn parse_type(&mut self) -> Option<TypeExpr> {
        if !self.enter() {
            return None;
        }
        let ty = self.type_inner();
        self.leave();
        ty
    }

    fn type_inner(&mut self) -> Option<TypeExpr> {
        let tok = self.nth(0).clone();
        let start = tok.span.start as usize;
        let TokenKind::Ident(word) = tok.kind else {
            self.error(
                tok.span,
                format!("expected a type, found {}", tok.kind.describe()),
            );
            return None;
        };
        self.bump();
        let kind = match word.as_str() {
            "struct" | "union" | "enum" => {
                let keyword = match word.as_str() {
                    "struct" => StructKeyword::Struct,
                    "union" => StructKeyword::Union,
                    _ => StructKeyword::Enum,
                };
                let name_tok = self.nth(0).clone();
                let TokenKind::Ident(name) = name_tok.kind else {
                    self.error(
                        name_tok.span,
                        format!(
                            "expected a name after `{word}`, found {}",
                            name_tok.kind.describe()
                        ),
                    );
                    return None;
                };
                self.bump();
                TypeKind::Struct { keyword, name }
            }
            "typeof" if self.at(&TokenKind::LParen) => {
                self.bump();
                let inner = self.type_or_expr();
                self.expect(&TokenKind::RParen, "to close `typeof(`");
                TypeKind::Typeof(Box::new(inner))
            }
            _ => TypeKind::Named(word),
        };
        let mut ty = TypeExpr {
            kind,
            span: self.span_from(start),
        };
        loop {
            if self.eat(&TokenKind::Star) {
                ty = TypeExpr {
                    kind: TypeKind::Pointer(Box::new(ty)),
                    span: self.span_from(start),
                };
            } else if self.at(&TokenKind::LBracket) {
                self.bump();
                let len = match self.peek().clone() {
                    TokenKind::RBracket => None,
                    TokenKind::Int(n) => {
                        self.bump();
                        Some(n)
                    }
                    other => {
                        let span = self.peek_span();
                        self.error(
                            span,
                            format!(
                                "expected an array length (integer literal) or `]`, found {}",
                                other.describe()
                            ),
                        );
                        return None;
                    }
                };
                if !self.expect(&TokenKind::RBracket, "to close the array type") {
                    return None;
                }
                ty = TypeExpr {
                    kind: TypeKind::Array(Box::new(ty), len),
                    span: self.span_from(start),
                };
            } else {
                return Some(ty);
            }
        }
    }

    /// The argument of `sizeof`, `offsetof` and `typeof`: a type when it reads as one up to
    /// the closing `)` or `,` (bare names included, as the docs say), else an expression.
    pub(super) fn type_or_expr(&mut self) -> TypeOrExpr {
        if let Some(end) = self.scan_type(0) {
            if matches!(self.nth_kind(end), TokenKind::RParen | TokenKind::Comma) {
                if let Some(ty) = self.parse_type() {
                    return TypeOrExpr::Type(ty);
                }
            }
        }
        TypeOrExpr::Expr(self.parse_expr())
    }

    /// Whether the tokens from look-ahead position `i` read as a type (a name that is not a
    /// builtin, or `struct X`, or `typeof(...)`, then `*`/`[N]`/`[]` suffixes); returns the
    /// position just after it. Only looks ahead, so deciding costs no backtracking.
    pub(super) fn scan_type(&mut self, mut i: usize) -> Option<usize> {
        match self.nth_kind(i).clone() {
            TokenKind::Ident(word) if matches!(word.as_str(), "struct" | "union" | "enum") => {
                if !matches!(self.nth_kind(i + 1), TokenKind::Ident(_)) {
                    return None;
                }
                i += 2;
            }
            TokenKind::Ident(word) if word == "typeof" => {
                if self.nth_kind(i + 1) != &TokenKind::LParen {
                    return None;
                }
                i = self.scan_balanced(i + 1)?;
            }
            TokenKind::Ident(word) if !is_builtin(&word) => i += 1,
            _ => return None,
        }
        loop {
            match self.nth_kind(i) {
                TokenKind::Star => i += 1,
                TokenKind::LBracket => {
                    let sized = matches!(self.nth_kind(i + 1), TokenKind::Int(_));
                    let close = if sized { i + 2 } else { i + 1 };
                    if self.nth_kind(close) != &TokenKind::RBracket {
                        return None;
                    }
                    i = close + 1;
                }
                _ => return Some(i),
            }
        }
    }

    /// From an opening `(` at look-ahead position `i`, the position after its matching `)`.
    fn scan_balanced(&mut self, mut i: usize) -> Option<usize> {
        let mut depth = 0usize;
        loop {
            match self.nth_kind(i) {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                TokenKind::Eof => return None,
                _ => {}
            }
            i += 1;
        }
    }
}
