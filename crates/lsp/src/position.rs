//! Byte offsets of the script ↔ LSP positions (line, UTF-16 column: the protocol's default
//! encoding, which every client supports).

use lsp_types::{Position, Range};
use syntax::Span;

/// Where each line of one text starts.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let column: usize = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().map(char::len_utf16).sum());
        Position::new(line as u32, column as u32)
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range::new(
            self.position(text, span.start as usize),
            self.position(text, span.end as usize),
        )
    }

    /// The byte offset of `pos`, clamped to its line (and to the text).
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map_or(text.len(), |&e| e - 1);
        let mut units = 0usize;
        for (i, c) in text[start..end].char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip() {
        let text = "a\n€x😀y\n";
        let index = LineIndex::new(text);
        // `y` is after one 3-byte (1 unit) and one 4-byte (2 units) character and `x`.
        let y = text.find('y').unwrap();
        assert_eq!(index.position(text, y), Position::new(1, 4));
        assert_eq!(index.offset(text, Position::new(1, 4)), y);
        assert_eq!(index.offset(text, Position::new(1, 99)), text.len() - 1);
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
    }
}
