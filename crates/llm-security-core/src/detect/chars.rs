//! Character properties by table: a character's general category, whether it is alphanumeric,
//! its own lower case and its own compatibility decomposition, and whether it belongs to the
//! sets of characters the detectors test most (Latin, scripts with Latin look-alikes, CJK,
//! compatibility letters, invisible characters, combining marks, whitespace). One table entry
//! per code point answers them all, instead of binary searches over the Unicode ranges and
//! chains of range comparisons (measured on multilingual prompts: a third of the time at first,
//! and a fifth of what was left before the table grew to the sets and the emoji). The table
//! covers the Basic Multilingual Plane and the block of emoji and pictographs: 68 Ki entries of
//! two bytes, 136 KiB. It is built once per process, from the same `unicode-properties`,
//! `unicode-normalization` and standard library data the lookups would use and from the range
//! definitions below, so the answers are the same; other characters (historic scripts,
//! mathematical letters) are looked up directly.

use std::sync::LazyLock;

use unicode_normalization::char::decompose_compatible;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Every general category, in the order of the table's index.
const CATEGORIES: [GeneralCategory; 30] = {
    use GeneralCategory as G;
    [
        G::UppercaseLetter,
        G::LowercaseLetter,
        G::TitlecaseLetter,
        G::ModifierLetter,
        G::OtherLetter,
        G::NonspacingMark,
        G::SpacingMark,
        G::EnclosingMark,
        G::DecimalNumber,
        G::LetterNumber,
        G::OtherNumber,
        G::ConnectorPunctuation,
        G::DashPunctuation,
        G::OpenPunctuation,
        G::ClosePunctuation,
        G::InitialPunctuation,
        G::FinalPunctuation,
        G::OtherPunctuation,
        G::MathSymbol,
        G::CurrencySymbol,
        G::ModifierSymbol,
        G::OtherSymbol,
        G::SpaceSeparator,
        G::LineSeparator,
        G::ParagraphSeparator,
        G::Control,
        G::Format,
        G::Surrogate,
        G::PrivateUse,
        G::Unassigned,
    ]
};

/// Table bits: the low five hold the index in [`CATEGORIES`].
const CATEGORY: u16 = 0x1f;
/// Table bit: `char::is_alphanumeric`.
const ALPHANUMERIC: u16 = 1 << 5;
/// Table bit: `char::to_lowercase` gives the character itself.
const OWN_LOWERCASE: u16 = 1 << 6;
/// Table bit: the compatibility decomposition (NFKD) of the character is the character itself.
const OWN_DECOMPOSITION: u16 = 1 << 7;
/// Table bit: [`Props::is_latin`].
const LATIN: u16 = 1 << 8;
/// Table bit: [`is_confusable_script`].
const CONFUSABLE_SCRIPT: u16 = 1 << 9;
/// Table bit: [`is_cjk`].
const CJK: u16 = 1 << 10;
/// Table bit: [`is_compatibility_letter`].
const COMPATIBILITY_LETTER: u16 = 1 << 11;
/// Table bit: [`Props::is_invisible`].
const INVISIBLE: u16 = 1 << 12;
/// Table bit: [`is_dropped_from_view`].
const DROPPED_FROM_VIEW: u16 = 1 << 13;
/// Table bit: [`is_combining_mark`].
const COMBINING_MARK: u16 = 1 << 14;
/// Table bit: `char::is_whitespace`.
const WHITESPACE: u16 = 1 << 15;

/// The block of the Supplementary Multilingual Plane that the table covers after the Basic
/// Multilingual Plane: emoji and other pictographs, common enough in chat that looking them up
/// by binary search showed (7 % of the time on 1 KB of mixed scripts with two emoji per 100
/// bytes, measured).
const PICTOGRAPHS: std::ops::Range<u32> = 0x1_F000..0x2_0000;

/// One entry per code point of the Basic Multilingual Plane (surrogates read as such), then one
/// per code point of [`PICTOGRAPHS`].
static TABLE: LazyLock<Box<[u16]>> = LazyLock::new(|| {
    (0u32..0x1_0000)
        .chain(PICTOGRAPHS)
        .map(|u| char::from_u32(u).map_or(index_of(GeneralCategory::Surrogate), bits_of))
        .collect()
});

/// The table's entry for `c`, computed.
fn bits_of(c: char) -> u16 {
    let bit = |yes: bool, bit: u16| if yes { bit } else { 0 };
    index_of(c.general_category())
        | bit(c.is_alphanumeric(), ALPHANUMERIC)
        | bit(own_lowercase(c), OWN_LOWERCASE)
        | bit(own_decomposition(c), OWN_DECOMPOSITION)
        | bit(blocks::latin(c), LATIN)
        | bit(blocks::confusable_script(c), CONFUSABLE_SCRIPT)
        | bit(blocks::cjk(c), CJK)
        | bit(blocks::compatibility_letter(c), COMPATIBILITY_LETTER)
        | bit(blocks::invisible(c), INVISIBLE)
        | bit(blocks::dropped_from_view(c), DROPPED_FROM_VIEW)
        | bit(
            unicode_normalization::char::is_combining_mark(c),
            COMBINING_MARK,
        )
        | bit(c.is_whitespace(), WHITESPACE)
}

/// All of a character's properties in the table, for loops that ask several of them of each
/// character: one lookup instead of one per question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Props(u16);

impl Props {
    /// The properties of `c`.
    pub(crate) fn of(c: char) -> Self {
        Self(entry(c).unwrap_or_else(|| bits_of(c)))
    }

    /// The general category.
    pub(crate) fn category(self) -> GeneralCategory {
        CATEGORIES[usize::from(self.0 & CATEGORY)]
    }

    /// Latin letters: those of the Latin blocks, less the multiplication and division signs.
    pub(crate) fn is_latin(self) -> bool {
        self.0 & LATIN != 0
    }

    /// See [`is_confusable_script`].
    pub(crate) fn is_confusable_script(self) -> bool {
        self.0 & CONFUSABLE_SCRIPT != 0
    }

    /// See [`is_combining_mark`].
    pub(crate) fn is_combining_mark(self) -> bool {
        self.0 & COMBINING_MARK != 0
    }

    /// See [`is_compatibility_letter`].
    pub(crate) fn is_compatibility_letter(self) -> bool {
        self.0 & COMPATIBILITY_LETTER != 0
    }

    /// Characters that render as nothing, besides tags, variation selectors and bidirectional
    /// controls, which the Unicode checks test on their own.
    pub(crate) fn is_invisible(self) -> bool {
        self.0 & INVISIBLE != 0
    }
}

/// What any of several characters is: the union of their [`Props`], gathered with one `or` per
/// character.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PropsUnion {
    /// The set bits of every entry (the category bits aside).
    bits: u16,
    /// One bit per index in [`CATEGORIES`].
    categories: u32,
}

impl PropsUnion {
    /// Adds a character's properties.
    pub(crate) fn add(&mut self, props: Props) {
        self.bits |= props.0;
        self.categories |= 1 << (props.0 & CATEGORY);
    }

    /// Whether any character is of category `category`.
    pub(crate) fn has_category(self, category: GeneralCategory) -> bool {
        self.categories & (1 << index_of(category)) != 0
    }

    /// Whether any character is a letter of a script with Latin look-alikes.
    pub(crate) fn has_confusable_script(self) -> bool {
        self.bits & CONFUSABLE_SCRIPT != 0
    }

    /// Whether any character is a compatibility letter.
    pub(crate) fn has_compatibility_letter(self) -> bool {
        self.bits & COMPATIBILITY_LETTER != 0
    }

    /// Whether any character is invisible (see [`Props::is_invisible`]).
    pub(crate) fn has_invisible(self) -> bool {
        self.bits & INVISIBLE != 0
    }
}

/// `category`'s index in [`CATEGORIES`] (below 30: it fits the table's five bits).
fn index_of(category: GeneralCategory) -> u16 {
    CATEGORIES
        .iter()
        .position(|&k| k == category)
        .map_or(CATEGORY, |i| i as u16)
}

/// Builds the table now (about 5 ms), so that no analysis pays for it.
pub(crate) fn warm() {
    LazyLock::force(&TABLE);
}

/// The table's entry for `c`, if the table covers it.
fn entry(c: char) -> Option<u16> {
    let u = c as u32;
    let index = if u < 0x1_0000 {
        u
    } else if PICTOGRAPHS.contains(&u) {
        u - PICTOGRAPHS.start + 0x1_0000
    } else {
        return None;
    };
    TABLE.get(index as usize).copied()
}

/// Whether `c` has table bit `bit`, or, where the table does not reach, what `slow` says.
fn has(c: char, bit: u16, slow: impl Fn(char) -> bool) -> bool {
    match entry(c) {
        Some(bits) => bits & bit != 0,
        None => slow(c),
    }
}

/// `c`'s general category.
pub(crate) fn category(c: char) -> GeneralCategory {
    match entry(c) {
        Some(bits) => CATEGORIES[usize::from(bits & CATEGORY)],
        None => c.general_category(),
    }
}

/// Whether `c` is alphanumeric, as `char::is_alphanumeric` says.
pub(crate) fn is_alphanumeric(c: char) -> bool {
    has(c, ALPHANUMERIC, char::is_alphanumeric)
}

/// Whether `c`'s compatibility decomposition is `c` itself, looked up.
fn own_decomposition(c: char) -> bool {
    let mut own = true;
    decompose_compatible(c, |d| own &= d == c);
    own
}

/// Whether `c`'s compatibility decomposition (NFKD) is `c` itself: no accent to split off, no
/// ligature or width form to spell out.
pub(crate) fn is_own_decomposition(c: char) -> bool {
    has(c, OWN_DECOMPOSITION, own_decomposition)
}

/// Whether `c.to_lowercase()` is `c` itself, computed.
fn own_lowercase(c: char) -> bool {
    c.to_lowercase().eq(std::iter::once(c))
}

/// Whether `c.to_lowercase()` is `c` itself (every character of scripts without case).
pub(crate) fn is_own_lowercase(c: char) -> bool {
    has(c, OWN_LOWERCASE, own_lowercase)
}

/// Letters of scripts with many Latin look-alikes: Cyrillic, Greek, Armenian, Cherokee, Coptic.
pub(crate) fn is_confusable_script(c: char) -> bool {
    has(c, CONFUSABLE_SCRIPT, blocks::confusable_script)
}

/// Chinese, Japanese and Korean characters, by block.
pub(crate) fn is_cjk(c: char) -> bool {
    has(c, CJK, blocks::cjk)
}

/// Fullwidth, mathematical and enclosed letters and digits, which
/// [`fold_compatibility_by_blocks`](super::unicode::fold_compatibility_by_blocks) spells in
/// ASCII.
pub(crate) fn is_compatibility_letter(c: char) -> bool {
    has(c, COMPATIBILITY_LETTER, blocks::compatibility_letter)
}

/// Format and invisible characters that carry no visible text, and which the normalized view
/// drops.
pub(crate) fn is_dropped_from_view(c: char) -> bool {
    has(c, DROPPED_FROM_VIEW, blocks::dropped_from_view)
}

/// Combining marks, as `unicode_normalization::char::is_combining_mark` says.
pub(crate) fn is_combining_mark(c: char) -> bool {
    has(
        c,
        COMBINING_MARK,
        unicode_normalization::char::is_combining_mark,
    )
}

/// Whether `c` is whitespace, as `char::is_whitespace` says.
pub(crate) fn is_whitespace(c: char) -> bool {
    has(c, WHITESPACE, char::is_whitespace)
}

/// The sets of characters behind the table's bits, as ranges of code points.
mod blocks {
    pub(super) fn latin(c: char) -> bool {
        c.is_ascii_alphabetic()
            || (matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{2C60}'..='\u{2C7F}'
            | '\u{A720}'..='\u{A7FF}' | '\u{AB30}'..='\u{AB6F}')
                && c != '\u{00D7}'
                && c != '\u{00F7}')
    }

    pub(super) fn confusable_script(c: char) -> bool {
        matches!(c, '\u{0370}'..='\u{03FF}' | '\u{0400}'..='\u{052F}' | '\u{0530}'..='\u{058F}'
        | '\u{13A0}'..='\u{13FF}' | '\u{1C80}'..='\u{1C8F}' | '\u{1F00}'..='\u{1FFF}'
        | '\u{2C80}'..='\u{2CFF}' | '\u{2DE0}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}'
        | '\u{AB70}'..='\u{ABBF}' | '\u{FB13}'..='\u{FB17}')
    }

    pub(super) fn cjk(c: char) -> bool {
        matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3040}'..='\u{30FF}' | '\u{3130}'..='\u{318F}'
        | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF66}'..='\u{FF9F}'
        | '\u{20000}'..='\u{3FFFF}')
    }

    pub(super) fn compatibility_letter(c: char) -> bool {
        super::super::unicode::fold_compatibility_by_blocks(c).is_some()
    }

    pub(super) fn invisible(c: char) -> bool {
        matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}')
    }

    /// What the view drops: the invisible characters but the blank Braille pattern (which the
    /// Unicode checks judge by the text around it, and the view keeps), and the bidirectional
    /// controls, variation selectors and tags.
    pub(super) fn dropped_from_view(c: char) -> bool {
        (invisible(c) && c != '\u{2800}')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_as_the_lookups_for_every_character() {
        for c in (0u32..=0x10_FFFF).filter_map(char::from_u32) {
            assert_eq!(category(c), c.general_category(), "{:X}", c as u32);
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{:X}", c as u32);
            assert_eq!(
                is_own_lowercase(c),
                c.to_lowercase().collect::<String>() == c.to_string(),
                "{:X}",
                c as u32
            );
            let mut decomposition = String::new();
            decompose_compatible(c, |d| decomposition.push(d));
            assert_eq!(
                is_own_decomposition(c),
                decomposition == c.to_string(),
                "{:X}",
                c as u32
            );
            let sets = [
                (is_confusable_script(c), blocks::confusable_script(c)),
                (is_cjk(c), blocks::cjk(c)),
                (is_compatibility_letter(c), blocks::compatibility_letter(c)),
                (is_dropped_from_view(c), blocks::dropped_from_view(c)),
                (
                    is_combining_mark(c),
                    unicode_normalization::char::is_combining_mark(c),
                ),
                (is_whitespace(c), c.is_whitespace()),
            ];
            for (k, (table, lookup)) in sets.into_iter().enumerate() {
                assert_eq!(table, lookup, "set {k}, {:X}", c as u32);
            }
            let props = Props::of(c);
            assert_eq!(props.category(), c.general_category(), "{:X}", c as u32);
            let sets = [
                (props.is_latin(), blocks::latin(c)),
                (props.is_confusable_script(), blocks::confusable_script(c)),
                (
                    props.is_compatibility_letter(),
                    blocks::compatibility_letter(c),
                ),
                (props.is_invisible(), blocks::invisible(c)),
                (
                    props.is_combining_mark(),
                    unicode_normalization::char::is_combining_mark(c),
                ),
            ];
            for (k, (table, lookup)) in sets.into_iter().enumerate() {
                assert_eq!(table, lookup, "property {k}, {:X}", c as u32);
            }
        }
    }

    #[test]
    fn a_union_has_what_any_of_its_characters_has() {
        let union = |text: &str| {
            let mut u = PropsUnion::default();
            text.chars().for_each(|c| u.add(Props::of(c)));
            u
        };
        let u = union("a\u{430}\u{200B}\u{301}");
        assert!(u.has_confusable_script() && u.has_invisible() && !u.has_compatibility_letter());
        assert!(u.has_category(GeneralCategory::NonspacingMark));
        assert!(u.has_category(GeneralCategory::LowercaseLetter));
        assert!(!u.has_category(GeneralCategory::UppercaseLetter));
        let u = union("\u{FF21}\u{E000}");
        assert!(u.has_compatibility_letter() && u.has_category(GeneralCategory::PrivateUse));
        assert!(!u.has_confusable_script() && !u.has_invisible());
        assert_eq!(union(""), PropsUnion::default());
    }

    #[test]
    fn every_category_is_listed_once() {
        for (i, &a) in CATEGORIES.iter().enumerate() {
            assert_eq!(usize::from(index_of(a)), i, "{a:?}");
        }
        assert_eq!(
            TABLE[0xD800] & CATEGORY,
            index_of(GeneralCategory::Surrogate)
        );
    }
}
