//! The canonical layout of a script, for `beetrace fmt` and the language server.
//!
//! The layout is fixed; there are no options:
//!
//! - Four spaces per nesting level; `{` ends the line that opens a block and `}` stands on a
//!   line of its own. An empty block is `{}`.
//! - One statement per line, each ending in `;` except block statements (`if`, `while`,
//!   `for`, `unroll`, `{ }`) and the block's value (the last expression, written without
//!   `;`, stays without it). Long lines are not wrapped.
//! - Conditions are parenthesised: `if (x) {`, `while (x) {`, `unroll(4) {`,
//!   `for ($i : 0..10) {`. Probes read `provider:a:b, provider:c /predicate/ {`.
//! - Expressions get one space around binary operators, `? :`, `=` and after `,`; none inside
//!   brackets. Parentheses are exactly those the precedence needs (`(a + b) * c`), the
//!   source's extra ones are dropped. Literals keep their spelling (`0x10`, `5s`, `"\n"`).
//!   Blocks used as values (`$x = { ...; v }`) stay on one line.
//! - Top-level items: one blank line around every probe and macro; elsewhere, and between
//!   statements, a blank line of the source (one or more) is kept as one.
//! - Comments stay, in order. A comment that ends a line of code stays at the end of that
//!   line; any other comment gets its own line, indented like the code around it. A
//!   comment inside a one-line statement moves to the line before that statement; one in a
//!   compound statement's header (between `if` and `{`) moves to the top of its block.
//!   Preprocessor lines, C definitions and a `#!` line are kept verbatim.
//!
//! A script that does not parse is refused, and so is any output that would not parse back
//! to the same tree with the same comments, so formatting can never change what a script
//! means.

use std::fmt;

use crate::ast::*;
use crate::{dump, Diagnostic, Span};

/// Why a script was not formatted.
#[derive(Clone, Debug)]
pub enum FormatError {
    /// The script has syntax errors: formatting would have to guess.
    Syntax(Vec<Diagnostic>),
    /// The formatted text would not mean the same as the source (a bug in the formatter);
    /// nothing should be written.
    Unstable(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Syntax(d) => write!(
                f,
                "the script does not parse ({} error{}); it was not formatted",
                d.len(),
                if d.len() == 1 { "" } else { "s" }
            ),
            FormatError::Unstable(why) => write!(
                f,
                "the formatted script would differ from the source ({why}); this is a \
                 formatter bug, please report it with the script"
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// The script in the canonical layout (see the module documentation).
pub fn format(source: &str) -> Result<String, FormatError> {
    let parsed = crate::parse_with_comments(source);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(FormatError::Syntax(errors));
    }
    let mut printer = Printer::new(source, &parsed.comments);
    printer.script(&parsed.script);
    let out = printer.out;

    let again = crate::parse_with_comments(&out);
    if let Some(d) = again.diagnostics.iter().find(|d| d.is_error()) {
        return Err(FormatError::Unstable(format!(
            "the output does not parse: {}",
            d.message
        )));
    }
    if dump::dump(&again.script) != dump::dump(&parsed.script) {
        return Err(FormatError::Unstable("the syntax tree changed".to_string()));
    }
    if comment_texts(source, &parsed) != comment_texts(&out, &again) {
        return Err(FormatError::Unstable("a comment was lost".to_string()));
    }
    Ok(out)
}

/// The comments outside verbatim items, trimmed at the end: what the layout must keep.
fn comment_texts<'s>(source: &'s str, parsed: &crate::Parsed) -> Vec<&'s str> {
    let verbatim: Vec<Span> = parsed
        .script
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Preprocessor(p) => Some(p.span),
            Item::CDefinition(c) => Some(c.span),
            _ => None,
        })
        .collect();
    parsed
        .comments
        .iter()
        .filter(|c| {
            !verbatim
                .iter()
                .any(|v| v.start <= c.start && c.start < v.end)
        })
        .map(|c| text(source, *c).trim_end())
        .collect()
}

fn text(source: &str, span: Span) -> &str {
    source
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
}

/// Writes the layout; comments are placed by comparing their source offsets with those of
/// the nodes printed around them.
struct Printer<'a> {
    src: &'a str,
    comments: &'a [Span],
    /// The next comment not printed yet.
    next: usize,
    out: String,
    indent: usize,
    /// Source offset just past what was printed last (node or comment): blank lines of the
    /// source are counted from here.
    last: usize,
    /// Inside a block used as a value: everything goes on one line and comments wait.
    inline: bool,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: &'a [Span]) -> Printer<'a> {
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
            indent: 0,
            last: 0,
            inline: false,
        }
    }

    fn script(&mut self, script: &Script) {
        if self.src.starts_with("#!") {
            let end = self.src.find('\n').unwrap_or(self.src.len());
            self.out.push_str(self.src[..end].trim_end());
            self.out.push('\n');
            self.last = end;
        }
        let mut first = self.out.is_empty();
        let mut prev_wide = false;
        for (i, item) in script.items.iter().enumerate() {
            let span = item.span();
            let wide = matches!(item, Item::Probe(_) | Item::Macro(_));
            // Probes and macros stand apart from other items (not from a `#!` line).
            let apart = i > 0 && (wide || prev_wide);
            self.leading(span.start as usize, &mut first, apart);
            if !first && (apart || self.blank_since(span.start as usize)) {
                self.out.push('\n');
            }
            first = false;
            prev_wide = wide;
            self.item(item);
            self.last = self.last.max(span.end as usize);
            self.trailing(span.end as usize);
            self.out.push('\n');
        }
        self.leading(self.src.len(), &mut first, prev_wide);
        if self.out.is_empty() {
            return;
        }
        while self.out.ends_with("\n\n") {
            self.out.pop();
        }
    }

    // ----- comments and blank lines -----

    fn blank_since(&self, pos: usize) -> bool {
        self.src
            .get(self.last..pos)
            .is_some_and(|gap| gap.matches('\n').count() >= 2)
    }

    fn push_indent(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    /// Prints, each on its own line, the comments that start before `pos`. `first` says
    /// whether nothing was printed yet in this block (no blank line then); `force_blank`
    /// asks for a blank line before the first of them.
    fn leading(&mut self, pos: usize, first: &mut bool, force_blank: bool) {
        if self.inline {
            return;
        }
        let mut force_blank = force_blank;
        while let Some(&c) = self.comments.get(self.next) {
            if c.start as usize >= pos {
                break;
            }
            self.next += 1;
            if !*first && (force_blank || self.blank_since(c.start as usize)) {
                self.out.push('\n');
            }
            force_blank = false;
            *first = false;
            self.push_indent();
            self.out.push_str(text(self.src, c).trim_end());
            self.out.push('\n');
            self.last = c.end as usize;
        }
    }

    /// Appends the comments that follow `end` on the same source line (with nothing but
    /// `;` or `,` between).
    fn trailing(&mut self, end: usize) {
        if self.inline {
            return;
        }
        let mut end = end;
        while let Some(&c) = self.comments.get(self.next) {
            let Some(gap) = self.src.get(end..c.start as usize) else {
                break;
            };
            let only_punctuation = gap
                .trim_matches(|ch: char| ch.is_whitespace() || ch == ';' || ch == ',')
                .is_empty();
            if gap.contains('\n') || !only_punctuation {
                break;
            }
            self.next += 1;
            self.out.push(' ');
            self.out.push_str(text(self.src, c).trim_end());
            end = c.end as usize;
            self.last = end;
        }
    }

    /// Drops the comments inside `span` (printed verbatim as part of it).
    fn skip_comments_in(&mut self, span: Span) {
        while self
            .comments
            .get(self.next)
            .is_some_and(|c| c.start < span.end)
        {
            self.next += 1;
        }
    }

    // ----- items -----

    fn item(&mut self, item: &Item) {
        match item {
            Item::Preprocessor(p) => {
                self.skip_comments_in(p.span);
                self.out.push_str(text(self.src, p.span).trim_end());
            }
            Item::CDefinition(c) => {
                self.skip_comments_in(c.span);
                self.out.push_str(c.text.trim_end());
            }
            Item::Config(c) => {
                self.out.push_str("config = {");
                if c.entries.is_empty() {
                    self.out.push('}');
                    return;
                }
                self.out.push('\n');
                for e in &c.entries {
                    self.out.push_str("    ");
                    self.out.push_str(&e.key);
                    self.out.push_str(" = ");
                    match &e.value {
                        ConfigValue::Ident(word) => self.out.push_str(word),
                        _ => self.out.push_str(text(self.src, e.value_span)),
                    }
                    self.out.push_str(";\n");
                }
                self.out.push('}');
            }
            Item::Import(i) => {
                let path = text(self.src, i.span).trim_start_matches("import").trim();
                self.out.push_str(&format!("import {path};"));
            }
            Item::MapDecl(m) => {
                let args = self.expr_list(&m.args);
                self.out
                    .push_str(&format!("let @{} = {}({args});", m.name, m.kind));
            }
            Item::Macro(m) => {
                let params: Vec<String> = m
                    .params
                    .iter()
                    .map(|p| match p.kind {
                        MacroParamKind::Var => format!("${}", p.name),
                        MacroParamKind::Map => format!("@{}", p.name),
                        MacroParamKind::Expr => p.name.clone(),
                    })
                    .collect();
                self.out
                    .push_str(&format!("macro {}({}) ", m.name, params.join(", ")));
                self.block(&m.body);
            }
            Item::Probe(p) => {
                let points: Vec<String> = p
                    .attach_points
                    .iter()
                    .map(|ap| {
                        let label = ap.label.as_ref().map_or(String::new(), |l| format!("{l}="));
                        format!("{label}{}", text(self.src, ap.span))
                    })
                    .collect();
                self.out.push_str(&points.join(", "));
                if let Some(pred) = &p.predicate {
                    let pred = self.expr(pred);
                    self.out.push_str(&format!(" /{pred}/"));
                }
                self.out.push(' ');
                self.block(&p.body);
            }
        }
    }

    // ----- blocks and statements -----

    fn block(&mut self, b: &Block) {
        let end = b.span.end as usize;
        if self.inline {
            let mut parts: Vec<String> = b.stmts.iter().map(|s| self.stmt_text(s)).collect();
            if let Some(v) = &b.value {
                parts.push(self.expr(v));
            }
            if parts.is_empty() {
                self.out.push_str("{}");
            } else {
                self.out.push_str(&format!("{{ {} }}", parts.join(" ")));
            }
            return;
        }
        let comments_inside = self
            .comments
            .get(self.next)
            .is_some_and(|c| (c.start as usize) < end);
        if b.stmts.is_empty() && b.value.is_none() && !comments_inside {
            self.out.push_str("{}");
            self.last = end;
            return;
        }
        self.out.push_str("{\n");
        self.indent += 1;
        self.last = b.span.start as usize + 1;
        let mut first = true;
        for s in &b.stmts {
            let hoist_to = if is_compound(s) {
                s.span.start
            } else {
                s.span.end
            };
            self.line(
                s.span,
                hoist_to as usize,
                &mut first,
                |p: &mut Printer<'_>| p.stmt(s),
            );
        }
        if let Some(v) = &b.value {
            self.line(
                v.span,
                v.span.end as usize,
                &mut first,
                |p: &mut Printer<'_>| {
                    let text = p.expr(v);
                    p.out.push_str(&text);
                },
            );
        }
        self.leading(end.saturating_sub(1), &mut first, false);
        self.indent -= 1;
        self.push_indent();
        self.out.push('}');
        self.last = end;
    }

    /// One line of a block: the comments before it, a kept blank line, the line itself and
    /// any comment that ends it.
    fn line(
        &mut self,
        span: Span,
        hoist_to: usize,
        first: &mut bool,
        print: impl FnOnce(&mut Printer<'a>),
    ) {
        self.leading(hoist_to, first, false);
        if !*first && self.blank_since(span.start as usize) {
            self.out.push('\n');
        }
        *first = false;
        self.push_indent();
        print(self);
        self.last = self.last.max(span.end as usize);
        self.trailing(span.end as usize);
        self.out.push('\n');
    }

    /// A statement printed on its own into a string (for inline blocks).
    fn stmt_text(&mut self, s: &Stmt) -> String {
        let saved = std::mem::take(&mut self.out);
        self.stmt(s);
        std::mem::replace(&mut self.out, saved)
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => {
                let text = self.expr(e);
                self.out.push_str(&text);
                if !matches!(e.kind, ExprKind::Block(_)) {
                    self.out.push(';');
                }
            }
            StmtKind::Let { var, ty, init, .. } => {
                self.out.push_str(&format!("let ${var}"));
                if let Some(ty) = ty {
                    let ty = self.type_expr(ty);
                    self.out.push_str(&format!(": {ty}"));
                }
                if let Some(init) = init {
                    let init = self.expr(init);
                    self.out.push_str(&format!(" = {init}"));
                }
                self.out.push(';');
            }
            StmtKind::Assign { target, op, value } => {
                let target = self.expr(target);
                let value = self.expr(value);
                let op = op.map_or("", |op| op.symbol());
                self.out.push_str(&format!("{target} {op}= {value};"));
            }
            StmtKind::Discard(e) => {
                let e = self.expr(e);
                self.out.push_str(&format!("_ = {e};"));
            }
            StmtKind::If { cond, then, els } => {
                let cond = self.condition(cond);
                self.out.push_str(&format!("if {cond} "));
                self.block(then);
                if let Some(els) = els {
                    self.out.push_str(" else ");
                    match else_if(els) {
                        Some(inner) => self.stmt(inner),
                        None => self.block(els),
                    }
                }
            }
            StmtKind::Unroll { count, body } => {
                let count = self.condition(count);
                self.out.push_str(&format!("unroll{count} "));
                self.block(body);
            }
            StmtKind::While { cond, body } => {
                let cond = self.condition(cond);
                self.out.push_str(&format!("while {cond} "));
                self.block(body);
            }
            StmtKind::For {
                var, iter, body, ..
            } => {
                let iter = match iter {
                    ForIter::Map(m) => self.expr(m),
                    ForIter::Range(a, b) => {
                        let a = self.sub(a, UNARY);
                        let b = self.sub(b, UNARY);
                        format!("{a}..{b}")
                    }
                };
                self.out.push_str(&format!("for (${var} : {iter}) "));
                self.block(body);
            }
            StmtKind::Return(value) => match value {
                Some(v) => {
                    let v = self.expr(v);
                    self.out.push_str(&format!("return {v};"));
                }
                None => self.out.push_str("return;"),
            },
            StmtKind::Break => self.out.push_str("break;"),
            StmtKind::Continue => self.out.push_str("continue;"),
            StmtKind::Block(b) => self.block(b),
        }
    }

    /// `(cond)`: tuples and records already bring their parentheses.
    fn condition(&mut self, e: &Expr) -> String {
        let text = self.expr(e);
        match e.kind {
            ExprKind::Tuple(_) | ExprKind::Record(_) => text,
            _ => format!("({text})"),
        }
    }

    // ----- expressions -----

    fn expr_list(&mut self, list: &[Expr]) -> String {
        let parts: Vec<String> = list.iter().map(|e| self.expr(e)).collect();
        parts.join(", ")
    }

    /// `e`, parenthesised when it binds more loosely than `min`.
    fn sub(&mut self, e: &Expr, min: u8) -> String {
        let text = self.expr(e);
        if precedence(e) < min {
            format!("({text})")
        } else {
            text
        }
    }

    fn expr(&mut self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Str(_) => text(self.src, e.span).to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Var(name) => format!("${name}"),
            ExprKind::Positional(n) => format!("${n}"),
            ExprKind::PositionalCount => "$#".to_string(),
            ExprKind::Map { name, keys } if keys.is_empty() => format!("@{name}"),
            ExprKind::Map { name, keys } => format!("@{name}[{}]", self.expr_list(keys)),
            ExprKind::Ident(name) => name.clone(),
            ExprKind::Call {
                name, args, bang, ..
            } => {
                let bang = if *bang { "!" } else { "" };
                format!("{name}{bang}({})", self.expr_list(args))
            }
            ExprKind::Unary { op, expr } => {
                let symbol = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                    UnaryOp::BitNot => "~",
                    UnaryOp::Deref => "*",
                    UnaryOp::AddrOf => "&",
                };
                let operand = self.sub(expr, UNARY);
                // `- -x` and `& &x` must not become the tokens `--` and `&&`.
                if operand.starts_with(symbol) && matches!(op, UnaryOp::Neg | UnaryOp::AddrOf) {
                    format!("{symbol}({operand})")
                } else {
                    format!("{symbol}{operand}")
                }
            }
            ExprKind::IncDec {
                increment,
                prefix,
                target,
            } => {
                let symbol = if *increment { "++" } else { "--" };
                if *prefix {
                    format!("{symbol}{}", self.sub(target, UNARY))
                } else {
                    format!("{}{symbol}", self.sub(target, POSTFIX))
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let power = binary_power(*op);
                let lhs = self.sub(lhs, power);
                let mut rhs_text = self.sub(rhs, power + 1);
                // `a / {` would read as the end of a predicate.
                if *op == BinaryOp::Div && rhs_text.starts_with('{') {
                    rhs_text = format!("({rhs_text})");
                }
                format!("{lhs} {} {rhs_text}", op.symbol())
            }
            ExprKind::Ternary { cond, then, els } => {
                let cond_text = self.sub(cond, 1);
                let els = self.sub(els, 0);
                if then.span == cond.span && then == cond {
                    format!("{cond_text} ?: {els}")
                } else {
                    let then = self.sub(then, 0);
                    format!("{cond_text} ? {then} : {els}")
                }
            }
            ExprKind::Cast { ty, expr } => {
                let ty = self.type_expr(ty);
                format!("({ty}){}", self.sub(expr, UNARY))
            }
            ExprKind::Field {
                base, name, arrow, ..
            } => {
                let sep = if *arrow { "->" } else { "." };
                format!("{}{sep}{name}", self.sub(base, POSTFIX))
            }
            ExprKind::Index { base, index } => {
                format!("{}[{}]", self.sub(base, POSTFIX), self.expr(index))
            }
            ExprKind::Tuple(elems) => match elems.as_slice() {
                [one] => format!("({},)", self.expr(one)),
                _ => format!("({})", self.expr_list(elems)),
            },
            ExprKind::Record(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name} = {}", self.expr(value)))
                    .collect();
                format!("({})", parts.join(", "))
            }
            ExprKind::Block(b) => {
                let saved_out = std::mem::take(&mut self.out);
                let saved_inline = std::mem::replace(&mut self.inline, true);
                self.block(b);
                self.inline = saved_inline;
                std::mem::replace(&mut self.out, saved_out)
            }
            ExprKind::Sizeof(of) => format!("sizeof({})", self.type_or_expr(of)),
            ExprKind::Typeof(of) => format!("typeof({})", self.type_or_expr(of)),
            ExprKind::Offsetof { of, fields } => {
                format!("offsetof({}, {})", self.type_or_expr(of), fields.join("."))
            }
        }
    }

    fn type_or_expr(&mut self, t: &TypeOrExpr) -> String {
        match t {
            TypeOrExpr::Type(t) => self.type_expr(t),
            TypeOrExpr::Expr(e) => self.expr(e),
        }
    }

    fn type_expr(&mut self, t: &TypeExpr) -> String {
        match &t.kind {
            TypeKind::Named(name) => name.clone(),
            TypeKind::Struct { keyword, name } => {
                let keyword = match keyword {
                    StructKeyword::Struct => "struct",
                    StructKeyword::Union => "union",
                    StructKeyword::Enum => "enum",
                };
                format!("{keyword} {name}")
            }
            TypeKind::Pointer(to) => {
                let to = self.type_expr(to);
                if to.ends_with('*') {
                    format!("{to}*")
                } else {
                    format!("{to} *")
                }
            }
            TypeKind::Array(elem, len) => {
                let elem = self.type_expr(elem);
                match len {
                    Some(n) => format!("{elem}[{n}]"),
                    None => format!("{elem}[]"),
                }
            }
            TypeKind::Typeof(of) => format!("typeof({})", self.type_or_expr(of)),
        }
    }
}

/// Binding power of prefix operators and casts (above every binary operator).
const UNARY: u8 = 11;
/// Postfix forms and primaries: never need parentheses.
const POSTFIX: u8 = 12;

/// How tightly `e` binds, on the parser's scale: 0 for `?:`, the binary operators' powers,
/// then [`UNARY`] and [`POSTFIX`].
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Ternary { .. } => 0,
        ExprKind::Binary { op, .. } => binary_power(*op),
        ExprKind::Unary { .. } | ExprKind::Cast { .. } => UNARY,
        ExprKind::IncDec { prefix: true, .. } => UNARY,
        _ => POSTFIX,
    }
}

/// The parser's binding power of a binary operator (C's order).
fn binary_power(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        Or => 1,
        And => 2,
        BitOr => 3,
        BitXor => 4,
        BitAnd => 5,
        Eq | Ne => 6,
        Lt | Le | Gt | Ge => 7,
        Shl | Shr => 8,
        Add | Sub => 9,
        Mul | Div | Mod => 10,
    }
}

/// Statements whose comments in the header move into their block rather than above them.
fn is_compound(s: &Stmt) -> bool {
    matches!(
        s.kind,
        StmtKind::If { .. }
            | StmtKind::While { .. }
            | StmtKind::Unroll { .. }
            | StmtKind::For { .. }
            | StmtKind::Block(_)
    )
}

/// The `if` of an `else if`: the parser wraps it in a block with the same span.
fn else_if(els: &Block) -> Option<&Stmt> {
    match (els.stmts.as_slice(), &els.value) {
        ([s], None) if s.span == els.span && matches!(s.kind, StmtKind::If { .. }) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
