//! Completion: what may be typed at the cursor, found from the text just before it and the
//! (possibly half-typed) tree around it.
//!
//! - In an attach point: probe types, then tracepoint categories and names, raw tracepoint
//!   names (from tracefs and BTF through `kernel`).
//! - `args.`: the fields of the probe in scope with their C types.
//! - `expr->` / `expr.`: the members of the kernel struct the expression has, from BTF. The
//!   type comes from sema itself, run on the text with a placeholder member at the cursor,
//!   so anything sema can type can be completed.
//! - `$`: the probe's variables; `@`: the script's maps; elsewhere builtins, functions
//!   (with their signatures), macros and keywords.

use kernel::btf::{BtfType, KernelBtf, TypeRef};
use kernel::KernelInfo;
use lsp_types::{CompletionItem, CompletionItemKind};
use syntax::ast::{Item, Probe};

use crate::builtins::BUILTINS;
use crate::document::{analyze, Document};
use crate::scope;
use crate::Kernel;

/// A member name no struct has: typed in at the cursor so a half-written `p->` parses.
const PLACEHOLDER: &str = "__beetrace_completion__";

const KEYWORDS: &[&str] = &[
    "if", "else", "while", "for", "unroll", "let", "return", "break", "continue",
];

pub fn complete(doc: &Document, kernel: &Kernel, offset: usize) -> Vec<CompletionItem> {
    let text = &doc.text;
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let mut word_start = offset;
    while word_start > 0 && is_word(bytes[word_start - 1]) {
        word_start -= 1;
    }
    let before = &text[..word_start];
    let script = &doc.parsed.script;
    let probe = scope::probe_at(script, text, offset);
    let in_code = scope::body_at(script, text, offset).is_some()
        || probe.is_some_and(|p| {
            p.attach_points
                .last()
                .is_some_and(|ap| offset > ap.span.end as usize)
        });
    if !in_code {
        return attach_points(text, offset, kernel);
    }
    if before.ends_with("args.")
        && !before[..before.len() - 5].ends_with(|c: char| is_word(c as u8))
    {
        return probe.map_or_else(Vec::new, |p| probe_args(p, kernel.info()));
    }
    if let Some(dot) = before
        .strip_suffix("->")
        .or_else(|| before.strip_suffix('.'))
    {
        let arrow = before.ends_with("->");
        return members(doc, kernel.info(), dot.len(), word_start, offset, arrow);
    }
    if before.ends_with('$') {
        return scope::body_at(script, text, offset)
            .map(scope::variables)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| item(&name, CompletionItemKind::VARIABLE, None))
            .collect();
    }
    if before.ends_with('@') {
        return scope::maps(script)
            .into_iter()
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, _)| item(&name, CompletionItemKind::VARIABLE, None))
            .collect();
    }
    let mut items: Vec<CompletionItem> = BUILTINS
        .iter()
        .map(|b| {
            let kind = if b.function {
                CompletionItemKind::FUNCTION
            } else {
                CompletionItemKind::VARIABLE
            };
            let mut i = item(b.name, kind, Some(b.signature.to_string()));
            i.documentation = Some(lsp_types::Documentation::String(b.doc.to_string()));
            i
        })
        .collect();
    for it in &script.items {
        if let Item::Macro(m) = it {
            items.push(item(
                &m.name,
                CompletionItemKind::FUNCTION,
                Some("macro".into()),
            ));
        }
    }
    items.extend(
        KEYWORDS
            .iter()
            .map(|k| item(k, CompletionItemKind::KEYWORD, None)),
    );
    items
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

/// Completion inside an attach point: the text from the start of the attach point to the
/// cursor decides which list.
fn attach_points(text: &str, offset: usize, kernel: &Kernel) -> Vec<CompletionItem> {
    let start = text[..offset]
        .rfind(|c: char| c.is_whitespace() || c == ',' || c == '}' || c == ';')
        .map_or(0, |i| i + 1);
    let parts: Vec<&str> = text[start..offset].split(':').collect();
    let provider = sema::probe_types()
        .iter()
        .find(|(full, short, _)| {
            *full == parts[0].to_ascii_lowercase() || (!short.is_empty() && *short == parts[0])
        })
        .map(|(full, ..)| *full);
    match (provider, parts.len()) {
        (_, 1) => {
            let mut items: Vec<CompletionItem> = sema::probe_types()
                .iter()
                .filter(|(.., supported)| *supported)
                .map(|(full, short, _)| {
                    let detail = (!short.is_empty()).then(|| format!("short: {short}"));
                    item(full, CompletionItemKind::MODULE, detail)
                })
                .collect();
            items.push(item("BEGIN", CompletionItemKind::MODULE, None));
            items.push(item("END", CompletionItemKind::MODULE, None));
            items
        }
        (Some("tracepoint"), 2) => {
            let mut categories: Vec<&str> = kernel
                .tracepoints()
                .iter()
                .map(|(c, _)| c.as_str())
                .collect();
            categories.dedup();
            categories
                .into_iter()
                .map(|c| item(c, CompletionItemKind::FOLDER, None))
                .collect()
        }
        (Some("tracepoint"), 3) => kernel
            .tracepoints()
            .iter()
            .filter(|(c, _)| c == parts[1])
            .map(|(c, n)| {
                item(
                    n,
                    CompletionItemKind::EVENT,
                    Some(format!("tracepoint:{c}:{n}")),
                )
            })
            .collect(),
        (Some("rawtracepoint"), 2) => kernel
            .raw_tracepoints()
            .iter()
            .map(|(module, name)| {
                let detail = module.as_ref().map(|m| format!("module {m}"));
                item(name, CompletionItemKind::EVENT, detail)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `args.`: the fields of the probe's (first) attach point, with their C types.
fn probe_args(probe: &Probe, kernel: &dyn KernelInfo) -> Vec<CompletionItem> {
    let Some(ap) = probe.attach_points.first() else {
        return Vec::new();
    };
    let parts = ap.parts();
    let provider = sema::probe_types()
        .iter()
        .find(|(full, short, _)| {
            *full == ap.provider().to_ascii_lowercase()
                || (!short.is_empty() && *short == ap.provider())
        })
        .map(|(full, ..)| *full);
    let fields: Vec<(String, String)> = match (provider, parts.as_slice()) {
        (Some("tracepoint"), [category, name]) => {
            let pattern = format!("{category}:{name}");
            let Some((c, n)) = kernel::matching_tracepoints(kernel, &pattern)
                .ok()
                .and_then(|found| found.into_iter().next())
            else {
                return Vec::new();
            };
            match kernel.tracepoint_format(&c, &n) {
                Ok(format) => format
                    .args()
                    .map(|f| (f.name.clone(), f.c_type.clone()))
                    .collect(),
                Err(_) => return Vec::new(),
            }
        }
        (Some("rawtracepoint"), [name]) | (Some("rawtracepoint"), [_, name]) => {
            let module = (parts.len() == 2).then_some(parts[0]);
            let Ok(btf) = kernel.btf() else {
                return Vec::new();
            };
            match btf.raw_tracepoint(module, name) {
                Ok(Some(tp)) => tp
                    .args
                    .iter()
                    .map(|a| (a.name.clone(), btf.c_spelling(a.ty)))
                    .collect(),
                _ => return Vec::new(),
            }
        }
        _ => return Vec::new(),
    };
    fields
        .into_iter()
        .map(|(name, c_type)| item(&name, CompletionItemKind::FIELD, Some(c_type)))
        .collect()
}

/// `base->` or `base.`: the members of the kernel struct `base` has (or points to).
fn members(
    doc: &Document,
    kernel: &dyn KernelInfo,
    dot: usize,
    word_start: usize,
    offset: usize,
    arrow: bool,
) -> Vec<CompletionItem> {
    let text = &doc.text;
    let patched = format!("{}{PLACEHOLDER}{}", &text[..word_start], &text[offset..]);
    let (script, _) = syntax::parse(&patched);
    let (analysis, _) = analyze(&script, kernel);
    let base = analysis
        .expr_types
        .iter()
        .filter(|(span, _)| span.end as usize == dot)
        .min_by_key(|(span, _)| span.start)
        .map(|(_, t)| t.ty);
    let composite = match (base, arrow) {
        (Some(sema::Type::Ptr { to }), true) => to,
        (Some(sema::Type::Object { ty }), false) => ty,
        _ => return Vec::new(),
    };
    let Ok(btf) = kernel.btf() else {
        return Vec::new();
    };
    struct_members(btf, composite)
        .into_iter()
        .map(|(name, c_type)| item(&name, CompletionItemKind::FIELD, Some(c_type)))
        .collect()
}

/// Member names (anonymous members' own members included, as C reaches them) and C types.
fn struct_members(btf: &KernelBtf, r: TypeRef) -> Vec<(String, String)> {
    if !matches!(btf.resolve(r), Ok((_, BtfType::Struct(_)))) {
        return Vec::new();
    }
    btf.member_names(r)
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let c_type = match btf.member(r, &name) {
                Ok(Some(m)) => btf.c_spelling(m.ty),
                _ => String::new(),
            };
            (name, c_type)
        })
        .collect()
}
