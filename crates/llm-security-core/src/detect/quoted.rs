//! Content that a prompt quotes between delimiters: fenced blocks (` ``` `, `~~~`), triple
//! quotes (`"""`) and data tags (`<document>…</document>`, `<email>`, `<context>`, ...).
//!
//! Applications that build one prompt from their own instruction and retrieved content usually
//! fence the content off like this ("Summarize the following document: <data>…</data>"). Text
//! inside such a block was not written by whoever wrote the request around it, so an
//! instruction there about the model's own answer ("include … in your response") is what the
//! document rules look for, while the same words outside the block are the user's own request.
//!
//! One pass: openers are found by SIMD substring searches, each block ends at its own closer, and
//! scanning goes on after it (blocks never overlap; a block inside a block is part of it). An
//! opener without a closer is not a block. Work and memory are bounded whatever the input:
//! at most [`MAX_BLOCKS`] blocks, and at most [`MAX_UNCLOSED`] tag openers whose closer is
//! searched for in vain.

use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Most blocks reported for one text.
pub(crate) const MAX_BLOCKS: usize = 64;
/// Most data-tag openers whose closing tag is searched for and not found (each search may read
/// the rest of the text).
const MAX_UNCLOSED: usize = 16;
/// Longest tag name looked at, and longest run of attributes before a tag's `>`.
const MAX_TAG_NAME: usize = 32;
const MAX_TAG_ATTRIBUTES: usize = 256;

/// Tag names that hold data rather than instructions (compared without case).
const DATA_TAGS: &[&str] = &[
    "article",
    "content",
    "context",
    "data",
    "doc",
    "document",
    "documents",
    "email",
    "excerpt",
    "input",
    "observation",
    "page",
    "passage",
    "quote",
    "result",
    "results",
    "retrieved",
    "search_result",
    "search_results",
    "snippet",
    "source",
    "text",
    "tool_output",
    "tool_result",
    "webpage",
];

/// The delimiters that open and close a block of their own: fences and triple quotes.
const FENCES: [&[u8]; 3] = [b"```", b"~~~", b"\"\"\""];

/// Searchers for [`FENCES`], built once (building one costs more than searching a prompt).
static FENCE_FINDERS: LazyLock<[Finder<'static>; 3]> =
    LazyLock::new(|| FENCES.map(|fence| Finder::new(fence).into_owned()));

/// The byte ranges of `text` that it quotes between delimiters, in order, without the
/// delimiters. Each starts and ends on a character boundary.
pub(crate) fn blocks(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    // Most prompts hold no delimiter at all.
    if memchr::memchr3(b'`', b'~', b'"', bytes).is_none() && memchr::memchr(b'<', bytes).is_none() {
        return Vec::new();
    }
    // Where to look for each kind of opener: the three fences, then `<`.
    let finders = &*FENCE_FINDERS;
    let find = |kind: usize, from: usize| match finders.get(kind) {
        Some(finder) => finder.find(&bytes[from..]).map_or(len, |i| from + i),
        None => memchr::memchr(b'<', &bytes[from..]).map_or(len, |i| from + i),
    };
    // The next opener of each kind at or after `pos` (`len`: none left), searched for again
    // only once `pos` has passed it, so each search moves forward.
    let mut next = [0, 1, 2, 3].map(|kind| find(kind, 0));
    let mut found = Vec::new();
    let mut unclosed = 0;
    let mut pos = 0;
    while found.len() < MAX_BLOCKS {
        for (kind, at) in next.iter_mut().enumerate() {
            if *at < pos {
                *at = find(kind, pos);
            }
        }
        let (kind, at) = next
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, at)| at)
            .unwrap_or((0, len));
        if at == len {
            break;
        }
        match FENCES.get(kind) {
            Some(fence) => {
                let run = bytes[at..].iter().take_while(|&&b| b == fence[0]).count();
                let content = at + run;
                // A fence closes at the next run of the same character, at least three long.
                // Where there is none, there is no later opener of this kind either.
                match finders[kind].find(&bytes[content..]) {
                    Some(offset) => {
                        let end = content + offset;
                        let close = bytes[end..].iter().take_while(|&&b| b == fence[0]).count();
                        found.push(content..end);
                        pos = end + close;
                    }
                    None => {
                        next[kind] = len;
                        pos = content;
                    }
                }
            }
            None => {
                pos = at + 1;
                if unclosed == MAX_UNCLOSED {
                    next[kind] = len;
                    continue;
                }
                let Some((name, content)) = data_tag(bytes, at) else {
                    continue;
                };
                match closing_tag(bytes, content, name) {
                    Some((end, after)) => {
                        found.push(content..end);
                        pos = after;
                    }
                    None => unclosed += 1,
                }
            }
        }
    }
    found
}

/// The name of the data tag that opens at `at` (`<document>`, `<Email id="3">`), and where its
/// content starts, if it is one.
fn data_tag(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = &bytes[at + 1..];
    let len = rest
        .iter()
        .take(MAX_TAG_NAME + 1)
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count();
    if len == 0 || len > MAX_TAG_NAME {
        return None;
    }
    let name = &rest[..len];
    if !DATA_TAGS
        .iter()
        .any(|t| t.as_bytes().eq_ignore_ascii_case(name))
    {
        return None;
    }
    let after = &rest[len..];
    let gt = match after.first()? {
        b'>' => 0,
        b if b.is_ascii_whitespace() => {
            let window = &after[..after.len().min(MAX_TAG_ATTRIBUTES)];
            memchr::memchr(b'>', window)?
        }
        _ => return None,
    };
    Some((name, at + 1 + len + gt + 1))
}

/// Where the content of a `name` tag that starts at `from` ends, and the first byte after the
/// closing tag. Openers of the same name in between are counted, so that
/// `<data>a<data>b</data>c</data>` is one block; where the closers never balance them, the
/// first closer ends it, as if there were no nesting (so that extra openers cannot hide the
/// block).
fn closing_tag(bytes: &[u8], from: usize, name: &[u8]) -> Option<(usize, usize)> {
    let named =
        |rest: &[u8]| rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name);
    let mut depth = 0usize;
    let mut first = None;
    for offset in memchr::memchr_iter(b'<', &bytes[from..]) {
        let start = from + offset;
        let rest = &bytes[start + 1..];
        if let Some(rest) = rest.strip_prefix(b"/") {
            if !named(rest) {
                continue;
            }
            let tail = &rest[name.len()..];
            let spaces = tail.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if tail.get(spaces) == Some(&b'>') {
                let closer = (start, start + 2 + name.len() + spaces + 1);
                if depth == 0 {
                    return Some(closer);
                }
                first.get_or_insert(closer);
                depth -= 1;
            }
        } else if named(rest)
            && rest
                .get(name.len())
                .is_some_and(|b| *b == b'>' || b.is_ascii_whitespace())
        {
            depth += 1;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quoted(text: &str) -> Vec<&str> {
        blocks(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn finds_fences_triple_quotes_and_data_tags() {
        let cases: [(&str, &[&str]); 7] = [
            (
                "Summarize:\n```\nfirst\n```\nthen \"\"\"second\"\"\" and ~~~~third~~~~ end",
                &["\nfirst\n", "second", "third"],
            ),
            (
                "Given this document:\n<data>\nbody</data>\nQ: <EMAIL from=\"a\">mail</email >",
                &["\nbody", "mail"],
            ),
            // A block inside a block is part of it.
            (
                "<document>see ```x``` and <email>y</email></document> ```z```",
                &["see ```x``` and <email>y</email>", "z"],
            ),
            // An unclosed tag does not hide later blocks.
            (
                "<context> open <data>closed</data> ```code```",
                &["closed", "code"],
            ),
            // A tag of the same name inside the block is counted: the block ends at the closer
            // that matches its opener, not at the first.
            (
                "<data>outer <DATA>inner</data> tail</data> after",
                &["outer <DATA>inner</data> tail"],
            ),
            // Where the closers never balance the openers, the first closer ends the block:
            // extra openers do not hide what follows them.
            ("<data>a <data>b</data> c", &["a <data>b"]),
            (
                "<data><data><data><data>planted</data> after",
                &["<data><data><data>planted"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(quoted(text), expected, "{text:?}");
        }
    }

    #[test]
    fn other_tags_openers_without_closers_and_short_runs_are_not_blocks() {
        for text in [
            "<instructions>do this</instructions>",
            "<datafile>x</datafile>",
            "<data>never closed",
            "```never closed",
            "a ``two`` b \"\"quoted\"\" c",
            "<data>x</dat>",
            "a < b and c > d",
        ] {
            assert!(blocks(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn work_is_bounded_on_many_unclosed_tags_and_blocks() {
        let tags = "<data>".repeat(100_000);
        assert!(blocks(&tags).is_empty());
        let fences = "```a```".repeat(1_000);
        assert_eq!(blocks(&fences).len(), MAX_BLOCKS);
        // Unbalanced nesting makes each closer search read to the end; the block cap bounds
        // how many do.
        let nested = "<data><data></data>".repeat(100_000);
        assert_eq!(blocks(&nested).len(), MAX_BLOCKS);
        // Twenty openers before the one closer are still one block, not twenty unclosed tags.
        let many = format!("{}planted</data>", "<data>".repeat(20));
        assert_eq!(blocks(&many).len(), 1);
    }

    proptest! {
        #[test]
        fn blocks_are_in_order_disjoint_and_on_char_boundaries(
            text in "(<data>|</data>|<email x=\"y\">|</email>|```|~~~|\"\"\"|<|>|é|a| |\n){0,60}"
        ) {
            let found = blocks(&text);
            let mut last = 0;
            for r in &found {
                prop_assert!(last <= r.start && r.start <= r.end && r.end <= text.len());
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
                last = r.end;
            }
        }
    }
}
