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
        if matches!(self.peek(), TokenKind::Ident(n) if !is_builtin(n)) {
            let save = self.save();
            let diags = self.diags.len();
            if let Some(ty) = self.parse_type() {
                if self.diags.len() == diags
                    && matches!(self.peek(), TokenKind::RParen | TokenKind::Comma)
                {
                    return TypeOrExpr::Type(ty);
                }
            }
            self.restore(save);
        }
        TypeOrExpr::Expr(self.parse_expr())
    }
}
