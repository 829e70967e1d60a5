//! A normalized view of a text with a map back to the original bytes.
//!
//! Rules that match meaning rather than exact bytes run on the view: lower case, invisible
//! and format characters removed, whitespace runs collapsed (to `\n` when the run held a line
//! break, else to one space). Every view byte remembers the original byte where its character
//! started, so a match in the view maps back to a span of the original.

use unicode_normalization::char::decompose_compatible;

use super::chars::{
    Props, is_combining_mark, is_confusable_script, is_dropped_from_view, is_whitespace,
};
use super::unicode::{fold_compatibility, latin_lookalike};
use crate::threat::Span;

/// The offset of the first non-ASCII byte of `bytes` from `from` on (or the length): 32 bytes
/// at a time with a vectorized test, then byte by byte in the block that has one.
pub(crate) fn next_non_ascii(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(block) = bytes.get(at..at + 32) {
        if !block.is_ascii() {
            break;
        }
        at += 32;
    }
    bytes[at..]
        .iter()
        .position(|b| !b.is_ascii())
        .map_or(bytes.len(), |n| at + n)
}

/// Byte ranges of words that mix Latin letters with Latin look-alikes of another script.
///
/// Such a word holds a letter of a script with look-alikes, which is not ASCII: only the
/// words around those letters are read, found from the text's non-ASCII characters. A word is
/// a run of Latin letters, letters of those scripts, ASCII digits and combining marks, which
/// do not start one.
fn mixed_script_words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        at = next_non_ascii(bytes, at);
        let Some(c) = text[at..].chars().next() else {
            return out;
        };
        if !Props::of(c).is_confusable_script() {
            at += c.len_utf8();
            continue;
        }
        // Back to the word's first letter, across marks only where a letter precedes them.
        let mut start = at;
        for (p, c) in text[..at].char_indices().rev() {
            let props = Props::of(c);
            if is_word_letter(c, props) {
                start = p;
            } else if !props.is_combining_mark() {
                break;
            }
        }
        let end = text[at..]
            .char_indices()
            .find(|&(_, c)| {
                let props = Props::of(c);
                !(is_word_letter(c, props) || props.is_combining_mark())
            })
            .map_or(text.len(), |(p, _)| at + p);
        let word = &text[start..end];
        if word.chars().any(|c| Props::of(c).is_latin())
            && word
                .chars()
                .any(|c| is_confusable_script(c) && latin_lookalike(c).is_some())
        {
            out.push((start, end));
        }
        at = end;
    }
}

/// Whether `c` (with properties `props`) is a letter or digit of a word that
/// [`mixed_script_words`] reads.
fn is_word_letter(c: char, props: Props) -> bool {
    props.is_latin() || props.is_confusable_script() || c.is_ascii_digit()
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

/// A view under construction: the text as bytes (copied ASCII is lower-cased and its lone
/// whitespace bytes mapped in one pass at the end) and the offset map.
struct Builder<'a> {
    original: &'a str,
    text: Vec<u8>,
    offsets: Offsets,
    /// A whitespace run not yet written: where it started, and whether it held a line break.
    pending: Option<(u32, bool)>,
    /// Whether the last character written was (or became) ASCII: combining marks after it are
    /// diacritics or Zalgo stacks on a Latin letter, and are dropped.
    last_ascii: bool,
}

/// The first `i` from `from` on where a whitespace run of `bytes` (ASCII) starts: two whitespace
/// bytes in a row, or one at the end; `bytes.len()` if there is none. Eight bytes at a time,
/// it skips stretches where no two neighbours are both at most `0x20`, as every whitespace
/// byte is.
fn next_run_start(bytes: &[u8], from: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte that is at most 0x20 (the bytes are ASCII: nothing carries).
    let low = |x: u64| !(x + 0x5F5F_5F5F_5F5F_5F5F) & HIGH;
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let end = bytes.len();
    let mut i = from;
    loop {
        while i + 9 <= end && low(word(i)) & low(word(i + 1)) == 0 {
            i += 8;
        }
        for at in i..(i + 8).min(end) {
            if is_space(bytes[at]) && bytes.get(at + 1).is_none_or(|&b| is_space(b)) {
                return at;
            }
        }
        i += 8;
        if i >= end {
            return end;
        }
    }
}

/// Whitespace for the view: ASCII whitespace and the vertical tab.
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

impl<'a> Builder<'a> {
    fn new(original: &'a str) -> Self {
        Self {
            original,
            text: Vec::with_capacity(original.len()),
            offsets: Offsets::default(),
            pending: None,
            last_ascii: false,
        }
    }

    /// Writes the pending whitespace run, if any and if the view has text before it: a line
    /// break if the run held one, else one space.
    fn flush_space(&mut self) {
        if let Some((start, newline)) = self.pending.take()
            && !self.text.is_empty()
        {
            self.offsets.copied(self.text.len() as u32, start);
            self.text.push(if newline { b'\n' } else { b' ' });
        }
    }

    /// Adds whitespace starting at `start` to the pending run.
    fn space(&mut self, start: u32, newline: bool) {
        self.pending = Some(match self.pending {
            Some((s, nl)) => (s, nl || newline),
            None => (start, newline),
        });
    }

    /// The ASCII bytes `original[from..to]`. A stretch of non-whitespace bytes and the lone
    /// whitespace bytes between them is copied whole; longer whitespace runs, and one at `to`
    /// (the character after it may be whitespace too), go through the pending run.
    fn ascii(&mut self, from: usize, to: usize) {
        let bytes = &self.original.as_bytes()[..to];
        let run_starts =
            |i: usize| is_space(bytes[i]) && bytes.get(i + 1).is_none_or(|&b| is_space(b));
        let mut i = from;
        while i < to {
            if is_space(bytes[i])
                && (run_starts(i) || self.pending.is_some() || self.text.is_empty())
            {
                let start = i;
                let mut newline = false;
                while i < to && is_space(bytes[i]) {
                    newline |= bytes[i] == b'\n' || bytes[i] == b'\r';
                    i += 1;
                }
                self.space(start as u32, newline);
                continue;
            }
            self.flush_space();
            let start = i;
            i = next_run_start(bytes, i);
            self.offsets.copied(self.text.len() as u32, start as u32);
            self.text.extend_from_slice(&bytes[start..i]);
            self.last_ascii = true;
        }
    }

    /// One non-ASCII character at original offset `at`.
    fn other(&mut self, c: char, at: u32, in_mixed_word: bool) {
        if is_whitespace(c) {
            self.space(at, false);
        } else if is_dropped_from_view(c) || (self.last_ascii && is_combining_mark(c)) {
            // Dropped: invisible, or a diacritic (or a Zalgo stack) on a Latin letter.
        } else {
            self.flush_space();
            self.last_ascii = self.fold(c, at, in_mixed_word);
        }
    }

    fn push(&mut self, c: char, at: u32) {
        if c.is_ascii() {
            self.offsets.copied(self.text.len() as u32, at);
        } else {
            self.offsets.character(self.text.len() as u32, at);
        }
        // Four bytes appended and the unused ones cut off again: a copy of fixed length is a
        // plain store, where one of the character's length was a call to `memmove` (a twentieth
        // of the time on multilingual text, measured).
        let mut bytes = [0; 4];
        let len = c.encode_utf8(&mut bytes).len();
        let end = self.text.len() + len;
        self.text.extend_from_slice(&bytes);
        self.text.truncate(end);
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
        // Compatibility decomposition: accents split off, ligatures and superscripts spelled out
        // (most characters have none, which the table says without a lookup).
        if !super::chars::is_own_decomposition(c) {
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
        }
        if super::chars::is_own_lowercase(c) {
            self.push(c, at);
        } else {
            for l in c.to_lowercase() {
                self.push(l, at);
            }
        }
        false
    }

    /// Lower-cases the copied ASCII and maps its lone whitespace bytes (`\r` to a line break,
    /// tabs and form feeds to a space), in one pass that leaves every other byte as it is.
    fn finish(mut self) -> View<'a> {
        for b in &mut self.text {
            let upper = b.wrapping_sub(b'A') < 26;
            *b = match *b {
                b'\r' => b'\n',
                b'\t' | 0x0b | 0x0c => b' ',
                other => other | (u8::from(upper) << 5),
            };
        }
        View {
            original: self.original,
            text: String::from_utf8(self.text).unwrap_or_default(),
            offsets: self.offsets,
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
        let bytes = original.as_bytes();
        let all_ascii = original.is_ascii();
        let mixed = if all_ascii {
            Vec::new()
        } else {
            mixed_script_words(original)
        };
        let mut mixed_iter = mixed.iter().peekable();
        let mut b = Builder::new(original);
        let mut pos = 0;
        while pos < bytes.len() {
            // Most of a document is ASCII, and it is copied a stretch at a time.
            let end = if all_ascii {
                bytes.len()
            } else {
                next_non_ascii(bytes, pos)
            };
            if end > pos {
                b.ascii(pos, end);
                pos = end;
                continue;
            }
            let Some(c) = original[pos..].chars().next() else {
                break;
            };
            let at = pos as u32;
            pos += c.len_utf8();
            while mixed_iter.peek().is_some_and(|&&(_, e)| e <= at as usize) {
                mixed_iter.next();
            }
            let in_mixed = mixed_iter.peek().is_some_and(|&&(s, _)| s <= at as usize);
            b.other(c, at, in_mixed);
        }
        b.finish()
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

    /// [`mixed_script_words`] of `text[from..to]`, a line, found by reading every character of
    /// it: the reference the search around look-alike letters is checked against.
    fn mixed_in_line(text: &str, from: usize, to: usize, out: &mut Vec<(usize, usize)>) {
        let mut start: Option<usize> = None;
        let mut latin = false;
        let mut other = false;
        for (pos, c) in text[from..to]
            .char_indices()
            .map(|(p, c)| (from + p, c))
            .chain(std::iter::once((to, ' ')))
        {
            if Props::of(c).is_latin()
                || is_confusable_script(c)
                || c.is_ascii_digit()
                || (start.is_some() && is_combining_mark(c))
            {
                start.get_or_insert(pos);
                latin |= Props::of(c).is_latin();
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

    /// [`mixed_in_line`] of every line of `text`.
    fn mixed_line_by_line(text: &str) -> Vec<(usize, usize)> {
        let mut mixed = Vec::new();
        let mut from = 0;
        for line in text.split('\n') {
            mixed_in_line(text, from, from + line.len(), &mut mixed);
            from += line.len() + 1;
        }
        mixed
    }

    proptest::proptest! {
        #[test]
        fn mixed_words_are_found_around_their_look_alike_letters(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                " ", "\n", "-", "a", "p", "7", "\u{301}", "\u{430}", "\u{440}", "\u{436}",
                "\u{3bf}", "\u{e9}", "\u{4e2d}", "\u{2192}", "\u{200b}", "\u{ff21}", "\u{1f600}",
            ]), 0..40),
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(mixed_script_words(&text), mixed_line_by_line(&text));
        }
    }

    /// The view built one character at a time, as it was before ASCII was copied a stretch at a
    /// time: the reference the fast construction is checked against.
    fn one_at_a_time(original: &str) -> View<'_> {
        // Every character of every line is looked at.
        let mixed = mixed_line_by_line(original);
        let mut b = Builder::new(original);
        for (pos, c) in original.char_indices() {
            let at = pos as u32;
            if !c.is_ascii() {
                let in_mixed = mixed.iter().any(|&(s, e)| s <= pos && pos < e);
                b.other(c, at, in_mixed);
            } else if c.is_whitespace() {
                b.space(at, c == '\n' || c == '\r');
            } else {
                b.flush_space();
                b.push(c.to_ascii_lowercase(), at);
                b.last_ascii = true;
            }
        }
        b.finish()
    }

    proptest::proptest! {
        #[test]
        fn stretches_build_the_view_one_character_at_a_time_builds(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                " ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1f", "\0", "a", "Word", "x.y",
                "\u{a0}", "\u{2003}", "\u{85}", "\u{200b}", "\u{301}", "\u{430}", "p\u{430}y",
                "\u{ff21}", "\u{130}", "\u{2192}", "\u{e9}", "\u{fb01}", "\u{41c}",
            ]), 0..40),
        ) {
            let text: String = parts.concat();
            let (fast, slow) = (View::normalized(&text), one_at_a_time(&text));
            proptest::prop_assert_eq!(fast.text(), slow.text());
            let every = |v: &View<'_>| (0..v.text().len()).map(|i| v.offsets.get(i)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(every(&fast), every(&slow));
        }

        #[test]
        fn ascii_views_match_one_character_at_a_time(text in "[ -~\t\n\r\x0b\x0c\x00-\x1f]{0,200}") {
            let (fast, slow) = (View::normalized(&text), one_at_a_time(&text));
            proptest::prop_assert_eq!(fast.text(), slow.text());
            let every = |v: &View<'_>| (0..v.text().len()).map(|i| v.offsets.get(i)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(every(&fast), every(&slow));
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
