//! Turns script text into tokens, one at a time, on demand.
//!
//! The lexer is lazy and restartable at any byte offset because parts of the language are not
//! token-shaped: attach points (`uprobe:/bin/bash:readline`), preprocessor lines and C
//! definitions are scanned as raw text by the parser, which then re-positions the lexer after
//! them. Problems found while lexing (bad escapes, unterminated strings, oversized integers)
//! travel inside the token and are only reported when the parser consumes it, so speculative
//! look-ahead and raw-text skipping never produce spurious or duplicate diagnostics.

use crate::{Diagnostic, Span};

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    Ident(String),
    /// An integer literal, value already decoded (suffixes applied).
    Int(u64),
    /// A string literal with escapes decoded.
    Str(Vec<u8>),
    /// `$name`
    Var(String),
    /// `$1`
    Positional(u32),
    /// `$#`
    PositionalCount,
    /// `@name`, or `@` alone (empty name).
    Map(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Question,
    Dot,
    DotDot,
    Arrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Bang,
    Lt,
    Gt,
    Le,
    Ge,
    EqEq,
    Ne,
    AndAnd,
    OrOr,
    Shl,
    Shr,
    Assign,
    /// `op=` for a compound assignment; the operator is the binary one.
    CompoundAssign(crate::ast::BinaryOp),
    PlusPlus,
    MinusMinus,
    /// `#`, which starts a preprocessor line at the top level.
    Hash,
    /// A character that starts no token.
    Unknown(char),
    Eof,
}

impl TokenKind {
    /// How the token is named in diagnostics, e.g. "`)`" or "identifier `foo`".
    pub fn describe(&self) -> String {
        use TokenKind::*;
        match self {
            Ident(name) => format!("identifier `{name}`"),
            Int(_) => "integer literal".to_string(),
            Str(_) => "string literal".to_string(),
            Var(name) => format!("variable `${name}`"),
            Positional(n) => format!("positional parameter `${n}`"),
            PositionalCount => "`$#`".to_string(),
            Map(name) => format!("map `@{name}`"),
            Unknown(c) => format!("character {c:?}"),
            Eof => "end of file".to_string(),
            CompoundAssign(op) => format!("`{}=`", op.symbol()),
            other => format!("`{}`", other.symbol()),
        }
    }

    /// The fixed text of a punctuation token ("" for the others).
    pub fn symbol(&self) -> &'static str {
        use TokenKind::*;
        match self {
            LParen => "(",
            RParen => ")",
            LBrace => "{",
            RBrace => "}",
            LBracket => "[",
            RBracket => "]",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            Question => "?",
            Dot => ".",
            DotDot => "..",
            Arrow => "->",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Tilde => "~",
            Bang => "!",
            Lt => "<",
            Gt => ">",
            Le => "<=",
            Ge => ">=",
            EqEq => "==",
            Ne => "!=",
            AndAnd => "&&",
            OrOr => "||",
            Shl => "<<",
            Shr => ">>",
            Assign => "=",
            PlusPlus => "++",
            MinusMinus => "--",
            Hash => "#",
            _ => "",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    /// Problems found in this token (or in the comments just before it), reported when the
    /// parser consumes it.
    pub errors: Vec<Diagnostic>,
}

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Every comment skipped as trivia, in the order met. Look-ahead can lex a stretch
    /// twice, so the same comment may appear more than once (see [`Lexer::take_comments`]).
    comments: Vec<Span>,
}

pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`, past a `#!` shebang line if there is one.
    pub fn new(src: &'a str) -> Lexer<'a> {
        let mut pos = 0;
        if src.starts_with("#!") {
            pos = src.find('\n').map_or(src.len(), |i| i + 1);
        }
        Lexer {
            src,
            pos,
            comments: Vec::new(),
        }
    }

    /// The comments skipped so far, sorted and each once; the formatter keeps them.
    pub fn take_comments(&mut self) -> Vec<Span> {
        let mut comments = std::mem::take(&mut self.comments);
        comments.sort();
        comments.dedup();
        comments
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Restarts lexing at byte `pos` (clamped to a character boundary).
    pub fn seek(&mut self, pos: usize) {
        let mut pos = pos.min(self.src.len());
        while !self.src.is_char_boundary(pos) {
            pos += 1;
        }
        self.pos = pos;
    }

    fn byte(&self, at: usize) -> u8 {
        self.src.as_bytes().get(at).copied().unwrap_or(0)
    }

    /// Skips whitespace and comments; an unterminated `/*` is returned as a diagnostic.
    fn skip_trivia(&mut self, errors: &mut Vec<Diagnostic>) {
        loop {
            let c = self.byte(self.pos);
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if c == b'/' && self.byte(self.pos + 1) == b'/' {
                let start = self.pos;
                self.pos = self.src[self.pos..]
                    .find('\n')
                    .map_or(self.src.len(), |i| self.pos + i);
                self.comments.push(Span::new(start, self.pos));
            } else if c == b'/' && self.byte(self.pos + 1) == b'*' {
                match self.src[self.pos + 2..].find("*/") {
                    Some(i) => {
                        let start = self.pos;
                        self.pos += 2 + i + 2;
                        self.comments.push(Span::new(start, self.pos));
                    }
                    None => {
                        errors.push(Diagnostic::error(
                            Span::new(self.pos, self.pos + 2),
                            "unterminated comment: `/*` is never closed by `*/`",
                        ));
                        self.pos = self.src.len();
                    }
                }
            } else {
                return;
            }
        }
    }

    pub fn next_token(&mut self) -> Token {
        let mut errors = Vec::new();
        self.skip_trivia(&mut errors);
        let start = self.pos;
        let kind = self.scan(&mut errors);
        Token {
            kind,
            span: Span::new(start, self.pos),
            errors,
        }
    }

    fn scan(&mut self, errors: &mut Vec<Diagnostic>) -> TokenKind {
        use TokenKind::*;
        let start = self.pos;
        let c = self.byte(start);
        if start >= self.src.len() {
            return Eof;
        }
        if is_ident_start(c) {
            let name = self.ident_at(start);
            self.pos = start + name.len();
            return Ident(name.to_string());
        }
        if c.is_ascii_digit() {
            return self.number(errors);
        }
        match c {
            b'"' => return self.string(errors),
            b'$' => return self.dollar(errors),
            b'@' => {
                let name = self.ident_at(start + 1).to_string();
                self.pos = start + 1 + name.len();
                return Map(name);
            }
            _ => {}
        }
        let next = self.byte(start + 1);
        let next2 = self.byte(start + 2);
        let (kind, len) = match (c, next) {
            (b'<', b'<') if next2 == b'=' => (CompoundAssign(crate::ast::BinaryOp::Shl), 3),
            (b'>', b'>') if next2 == b'=' => (CompoundAssign(crate::ast::BinaryOp::Shr), 3),
            (b'<', b'<') => (Shl, 2),
            (b'>', b'>') => (Shr, 2),
            (b'<', b'=') => (Le, 2),
            (b'>', b'=') => (Ge, 2),
            (b'=', b'=') => (EqEq, 2),
            (b'!', b'=') => (Ne, 2),
            (b'&', b'&') => (AndAnd, 2),
            (b'|', b'|') => (OrOr, 2),
            (b'+', b'+') => (PlusPlus, 2),
            (b'-', b'-') => (MinusMinus, 2),
            (b'-', b'>') => (Arrow, 2),
            (b'.', b'.') => (DotDot, 2),
            (b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^', b'=') => {
                (CompoundAssign(compound_op(c)), 2)
            }
            (b'(', _) => (LParen, 1),
            (b')', _) => (RParen, 1),
            (b'{', _) => (LBrace, 1),
            (b'}', _) => (RBrace, 1),
            (b'[', _) => (LBracket, 1),
            (b']', _) => (RBracket, 1),
            (b',', _) => (Comma, 1),
            (b';', _) => (Semi, 1),
            (b':', _) => (Colon, 1),
            (b'?', _) => (Question, 1),
            (b'.', _) => (Dot, 1),
            (b'+', _) => (Plus, 1),
            (b'-', _) => (Minus, 1),
            (b'*', _) => (Star, 1),
            (b'/', _) => (Slash, 1),
            (b'%', _) => (Percent, 1),
            (b'&', _) => (Amp, 1),
            (b'|', _) => (Pipe, 1),
            (b'^', _) => (Caret, 1),
            (b'~', _) => (Tilde, 1),
            (b'!', _) => (Bang, 1),
            (b'<', _) => (Lt, 1),
            (b'>', _) => (Gt, 1),
            (b'=', _) => (Assign, 1),
            (b'#', _) => (Hash, 1),
            _ => {
                let ch = self.src[start..].chars().next().unwrap_or('\u{0}');
                self.pos = start + ch.len_utf8();
                errors.push(Diagnostic::error(
                    Span::new(start, self.pos),
                    format!("unexpected character {ch:?}"),
                ));
                return Unknown(ch);
            }
        };
        self.pos = start + len;
        kind
    }

    /// The identifier starting at `at` (possibly empty); does not move.
    fn ident_at(&self, at: usize) -> &'a str {
        let bytes = self.src.as_bytes();
        if at >= bytes.len() || !is_ident_start(bytes[at]) {
            return "";
        }
        let end = bytes[at..]
            .iter()
            .position(|&b| !is_ident_continue(b))
            .map_or(bytes.len(), |i| at + i);
        &self.src[at..end]
    }

    fn dollar(&mut self, errors: &mut Vec<Diagnostic>) -> TokenKind {
        let start = self.pos;
        let next = self.byte(start + 1);
        if next == b'#' {
            self.pos += 2;
            return TokenKind::PositionalCount;
        }
        if next.is_ascii_digit() {
            let digits_len = self.src.as_bytes()[start + 1..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(self.src.len() - start - 1);
            self.pos = start + 1 + digits_len;
            let digits = &self.src[start + 1..self.pos];
            return match digits.parse::<u32>() {
                Ok(n) if n >= 1 => TokenKind::Positional(n),
                _ => {
                    errors.push(Diagnostic::error(
                        Span::new(start, self.pos),
                        format!(
                            "positional parameter `${digits}` is out of range (1 to {})",
                            u32::MAX
                        ),
                    ));
                    TokenKind::Positional(0)
                }
            };
        }
        let name = self.ident_at(start + 1);
        self.pos = start + 1 + name.len();
        if name.is_empty() {
            errors.push(Diagnostic::error(
                Span::new(start, self.pos),
                "expected a variable name after `$`",
            ));
        }
        TokenKind::Var(name.to_string())
    }

    /// An integer literal: decimal, hex, octal, `_` separators, `<m>e<n>`, and C or duration
    /// suffixes. Oversized values are reported and yield 0.
    fn number(&mut self, errors: &mut Vec<Diagnostic>) -> TokenKind {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let run = |from: usize, pred: fn(u8) -> bool| -> usize {
            bytes[from..]
                .iter()
                .position(|&b| !(pred(b) || b == b'_'))
                .map_or(bytes.len(), |i| from + i)
        };
        let mut value: Option<u64>;
        let mut p;
        if self.byte(start) == b'0' && matches!(self.byte(start + 1), b'x' | b'X') {
            p = run(start + 2, |b| b.is_ascii_hexdigit());
            let digits: String = self.src[start + 2..p]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            if digits.is_empty() {
                errors.push(Diagnostic::error(
                    Span::new(start, p),
                    "expected hexadecimal digits after `0x`",
                ));
                value = Some(0);
            } else {
                value = u64::from_str_radix(&digits, 16).ok();
            }
        } else {
            p = run(start, |b| b.is_ascii_digit());
            let digits: String = self.src[start..p].chars().filter(|&c| c != '_').collect();
            if digits.len() > 1 && digits.starts_with('0') {
                value = u64::from_str_radix(&digits[1..], 8).ok();
                if digits.bytes().any(|b| b > b'7') {
                    errors.push(Diagnostic::error(
                        Span::new(start, p),
                        "invalid digit in octal literal (a leading `0` means octal)",
                    ));
                    value = Some(0);
                }
            } else {
                value = digits.parse::<u64>().ok();
            }
            // Scientific notation: only when digits follow the `e`, else it is a suffix error.
            if matches!(self.byte(p), b'e' | b'E') && self.byte(p + 1).is_ascii_digit() {
                let exp_end = run(p + 1, |b| b.is_ascii_digit());
                let exp: String = self.src[p + 1..exp_end]
                    .chars()
                    .filter(|&c| c != '_')
                    .collect();
                value = match (value, exp.parse::<u32>()) {
                    (Some(m), Ok(e)) => 10u64.checked_pow(e).and_then(|f| m.checked_mul(f)),
                    _ => None,
                };
                p = exp_end;
            }
        }
        if self.src[start..p].ends_with('_') {
            errors.push(Diagnostic::error(
                Span::new(p - 1, p),
                "trailing `_` in integer literal",
            ));
        }
        // Suffix: the longest run of identifier characters, matched as a whole.
        let suffix_end = run(p, is_ident_continue);
        let suffix = &self.src[p..suffix_end];
        let multiplier: Option<u64> = match suffix {
            "" | "u" | "U" | "l" | "L" | "ul" | "UL" | "uL" | "Ul" | "ll" | "LL" | "ull"
            | "ULL" | "uLL" | "Ull" | "lu" | "LU" | "llu" | "LLU" => Some(1),
            "ns" => Some(1),
            "us" => Some(1_000),
            "ms" => Some(1_000_000),
            "s" => Some(1_000_000_000),
            "m" => Some(60 * 1_000_000_000),
            "h" => Some(3_600 * 1_000_000_000),
            "d" => Some(86_400 * 1_000_000_000),
            _ => None,
        };
        self.pos = suffix_end;
        let multiplier = match multiplier {
            Some(m) => m,
            None => {
                errors.push(Diagnostic::error(
                    Span::new(p, suffix_end),
                    format!("invalid integer suffix `{suffix}`")).with_hint(
                    "valid suffixes are U, L, UL, LL, ULL and the durations ns, us, ms, s, m, h, d",
                ));
                return TokenKind::Int(0);
            }
        };
        match value.and_then(|v| v.checked_mul(multiplier)) {
            Some(v) => TokenKind::Int(v),
            None => {
                errors.push(Diagnostic::error(
                    Span::new(start, self.pos),
                    "integer literal too large (it does not fit in 64 bits)",
                ));
                TokenKind::Int(0)
            }
        }
    }

    /// A string literal. Stops at the end of the line when unterminated.
    fn string(&mut self, errors: &mut Vec<Diagnostic>) -> TokenKind {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut out = Vec::new();
        let mut p = start + 1;
        loop {
            let Some(&c) = bytes.get(p) else {
                errors.push(Diagnostic::error(
                    Span::new(start, p),
                    "unterminated string: missing closing `\"`",
                ));
                break;
            };
            match c {
                b'"' => {
                    p += 1;
                    break;
                }
                b'\n' => {
                    errors.push(Diagnostic::error(
                        Span::new(start, p),
                        "unterminated string: missing closing `\"` before the end of the line",
                    ));
                    break;
                }
                b'\\' => {
                    let esc_start = p;
                    p += 1;
                    let Some(&e) = bytes.get(p) else {
                        continue;
                    };
                    p += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'\\' => out.push(b'\\'),
                        b'"' => out.push(b'"'),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match bytes.get(p) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        p += 1;
                                    }
                                    _ => break,
                                }
                            }
                            match u8::try_from(v) {
                                Ok(b) => out.push(b),
                                Err(_) => errors.push(Diagnostic::error(
                                    Span::new(esc_start, p),
                                    "octal escape out of range (at most `\\377`)",
                                )),
                            }
                        }
                        b'x' | b'X' => {
                            let hex_end = bytes[p..]
                                .iter()
                                .take(2)
                                .position(|b| !b.is_ascii_hexdigit())
                                .map_or((p + 2).min(bytes.len()), |i| p + i);
                            match u8::from_str_radix(&self.src[p..hex_end], 16) {
                                Ok(b) => out.push(b),
                                Err(_) => errors.push(Diagnostic::error(
                                    Span::new(esc_start, hex_end),
                                    "expected hexadecimal digits after `\\x`",
                                )),
                            }
                            p = hex_end;
                        }
                        b'\n' => {
                            p -= 1;
                            errors.push(Diagnostic::error(
                                Span::new(esc_start, p),
                                "unknown escape sequence `\\` at the end of the line",
                            ));
                        }
                        _ => {
                            // Keep whole characters when the escaped one is not ASCII.
                            let ch = self.src[p - 1..].chars().next().unwrap_or('?');
                            p = p - 1 + ch.len_utf8();
                            errors.push(
                                Diagnostic::error(
                                    Span::new(esc_start, p),
                                    format!("unknown escape sequence `\\{ch}`"),
                                )
                                .with_hint(
                                    "supported escapes: \\n \\t \\r \\\\ \\\" \\0nn (octal) \\xnn (hex)",
                                ),
                            );
                        }
                    }
                }
                _ => {
                    out.push(c);
                    p += 1;
                }
            }
        }
        self.pos = p;
        TokenKind::Str(out)
    }
}

fn compound_op(c: u8) -> crate::ast::BinaryOp {
    use crate::ast::BinaryOp::*;
    match c {
        b'+' => Add,
        b'-' => Sub,
        b'*' => Mul,
        b'/' => Div,
        b'%' => Mod,
        b'&' => BitAnd,
        b'|' => BitOr,
        _ => BitXor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind::*;

    fn lex(src: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let tok = lexer.next_token();
            if tok.kind == Eof {
                return out;
            }
            out.push(tok.kind);
        }
    }

    /// The messages of all errors found while lexing `src`.
    fn lex_errors(src: &str) -> Vec<String> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let tok = lexer.next_token();
            out.extend(tok.errors.into_iter().map(|d| d.message));
            if tok.kind == Eof {
                return out;
            }
        }
    }

    fn int(src: &str) -> u64 {
        match lex(src).as_slice() {
            [Int(v)] => *v,
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn integers() {
        assert_eq!(int("0"), 0);
        assert_eq!(int("42"), 42);
        assert_eq!(int("0x1f"), 31);
        assert_eq!(int("0X1F"), 31);
        assert_eq!(int("0123"), 83);
        assert_eq!(int("1_000_000"), 1_000_000);
        assert_eq!(int("2e3"), 2000);
        assert_eq!(int("1e6"), 1_000_000);
        assert_eq!(int("123UL"), 123);
        assert_eq!(int("123U"), 123);
        assert_eq!(int("123LL"), 123);
        assert_eq!(int("123ull"), 123);
        assert_eq!(int("1m"), 60_000_000_000);
        assert_eq!(int("5ns"), 5);
        assert_eq!(int("5us"), 5_000);
        assert_eq!(int("5ms"), 5_000_000);
        assert_eq!(int("2s"), 2_000_000_000);
        assert_eq!(int("1h"), 3_600_000_000_000);
        assert_eq!(int("1d"), 86_400_000_000_000);
        assert_eq!(int("18446744073709551615"), u64::MAX);
    }

    #[test]
    fn integer_errors() {
        assert_eq!(
            lex_errors("18446744073709551616"),
            ["integer literal too large (it does not fit in 64 bits)"]
        );
        assert_eq!(
            lex_errors("1e20"),
            ["integer literal too large (it does not fit in 64 bits)"]
        );
        assert_eq!(
            lex_errors("300000d"),
            ["integer literal too large (it does not fit in 64 bits)"]
        );
        assert_eq!(lex_errors("12abc"), ["invalid integer suffix `abc`"]);
        assert_eq!(lex_errors("1e"), ["invalid integer suffix `e`"]);
        assert_eq!(lex_errors("1_"), ["trailing `_` in integer literal"]);
        assert_eq!(
            lex_errors("09"),
            ["invalid digit in octal literal (a leading `0` means octal)"]
        );
        assert_eq!(lex_errors("0x"), ["expected hexadecimal digits after `0x`"]);
    }

    #[test]
    fn strings() {
        assert_eq!(lex(r#""a\n\t\\\"b""#), [Str(b"a\n\t\\\"b".to_vec())]);
        assert_eq!(lex(r#""\033[31m""#), [Str(b"\x1b[31m".to_vec())]);
        assert_eq!(lex(r#""\0""#), [Str(vec![0])]);
        assert_eq!(lex(r#""\x41\x4a""#), [Str(b"AJ".to_vec())]);
        assert_eq!(lex(r#""\xff""#), [Str(vec![0xff])]);
        assert_eq!(lex("\"héllo\""), [Str("héllo".as_bytes().to_vec())]);
    }

    #[test]
    fn string_errors() {
        assert_eq!(
            lex_errors("\"abc"),
            ["unterminated string: missing closing `\"`"]
        );
        assert_eq!(
            lex_errors("\"abc\nx"),
            ["unterminated string: missing closing `\"` before the end of the line"]
        );
        assert_eq!(lex_errors(r#""\q""#), ["unknown escape sequence `\\q`"]);
        assert_eq!(lex_errors(r#""\é""#), ["unknown escape sequence `\\é`"]);
        assert_eq!(
            lex_errors(r#""\xzz""#),
            ["expected hexadecimal digits after `\\x`"]
        );
        assert_eq!(
            lex_errors(r#""\777""#),
            ["octal escape out of range (at most `\\377`)"]
        );
        // Several errors in one string are all reported.
        assert_eq!(lex_errors(r#""\q\w""#).len(), 2);
    }

    #[test]
    fn sigils_and_operators() {
        assert_eq!(
            lex("$x $1 $# @m @ @[ a.b ->"),
            [
                Var("x".into()),
                Positional(1),
                PositionalCount,
                Map("m".into()),
                Map("".into()),
                Map("".into()),
                LBracket,
                Ident("a".into()),
                Dot,
                Ident("b".into()),
                Arrow
            ]
        );
        assert_eq!(
            lex("<<= >>= += -= *= /= %= &= |= ^= ++ -- << >> <= >= == != && || .."),
            [
                CompoundAssign(crate::ast::BinaryOp::Shl),
                CompoundAssign(crate::ast::BinaryOp::Shr),
                CompoundAssign(crate::ast::BinaryOp::Add),
                CompoundAssign(crate::ast::BinaryOp::Sub),
                CompoundAssign(crate::ast::BinaryOp::Mul),
                CompoundAssign(crate::ast::BinaryOp::Div),
                CompoundAssign(crate::ast::BinaryOp::Mod),
                CompoundAssign(crate::ast::BinaryOp::BitAnd),
                CompoundAssign(crate::ast::BinaryOp::BitOr),
                CompoundAssign(crate::ast::BinaryOp::BitXor),
                PlusPlus,
                MinusMinus,
                Shl,
                Shr,
                Le,
                Ge,
                EqEq,
                Ne,
                AndAnd,
                OrOr,
                DotDot
            ]
        );
        // `.0.0` is two tuple indexes, not a number with a fraction.
        assert_eq!(lex("$kv.0.0"), [Var("kv".into()), Dot, Int(0), Dot, Int(0)]);
        assert_eq!(lex("0..10"), [Int(0), DotDot, Int(10)]);
    }

    #[test]
    fn comments_and_shebang() {
        assert_eq!(
            lex("#!/usr/bin/env beetrace\n// c\n a /* b\n c */ d"),
            [Ident("a".into()), Ident("d".into())]
        );
        assert_eq!(
            lex_errors("a /* open"),
            ["unterminated comment: `/*` is never closed by `*/`"]
        );
    }

    #[test]
    fn bad_sigils_and_characters() {
        assert_eq!(lex_errors("$"), ["expected a variable name after `$`"]);
        assert_eq!(lex_errors("`"), ["unexpected character '`'"]);
        assert_eq!(lex("é"), [Unknown('é')]);
        assert_eq!(lex_errors("$0").len(), 1);
        assert_eq!(lex_errors("$99999999999").len(), 1);
    }

    #[test]
    fn spans() {
        let mut lexer = Lexer::new("  foo \"x\" 12");
        assert_eq!(lexer.next_token().span, Span::new(2, 5));
        assert_eq!(lexer.next_token().span, Span::new(6, 9));
        assert_eq!(lexer.next_token().span, Span::new(10, 12));
        assert_eq!(lexer.next_token().span, Span::new(12, 12));
    }
}
