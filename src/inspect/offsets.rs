//! Offsets: turns the line/column positions of `proc-macro2` spans into byte offsets into the source text; it knows nothing about Rust syntax.
//!
//! `proc-macro2` (feature `span-locations`) reports a [`LineColumn`] whose
//! `line` is 1-based and whose `column` is 0-based and counted in `char`s, not
//! bytes. A table of line starts plus char counting along the line gives the
//! byte offset, which is what the edits need.

use std::ops::Range;

use proc_macro2::LineColumn;
use syn::spanned::Spanned;

/// Byte offsets of the starts of the lines of one source text.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    /// Byte offset of the start of each line; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
    /// Length of a leading byte order mark, which `syn::parse_file` strips
    /// before lexing: columns on line 1 do not count it.
    bom_len: usize,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let bom_len = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        LineIndex {
            line_starts,
            bom_len,
        }
    }

    /// Byte offset in `text` (the text this index was built from) of a
    /// span position.
    ///
    /// A position past the end of its line (which `proc-macro2` does not
    /// produce) is clamped to the end of that line.
    pub(crate) fn offset(&self, text: &str, at: LineColumn) -> usize {
        let line = at.line.clamp(1, self.line_starts.len());
        let mut start = self.line_starts[line - 1];
        if line == 1 {
            start += self.bom_len;
        }
        let rest = &text[start..];
        match rest.char_indices().nth(at.column) {
            Some((i, _)) => start + i,
            None => text.len(),
        }
    }

    /// Byte offset of the start of the line (1-based) `line`.
    pub(crate) fn line_start(&self, line: usize) -> usize {
        self.line_starts[line.clamp(1, self.line_starts.len()) - 1]
    }

    /// Byte offset of the start of the line after the one holding `offset`,
    /// or the end of the text when that line is the last one.
    pub(crate) fn next_line_start(&self, text: &str, offset: usize) -> usize {
        match self.line_starts.iter().find(|&&start| start > offset) {
            Some(&start) => start,
            None => text.len(),
        }
    }

    /// Byte range of the source text of a syntax node, from the start of its
    /// first token to the end of its last one.
    pub(crate) fn range_of(&self, text: &str, node: &impl Spanned) -> Range<usize> {
        let (start, end) = span_bounds(node);
        self.offset(text, start)..self.offset(text, end)
    }
}

/// Start of the first token and end of the last token of a syntax node
/// (`syn` joins the spans of its first and last tokens; a delimited group's
/// span covers both delimiters).
pub(crate) fn span_bounds(node: &impl Spanned) -> (LineColumn, LineColumn) {
    let span = node.span();
    (span.start(), span.end())
}

/// 1-based line of the first token of a syntax node, for messages.
pub(crate) fn line_of(node: &impl Spanned) -> usize {
    span_bounds(node).0.line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> LineColumn {
        LineColumn { line, column }
    }

    #[test]
    fn ascii_positions_map_to_bytes() {
        let text = "ab\ncd\n\nef";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, at(1, 0)), 0);
        assert_eq!(index.offset(text, at(1, 2)), 2);
        assert_eq!(index.offset(text, at(2, 1)), 4);
        assert_eq!(index.offset(text, at(3, 0)), 6);
        assert_eq!(index.offset(text, at(4, 2)), 9);
        assert_eq!(index.line_start(4), 7);
        assert_eq!(index.next_line_start(text, 4), 6);
        assert_eq!(index.next_line_start(text, 8), 9);
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        let text = "// é → ü\nlet x = 1; // ✓ done\n";
        let index = LineIndex::new(text);
        // `→` is 3 bytes, `é` and `ü` 2 each: char column 8 is the `\n`.
        assert_eq!(index.offset(text, at(1, 8)), text.find('\n').unwrap());
        let line2 = text.find("let").unwrap();
        assert_eq!(
            index.offset(text, at(2, 16)),
            line2 + "let x = 1; // ✓ ".len()
        );
        assert_eq!(&text[index.offset(text, at(2, 16))..], "done\n");
    }

    #[test]
    fn spans_of_parsed_code_slice_exactly() {
        let text = "// ünïcödé → comment\nfn main() { let s = Svc::new(a, \"→\", c); }\n";
        let file = syn::parse_file(text).unwrap();
        let index = LineIndex::new(text);
        let syn::Item::Fn(f) = &file.items[0] else {
            panic!("not a fn")
        };
        let syn::Stmt::Local(local) = &f.block.stmts[0] else {
            panic!("not a let")
        };
        let init = &local.init.as_ref().unwrap().expr;
        assert_eq!(&text[index.range_of(text, init)], "Svc::new(a, \"→\", c)");
        let syn::Expr::Call(call) = &**init else {
            panic!("not a call")
        };
        assert_eq!(&text[index.range_of(text, &call.args[2])], "c");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_on_line_one() {
        let text = "\u{feff}fn f() {}\n";
        let file = syn::parse_file(text).unwrap();
        let index = LineIndex::new(text);
        assert_eq!(&text[index.range_of(text, &file.items[0])], "fn f() {}");
    }
}
