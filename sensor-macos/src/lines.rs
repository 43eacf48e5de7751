//! Splitting a byte stream (eslogger's stdout, a followed file) into lines, with a bound
//! on line length so a runaway writer cannot exhaust memory; and the handler that turns
//! lines into events for the live collector, counting the ones it has to skip.

use crate::parser::EsloggerParser;
use sensor_core::health::{Counter, Health, RateLimitedWarn};
use sensor_core::replay::LineParser;
use sensor_core::Event;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Longest line accepted (bytes). An exec with a full `ARG_MAX` of arguments and
/// environment, JSON-escaped, stays well below this.
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
#[derive(Debug)]
pub struct LineAssembler {
    buf: Vec<u8>,
    max: usize,
    /// Bytes dropped so far of a line that went over the limit.
    skipping: Option<usize>,
}

impl LineAssembler {
    /// An assembler accepting lines of up to `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.max(1),
            skipping: None,
        }
    }

    /// Feeds bytes; calls `on` for every line completed. Stops early (returning false)
    /// when `on` returns false.
    pub fn push(&mut self, mut data: &[u8], on: &mut dyn FnMut(Chunk<'_>) -> bool) -> bool {
        while !data.is_empty() {
            let Some(nl) = data.iter().position(|&b| b == b'\n') else {
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
            let go_on = if let Some(dropped) = self.skipping.take() {
                on(Chunk::TooLong(dropped + head.len()))
            } else if self.buf.is_empty() {
                if head.len() > self.max {
                    on(Chunk::TooLong(head.len()))
                } else {
                    on(Chunk::Line(trim_cr(head)))
                }
            } else {
                self.buf.extend_from_slice(head);
                let go_on = if self.buf.len() > self.max {
                    on(Chunk::TooLong(self.buf.len()))
                } else {
                    on(Chunk::Line(trim_cr(&self.buf)))
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
    pub fn flush(&mut self, on: &mut dyn FnMut(Chunk<'_>) -> bool) -> bool {
        if let Some(dropped) = self.skipping.take() {
            return on(Chunk::TooLong(dropped));
        }
        if self.buf.is_empty() {
            return true;
        }
        let buf = std::mem::take(&mut self.buf);
        on(Chunk::Line(trim_cr(&buf)))
    }

    /// True when part of a line is waiting for its end.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.skipping.is_some()
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses lines for a live source: events out, unreadable lines counted in the
/// `malformed_input` loss counter with a rate-limited warning naming the source.
pub(crate) struct LineHandler {
    pub(crate) parser: EsloggerParser,
    malformed: Counter,
    warn: RateLimitedWarn,
    source: String,
    line_no: u64,
}

impl std::fmt::Debug for LineHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineHandler")
            .field("source", &self.source)
            .field("line_no", &self.line_no)
            .finish_non_exhaustive()
    }
}

impl LineHandler {
    pub(crate) fn new(mut parser: EsloggerParser, health: &Arc<Health>, source: String) -> Self {
        parser.attach_health(health);
        Self {
            parser,
            malformed: health.loss_counter("malformed_input"),
            warn: RateLimitedWarn::new(Duration::from_secs(30)),
            source,
            line_no: 0,
        }
    }

    /// Parses one chunk, appending events to `events`.
    pub(crate) fn handle(&mut self, chunk: Chunk<'_>, events: &mut Vec<Event>) {
        self.line_no += 1;
        let reason = match chunk {
            Chunk::Line(line) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return;
                }
                match self.parser.parse_line(line, events) {
                    Ok(()) => return,
                    Err(reason) => reason,
                }
            }
            Chunk::TooLong(len) => {
                self.parser.skipped_unreadable_line();
                format!("line of {len} bytes is over the {MAX_LINE_BYTES}-byte limit")
            }
        };
        self.malformed.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.warn.check() {
            tracing::warn!(
                source = %self.source,
                line = self.line_no,
                reason = %reason,
                suppressed,
                "Skipping malformed eslogger line"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(a: &mut LineAssembler, parts: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for p in parts {
            a.push(p, &mut |c| {
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
        a.flush(&mut |c| {
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
        let done = a.push(b"a\nb\nc\n", &mut |_| {
            seen += 1;
            seen < 2
        });
        assert!(!done);
        assert_eq!(seen, 2);
    }
}
