//! Hover: the type of the innermost expression under the cursor (as sema typed it), and the
//! documentation line of a builtin or function.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::builtins;
use crate::document::Document;

/// Expressions longer than this are shortened in the hover text.
const MAX_SHOWN: usize = 60;

pub fn hover(doc: &Document, kernel: &dyn kernel::KernelInfo, offset: usize) -> Option<Hover> {
    let text = &doc.text;
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
