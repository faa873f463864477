//! A compact s-expression rendering of the syntax tree, for tests and debugging.
//!
//! Types are written in angle brackets (`<struct task_struct*>`) so they cannot be confused
//! with expressions; blocks are `{stmt stmt => value}`.

use crate::ast::*;

/// One line per item.
pub fn dump(script: &Script) -> String {
    script.items.iter().map(item).collect::<Vec<_>>().join("\n")
}

pub fn item(item: &Item) -> String {
    match item {
        Item::Preprocessor(p) => {
            let kind = match p.kind {
                PreprocessorKind::Include => "include",
                PreprocessorKind::Define => "define",
                PreprocessorKind::Other => "pp",
            };
            format!("({kind} {:?})", p.text)
        }
        Item::CDefinition(c) => format!("(cdef {:?})", c.text),
        Item::Config(c) => {
            let mut out = "(config".to_string();
            for e in &c.entries {
                let value = match &e.value {
                    ConfigValue::Int(v) => v.to_string(),
                    ConfigValue::Str(s) => format!("{s:?}"),
                    ConfigValue::Ident(s) => s.clone(),
                };
                out.push_str(&format!(" ({} {value})", e.key));
            }
            out + ")"
        }
        Item::Import(i) => format!("(import {:?})", i.path),
        Item::MapDecl(m) => {
            let mut out = format!("(mapdecl @{} {}", m.name, m.kind);
            for a in &m.args {
                out.push(' ');
                out.push_str(&expr(a));
            }
            out + ")"
        }
        Item::Macro(m) => {
            let params: Vec<String> = m
                .params
                .iter()
                .map(|p| {
                    let sigil = match p.kind {
                        MacroParamKind::Var => "$",
                        MacroParamKind::Map => "@",
                        MacroParamKind::Expr => "",
                    };
                    format!("{sigil}{}", p.name)
                })
                .collect();
            format!(
                "(macro {} ({}) {})",
                m.name,
                params.join(" "),
                block(&m.body)
            )
        }
        Item::Probe(p) => {
            let aps: Vec<String> = p
                .attach_points
                .iter()
                .map(|ap| match &ap.label {
                    Some(label) => format!("{label}={:?}", ap.text),
                    None => format!("{:?}", ap.text),
                })
                .collect();
            let mut out = format!("(probe [{}]", aps.join(" "));
            if let Some(pred) = &p.predicate {
                out.push_str(&format!(" /{}/", expr(pred)));
            }
            format!("{out} {})", block(&p.body))
        }
    }
}

pub fn block(b: &Block) -> String {
    let mut parts: Vec<String> = b.stmts.iter().map(stmt).collect();
    if let Some(v) = &b.value {
        parts.push(format!("=> {}", expr(v)));
    }
    format!("{{{}}}", parts.join(" "))
}

pub fn stmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Expr(e) => expr(e),
        StmtKind::Let { var, ty, init, .. } => {
            let mut out = format!("(let ${var}");
            if let Some(t) = ty {
                out.push_str(&format!(" {}", ty_str(t)));
            }
            if let Some(i) = init {
                out.push_str(&format!(" {}", expr(i)));
            }
            out + ")"
        }
        StmtKind::Assign { target, op, value } => {
            let op = op.map_or(String::new(), |o| o.symbol().to_string());
            format!("({op}= {} {})", expr(target), expr(value))
        }
        StmtKind::Discard(e) => format!("(_ {})", expr(e)),
        StmtKind::If { cond, then, els } => match els {
            Some(els) => format!("(if {} {} {})", expr(cond), block(then), block(els)),
            None => format!("(if {} {})", expr(cond), block(then)),
        },
        StmtKind::Unroll { count, body } => format!("(unroll {} {})", expr(count), block(body)),
        StmtKind::While { cond, body } => format!("(while {} {})", expr(cond), block(body)),
        StmtKind::For {
            var, iter, body, ..
        } => {
            let iter = match iter {
                ForIter::Map(m) => expr(m),
                ForIter::Range(a, b) => format!("(.. {} {})", expr(a), expr(b)),
            };
            format!("(for ${var} {iter} {})", block(body))
        }
        StmtKind::Return(None) => "(return)".to_string(),
        StmtKind::Return(Some(e)) => format!("(return {})", expr(e)),
        StmtKind::Break => "(break)".to_string(),
        StmtKind::Continue => "(continue)".to_string(),
        StmtKind::Block(b) => block(b),
    }
}

pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Str(s) => format!("\"{}\"", s.escape_ascii()),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Var(n) => format!("${n}"),
        ExprKind::Positional(n) => format!("${n}"),
        ExprKind::PositionalCount => "$#".to_string(),
        ExprKind::Map { name, keys } if keys.is_empty() => format!("@{name}"),
        ExprKind::Map { name, keys } => format!("@{name}[{}]", list(keys)),
        ExprKind::Ident(n) if n.is_empty() => "<error>".to_string(),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Call {
            name, args, bang, ..
        } => {
            let bang = if *bang { "!" } else { "" };
            if args.is_empty() {
                format!("({name}{bang})")
            } else {
                format!("({name}{bang} {})", list(args))
            }
        }
        ExprKind::Unary { op, expr: inner } => {
            let op = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "!",
                UnaryOp::BitNot => "~",
                UnaryOp::Deref => "*",
                UnaryOp::AddrOf => "&",
            };
            format!("({op} {})", expr(inner))
        }
        ExprKind::IncDec {
            increment,
            prefix,
            target,
        } => {
            let op = if *increment { "++" } else { "--" };
            let fix = if *prefix { "pre" } else { "post" };
            format!("({fix}{op} {})", expr(target))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), expr(lhs), expr(rhs))
        }
        ExprKind::Ternary { cond, then, els } => {
            format!("(? {} {} {})", expr(cond), expr(then), expr(els))
        }
        ExprKind::Cast { ty, expr: inner } => format!("(cast {} {})", ty_str(ty), expr(inner)),
        ExprKind::Field {
            base, name, arrow, ..
        } => {
            let op = if *arrow { "->" } else { "." };
            format!("({op} {} {name})", expr(base))
        }
        ExprKind::Index { base, index } => format!("([] {} {})", expr(base), expr(index)),
        ExprKind::Tuple(items) if items.is_empty() => "(tuple)".to_string(),
        ExprKind::Tuple(items) => format!("(tuple {})", list(items)),
        ExprKind::Record(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(n, v)| format!("({n} {})", expr(v)))
                .collect();
            format!("(record {})", fields.join(" "))
        }
        ExprKind::Block(b) => block(b),
        ExprKind::Sizeof(t) => format!("(sizeof {})", type_or_expr(t)),
        ExprKind::Offsetof { of, fields } => {
            format!("(offsetof {} {})", type_or_expr(of), fields.join("."))
        }
        ExprKind::Typeof(t) => format!("(typeof {})", type_or_expr(t)),
    }
}

fn list(items: &[Expr]) -> String {
    items.iter().map(expr).collect::<Vec<_>>().join(" ")
}

fn type_or_expr(t: &TypeOrExpr) -> String {
    match t {
        TypeOrExpr::Type(t) => ty_str(t),
        TypeOrExpr::Expr(e) => expr(e),
    }
}

/// A type in angle brackets, written in bpftrace's postfix syntax.
pub fn ty_str(t: &TypeExpr) -> String {
    format!("<{}>", ty_inner(t))
}

fn ty_inner(t: &TypeExpr) -> String {
    match &t.kind {
        TypeKind::Named(n) => n.clone(),
        TypeKind::Struct { keyword, name } => {
            let kw = match keyword {
                StructKeyword::Struct => "struct",
                StructKeyword::Union => "union",
                StructKeyword::Enum => "enum",
            };
            format!("{kw} {name}")
        }
        TypeKind::Pointer(inner) => format!("{}*", ty_inner(inner)),
        TypeKind::Array(inner, Some(n)) => format!("{}[{n}]", ty_inner(inner)),
        TypeKind::Array(inner, None) => format!("{}[]", ty_inner(inner)),
        TypeKind::Typeof(inner) => format!("typeof({})", type_or_expr(inner)),
    }
}
