//! Hover: the type of the innermost expression under the cursor (as sema typed it), and the
//! documentation line of a builtin or function.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::builtins;
use crate::document::Document;

/// Expressions longer than this are shortened in the hover text.
const MAX_SHOWN: usize = 60;

pub fn hover(doc: &Document, kernel: &dyn kernel::KernelInfo, offset: usize) -> Option<Hover> {
    let text = &doc.text;
    // On a sigil, the name after it is meant.
    let offset = on_sigil(text, offset);
    let typed = doc
        .analysis
        .expr_types
        .iter()
        .filter(|(span, t)| {
            (span.start as usize) <= offset
                && offset < span.end as usize
                && t.ty != sema::Type::None
        })
        .min_by_key(|(span, _)| span.len());
    let word = word_at(text, offset);
    let builtin = word.and_then(|(start, end)| {
        // `$pid` and `@pid` are names of the script, not the builtin.
        let sigil = start > 0 && matches!(text.as_bytes()[start - 1], b'$' | b'@');
        (!sigil)
            .then(|| builtins::find(&text[start..end]))
            .flatten()
    });
    let mut parts = Vec::new();
    let mut range = None;
    if let Some((span, t)) = typed {
        let mut shown: String = text[span.start as usize..span.end as usize].to_string();
        if shown.chars().count() > MAX_SHOWN {
            shown = shown.chars().take(MAX_SHOWN).collect::<String>() + "…";
        }
        parts.push(format!("```bpftrace\n{shown}: {}\n```", t.spell(kernel)));
        range = Some(doc.index.range(text, *span));
    }
    if let Some(b) = builtin {
        parts.push(format!("`{}`: {}", b.signature, b.doc));
        if range.is_none() {
            let (start, end) = word?;
            range = Some(doc.index.range(text, syntax::Span::new(start, end)));
        }
    }
    if typed.is_none() {
        if let Some(map) = map_at(doc, offset) {
            parts.push(map);
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: parts.join("\n\n"),
        }),
        range,
    })
}

/// The identifier around `offset`, as a byte range.
pub fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let offset = offset.min(bytes.len());
    let mut start = offset;
    while start > 0 && is_word(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = offset;
    while end < bytes.len() && is_word(bytes[end]) {
        end += 1;
    }
    (end > start).then_some((start, end))
}

/// `offset` moved past a `$` or `@` it points at.
pub fn on_sigil(text: &str, offset: usize) -> usize {
    match text.as_bytes().get(offset) {
        Some(b'$' | b'@') => offset + 1,
        _ => offset,
    }
}

/// `@name[key types]: value type` for the map named under the cursor (an assignment's
/// target has no expression type of its own).
fn map_at(doc: &Document, offset: usize) -> Option<String> {
    let text = &doc.text;
    let (start, end) = word_at(text, offset).unwrap_or((offset, offset));
    if start == 0 || text.as_bytes()[start - 1] != b'@' {
        return None;
    }
    let name = &text[start..end];
    let map = doc.analysis.maps.iter().find(|m| m.name == name)?;
    Some(format!(
        "```bpftrace\n@{name}{}\n```",
        crate::navigate::map_detail(map)
    ))
}
