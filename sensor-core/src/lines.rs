//! Splitting a byte stream (a child's stdout, a followed file) into lines, with a bound
//! on line length so a runaway writer cannot exhaust memory, and the stream offset just
//! past each line so a reader of a file can say where to resume.
//!
//! Pure bookkeeping: no I/O. The readers ([`crate::tail`], the eslogger supervisor) feed
//! it whatever bytes they read.

/// Longest line accepted by default (bytes). An exec with a full `ARG_MAX` of arguments
/// and environment, JSON-escaped, stays well below this.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// One piece of output from a [`LineAssembler`].
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// A complete line, without its `\n` (or `\r\n`).
    Line(&'a [u8]),
    /// A line longer than the limit, skipped; its length in bytes.
    TooLong(usize),
}

/// Reassembles lines from arbitrary chunks of bytes.
///
/// Every chunk handed out comes with `end`: the stream position just past it (past its
/// `\n`; for a line handed out by [`flush`](Self::flush), past its last byte).
#[derive(Debug)]
pub struct LineAssembler {
    buf: Vec<u8>,
    max: usize,
    /// Bytes dropped so far of a line that went over the limit.
    skipping: Option<usize>,
    /// Stream position of the next byte fed.
    position: u64,
}

impl LineAssembler {
    /// An assembler accepting lines of up to `max` bytes, at stream position 0.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.max(1),
            skipping: None,
            position: 0,
        }
    }

    /// Says that the next byte fed is at `position` of the stream (after a seek). Any
    /// partial line should be [`flush`](Self::flush)ed first: it is discarded here.
    pub fn set_position(&mut self, position: u64) {
        self.buf.clear();
        self.skipping = None;
        self.position = position;
    }

    /// The stream position of the next byte fed.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Where the line waiting for its end starts (the position just past the last line
    /// handed out): where a reader that stops now would resume.
    pub fn line_start(&self) -> u64 {
        let partial = self.skipping.unwrap_or(self.buf.len());
        self.position.saturating_sub(partial as u64)
    }

    /// Feeds bytes; calls `on(chunk, end)` for every line completed. Stops early
    /// (returning false) when `on` returns false; the bytes after that line are not
    /// consumed, and [`position`](Self::position) is just past it.
    pub fn push(&mut self, mut data: &[u8], on: &mut dyn FnMut(Chunk<'_>, u64) -> bool) -> bool {
        while !data.is_empty() {
            let Some(nl) = data.iter().position(|&b| b == b'\n') else {
                self.position += data.len() as u64;
                match &mut self.skipping {
                    Some(dropped) => *dropped += data.len(),
                    None => {
                        self.buf.extend_from_slice(data);
                        if self.buf.len() > self.max {
                            self.skipping = Some(self.buf.len());
                            self.buf = Vec::new();
                        }
                    }
                }
                return true;
            };
            let (head, rest) = (&data[..nl], &data[nl + 1..]);
            data = rest;
            self.position += nl as u64 + 1;
            let end = self.position;
            let go_on = if let Some(dropped) = self.skipping.take() {
                on(Chunk::TooLong(dropped + head.len()), end)
            } else if self.buf.is_empty() {
                if head.len() > self.max {
                    on(Chunk::TooLong(head.len()), end)
                } else {
                    on(Chunk::Line(trim_cr(head)), end)
                }
            } else {
                self.buf.extend_from_slice(head);
                let go_on = if self.buf.len() > self.max {
                    on(Chunk::TooLong(self.buf.len()), end)
                } else {
                    on(Chunk::Line(trim_cr(&self.buf)), end)
                };
                self.buf.clear();
                go_on
            };
            if !go_on {
                return false;
            }
        }
        true
    }

    /// Hands out an unfinished last line (at end of stream, rotation or truncation) so
    /// it is accounted for rather than silently dropped. Returns what `on` returned.
    pub fn flush(&mut self, on: &mut dyn FnMut(Chunk<'_>, u64) -> bool) -> bool {
        if let Some(dropped) = self.skipping.take() {
            return on(Chunk::TooLong(dropped), self.position);
        }
        if self.buf.is_empty() {
            return true;
        }
        let buf = std::mem::take(&mut self.buf);
        on(Chunk::Line(trim_cr(&buf)), self.position)
    }

    /// True when part of a line is waiting for its end.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.skipping.is_some()
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(a: &mut LineAssembler, parts: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for p in parts {
            a.push(p, &mut |c, _| {
                out.push(match c {
                    Chunk::Line(l) => String::from_utf8_lossy(l).into_owned(),
                    Chunk::TooLong(n) => format!("<too long: {n}>"),
                });
                true
            });
        }
        out
    }

    #[test]
    fn lines_split_across_chunks_reassemble() {
        let mut a = LineAssembler::new(100);
        let got = collect(&mut a, &[b"ab", b"c\r\nde", b"f\n\ng", b"h"]);
        assert_eq!(got, vec!["abc", "def", ""]);
        assert!(a.has_partial());
        let mut rest = Vec::new();
        a.flush(&mut |c, _| {
            rest.push(format!("{c:?}"));
            true
        });
        assert_eq!(rest, vec![format!("{:?}", Chunk::Line(b"gh"))]);
        assert!(!a.has_partial());
    }

    #[test]
    fn overlong_lines_are_reported_and_skipped() {
        let mut a = LineAssembler::new(4);
        let got = collect(&mut a, &[b"123", b"456", b"78\nok\n123456\nx\n"]);
        assert_eq!(got, vec!["<too long: 8>", "ok", "<too long: 6>", "x"]);
    }

    #[test]
    fn stopping_early_is_honoured() {
        let mut a = LineAssembler::new(100);
        let mut seen = 0;
        let done = a.push(b"a\nb\nc\n", &mut |_, _| {
            seen += 1;
            seen < 2
        });
        assert!(!done);
        assert_eq!(seen, 2);
        assert_eq!(a.position(), 4, "just past the line that stopped it");
        assert_eq!(a.line_start(), 4);
        a.push(b"part", &mut |_, _| true);
        assert_eq!((a.position(), a.line_start()), (8, 4));
    }

    #[test]
    fn each_line_reports_the_offset_just_past_it() {
        let mut a = LineAssembler::new(4);
        a.set_position(100);
        let mut ends = Vec::new();
        for part in [&b"ab"[..], b"\r\ncd\n", b"toolong\nx"] {
            a.push(part, &mut |c, end| {
                ends.push((format!("{c:?}"), end));
                true
            });
        }
        a.flush(&mut |c, end| {
            ends.push((format!("{c:?}"), end));
            true
        });
        let line = |s: &[u8]| format!("{:?}", Chunk::Line(s));
        assert_eq!(
            ends,
            [
                (line(b"ab"), 104),
                (line(b"cd"), 107),
                (format!("{:?}", Chunk::TooLong(7)), 115),
                (line(b"x"), 116),
            ]
        );
    }
}
