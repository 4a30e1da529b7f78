//! A buffered reader that knows the line and column of what the XML parser consumed.
//!
//! quick-xml reports errors as byte offsets; people look for lines. Counting lines afterwards is
//! impossible on a stream (the bytes are gone), and keeping every newline offset of an 8 MB
//! document is wasteful. So this reader counts newlines as the parser consumes bytes, and keeps
//! the exact offsets only for the event being parsed: [`Tracker::mark`] is called before each
//! event, and an error inside that event is located precisely.

use std::io::{self, BufRead, Read};

use crate::error::Position;

const CAPACITY: usize = 64 * 1024;

/// A [`BufRead`] over `R` that tracks line numbers of consumed bytes.
pub(crate) struct Tracker<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes consumed so far.
    consumed: u64,
    /// Line number (1-based) at the last mark, and the offset where that line starts.
    mark_line: u64,
    mark_line_start: u64,
    /// Offsets of the newlines consumed since the last mark.
    newlines: Vec<u64>,
}

impl<R: Read> Tracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            mark_line: 1,
            mark_line_start: 0,
            newlines: Vec::new(),
        }
    }

    /// Forgets the exact newline offsets before this point: positions before the mark are no
    /// longer needed.
    pub(crate) fn mark(&mut self) {
        if let Some(&last) = self.newlines.last() {
            self.mark_line += self.newlines.len() as u64;
            self.mark_line_start = last + 1;
            self.newlines.clear();
        }
    }

    /// The line and column of byte `offset`, which must not lie before the last mark's line.
    pub(crate) fn position(&self, offset: u64) -> Position {
        let offset = offset.min(self.consumed);
        let idx = self.newlines.partition_point(|&n| n < offset);
        let line = self.mark_line + idx as u64;
        let line_start = if idx > 0 {
            self.newlines[idx - 1] + 1
        } else {
            self.mark_line_start
        };
        Position {
            line,
            column: offset.saturating_sub(line_start) + 1,
            offset,
        }
    }
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Tracker<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => {
                        self.end = n;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.end - self.start);
        let chunk = &self.buf[self.start..self.start + amt];
        let base = self.consumed;
        self.newlines
            .extend(memchr::memchr_iter(b'\n', chunk).map(|i| base + i as u64));
        self.start += amt;
        self.consumed += amt as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets_across_marks() {
        let text = b"ab\ncd\n\nefg\nh";
        let mut t = Tracker::new(&text[..]);
        let n = t.fill_buf().unwrap().len();
        assert_eq!(n, text.len());
        t.consume(4); // "ab\nc"
        t.mark();
        t.consume(6); // "d\n\nefg"
        assert_eq!(
            t.position(3),
            Position {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        assert_eq!(
            t.position(7),
            Position {
                line: 4,
                column: 1,
                offset: 7
            }
        );
        assert_eq!(
            t.position(9),
            Position {
                line: 4,
                column: 3,
                offset: 9
            }
        );
        t.mark();
        t.consume(2);
        assert_eq!(
            t.position(11),
            Position {
                line: 5,
                column: 1,
                offset: 11
            }
        );
    }
}
