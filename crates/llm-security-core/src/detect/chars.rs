//! Character properties of the Basic Multilingual Plane by table: a character's general
//! category, and whether it is alphanumeric, its own lower case and its own compatibility
//! decomposition, in one byte per code point instead of binary searches over the Unicode ranges
//! (together about a third of the time on multilingual prompts, measured). The table (64 KiB) is
//! built once per process, from the same `unicode-properties`, `unicode-normalization` and
//! standard library data the lookups would use, so the answers are the same; characters above
//! the plane (emoji, historic scripts) are looked up directly.

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
const CATEGORY: u8 = 0x1f;
/// Table bit: `char::is_alphanumeric`.
const ALPHANUMERIC: u8 = 0x20;
/// Table bit: `char::to_lowercase` gives the character itself.
const OWN_LOWERCASE: u8 = 0x40;
/// Table bit: the compatibility decomposition (NFKD) of the character is the character itself.
const OWN_DECOMPOSITION: u8 = 0x80;

/// One byte per code point of the Basic Multilingual Plane (surrogates read as such).
static TABLE: LazyLock<Box<[u8]>> = LazyLock::new(|| {
    (0u32..0x1_0000)
        .map(|u| match char::from_u32(u) {
            Some(c) => {
                let own_lowercase = c.to_lowercase().eq(std::iter::once(c));
                index_of(c.general_category())
                    | if c.is_alphanumeric() { ALPHANUMERIC } else { 0 }
                    | if own_lowercase { OWN_LOWERCASE } else { 0 }
                    | if own_decomposition(c) {
                        OWN_DECOMPOSITION
                    } else {
                        0
                    }
            }
            None => index_of(GeneralCategory::Surrogate),
        })
        .collect()
});

/// `category`'s index in [`CATEGORIES`] (below 30: it fits the table's five bits).
fn index_of(category: GeneralCategory) -> u8 {
    CATEGORIES
        .iter()
        .position(|&k| k == category)
        .map_or(CATEGORY, |i| i as u8)
}

/// Builds the table now (a millisecond or so), so that no analysis pays for it.
pub(crate) fn warm() {
    LazyLock::force(&TABLE);
}

/// The table's byte for `c`, if `c` is in the Basic Multilingual Plane.
fn entry(c: char) -> Option<u8> {
    TABLE.get(c as usize).copied()
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
    match entry(c) {
        Some(bits) => bits & ALPHANUMERIC != 0,
        None => c.is_alphanumeric(),
    }
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
    match entry(c) {
        Some(bits) => bits & OWN_DECOMPOSITION != 0,
        None => own_decomposition(c),
    }
}

/// Whether `c.to_lowercase()` is `c` itself (every character of scripts without case).
pub(crate) fn is_own_lowercase(c: char) -> bool {
    match entry(c) {
        Some(bits) => bits & OWN_LOWERCASE != 0,
        None => c.to_lowercase().eq(std::iter::once(c)),
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
        }
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
