//! Fenced code blocks (CommonMark): script in them is shown, not run.

/// Byte ranges of fenced code blocks, fences included. A fence is a line starting with three
/// or more backticks or tildes (up to three spaces of indent); it closes at a line with at
/// least as many of the same character, or at the end of the text.
pub(crate) fn fenced_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut open: Option<(usize, u8, usize)> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let fence = trimmed
            .as_bytes()
            .first()
            .copied()
            .filter(|&b| (b == b'`' || b == b'~') && indent <= 3);
        if let Some(ch) = fence {
            let run = trimmed.bytes().take_while(|&b| b == ch).count();
            match open {
                None if run >= 3 => open = Some((pos, ch, run)),
                Some((start, och, orun))
                    if ch == och && run >= orun && trimmed[run..].trim().is_empty() =>
                {
                    ranges.push((start, pos + line.len()));
                    open = None;
                }
                _ => {}
            }
        }
        pos += line.len();
    }
    if let Some((start, _, _)) = open {
        ranges.push((start, text.len()));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_closed_and_open_fences() {
        let text = "a\n```html\n<script>\n```\nb\n~~~~\nc";
        let r = fenced_ranges(text);
        assert_eq!(r.len(), 2);
        assert_eq!(&text[r[0].0..r[0].1], "```html\n<script>\n```\n");
        assert_eq!(&text[r[1].0..r[1].1], "~~~~\nc");
    }
}
