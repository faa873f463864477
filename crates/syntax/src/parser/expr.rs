//! Expressions: C precedence via precedence climbing, then unary, postfix and primary forms.

use super::Parser;
use crate::ast::*;
use crate::lexer::TokenKind;
use crate::Span;

/// Names that are values, never types: `(pid)*2` multiplies instead of casting. These are
/// bpftrace's builtins plus the standard library's argument-less values.
const BUILTINS: &[&str] = &[
    "args", "ctx", "kstack", "nsecs", "pid", "tid", "ustack", "comm", "cpid", "cpu", "curtask",
    "elapsed", "func", "gid", "jiffies", "ncpus", "numaid", "probe", "rand", "retval", "uid",
    "username", "cgroup", "usermode",
];

/// Whether `name` is a builtin value rather than a possible type name.
pub(super) fn is_builtin(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    BUILTINS.contains(&name)
        || name.starts_with("__builtin_")
        || numbered("arg")
        || numbered("sarg")
}

/// Binding power of a binary operator token (higher binds tighter), C order.
fn binary_op(kind: &TokenKind) -> Option<(BinaryOp, u8)> {
    use BinaryOp::*;
    Some(match kind {
        TokenKind::OrOr => (Or, 1),
        TokenKind::AndAnd => (And, 2),
        TokenKind::Pipe => (BitOr, 3),
        TokenKind::Caret => (BitXor, 4),
        TokenKind::Amp => (BitAnd, 5),
        TokenKind::EqEq => (Eq, 6),
        TokenKind::Ne => (Ne, 6),
        TokenKind::Lt => (Lt, 7),
        TokenKind::Le => (Le, 7),
        TokenKind::Gt => (Gt, 7),
        TokenKind::Ge => (Ge, 7),
        TokenKind::Shl => (Shl, 8),
        TokenKind::Shr => (Shr, 8),
        TokenKind::Plus => (Add, 9),
        TokenKind::Minus => (Sub, 9),
        TokenKind::Star => (Mul, 10),
        TokenKind::Slash => (Div, 10),
        TokenKind::Percent => (Mod, 10),
        _ => return None,
    })
}

/// Tokens that may follow `(ident)` for it to be a cast (the C-style rule from the docs).
fn starts_expression(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Int(_)
            | TokenKind::Str(_)
            | TokenKind::Var(_)
            | TokenKind::Positional(_)
            | TokenKind::PositionalCount
            | TokenKind::Map(_)
            | TokenKind::Ident(_)
            | TokenKind::LParen
            | TokenKind::Minus
            | TokenKind::Bang
            | TokenKind::Tilde
            | TokenKind::Star
            | TokenKind::Amp
    )
}

/// Statement keywords, which cannot be used as values.
const KEYWORDS: &[&str] = &[
    "break", "config", "continue", "else", "for", "if", "import", "let", "macro", "return",
    "unroll", "while",
];

fn expr(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, span }
}

impl Parser<'_> {
    pub(super) fn parse_expr(&mut self) -> Expr {
        if !self.enter() {
            let span = self.peek_span();
            return self.error_expr(span);
        }
        let e = self.ternary();
        self.leave();
        e
    }

    /// `cond ? a : b` (right associative) and the short form `cond ?: b`.
    fn ternary(&mut self) -> Expr {
        let cond = self.binary(0);
        if !self.eat(&TokenKind::Question) {
            return cond;
        }
        let then = if self.eat(&TokenKind::Colon) {
            // `a ?: b` is `a ? a : b`.
            cond.clone()
        } else {
            let then = self.parse_expr();
            self.expect(&TokenKind::Colon, "in the `?:` conditional");
            then
        };
        let els = self.parse_expr();
        let span = cond.span.to(els.span);
        expr(
            ExprKind::Ternary {
                cond: Box::new(cond),
                then: Box::new(then),
                els: Box::new(els),
            },
            span,
        )
    }

    /// Binary operators binding tighter than `min`, left associative.
    fn binary(&mut self, min: u8) -> Expr {
        let mut lhs = self.parse_unary();
        let mut levels = 0;
        while let Some((op, power)) = binary_op(self.peek()) {
            if power <= min {
                break;
            }
            // `/` right before `{` closes a predicate: `kprobe:f /pid == 1/ { ... }`.
            if op == BinaryOp::Div && self.nth_kind(1) == &TokenKind::LBrace {
                break;
            }
            if !self.add_tree_level() {
                break;
            }
            levels += 1;
            self.bump();
            let rhs = self.binary(power);
            let span = lhs.span.to(rhs.span);
            lhs = expr(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            );
        }
        self.drop_tree_levels(levels);
        lhs
    }

    /// Prefix operators, then postfix ones around a primary expression.
    pub(super) fn parse_unary(&mut self) -> Expr {
        if !self.enter() {
            let span = self.peek_span();
            return self.error_expr(span);
        }
        let e = self.unary_inner();
        self.leave();
        e
    }

    fn unary_inner(&mut self) -> Expr {
        let start = self.offset();
        let op = match self.peek() {
            TokenKind::Minus => Some(UnaryOp::Neg),
            TokenKind::Bang => Some(UnaryOp::Not),
            TokenKind::Tilde => Some(UnaryOp::BitNot),
            TokenKind::Star => Some(UnaryOp::Deref),
            TokenKind::Amp => Some(UnaryOp::AddrOf),
            TokenKind::PlusPlus | TokenKind::MinusMinus => {
                let increment = self.at(&TokenKind::PlusPlus);
                self.bump();
                let target = self.parse_unary();
                self.check_inc_dec_target(&target, increment);
                return expr(
                    ExprKind::IncDec {
                        increment,
                        prefix: true,
                        target: Box::new(target),
                    },
                    self.span_from(start),
                );
            }
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let operand = self.parse_unary();
            return expr(
                ExprKind::Unary {
                    op,
                    expr: Box::new(operand),
                },
                self.span_from(start),
            );
        }
        let primary = self.primary();
        self.postfix(primary)
    }

    fn check_inc_dec_target(&mut self, target: &Expr, increment: bool) {
        if !matches!(target.kind, ExprKind::Var(_) | ExprKind::Map { .. }) {
            let op = if increment { "++" } else { "--" };
            self.error(target.span, format!("`{op}` needs a variable or a map"));
        }
    }

    /// `.field`, `->field`, `.0`, `[index]`, `++` and `--` after an expression.
    fn postfix(&mut self, base: Expr) -> Expr {
        let mut levels = 0;
        let e = self.postfix_chain(base, &mut levels);
        self.drop_tree_levels(levels);
        e
    }

    fn postfix_chain(&mut self, mut base: Expr, levels: &mut usize) -> Expr {
        let start = base.span.start as usize;
        loop {
            if matches!(
                self.peek(),
                TokenKind::Dot
                    | TokenKind::Arrow
                    | TokenKind::LBracket
                    | TokenKind::PlusPlus
                    | TokenKind::MinusMinus
            ) {
                if !self.add_tree_level() {
                    return base;
                }
                *levels += 1;
            }
            match self.peek() {
                TokenKind::Dot | TokenKind::Arrow => {
                    let arrow = self.at(&TokenKind::Arrow);
                    self.bump();
                    let tok = self.nth(0).clone();
                    let name = match &tok.kind {
                        TokenKind::Ident(name) => name.clone(),
                        // Tuple index: keep it as written (`$t.0`).
                        TokenKind::Int(_) if !arrow => {
                            self.src[tok.span.start as usize..tok.span.end as usize].to_string()
                        }
                        other => {
                            let what = if arrow {
                                "a field name after `->`"
                            } else {
                                "a field name or tuple index after `.`"
                            };
                            self.error(
                                tok.span,
                                format!("expected {what}, found {}", other.describe()),
                            );
                            return base;
                        }
                    };
                    self.bump();
                    base = expr(
                        ExprKind::Field {
                            base: Box::new(base),
                            name,
                            name_span: tok.span,
                            arrow,
                        },
                        self.span_from(start),
                    );
                }
                TokenKind::LBracket => {
                    self.bump();
                    let index = self.parse_expr();
                    self.expect(&TokenKind::RBracket, "to close the index");
                    base = expr(
                        ExprKind::Index {
                            base: Box::new(base),
                            index: Box::new(index),
                        },
                        self.span_from(start),
                    );
                }
                TokenKind::PlusPlus | TokenKind::MinusMinus => {
                    let increment = self.at(&TokenKind::PlusPlus);
                    self.bump();
                    self.check_inc_dec_target(&base, increment);
                    base = expr(
                        ExprKind::IncDec {
                            increment,
                            prefix: false,
                            target: Box::new(base),
                        },
                        self.span_from(start),
                    );
                }
                _ => return base,
            }
        }
    }

    fn primary(&mut self) -> Expr {
        let tok = self.nth(0).clone();
        let span = tok.span;
        let kind = match tok.kind {
            TokenKind::Int(v) => ExprKind::Int(v),
            TokenKind::Str(s) => ExprKind::Str(s),
            TokenKind::Var(name) => ExprKind::Var(name),
            TokenKind::Positional(n) => ExprKind::Positional(n),
            TokenKind::PositionalCount => ExprKind::PositionalCount,
            TokenKind::Map(name) => {
                self.bump();
                let mut keys = Vec::new();
                if self.eat(&TokenKind::LBracket) {
                    keys = self.expr_list(&TokenKind::RBracket);
                    self.expect(&TokenKind::RBracket, "to close the map keys");
                }
                return expr(
                    ExprKind::Map { name, keys },
                    self.span_from(span.start as usize),
                );
            }
            TokenKind::LParen => return self.paren(),
            TokenKind::LBrace => {
                let block = self.parse_block();
                let span = block.span;
                return expr(ExprKind::Block(block), span);
            }
            TokenKind::Ident(name) => return self.ident_expr(name, span),
            other => {
                self.error(
                    span,
                    format!("expected an expression, found {}", other.describe()),
                );
                // Leave closers for the enclosing construct to report or consume.
                if !matches!(
                    other,
                    TokenKind::RParen
                        | TokenKind::RBrace
                        | TokenKind::RBracket
                        | TokenKind::Semi
                        | TokenKind::Comma
                        | TokenKind::Eof
                ) {
                    self.skip_token();
                }
                return self.error_expr(span);
            }
        };
        self.bump();
        expr(kind, span)
    }

    /// An identifier: literal, `sizeof`/`offsetof`/`typeof`, call, macro call or bare name.
    fn ident_expr(&mut self, name: String, span: Span) -> Expr {
        let start = span.start as usize;
        match name.as_str() {
            "true" | "false" => {
                self.bump();
                return expr(ExprKind::Bool(name == "true"), span);
            }
            "sizeof" | "typeof" if self.nth_kind(1) == &TokenKind::LParen => {
                self.bump();
                self.bump();
                let arg = self.type_or_expr();
                self.expect(&TokenKind::RParen, &format!("to close `{name}(`"));
                let kind = if name == "sizeof" {
                    ExprKind::Sizeof(Box::new(arg))
                } else {
                    ExprKind::Typeof(Box::new(arg))
                };
                return expr(kind, self.span_from(start));
            }
            "offsetof" if self.nth_kind(1) == &TokenKind::LParen => {
                self.bump();
                self.bump();
                let of = self.type_or_expr();
                self.expect(
                    &TokenKind::Comma,
                    "between the type and the field in `offsetof`",
                );
                let mut fields = Vec::new();
                loop {
                    let tok = self.nth(0).clone();
                    let TokenKind::Ident(field) = tok.kind else {
                        self.error(
                            tok.span,
                            format!("expected a field name, found {}", tok.kind.describe()),
                        );
                        break;
                    };
                    self.bump();
                    fields.push(field);
                    if !self.eat(&TokenKind::Dot) {
                        break;
                    }
                }
                self.expect(&TokenKind::RParen, "to close `offsetof(`");
                return expr(
                    ExprKind::Offsetof {
                        of: Box::new(of),
                        fields,
                    },
                    self.span_from(start),
                );
            }
            _ => {}
        }
        if KEYWORDS.contains(&name.as_str()) {
            self.error(
                span,
                format!("expected an expression, found keyword `{name}`"),
            );
            self.skip_token();
            return self.error_expr(span);
        }
        self.bump();
        let bang = self.at(&TokenKind::Bang) && self.nth_kind(1) == &TokenKind::LParen;
        if bang {
            self.bump();
        }
        if self.at(&TokenKind::LParen) {
            let args = self.call_args();
            return expr(
                ExprKind::Call {
                    name,
                    name_span: span,
                    args,
                    bang,
                },
                self.span_from(start),
            );
        }
        expr(ExprKind::Ident(name), span)
    }

    /// `(args)` of a call; the current token is `(`.
    pub(super) fn call_args(&mut self) -> Vec<Expr> {
        self.bump();
        let args = self.expr_list(&TokenKind::RParen);
        self.expect(&TokenKind::RParen, "to close the argument list");
        args
    }

    /// Comma-separated expressions up to (not including) `close`; a trailing comma is fine.
    fn expr_list(&mut self, close: &TokenKind) -> Vec<Expr> {
        let mut items = Vec::new();
        while !self.at(close) && !self.at_eof() {
            let before = self.offset();
            items.push(self.parse_expr());
            if !self.eat(&TokenKind::Comma) || self.offset() == before {
                break;
            }
        }
        items
    }

    /// After `(`: `()`, a record, a cast, a tuple or a parenthesised expression.
    fn paren(&mut self) -> Expr {
        let open = self.bump().span;
        let start = open.start as usize;
        if self.eat(&TokenKind::RParen) {
            return expr(ExprKind::Tuple(Vec::new()), self.span_from(start));
        }
        let first_is_name = matches!(self.peek(), TokenKind::Ident(n) if !is_builtin(n));
        if first_is_name && self.nth_kind(1) == &TokenKind::Assign {
            return self.record(start);
        }
        if let Some(cast) = self.try_cast(start) {
            return cast;
        }
        let first = self.parse_expr();
        if !self.eat(&TokenKind::Comma) {
            self.expect(&TokenKind::RParen, "to close the parenthesis");
            return first;
        }
        let mut elems = vec![first];
        elems.extend(self.expr_list(&TokenKind::RParen));
        self.expect(&TokenKind::RParen, "to close the tuple");
        expr(ExprKind::Tuple(elems), self.span_from(start))
    }

    /// `(name = value, ...)`; the current token is the first name.
    fn record(&mut self, start: usize) -> Expr {
        let mut fields = Vec::new();
        loop {
            let tok = self.nth(0).clone();
            let TokenKind::Ident(name) = tok.kind else {
                self.error(
                    tok.span,
                    format!(
                        "expected a record field name, found {}",
                        tok.kind.describe()
                    ),
                );
                break;
            };
            self.bump();
            self.expect(&TokenKind::Assign, "after the record field name");
            let value = self.parse_expr();
            if fields.iter().any(|(n, _): &(String, Expr)| *n == name) {
                self.error(tok.span, format!("duplicate record field `{name}`"));
            }
            fields.push((name, value));
            if !self.eat(&TokenKind::Comma) || self.at(&TokenKind::RParen) {
                break;
            }
        }
        self.expect(&TokenKind::RParen, "to close the record");
        expr(ExprKind::Record(fields), self.span_from(start))
    }

    /// `(type) operand`: a type, `)`, and something that starts an expression. Decided by
    /// look-ahead alone; `None` (nothing consumed) when it is not a cast.
    fn try_cast(&mut self, start: usize) -> Option<Expr> {
        let end = self.scan_type(0)?;
        if self.nth_kind(end) != &TokenKind::RParen || !starts_expression(self.nth_kind(end + 1)) {
            return None;
        }
        let ty = self.parse_type()?;
        self.expect(&TokenKind::RParen, "to close the cast");
        let operand = self.parse_unary();
        Some(expr(
            ExprKind::Cast {
                ty,
                expr: Box::new(operand),
            },
            self.span_from(start),
        ))
    }
}
