//! Cutting a TCP or TLS byte stream into syslog messages (RFC 6587): octet counting
//! (`LEN SP MSG`) and LF-terminated frames, detected per frame in `auto` mode, with
//! every message capped at `max_message_bytes`.
//!
//! The [`Framer`] owns one connection's read buffer and hands out complete messages as
//! slices of it, so a message is copied once (socket to buffer) before delivery. The
//! buffer never holds more than one partial frame of at most the cap plus its header,
//! because a frame reaching the cap is delivered (capped) at once and the rest of it is
//! skipped as it arrives.
//!
//! Bad framing (a count that is not followed by a space in `octet_counted` mode, or a
//! count larger than [`MAX_OCTET_COUNT`]) resynchronises on the next LF rather than
//! closing the connection: a sender that got one frame wrong usually gets the next one
//! right, and LF is the only boundary left to find.
//!
//! May touch: nothing; the caller reads the socket through [`Framer::read_from`].

use super::config::Framing;
use std::io::{self, Read};

/// Largest octet count taken as a count; anything larger is a framing error. Far above
/// any cap, so an oversized but honest frame is capped, not refused.
pub(crate) const MAX_OCTET_COUNT: usize = 64 * 1024 * 1024;
/// A count has at most this many digits (64 MiB has 8); in `auto` mode a longer run of
/// digits starts an LF frame.
const MAX_COUNT_DIGITS: usize = 9;
/// Bytes asked of the socket per read when the buffer has room.
const READ_CHUNK: usize = 64 * 1024;

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framed<'a> {
    /// A message without its trailing `\r`, `\n` or NUL; `truncated` when capped.
    Message { bytes: &'a [u8], truncated: bool },
    /// A frame the framing rules reject; the stream resyncs on the next LF.
    BadFraming(&'static str),
    /// The stream ended inside an octet-counted frame (or a count): it is lost.
    Incomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a frame boundary.
    Start,
    /// Inside an octet-counted frame whose body (`len` bytes) starts at `start`.
    Body { len: usize },
    /// The rest of a capped octet-counted frame, discarded.
    Skip { remaining: usize },
    /// Inside an LF frame starting at `start`; the first `scanned` bytes hold no LF.
    Line { scanned: usize },
    /// Discarding up to the next LF: the rest of a capped line, or a resync.
    SkipLine,
}

/// One connection's framing state and read buffer.
#[derive(Debug)]
pub(crate) struct Framer {
    mode: Framing,
    max: usize,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    state: State,
}

impl Framer {
    /// A framer capping messages at `max` bytes. The buffer starts small and grows up
    /// to the cap only if a frame needs it, so idle connections cost little.
    pub(crate) fn new(mode: Framing, max: usize) -> Framer {
        let initial = max.min(READ_CHUNK) + READ_CHUNK;
        Framer {
            mode,
            max,
            buf: vec![0; initial],
            start: 0,
            end: 0,
            state: State::Start,
        }
    }

    /// One read from `r` into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn read_from<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        self.make_room();
        let n = r.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Bytes read but not yet handed out (a partial frame).
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Moves the partial frame to the front, or grows the buffer, so that a read has at
    /// least a chunk's worth of room (the partial frame is below the cap plus a header).
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end >= READ_CHUNK / 4 {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK / 4 {
            let len = (self.buf.len() * 2).max(self.end + READ_CHUNK);
            self.buf.resize(len, 0);
        }
    }

    /// Hands every complete frame in the buffer to `emit`, in order. `emit` returns
    /// false to stop early (the consumer is gone); the frames left stay buffered.
    pub(crate) fn frames(&mut self, emit: &mut dyn FnMut(Framed<'_>) -> bool) -> bool {
        loop {
            let data = &self.buf[self.start..self.end];
            match self.state {
                State::Start => {
                    // Empty frames: stray LF, CR LF or NUL between frames, which some
                    // senders add after octet-counted frames.
                    let skip = data
                        .iter()
                        .take_while(|&&b| matches!(b, b'\n' | b'\r' | 0))
                        .count();
                    self.start += skip;
                    let data = &data[skip..];
                    if data.is_empty() {
                        return true;
                    }
                    if self.mode == Framing::Lf {
                        self.state = State::Line { scanned: 0 };
                        continue;
                    }
                    let digits = data
                        .iter()
                        .take(MAX_COUNT_DIGITS + 1)
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    if digits == data.len() && digits <= MAX_COUNT_DIGITS {
                        return true; // the count may go on in the next read
                    }
                    let counted = digits > 0 && digits <= MAX_COUNT_DIGITS && data[digits] == b' ';
                    if !counted {
                        if self.mode == Framing::Auto {
                            self.state = State::Line { scanned: 0 };
                            continue;
                        }
                        self.state = State::SkipLine;
                        if !emit(Framed::BadFraming(
                            "expected an octet count (digits and a space)",
                        )) {
                            return false;
                        }
                        continue;
                    }
                    let len = data[..digits]
                        .iter()
                        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
                    if len > MAX_OCTET_COUNT {
                        self.state = State::SkipLine;
                        if !emit(Framed::BadFraming("octet count larger than 64 MiB")) {
                            return false;
                        }
                        continue;
                    }
                    self.start += digits + 1;
                    self.state = if len == 0 {
                        State::Start
                    } else {
                        State::Body { len }
                    };
                }
                State::Body { len } => {
                    let want = len.min(self.max);
                    if data.len() < want {
                        return true;
                    }
                    let truncated = len > self.max;
                    let bytes = strip(&data[..want]);
                    self.start += want;
                    self.state = if truncated {
                        State::Skip {
                            remaining: len - want,
                        }
                    } else {
                        State::Start
                    };
                    if !bytes.is_empty() && !emit(Framed::Message { bytes, truncated }) {
                        return false;
                    }
                }
                State::Skip { remaining } => {
                    let take = remaining.min(data.len());
                    self.start += take;
                    if take < remaining {
                        self.state = State::Skip {
                            remaining: remaining - take,
                        };
                        return true;
                    }
                    self.state = State::Start;
                }
                State::Line { scanned } => match memchr::memchr(b'\n', &data[scanned..]) {
                    Some(i) => {
                        let line = &data[..scanned + i];
                        let truncated = line.len() > self.max;
                        let bytes = strip(&line[..line.len().min(self.max)]);
                        self.start += scanned + i + 1;
                        self.state = State::Start;
                        if !bytes.is_empty() && !emit(Framed::Message { bytes, truncated }) {
                            return false;
                        }
                    }
                    None if data.len() >= self.max => {
                        // Capped now, not at its LF: the buffer must not grow with a
                        // line that never ends.
                        let bytes = strip(&data[..self.max]);
                        self.start = self.end;
                        self.state = State::SkipLine;
                        if !bytes.is_empty()
                            && !emit(Framed::Message {
                                bytes,
                                truncated: true,
                            })
                        {
                            return false;
                        }
                    }
                    None => {
                        self.state = State::Line {
                            scanned: data.len(),
                        };
                        return true;
                    }
                },
                State::SkipLine => match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        self.start += i + 1;
                        self.state = State::Start;
                    }
                    None => {
                        self.start = self.end;
                        return true;
                    }
                },
            }
        }
    }

    /// The stream ended (peer closed, error, or shutdown) after [`Framer::frames`]: an
    /// unterminated LF line is a whole message (many senders do not end the last one),
    /// a partial octet-counted frame is [`Framed::Incomplete`].
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(Framed<'_>) -> bool) {
        let data = &self.buf[self.start..self.end];
        let state = self.state;
        self.start = self.end;
        self.state = State::Start;
        match state {
            State::Line { .. } => {
                let bytes = strip(&data[..data.len().min(self.max)]);
                if !bytes.is_empty() {
                    emit(Framed::Message {
                        bytes,
                        truncated: data.len() > self.max,
                    });
                }
            }
            // Only digits so far: in auto mode that is a short LF line ("42"), in
            // octet_counted mode a count cut off.
            State::Start if !data.is_empty() && self.mode == Framing::Auto => {
                emit(Framed::Message {
                    bytes: strip(data),
                    truncated: false,
                });
            }
            State::Start if !data.is_empty() => {
                emit(Framed::Incomplete);
            }
            State::Body { .. } => {
                emit(Framed::Incomplete);
            }
            State::Start | State::Skip { .. } | State::SkipLine => {}
        }
    }
}

/// Removes trailing `\r`, `\n` and NUL (senders end frames with any of them, and
/// octet-counted senders often count a trailing LF).
pub(crate) fn strip(bytes: &[u8]) -> &[u8] {
    let keep = bytes
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    &bytes[..keep]
}

/// A datagram as a message: stripped, capped at `max`; `None` if empty.
pub(crate) fn datagram(bytes: &[u8], max: usize) -> Option<(&[u8], bool)> {
    let truncated = strip(bytes).len() > max;
    let msg = strip(&bytes[..bytes.len().min(max)]);
    (!msg.is_empty()).then_some((msg, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        Msg(String, bool),
        Bad,
        Incomplete,
    }

    fn own(f: Framed<'_>) -> Out {
        match f {
            Framed::Message { bytes, truncated } => {
                Out::Msg(String::from_utf8_lossy(bytes).into_owned(), truncated)
            }
            Framed::BadFraming(_) => Out::Bad,
            Framed::Incomplete => Out::Incomplete,
        }
    }

    /// Feeds `chunks` as separate reads, then ends the stream.
    fn frame(mode: Framing, max: usize, chunks: &[&[u8]]) -> Vec<Out> {
        let mut framer = Framer::new(mode, max);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest: &[u8] = chunk;
            while !rest.is_empty() {
                framer.read_from(&mut rest).expect("slice read");
                framer.frames(&mut |f| {
                    out.push(own(f));
                    true
                });
            }
        }
        framer.finish(&mut |f| {
            out.push(own(f));
            true
        });
        out
    }

    fn msg(s: &str) -> Out {
        Out::Msg(s.into(), false)
    }

    #[test]
    fn octet_counting() {
        let out = frame(Framing::Auto, 100, &[b"5 hello11 hello world3 abc"]);
        assert_eq!(out, [msg("hello"), msg("hello world"), msg("abc")]);
        let out = frame(Framing::OctetCounted, 100, &[b"9 <13>1 a\n\n4 b c\n"]);
        assert_eq!(
            out,
            [msg("<13>1 a"), msg("b c")],
            "trailing LF counted or not"
        );
        let out = frame(Framing::Auto, 100, &[b"6 a\nb c\n"]);
        assert_eq!(out, [msg("a\nb c")], "an LF inside a counted frame is data");
    }

    #[test]
    fn lf_framing() {
        let out = frame(
            Framing::Auto,
            100,
            &[b"<13>one\n<14>two\r\n\n\n<15>three\0\n"],
        );
        assert_eq!(out, [msg("<13>one"), msg("<14>two"), msg("<15>three")]);
        let out = frame(Framing::Auto, 100, &[b"2024-01-01 x\n12:00 y\n"]);
        assert_eq!(
            out,
            [msg("2024-01-01 x"), msg("12:00 y")],
            "digits then no space"
        );
        let out = frame(Framing::Lf, 100, &[b"5 hello\n"]);
        assert_eq!(out, [msg("5 hello")], "lf mode never counts");
        let out = frame(Framing::Auto, 100, &[b"<13>last without newline"]);
        assert_eq!(out, [msg("<13>last without newline")]);
        let out = frame(Framing::Auto, 100, &[b"42"]);
        assert_eq!(out, [msg("42")]);
    }

    #[test]
    fn mixed_framing_on_one_stream() {
        let out = frame(
            Framing::Auto,
            100,
            &[b"<13>lf one\n7 counted<14>lf two\n3 end"],
        );
        assert_eq!(
            out,
            [
                msg("<13>lf one"),
                msg("counted"),
                msg("<14>lf two"),
                msg("end")
            ]
        );
    }

    #[test]
    fn frames_split_across_reads() {
        let stream = b"11 <13>1 hello<13>line two\n5 abcde";
        let whole = frame(Framing::Auto, 100, &[stream]);
        assert_eq!(
            whole,
            [msg("<13>1 hello"), msg("<13>line two"), msg("abcde")]
        );
        // Every split point, and byte by byte.
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(frame(Framing::Auto, 100, &[a, b]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frame(Framing::Auto, 100, &bytes), whole);
    }

    #[test]
    fn oversized_messages_are_capped_in_both_framings() {
        let out = frame(Framing::Auto, 10, &[b"20 abcdefghijklmnopqrst3 end"]);
        assert_eq!(out, [Out::Msg("abcdefghij".into(), true), msg("end")]);
        let out = frame(Framing::Auto, 10, &[b"<13>abcdefghijklmnop\n<13>ok\n"]);
        assert_eq!(out, [Out::Msg("<13>abcdef".into(), true), msg("<13>ok")]);
        // Capped before its LF arrives, the rest skipped across reads.
        let long = [b'x'; 50];
        let out = frame(Framing::Auto, 10, &[&long, &long, b"\n", b"<13>ok\n"]);
        assert_eq!(out, [Out::Msg("x".repeat(10), true), msg("<13>ok")]);
        let out = frame(
            Framing::Auto,
            10,
            &[b"30 ", &[b'y'; 15], &[b'z'; 15], b"2 ok"],
        );
        assert_eq!(out, [Out::Msg("y".repeat(10), true), msg("ok")]);
        // Exactly the cap is not oversized.
        let out = frame(Framing::Auto, 10, &[b"10 abcdefghij<13>abcdef\n"]);
        assert_eq!(out, [msg("abcdefghij"), msg("<13>abcdef")]);
    }

    #[test]
    fn bad_counts_resync_on_the_next_lf() {
        let out = frame(Framing::Auto, 100, &[b"999999999 junk junk\n5 hello"]);
        assert_eq!(out, [Out::Bad, msg("hello")]);
        let out = frame(Framing::OctetCounted, 100, &[b"<13>no count\n5 hello"]);
        assert_eq!(out, [Out::Bad, msg("hello")]);
        let out = frame(Framing::OctetCounted, 100, &[b"12x y\n3 abc"]);
        assert_eq!(out, [Out::Bad, msg("abc")]);
        let out = frame(
            Framing::OctetCounted,
            100,
            &[b"1234567890 ten digits\n3 abc"],
        );
        assert_eq!(out, [Out::Bad, msg("abc")]);
        // In auto mode ten digits are no count: an LF frame.
        let out = frame(Framing::Auto, 100, &[b"1234567890 ten digits\n"]);
        assert_eq!(out, [msg("1234567890 ten digits")]);
    }

    #[test]
    fn a_stream_ending_inside_a_counted_frame_is_incomplete() {
        let out = frame(Framing::Auto, 100, &[b"5 hello10 abc"]);
        assert_eq!(out, [msg("hello"), Out::Incomplete]);
        let out = frame(Framing::OctetCounted, 100, &[b"5 hello12"]);
        assert_eq!(out, [msg("hello"), Out::Incomplete]);
        let out = frame(Framing::Auto, 100, &[b"0 3 abc"]);
        assert_eq!(out, [msg("abc")], "a zero count is an empty frame");
    }

    #[test]
    fn the_buffer_stays_bounded() {
        let mut framer = Framer::new(Framing::Auto, 1000);
        let mut n = 0;
        for _ in 0..1000 {
            let mut data: &[u8] = &[b'a'; 4096];
            while !data.is_empty() {
                framer.read_from(&mut data).expect("read");
                framer.frames(&mut |_| {
                    n += 1;
                    true
                });
            }
        }
        assert_eq!(n, 1, "one capped message for the endless line");
        assert!(
            framer.buf.len() <= 1000 + 2 * READ_CHUNK,
            "{}",
            framer.buf.len()
        );
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn stopping_early_keeps_the_rest() {
        let mut framer = Framer::new(Framing::Auto, 100);
        let mut data: &[u8] = b"1 a1 b1 c";
        framer.read_from(&mut data).expect("read");
        let mut got = Vec::new();
        assert!(!framer.frames(&mut |f| {
            got.push(own(f));
            false
        }));
        assert!(framer.frames(&mut |f| {
            got.push(own(f));
            true
        }));
        assert_eq!(got, [msg("a"), msg("b"), msg("c")]);
    }

    #[test]
    fn datagrams_are_stripped_and_capped() {
        assert_eq!(datagram(b"<13>hi\n", 10), Some((&b"<13>hi"[..], false)));
        assert_eq!(
            datagram(b"<13>hello world", 10),
            Some((&b"<13>hello "[..], true))
        );
        assert_eq!(
            datagram(b"<13>hello\r\n\0", 9),
            Some((&b"<13>hello"[..], false))
        );
        assert_eq!(datagram(b"\n\0", 10), None);
    }
}
