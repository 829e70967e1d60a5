//! A normalized view of a text with a map back to the original bytes.
//!
//! Rules that match meaning rather than exact bytes run on the view: lower case, invisible
//! and format characters removed, whitespace runs collapsed (to `\n` when the run held a line
//! break, else to one space). Every view byte remembers the original byte where its character
//! started, so a match in the view maps back to a span of the original.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::unicode::{fold_compatibility, is_confusable_script, is_latin, latin_lookalike};
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

/// Byte ranges of words that mix Latin letters with Latin look-alikes of another script.
fn mixed_script_words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // A line break ends every word, and a word of ASCII letters mixes nothing: only lines with
    // non-ASCII characters are read.
    let mut line_start = 0;
    while line_start < text.len() {
        let line_end = memchr::memchr(b'\n', &text.as_bytes()[line_start..])
            .map_or(text.len(), |i| line_start + i);
        if !text[line_start..line_end].is_ascii() {
            mixed_in_line(text, line_start, line_end, &mut out);
        }
        line_start = line_end + 1;
    }
    out
}

/// [`mixed_script_words`] of `text[from..to]`, a line.
fn mixed_in_line(text: &str, from: usize, to: usize, out: &mut Vec<(usize, usize)>) {
    let mut start: Option<usize> = None;
    let mut latin = false;
    let mut other = false;
    for (pos, c) in text[from..to]
        .char_indices()
        .map(|(p, c)| (from + p, c))
        .chain(std::iter::once((to, ' ')))
    {
        // Only letters that can take part in a Latin look-alike need a table-free test here.
        if is_latin(c)
            || is_confusable_script(c)
            || c.is_ascii_digit()
            || (start.is_some() && is_combining_mark(c))
        {
            start.get_or_insert(pos);
            latin |= is_latin(c);
            other |= is_confusable_script(c);
        } else if let Some(s) = start.take() {
            if latin
                && other
                && text[s..pos]
                    .chars()
                    .any(|c| is_confusable_script(c) && latin_lookalike(c).is_some())
            {
                out.push((s, pos));
            }
            latin = false;
            other = false;
        }
    }
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
    ///
    /// Beyond case, whitespace and invisible characters, non-ASCII text is folded towards the
    /// Latin letters an attacker disguised: fullwidth, mathematical and enclosed letters become
    /// ASCII, diacritics and stacked marks on Latin letters are dropped, compatibility forms
    /// (ligatures) are decomposed, and inside a word that mixes Latin with look-alike letters of
    /// another script those letters become their Latin look-alikes. Words written in one script
    /// are left in that script.
    pub(crate) fn normalized(original: &'a str) -> Self {
        if original.is_ascii() {
            return Self::normalized_ascii(original);
        }
        Self::normalized_any(original)
    }

    /// The general path, for any text.
    fn normalized_any(original: &'a str) -> Self {
        let mut view = Self {
            original,
            text: String::with_capacity(original.len()),
            starts: Vec::with_capacity(original.len()),
        };
        let mixed = if original.is_ascii() {
            Vec::new()
        } else {
            mixed_script_words(original)
        };
        let mut mixed_iter = mixed.iter().peekable();
        let mut pending_space: Option<(u32, bool)> = None;
        let mut last_ascii = false;
        for (pos, c) in original.char_indices() {
            let at = pos as u32;
            // ASCII first: most of a document is, and it needs no table.
            if c.is_ascii() && !c.is_ascii_whitespace() && c != '\x0b' {
                if let Some((start, newline)) = pending_space.take()
                    && !view.text.is_empty()
                {
                    view.push_ascii(if newline { b'\n' } else { b' ' }, start);
                }
                view.push_ascii(c.to_ascii_lowercase() as u8, at);
                last_ascii = true;
                continue;
            }
            if c.is_whitespace() {
                let newline = c == '\n' || c == '\r';
                pending_space = Some(match pending_space {
                    Some((start, nl)) => (start, nl || newline),
                    None => (at, newline),
                });
                continue;
            }
            if is_invisible(c) {
                continue;
            }
            if !c.is_ascii() && last_ascii && is_combining_mark(c) {
                continue; // diacritics and Zalgo stacks on Latin letters
            }
            if let Some((start, newline)) = pending_space.take()
                && !view.text.is_empty()
            {
                view.push(if newline { '\n' } else { ' ' }, start);
            }
            while mixed_iter.peek().is_some_and(|&&(_, e)| e <= pos) {
                mixed_iter.next();
            }
            let in_mixed = mixed_iter.peek().is_some_and(|&&(s, _)| s <= pos);
            last_ascii = view.fold(c, at, in_mixed);
        }
        view
    }

    /// The same normalization for ASCII text, byte by byte.
    fn normalized_ascii(original: &'a str) -> Self {
        let bytes = original.as_bytes();
        let mut text = Vec::with_capacity(bytes.len());
        let mut starts = Vec::with_capacity(bytes.len());
        let mut pending: Option<(u32, bool)> = None;
        for (pos, &b) in bytes.iter().enumerate() {
            let at = pos as u32;
            if b.is_ascii_whitespace() || b == 0x0b {
                let newline = b == b'\n' || b == b'\r';
                pending = Some(match pending {
                    Some((start, nl)) => (start, nl || newline),
                    None => (at, newline),
                });
                continue;
            }
            if let Some((start, newline)) = pending.take()
                && !text.is_empty()
            {
                text.push(if newline { b'\n' } else { b' ' });
                starts.push(start);
            }
            text.push(b.to_ascii_lowercase());
            starts.push(at);
        }
        let text = String::from_utf8(text).unwrap_or_default();
        Self {
            original,
            text,
            starts,
        }
    }

    /// Appends one ASCII byte.
    fn push_ascii(&mut self, b: u8, at: u32) {
        debug_assert!(b.is_ascii());
        self.text.push(char::from(b));
        self.starts.push(at);
    }

    fn push(&mut self, c: char, at: u32) {
        let before = self.text.len();
        self.text.push(c);
        self.starts
            .extend(std::iter::repeat_n(at, self.text.len() - before));
    }

    /// Appends the folded form of the non-ASCII `c`; returns whether it became ASCII.
    fn fold(&mut self, c: char, at: u32, in_mixed_word: bool) -> bool {
        if let Some(a) = fold_compatibility(c) {
            self.push(a.to_ascii_lowercase(), at);
            return true;
        }
        if in_mixed_word && let Some(a) = latin_lookalike(c) {
            self.push(a.to_ascii_lowercase(), at);
            return true;
        }
        // Compatibility decomposition: accents split off, ligatures and superscripts spelled out.
        let mut parts = ['\0'; 8];
        let mut n = 0;
        decompose_compatible(c, |d| {
            if n < parts.len() {
                parts[n] = d;
            }
            n += 1;
        });
        let parts = &parts[..n.min(parts.len())];
        let kept = || parts.iter().copied().filter(|&d| !is_combining_mark(d));
        if n <= 8 && parts != [c] && kept().next().is_some() && kept().all(|d| d.is_ascii()) {
            for d in kept() {
                self.push(d.to_ascii_lowercase(), at);
            }
            return true;
        }
        for l in c.to_lowercase() {
            self.push(l, at);
        }
        false
    }

    /// The text this view was made from.
    pub(crate) fn original(&self) -> &'a str {
        self.original
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
    fn folds_disguised_latin_but_keeps_single_script_words() {
        let view = View::normalized("Ｉｇｎｏｒｅ ïgnörë i\u{0338}\u{0336}g 𝐚𝐥𝐥 pаypal Москва ﬁle");
        assert_eq!(view.text(), "ignore ignore ig all paypal москва file");
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_matches_the_general_path(text in "[ -~\t\n\r\x0b\x0c\x00-\x1f]{0,200}") {
            let fast = View::normalized_ascii(&text);
            let general = View::normalized_any(&text);
            proptest::prop_assert_eq!(fast.text(), general.text());
            proptest::prop_assert_eq!(&fast.starts, &general.starts);
        }
    }

    #[test]
    fn multi_byte_lowercase_maps_to_whole_character() {
        let original = "xİy";
        let view = View::normalized(original);
        let span = view.to_original(1, view.text().len() - 1);
        assert_eq!(&original[span.start..span.end], "İ");
    }
}
