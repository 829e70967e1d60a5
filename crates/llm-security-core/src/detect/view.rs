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

/// For each byte of a view, the original byte offset of the character it came from, kept as
/// pieces: most of a view is original text copied byte for byte, so one piece covers a whole
/// stretch of it, where a table of one offset per byte took four bytes per byte.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offsets {
    /// `(view, original, copied)`, sorted by `view`: from view byte `view` to the next piece,
    /// byte `view + k` came from original byte `original + k` when `copied`, else every byte
    /// came from the one character at `original`.
    pieces: Vec<(u32, u32, bool)>,
}

impl Offsets {
    /// View byte `view` is original byte `original`, copied.
    fn copied(&mut self, view: u32, original: u32) {
        match self.pieces.last() {
            Some(&(v, o, true)) if o + (view - v) == original => {}
            _ => self.pieces.push((view, original, true)),
        }
    }

    /// View bytes from `view` on (until the next piece) came from the character at `original`.
    fn character(&mut self, view: u32, original: u32) {
        self.pieces.push((view, original, false));
    }

    /// The original offset of the character view byte `at` came from.
    fn get(&self, at: usize) -> usize {
        let i = self
            .pieces
            .partition_point(|&(v, _, _)| v as usize <= at)
            .saturating_sub(1);
        match self.pieces.get(i) {
            Some(&(v, o, true)) => o as usize + (at - v as usize),
            Some(&(_, o, false)) => o as usize,
            None => 0,
        }
    }
}

/// The normalized text and its offset map.
#[derive(Debug)]
pub(crate) struct View<'a> {
    original: &'a str,
    text: String,
    /// Where each byte of `text` came from.
    offsets: Offsets,
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
            offsets: Offsets::default(),
        };
        let mixed = if original.is_ascii() {
            Vec::new()
        } else {
            mixed_script_words(original)
        };
        let mut mixed_iter = mixed.iter().peekable();
        let mut pending_space: Option<(u32, bool)> = None;
        let mut last_ascii = false;
        let bytes = original.as_bytes();
        let mut pos = 0;
        while pos < bytes.len() {
            let at = pos as u32;
            // ASCII first: most of a document is, and it needs no table. A run of ASCII
            // non-whitespace bytes is copied whole.
            let ascii_word = |b: u8| b.is_ascii() && !b.is_ascii_whitespace() && b != 0x0b;
            if ascii_word(bytes[pos]) {
                if let Some((start, newline)) = pending_space.take()
                    && !view.text.is_empty()
                {
                    view.push_ascii(if newline { b'\n' } else { b' ' }, start);
                }
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| !ascii_word(b))
                    .map_or(bytes.len(), |n| pos + n);
                view.offsets.copied(view.text.len() as u32, at);
                let from = view.text.len();
                view.text.push_str(&original[pos..end]);
                view.text[from..].make_ascii_lowercase();
                last_ascii = true;
                pos = end;
                continue;
            }
            let Some(c) = original[pos..].chars().next() else {
                break;
            };
            pos += c.len_utf8();
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
            while mixed_iter.peek().is_some_and(|&&(_, e)| e <= at as usize) {
                mixed_iter.next();
            }
            let in_mixed = mixed_iter.peek().is_some_and(|&&(s, _)| s <= at as usize);
            last_ascii = view.fold(c, at, in_mixed);
        }
        view
    }

    /// The same normalization for ASCII text: stretches between whitespace runs are copied
    /// whole, then lower-cased and their lone whitespace bytes mapped in one pass.
    fn normalized_ascii(original: &'a str) -> Self {
        let bytes = original.as_bytes();
        let is_space = |b: u8| b.is_ascii_whitespace() || b == 0x0b;
        let mut text = Vec::with_capacity(bytes.len());
        let mut offsets = Offsets::default();
        let mut i = bytes
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(bytes.len());
        while i < bytes.len() {
            // A stretch: non-whitespace bytes and lone whitespace bytes, copied as they are.
            let start = i;
            while i < bytes.len()
                && !(is_space(bytes[i]) && bytes.get(i + 1).is_none_or(|&b| is_space(b)))
            {
                i += 1;
            }
            offsets.copied(text.len() as u32, start as u32);
            text.extend_from_slice(&bytes[start..i]);
            // A run of two or more whitespace bytes (or one at the end): one space, or a
            // newline if the run holds one, where the run starts; none at the end of the text.
            let run = i;
            let mut newline = false;
            while i < bytes.len() && is_space(bytes[i]) {
                newline |= bytes[i] == b'\n' || bytes[i] == b'\r';
                i += 1;
            }
            if i > run && i < bytes.len() {
                offsets.copied(text.len() as u32, run as u32);
                text.push(if newline { b'\n' } else { b' ' });
            }
        }
        for b in &mut text {
            *b = match *b {
                b'\r' => b'\n',
                b'\t' | 0x0b | 0x0c => b' ',
                other => other.to_ascii_lowercase(),
            };
        }
        let text = String::from_utf8(text).unwrap_or_default();
        Self {
            original,
            text,
            offsets,
        }
    }

    /// Appends one ASCII byte.
    fn push_ascii(&mut self, b: u8, at: u32) {
        debug_assert!(b.is_ascii());
        self.offsets.copied(self.text.len() as u32, at);
        self.text.push(char::from(b));
    }

    fn push(&mut self, c: char, at: u32) {
        if c.is_ascii() {
            self.offsets.copied(self.text.len() as u32, at);
        } else {
            self.offsets.character(self.text.len() as u32, at);
        }
        self.text.push(c);
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
        let s = self.offsets.get(start);
        let last = self.offsets.get(end - 1);
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
            let every = |v: &View<'_>| (0..v.text().len()).map(|i| v.offsets.get(i)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(every(&fast), every(&general));
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
