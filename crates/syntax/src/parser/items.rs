//! Top-level items: preprocessor lines, C definitions, `config`, `import`, map declarations,
//! macros and probes. Preprocessor lines, C definitions and attach points are scanned as raw
//! text, since they are not made of bpftrace tokens.

use super::Parser;
use crate::ast::*;
use crate::lexer::{is_ident_continue, is_ident_start, TokenKind};
use crate::Span;

/// Directives other than `#include`/`#define` that C headers use (kept as `Other`).
const C_DIRECTIVES: &[&str] = &[
    "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "pragma", "error", "warning", "line",
];

/// The order sections must come in; going back to an earlier one is reported.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    CDefinitions,
    ConfigAndImports,
    Body,
}

impl Parser<'_> {
    pub(super) fn parse_items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut section = Section::CDefinitions;
        while !self.at_eof() {
            let before = self.offset();
            let diags_before = self.diags.len();
            if let Some(item) = self.parse_item() {
                let item_section = match item {
                    Item::Preprocessor(_) | Item::CDefinition(_) => Section::CDefinitions,
                    Item::Config(_) | Item::Import(_) => Section::ConfigAndImports,
                    _ => Section::Body,
                };
                if item_section < section {
                    let what = match item_section {
                        Section::CDefinitions => {
                            "preprocessor lines and C definitions must come before everything else"
                        }
                        _ => "`config` and `import` must come before probes, macros and map declarations",
                    };
                    let span = item.span();
                    self.error(span, what);
                }
                section = section.max(item_section);
                items.push(item);
            }
            if self.offset() == before && !self.at_eof() {
                if self.diags.len() == diags_before {
                    self.unexpected("at the top level");
                } else {
                    self.skip_token();
                }
            }
        }
        // Problems attached to the end of input, such as an unterminated comment.
        self.bump();
        items
    }

    fn parse_item(&mut self) -> Option<Item> {
        let start = self.offset();
        match self.peek().clone() {
            TokenKind::Hash => Some(Item::Preprocessor(self.preprocessor(start))),
            TokenKind::Ident(word) => match word.as_str() {
                "struct" | "union" | "enum" if self.looks_like_c_definition(start) => {
                    Some(Item::CDefinition(self.c_definition(start)))
                }
                "config" if self.nth_kind(1) == &TokenKind::Assign => {
                    self.config().map(Item::Config)
                }
                "import" => self.import().map(Item::Import),
                "let" => self.map_decl().map(Item::MapDecl),
                "macro" => self.macro_def().map(Item::Macro),
                _ => self.probe().map(Item::Probe),
            },
            _ => self.probe().map(Item::Probe),
        }
    }

    /// A `#...` line (continued by a trailing `\`), kept as text.
    fn preprocessor(&mut self, start: usize) -> Preprocessor {
        let bytes = self.src.as_bytes();
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'\n' {
            if bytes[end] == b'\\' && bytes.get(end + 1) == Some(&b'\n') {
                end += 2;
            } else {
                end += 1;
            }
        }
        self.seek(end);
        let line = self.src[start + 1..end].trim_end();
        let span = Span::new(start, start + 1 + line.len());
        let body = line.trim_start();
        let name_len = body.bytes().take_while(|&b| is_ident_continue(b)).count();
        let name = &body[..name_len];
        let kind = match name {
            "include" => PreprocessorKind::Include,
            "define" => PreprocessorKind::Define,
            _ => PreprocessorKind::Other,
        };
        if kind == PreprocessorKind::Other && !C_DIRECTIVES.contains(&name) {
            let message = if name.is_empty() {
                "expected a preprocessor directive such as `#include` after `#`".to_string()
            } else {
                format!("unknown preprocessor directive `#{name}`")
            };
            self.error(span, message);
        }
        let text = match kind {
            PreprocessorKind::Other => body,
            _ => &body[name_len..],
        };
        Preprocessor {
            kind,
            text: text.trim().to_string(),
            span,
        }
    }

    /// `struct`/`union`/`enum`, then names or `(...)`/`[...]` groups (attributes), then `{`:
    /// a C definition rather than a probe.
    fn looks_like_c_definition(&self, start: usize) -> bool {
        let bytes = self.src.as_bytes();
        let mut p = self.skip_ident(start);
        loop {
            p = self.skip_space(p);
            match bytes.get(p) {
                Some(b'{') => return true,
                Some(&c) if is_ident_start(c) => p = self.skip_ident(p),
                Some(b'(') | Some(b'[') => match self.skip_balanced(p) {
                    Some(end) => p = end,
                    None => return false,
                },
                _ => return false,
            }
        }
    }

    fn skip_ident(&self, p: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut p = p;
        while p < bytes.len() && is_ident_continue(bytes[p]) {
            p += 1;
        }
        p
    }

    /// Skips whitespace and comments in raw text.
    fn skip_space(&self, p: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut p = p;
        loop {
            match (bytes.get(p), bytes.get(p + 1)) {
                (Some(c), _) if c.is_ascii_whitespace() => p += 1,
                (Some(b'/'), Some(b'/')) => {
                    p = self.src[p..].find('\n').map_or(bytes.len(), |i| p + i);
                }
                (Some(b'/'), Some(b'*')) => {
                    p = self.src[p + 2..]
                        .find("*/")
                        .map_or(bytes.len(), |i| p + 2 + i + 2);
                }
                _ => return p,
            }
        }
    }

    /// From an opening bracket at `p`, the offset just past its matching closer, skipping
    /// comments and C string/char literals; `None` if unbalanced.
    fn skip_balanced(&self, p: usize) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut depth = 0usize;
        let mut p = p;
        while p < bytes.len() {
            let next = self.skip_space(p);
            if next != p {
                p = next;
                continue;
            }
            match bytes[p] {
                b'{' | b'(' | b'[' => depth += 1,
                b'}' | b')' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(p + 1);
                    }
                }
                quote @ (b'"' | b'\'') => {
                    p += 1;
                    while p < bytes.len() && bytes[p] != quote && bytes[p] != b'\n' {
                        p += if bytes[p] == b'\\' { 2 } else { 1 };
                    }
                }
                _ => {}
            }
            p += 1;
        }
        None
    }

    /// `struct S { ... } [__attribute__((...))] [;]`, kept as text.
    fn c_definition(&mut self, start: usize) -> CDefinition {
        let bytes = self.src.as_bytes();
        let open = self.src[start..]
            .find('{')
            .map_or(bytes.len(), |i| start + i);
        let mut end = match self.skip_balanced(open) {
            Some(end) => end,
            None => {
                self.error(
                    Span::new(open, open + 1),
                    "expected `}` to close the definition opened here",
                );
                bytes.len()
            }
        };
        loop {
            let p = self.skip_space(end);
            if self.src[p..].starts_with("__attribute__") {
                let after = self.skip_space(p + "__attribute__".len());
                if bytes.get(after) == Some(&b'(') {
                    if let Some(close) = self.skip_balanced(after) {
                        end = close;
                        continue;
                    }
                }
                self.error(
                    Span::new(p, p + "__attribute__".len()),
                    "expected `((...))` after `__attribute__`",
                );
                end = p + "__attribute__".len();
            }
            break;
        }
        let p = self.skip_space(end);
        if bytes.get(p) == Some(&b';') {
            end = p + 1;
        }
        self.seek(end);
        CDefinition {
            text: self.src[start..end].to_string(),
            span: Span::new(start, end),
        }
    }

    /// `config = { key = value; ... }`
    fn config(&mut self) -> Option<ConfigBlock> {
        let start = self.offset();
        self.bump(); // config
        self.bump(); // =
        let open = self.peek_span();
        if !self.expect(&TokenKind::LBrace, "to start the config block") {
            self.recover_item();
            return None;
        }
        let mut entries = Vec::new();
        loop {
            match self.peek().clone() {
                TokenKind::RBrace => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => {
                    self.error(open, "expected `}` to close the config block opened here");
                    break;
                }
                TokenKind::Semi => {
                    self.bump();
                }
                TokenKind::Ident(key) => {
                    let key_span = self.bump().span;
                    if !self.expect(&TokenKind::Assign, "after the config key") {
                        self.recover_statement();
                        continue;
                    }
                    let tok = self.nth(0).clone();
                    let value = match tok.kind {
                        TokenKind::Int(v) => ConfigValue::Int(v),
                        TokenKind::Str(s) => ConfigValue::Str(String::from_utf8_lossy(&s).into()),
                        TokenKind::Ident(word) => ConfigValue::Ident(word),
                        other => {
                            self.error(
                                tok.span,
                                format!(
                                    "expected a config value (integer, string or name), found {}",
                                    other.describe()
                                ),
                            );
                            self.recover_statement();
                            continue;
                        }
                    };
                    self.bump();
                    entries.push(ConfigEntry {
                        key,
                        key_span,
                        value,
                        value_span: tok.span,
                    });
                    if !matches!(self.peek(), TokenKind::RBrace | TokenKind::Eof)
                        && !self.eat(&TokenKind::Semi)
                    {
                        let found = self.peek().describe();
                        let span = self.peek_span();
                        self.error(
                            span,
                            format!("expected `;` after the config entry, found {found}"),
                        );
                        self.recover_statement();
                    }
                }
                other => {
                    let span = self.peek_span();
                    self.error(
                        span,
                        format!("expected a config key, found {}", other.describe()),
                    );
                    self.recover_statement();
                }
            }
        }
        self.eat(&TokenKind::Semi);
        Some(ConfigBlock {
            entries,
            span: self.span_from(start),
        })
    }

    /// `import "path";`
    fn import(&mut self) -> Option<Import> {
        let start = self.offset();
        self.bump();
        let tok = self.nth(0).clone();
        let TokenKind::Str(path) = tok.kind else {
            self.error(
                tok.span,
                format!(
                    "expected a path string after `import`, found {}",
                    tok.kind.describe()
                ),
            );
            self.recover_item();
            return None;
        };
        self.bump();
        let span = self.span_from(start);
        self.expect(&TokenKind::Semi, "after the import");
        Some(Import {
            path: String::from_utf8_lossy(&path).into(),
            span,
        })
    }

    /// `let @name = kind(args);`
    fn map_decl(&mut self) -> Option<MapDecl> {
        let start = self.offset();
        self.bump(); // let
        let tok = self.nth(0).clone();
        let TokenKind::Map(name) = tok.kind else {
            self.diags.push(
                crate::Diagnostic::error(
                    tok.span,
                    format!(
                        "expected a map name after `let` at the top level, found {}",
                        tok.kind.describe()
                    ),
                )
                .with_hint("top-level `let` declares a map, e.g. `let @a = hash(100);`"),
            );
            self.recover_item();
            return None;
        };
        self.bump();
        if !self.expect(&TokenKind::Assign, "after the map name") {
            self.recover_item();
            return None;
        }
        let kind_tok = self.nth(0).clone();
        let TokenKind::Ident(kind) = kind_tok.kind else {
            self.error(
                kind_tok.span,
                format!(
                    "expected a map type such as `hash(100)`, found {}",
                    kind_tok.kind.describe()
                ),
            );
            self.recover_item();
            return None;
        };
        self.bump();
        let args = if self.at(&TokenKind::LParen) {
            self.call_args()
        } else {
            self.expect(&TokenKind::LParen, "after the map type");
            Vec::new()
        };
        let span = self.span_from(start);
        self.expect(&TokenKind::Semi, "after the map declaration");
        Some(MapDecl {
            name,
            name_span: tok.span,
            kind,
            kind_span: kind_tok.span,
            args,
            span,
        })
    }

    /// `macro name(params) { body }`; the parameter list may be left out when empty.
    fn macro_def(&mut self) -> Option<MacroDef> {
        let start = self.offset();
        self.bump(); // macro
        let name_tok = self.nth(0).clone();
        let TokenKind::Ident(name) = name_tok.kind else {
            self.error(
                name_tok.span,
                format!(
                    "expected a macro name after `macro`, found {}",
                    name_tok.kind.describe()
                ),
            );
            self.recover_item();
            return None;
        };
        self.bump();
        let mut params = Vec::new();
        if self.eat(&TokenKind::LParen) {
            while !self.at(&TokenKind::RParen) {
                let tok = self.nth(0).clone();
                let kind = match &tok.kind {
                    TokenKind::Var(n) => Some((MacroParamKind::Var, n.clone())),
                    TokenKind::Map(n) => Some((MacroParamKind::Map, n.clone())),
                    TokenKind::Ident(n) => Some((MacroParamKind::Expr, n.clone())),
                    _ => None,
                };
                let Some((kind, pname)) = kind else {
                    self.error(
                        tok.span,
                        format!(
                            "expected a macro parameter (`$var`, `@map` or `name`), found {}",
                            tok.kind.describe()
                        ),
                    );
                    break;
                };
                self.bump();
                params.push(MacroParam {
                    kind,
                    name: pname,
                    span: tok.span,
                });
                if !self.eat(&TokenKind::Comma) {
                    break;
                }
            }
            if !self.expect(&TokenKind::RParen, "to close the macro parameters") {
                self.recover_item();
                return None;
            }
        }
        if !self.at(&TokenKind::LBrace) {
            self.expect(&TokenKind::LBrace, "to start the macro body");
            self.recover_item();
            return None;
        }
        let body = self.parse_block();
        Some(MacroDef {
            name,
            name_span: name_tok.span,
            params,
            body,
            span: self.span_from(start),
        })
    }

    /// `ap, ap /predicate/ { body }`
    fn probe(&mut self) -> Option<Probe> {
        let start = self.offset();
        let mut attach_points = Vec::new();
        loop {
            let Some(ap) = self.attach_point() else {
                self.recover_item();
                return None;
            };
            attach_points.push(ap);
            if !self.eat(&TokenKind::Comma) {
                break;
            }
            // A trailing comma before the predicate or body is fine.
            if matches!(self.peek(), TokenKind::Slash | TokenKind::LBrace) {
                break;
            }
        }
        let mut predicate = None;
        if self.eat(&TokenKind::Slash) {
            predicate = Some(self.parse_expr());
            self.expect(&TokenKind::Slash, "to close the predicate");
        }
        if !self.at(&TokenKind::LBrace) {
            let found = self.peek().describe();
            let span = self.peek_span();
            self.error(
                span,
                format!("expected `{{` to start the probe body, found {found}"),
            );
            self.recover_item();
            return None;
        }
        let body = self.parse_block();
        Some(Probe {
            attach_points,
            predicate,
            body,
            span: self.span_from(start),
        })
    }

    /// Scans one attach point as raw text from the current position: everything up to
    /// whitespace, `,` or `{`. A `/` ends it (starting the predicate) unless it is part of a
    /// path, i.e. after the provider's `:` and followed by a path character.
    fn attach_point(&mut self) -> Option<AttachPoint> {
        let start = self.offset();
        let bytes = self.src.as_bytes();
        let mut p = start;
        let mut label = None;
        let id_end = if bytes.get(p).is_some_and(|&c| is_ident_start(c)) {
            self.skip_ident(p)
        } else {
            p
        };
        if id_end > p && bytes.get(id_end) == Some(&b'=') && bytes.get(id_end + 1) != Some(&b'=') {
            label = Some(self.src[p..id_end].to_string());
            p = id_end + 1;
        }
        let text_start = p;
        let mut text = String::new();
        let mut seen_colon = false;
        while let Some(&c) = bytes.get(p) {
            match c {
                b'{' | b'}' | b',' | b';' | b'(' | b')' => break,
                c if c.is_ascii_whitespace() => break,
                b'/' => {
                    let next = bytes.get(p + 1).copied().unwrap_or(b' ');
                    let path_char = next.is_ascii_alphanumeric() || b"_.-*?~+".contains(&next);
                    if next == b'/' || !seen_colon || !path_char {
                        break;
                    }
                    text.push('/');
                    p += 1;
                }
                b'"' => {
                    let quote_start = p;
                    p += 1;
                    loop {
                        match bytes.get(p) {
                            None | Some(b'\n') => {
                                self.error(
                                    Span::new(quote_start, p),
                                    "unterminated string in attach point",
                                );
                                break;
                            }
                            Some(b'"') => {
                                p += 1;
                                break;
                            }
                            Some(b'\\') if matches!(bytes.get(p + 1), Some(b'"' | b'\\')) => {
                                text.push(char::from(bytes[p + 1]));
                                p += 2;
                            }
                            Some(_) => {
                                let ch = self.src[p..].chars().next().unwrap_or(' ');
                                text.push(ch);
                                p += ch.len_utf8();
                            }
                        }
                    }
                }
                c if c.is_ascii_graphic() => {
                    seen_colon |= c == b':';
                    text.push(char::from(c));
                    p += 1;
                }
                _ => {
                    let ch = self.src[p..].chars().next().unwrap_or(' ');
                    self.error(
                        Span::new(p, p + ch.len_utf8()),
                        format!("unexpected character {ch:?} in attach point"),
                    );
                    p += ch.len_utf8();
                }
            }
        }
        if text.is_empty() && p > text_start {
            // Only bad characters or an empty `""`: already reported, or report now.
            self.error(Span::new(text_start, p), "empty attach point");
            self.seek(p);
            return None;
        }
        if p == text_start {
            let found = self.peek().describe();
            let span = self.peek_span();
            let message = if label.is_some() {
                format!("expected an attach point after `=`, found {found}")
            } else {
                format!("expected an attach point such as `kprobe:name`, found {found}")
            };
            self.error(span, message);
            return None;
        }
        self.seek(p);
        Some(AttachPoint {
            text,
            label,
            span: Span::new(text_start, p),
        })
    }
}
