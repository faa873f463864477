//! Go to definition (`$var`, `@map`, macros) and the document outline (probes, macros, maps).

use lsp_types::{DocumentSymbol, SymbolKind};
use syntax::ast::Item;
use syntax::Span;

use crate::document::Document;
use crate::hover::word_at;
use crate::scope;

/// Where the name under the cursor is defined.
pub fn definition(doc: &Document, offset: usize) -> Option<Span> {
    let text = &doc.text;
    let script = &doc.parsed.script;
    let bytes = text.as_bytes();
    let offset = crate::hover::on_sigil(text, offset);
    let (start, end) = word_at(text, offset).unwrap_or((offset, offset));
    let name = &text[start..end];
    let sigil = if start > 0 { bytes[start - 1] } else { 0 };
    // The anonymous map `@` has the empty name.
    if sigil == b'@' {
        return scope::maps(script)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, span)| span);
    }
    if sigil == b'$' {
        let body = scope::body_at(script, text, offset)?;
        return scope::variables(body)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, span)| span);
    }
    script.items.iter().find_map(|item| match item {
        Item::Macro(m) if m.name == name => Some(m.name_span),
        _ => None,
    })
}

/// The outline: each probe (by its attach points), macro and map.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be given, though deprecated.
pub fn symbols(doc: &Document) -> Vec<DocumentSymbol> {
    let text = &doc.text;
    let range = |span: Span| doc.index.range(text, span);
    let symbol =
        |name: String, detail: Option<String>, kind, span: Span, name_span: Span| DocumentSymbol {
            name,
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: range(span),
            selection_range: range(name_span),
            children: None,
        };
    let mut out = Vec::new();
    for item in &doc.parsed.script.items {
        match item {
            Item::Probe(p) if !p.attach_points.is_empty() => {
                let names: Vec<&str> = p.attach_points.iter().map(|a| a.text.as_str()).collect();
                let first = p.attach_points[0].span;
                let last = p.attach_points[p.attach_points.len() - 1].span;
                out.push(symbol(
                    names.join(", "),
                    None,
                    SymbolKind::EVENT,
                    p.span,
                    first.to(last),
                ));
            }
            Item::Macro(m) => out.push(symbol(
                m.name.clone(),
                Some("macro".to_string()),
                SymbolKind::FUNCTION,
                m.span,
                m.name_span,
            )),
            _ => {}
        }
    }
    for (name, span) in scope::maps(&doc.parsed.script) {
        let detail = doc
            .analysis
            .maps
            .iter()
            .find(|m| m.name == name)
            .map(|m| map_detail(m).trim_start_matches(": ").to_string());
        out.push(symbol(
            format!("@{name}"),
            detail,
            SymbolKind::VARIABLE,
            span,
            span,
        ));
    }
    out
}

/// `[uint32, string[16]]: count` style description of a map's layout.
pub fn map_detail(m: &sema::maps::MapInfo) -> String {
    let keys: Vec<String> = m.key.iter().map(|k| k.to_string()).collect();
    let value = match &m.value {
        sema::maps::MapValue::Plain(t) => t.to_string(),
        other => format!("{other:?}")
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("")
            .to_lowercase(),
    };
    if keys.is_empty() {
        format!(": {value}")
    } else {
        format!("[{}]: {value}", keys.join(", "))
    }
}
