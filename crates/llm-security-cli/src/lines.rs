//! Reading lines with a cap on their length, so one huge line cannot exhaust memory.

use std::io::{self, BufRead};

/// One line read by [`read_capped_line`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line, without its terminator.
    Complete(Vec<u8>),
    /// The line was longer than the cap; it was skipped. Holds its full length.
    TooLong(usize),
}

/// Reads the next line into a fresh buffer, keeping at most `cap` bytes. A longer line is
/// consumed to its end and reported as [`Line::TooLong`]. Returns `None` at end of input.
pub(crate) fn read_capped_line(reader: &mut impl BufRead, cap: usize) -> io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    let mut saw_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        saw_any = true;
        let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if total + chunk.len() <= cap {
            buf.extend_from_slice(chunk);
        }
        total += chunk.len();
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if total > cap {
        return Ok(Some(Line::TooLong(total)));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(Line::Complete(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_long_lines_and_keeps_going() {
        let data = b"short\r\n0123456789abcdef\nlast";
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        assert_eq!(
            read_capped_line(&mut r, 8).unwrap(),
            Some(Line::Complete(b"short".to_vec()))
        );
        assert_eq!(
            read_capped_line(&mut r, 8).unwrap(),
            Some(Line::TooLong(16))
        );
        assert_eq!(
            read_capped_line(&mut r, 8).unwrap(),
            Some(Line::Complete(b"last".to_vec()))
        );
        assert_eq!(read_capped_line(&mut r, 8).unwrap(), None);
    }
}
