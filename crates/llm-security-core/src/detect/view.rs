//! A normalized view of a text with a map back to the original bytes.
//!
//! Rules that match meaning rather than exact bytes run on the view: lower case, invisible
//! and format characters removed, whitespace runs collapsed (to `\n` when the run held a line
//! break, else to one space). Every view byte remembers the original byte where its character
//! started, so a match in the view maps back to a span of the original.

use crate::threat::Span;

/// Format and invisible characters that carry no visible text and are dropped from the view.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The normalized text and its offset map.
#[derive(Debug)]
pub(crate) struct View<'a> {
    original: &'a str,
    text: String,
    /// For each byte of `text`, the original byte offset of the character it came from.
    starts: Vec<u32>,
}

impl<'a> View<'a> {
    /// Builds the normalized view of `original`, which must be shorter than 4 GiB (the engine
    /// refuses longer inputs before it gets here).
    pub(crate) fn normalized(original: &'a str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut starts = Vec::with_capacity(original.len());
        let mut pending_space: Option<(u32, bool)> = None;
        for (pos, c) in original.char_indices() {
            let pos = pos as u32;
            if c.is_whitespace() {
                let newline = c == '\n' || c == '\r';
                pending_space = Some(match pending_space {
                    Some((start, nl)) => (start, nl || newline),
                    None => (pos, newline),
                });
                continue;
            }
            if is_invisible(c) {
                continue;
            }
            if let Some((start, newline)) = pending_space.take()
                && !text.is_empty()
            {
                text.push(if newline { '\n' } else { ' ' });
                starts.push(start);
            }
            if c.is_ascii() {
                text.push(c.to_ascii_lowercase());
                starts.push(pos);
            } else {
                for lc in c.to_lowercase() {
                    let before = text.len();
                    text.push(lc);
                    starts.extend(std::iter::repeat_n(pos, text.len() - before));
                }
            }
        }
        Self {
            original,
            text,
            starts,
        }
    }

    /// The normalized text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Maps the view range `[start, end)` (non-empty, on view char boundaries) back to the
    /// smallest original span that covers it.
    pub(crate) fn to_original(&self, start: usize, end: usize) -> Span {
        let s = self.starts[start] as usize;
        let last = self.starts[end - 1] as usize;
        let e = last
            + self.original[last..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
        Span::new(s, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_space_and_invisibles_and_maps_back() {
        let original = "Ig\u{200B}NORE   all\n\n PREVIOUS";
        let view = View::normalized(original);
        assert_eq!(view.text(), "ignore all\nprevious");
        let at = view.text().find("all").unwrap();
        let span = view.to_original(at, view.text().len());
        assert_eq!(&original[span.start..span.end], "all\n\n PREVIOUS");
        let whole = view.to_original(0, 6);
        assert_eq!(&original[whole.start..whole.end], "Ig\u{200B}NORE");
    }

    #[test]
    fn multi_byte_lowercase_maps_to_whole_character() {
        let original = "xİy";
        let view = View::normalized(original);
        let span = view.to_original(1, view.text().len() - 1);
        assert_eq!(&original[span.start..span.end], "İ");
    }
}
