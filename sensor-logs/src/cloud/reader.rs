//! Splitting a stream of JSON into records, without building a JSON tree: the bytes of
//! one record at a time, found by a scan that tracks only strings and nesting depth.
//!
//! Reads whatever [`std::io::Read`] it is given (a file, a gzip decoder over one). The
//! shapes it accepts, at the top level of the stream, any number of them one after
//! another (so NDJSON is the same as concatenated JSON):
//! - an object whose first key is one of the wrapper keys (`Records` for a CloudTrail
//!   S3 delivery object, `entries` for a Cloud Logging `entries.list` answer): each
//!   element of that array is a record, and the rest of the wrapper is skipped;
//! - an array: each element is a record (TrailDiscover's `*.json.cloudtrail`,
//!   `gcloud logging read --format=json`);
//! - any other object: one record (NDJSON, a single record in a file).
//!
//! A record over the size cap is skipped without being held ([`Item::Oversized`]); an
//! element that is not an object, or a top-level line that is not JSON, is reported and
//! skipped ([`Item::NotObject`]), and the scan goes on with the next. The end of the
//! input inside a record or an array ends the stream with [`SplitError::Truncated`].
//! Whether a record is valid JSON is for the parser of its bytes to say.
//!
//! May touch: nothing but the reader it is given (and [`open_object`] opens one file).

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Largest record read by default: 1 MiB. CloudTrail's own records are far smaller
/// (its event size limit is 256 KB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// Opens one object for reading: gzip (detected by its magic bytes `1f 8b`, whatever
/// its name) is decompressed as it is read, every member of a multi-member file.
pub fn open_object(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    decode_object(File::open(path)?)
}

/// An object's bytes from `file` as [`open_object`] reads them: decompressed when they
/// start with the gzip magic, as they are otherwise.
pub fn decode_object<R: Read + Send + 'static>(mut file: R) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = io::Cursor::new(magic[..got].to_vec());
    let stream = head.chain(file);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            128 * 1024,
            stream,
        ))))
    } else {
        Ok(Box::new(stream))
    }
}

/// One item of the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// One JSON object where a record belongs: its bytes, from `{` to the bracket that
    /// closes it (nesting is counted, not bracket kinds: the record's parser rejects `{…]`).
    Object(&'a [u8]),
    /// A record longer than the cap: its length in bytes. It was skipped, not held.
    Oversized(u64),
    /// Something else where a record belongs (a number, a string, a line that is not
    /// JSON), skipped; what it was.
    NotObject(&'static str),
}

/// A record's parser as [`RecordSplitter::next_parsed`] takes it: the bytes from the
/// record's `{` on, to the length it read and what it made of them.
pub type InPlace<'p, T> = dyn FnMut(&[u8]) -> Option<(usize, T)> + 'p;

/// What [`RecordSplitter::next_parsed`] hands out.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a, T> {
    /// A record its parser read where it lay (and so found its end).
    Record(T),
    /// An item the splitter found (its parser could not read it in place).
    Item(Item<'a>),
}

/// Why the stream cannot be read on.
#[derive(Debug)]
pub enum SplitError {
    /// Reading failed (for a gzip object: also a corrupt or cut compressed stream).
    Io(io::Error),
    /// The input ended inside a record or an array of records.
    Truncated(&'static str),
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::Io(e) => write!(f, "{e}"),
            SplitError::Truncated(what) => write!(f, "the input ends {what}"),
        }
    }
}

impl std::error::Error for SplitError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    Top,
    /// Inside an array of records (`wrapper`: the `Records` array of a wrapper object).
    Array { wrapper: bool },
    /// Inside a wrapper object, after its array of records.
    AfterWrapper,
    /// The input ended, or could not be read on.
    Done,
}

/// How far a scan for the end of a nested value got (kept across buffer refills).
#[derive(Debug, Clone, Copy)]
struct Scan {
    depth: u32,
    in_str: bool,
}

/// Splits a stream of JSON into records (see the module docs).
pub struct RecordSplitter<R> {
    src: R,
    buf: Vec<u8>,
    /// First byte not yet handed out or skipped.
    lo: usize,
    /// End of the bytes read.
    hi: usize,
    eof: bool,
    state: State,
    max: usize,
    wrappers: &'static [&'static [u8]],
}

impl<R> std::fmt::Debug for RecordSplitter<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSplitter")
            .field("state", &self.state)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

const CHUNK: usize = 256 * 1024;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: Read> RecordSplitter<R> {
    /// A splitter over `src`: records up to `max` bytes, wrapper objects recognised by
    /// the first key being one of `wrappers`.
    pub fn new(src: R, max: usize, wrappers: &'static [&'static [u8]]) -> Self {
        RecordSplitter {
            src,
            buf: vec![0; CHUNK],
            lo: 0,
            hi: 0,
            eof: false,
            state: State::Top,
            max: max.max(2),
            wrappers,
        }
    }

    /// Reads more, keeping the bytes from `keep` on (moved to the front). Returns how
    /// far they moved, so the caller's indices can follow; `None` at the end of input.
    fn refill(&mut self, keep: usize) -> Result<Option<usize>, SplitError> {
        if self.eof {
            return Ok(None);
        }
        let keep = keep.min(self.hi);
        if keep > 0 {
            self.buf.copy_within(keep..self.hi, 0);
            self.hi -= keep;
            self.lo = self.lo.saturating_sub(keep);
        }
        if self.hi == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.hi..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(if keep > 0 { Some(keep) } else { None });
                }
                Ok(n) => {
                    self.hi += n;
                    return Ok(Some(keep));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.state = State::Done;
                    return Err(SplitError::Io(e));
                }
            }
        }
    }

    /// The byte at `lo`, past whitespace (and commas, with `commas`), reading on as
    /// needed; `None` at the end of input.
    fn peek(&mut self, commas: bool) -> Result<Option<u8>, SplitError> {
        loop {
            while self.lo < self.hi {
                let b = self.buf[self.lo];
                if is_ws(b) || (commas && b == b',') {
                    self.lo += 1;
                } else {
                    return Ok(Some(b));
                }
            }
            let lo = self.lo;
            if self.refill(lo)?.is_none() && self.lo >= self.hi {
                return Ok(None);
            }
        }
    }

    /// The next item, or `None` at the end of the input.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Item<'_>>, SplitError> {
        let mut unread = |_: &[u8]| None::<(usize, ())>;
        Ok(match self.next_parsed(&mut unread)? {
            Some(Parsed::Item(item)) => Some(item),
            Some(Parsed::Record(())) | None => None,
        })
    }

    /// The next item, each record first offered to `parse` with the buffered bytes from
    /// its `{` on (at most the cap): `Some((len, value))` when `parse` read a whole
    /// record of `len` bytes there, `None` to have the splitter find its end (a record
    /// cut by the buffer's end, or one `parse` cannot read). Reading a record finds its
    /// end, so a record is scanned once instead of twice.
    pub fn next_parsed<T>(
        &mut self,
        parse: &mut InPlace<'_, T>,
    ) -> Result<Option<Parsed<'_, T>>, SplitError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Top => match self.peek(false)? {
                    None => {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    Some(b'[') => {
                        self.lo += 1;
                        self.state = State::Array { wrapper: false };
                    }
                    Some(b'{') => {
                        if self.enter_wrapper()? {
                            self.state = State::Array { wrapper: true };
                        } else {
                            return self.record(parse);
                        }
                    }
                    Some(_) => {
                        self.skip_line()?;
                        let what = "a line that is not a JSON object";
                        return Ok(Some(Parsed::Item(Item::NotObject(what))));
                    }
                },
                State::Array { wrapper } => match self.peek(true)? {
                    None => {
                        self.state = State::Done;
                        return Err(SplitError::Truncated("inside an array of records"));
                    }
                    Some(b']') => {
                        self.lo += 1;
                        self.state = if wrapper {
                            State::AfterWrapper
                        } else {
                            State::Top
                        };
                    }
                    Some(b'{') => return self.record(parse),
                    Some(_) => {
                        self.skip_value()?;
                        let what = "an array element that is not an object";
                        return Ok(Some(Parsed::Item(Item::NotObject(what))));
                    }
                },
                State::AfterWrapper => {
                    // The rest of the wrapper object: its other keys, then its `}`.
                    let lo = self.lo;
                    let scan = Scan {
                        depth: 1,
                        in_str: false,
                    };
                    match self.scan_nested(lo, scan, true)? {
                        Some(_) => self.state = State::Top,
                        None => {
                            self.state = State::Done;
                            return Err(SplitError::Truncated("inside the wrapper object"));
                        }
                    }
                }
            }
        }
    }

    /// At a top-level `{`: if its first key is a wrapper key whose value is an array,
    /// steps into that array and says so; otherwise leaves `lo` at the `{`.
    fn enter_wrapper(&mut self) -> Result<bool, SplitError> {
        const LOOK: usize = 128;
        while self.hi - self.lo < LOOK && !self.eof {
            let lo = self.lo;
            if self.refill(lo)?.is_none() {
                break;
            }
        }
        let window = &self.buf[self.lo..self.hi.min(self.lo + LOOK)];
        let mut i = 1;
        let skip_ws = |i: &mut usize| {
            while *i < window.len() && is_ws(window[*i]) {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        if window.get(i) != Some(&b'"') {
            return Ok(false);
        }
        i += 1;
        let Some(key) = self
            .wrappers
            .iter()
            .find(|k| window[i..].starts_with(k) && window.get(i + k.len()) == Some(&b'"'))
        else {
            return Ok(false);
        };
        i += key.len() + 1;
        skip_ws(&mut i);
        if window.get(i) != Some(&b':') {
            return Ok(false);
        }
        i += 1;
        skip_ws(&mut i);
        if window.get(i) != Some(&b'[') {
            return Ok(false);
        }
        self.lo += i + 1;
        Ok(true)
    }

    /// The object starting at `lo`: read in place by `parse`, else handed out whole, or
    /// skipped if over the cap.
    fn record<T>(
        &mut self,
        parse: &mut InPlace<'_, T>,
    ) -> Result<Option<Parsed<'_, T>>, SplitError> {
        let start = self.lo;
        let window = &self.buf[start..self.hi.min(start.saturating_add(self.max))];
        if let Some((len, value)) = parse(window) {
            if (1..=window.len()).contains(&len) {
                self.lo = start + len;
                return Ok(Some(Parsed::Record(value)));
            }
        }
        let scan = Scan {
            depth: 0,
            in_str: false,
        };
        match self.scan_nested(start, scan, false)? {
            Some(Scanned::Whole { start, end }) => {
                Ok(Some(Parsed::Item(Item::Object(&self.buf[start..end]))))
            }
            Some(Scanned::Skipped(n)) => Ok(Some(Parsed::Item(Item::Oversized(n)))),
            None => {
                self.state = State::Done;
                Err(SplitError::Truncated("inside a record"))
            }
        }
    }

    /// Skips an array element that is not an object: a nested array, a string, or a
    /// scalar up to the next delimiter.
    fn skip_value(&mut self) -> Result<(), SplitError> {
        let start = self.lo;
        if matches!(self.buf[start], b'[' | b'"') {
            let scan = Scan {
                depth: 0,
                in_str: false,
            };
            return match self.scan_nested(start, scan, true)? {
                Some(_) => Ok(()),
                None => {
                    self.state = State::Done;
                    Err(SplitError::Truncated("inside an array of records"))
                }
            };
        }
        // At least the first byte goes, so a stray `}` cannot stop the scan.
        self.lo += 1;
        loop {
            while self.lo < self.hi {
                let b = self.buf[self.lo];
                if is_ws(b) || matches!(b, b',' | b']' | b'}') {
                    return Ok(());
                }
                self.lo += 1;
            }
            let lo = self.lo;
            if self.refill(lo)?.is_none() {
                return Ok(());
            }
        }
    }

    /// Skips to just past the next line end (a top-level line that is not JSON).
    fn skip_line(&mut self) -> Result<(), SplitError> {
        loop {
            if let Some(k) = memchr::memchr(b'\n', &self.buf[self.lo..self.hi]) {
                self.lo += k + 1;
                return Ok(());
            }
            self.lo = self.hi;
            let lo = self.lo;
            if self.refill(lo)?.is_none() {
                return Ok(());
            }
        }
    }

    /// Scans from `start` (a `{`, `[` or `"`, or inside a value at `scan.depth`) to the
    /// end of the value: its bytes stay in the buffer unless they go over the cap (or
    /// `discard`), when they are dropped as the scan goes. `None` at the end of input.
    fn scan_nested(
        &mut self,
        start: usize,
        mut scan: Scan,
        discard: bool,
    ) -> Result<Option<Scanned>, SplitError> {
        let mut start = start;
        let mut i = start;
        let mut dropped: u64 = 0;
        let mut skipping = discard;
        loop {
            while i < self.hi {
                if scan.in_str {
                    match memchr::memchr2(b'"', b'\\', &self.buf[i..self.hi]) {
                        Some(k) => {
                            i += k;
                            if self.buf[i] == b'\\' {
                                // The escaped byte may be past the buffer's end: `i`
                                // then points past `hi`, and the refill keeps that.
                                i += 2;
                            } else {
                                scan.in_str = false;
                                i += 1;
                                if scan.depth == 0 {
                                    // A string value on its own (skip_value).
                                    self.lo = i;
                                    return Ok(Some(Scanned::Skipped(
                                        dropped + (i - start) as u64,
                                    )));
                                }
                            }
                        }
                        None => i = self.hi,
                    }
                    continue;
                }
                match self.buf[i] {
                    b'"' => scan.in_str = true,
                    b'{' | b'[' => scan.depth += 1,
                    b'}' | b']' => {
                        scan.depth = scan.depth.saturating_sub(1);
                        if scan.depth == 0 {
                            let end = i + 1;
                            self.lo = end;
                            let len = dropped + (end - start) as u64;
                            return Ok(Some(if skipping || len > self.max as u64 {
                                Scanned::Skipped(len)
                            } else {
                                Scanned::Whole { start, end }
                            }));
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if !skipping && i - start > self.max {
                skipping = true;
            }
            // Keep what the value needs: everything from its start, or (skipping)
            // nothing before the scan point.
            let keep = if skipping {
                let at = i.min(self.hi);
                dropped += (at - start) as u64;
                start = at;
                at
            } else {
                start
            };
            self.lo = keep;
            match self.refill(keep)? {
                None => return Ok(None),
                Some(shift) => {
                    start -= shift;
                    i -= shift;
                }
            }
        }
    }
}

/// Where a scanned value was.
enum Scanned {
    /// In the buffer, `start..end`.
    Whole { start: usize, end: usize },
    /// Dropped as it was scanned (over the cap, or not wanted): its length.
    Skipped(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRAP: &[&[u8]] = &[b"Records"];

    /// Every item, read through a reader that hands out `step` bytes at a time.
    fn items(input: &[u8], max: usize, step: usize) -> (Vec<String>, Option<String>) {
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = RecordSplitter::new(Slow(input, step), max, WRAP);
        let mut out = Vec::new();
        loop {
            match s.next() {
                Ok(Some(Item::Object(b))) => out.push(String::from_utf8_lossy(b).into_owned()),
                Ok(Some(Item::Oversized(n))) => out.push(format!("<oversized {n}>")),
                Ok(Some(Item::NotObject(w))) => out.push(format!("<not an object: {w}>")),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn every_shape_gives_the_same_records() {
        let a = r#"{"a":"x}\"{","b":[1,{"c":2}]}"#;
        let b = r#"{"eventName":"B"}"#;
        let forms = [
            format!(r#"{{"Records":[{a},{b}]}}"#),
            format!(" {{ \"Records\" :\n [ {a} ,\n{b} ] , \"more\": {{\"x\":[]}} }}\n"),
            format!("[{a},{b}]"),
            format!("{a}\n{b}\n"),
            format!("{a}{b}"),
        ];
        for form in &forms {
            for step in [1, 3, 7, 4096] {
                let (got, err) = items(form.as_bytes(), 1024, step);
                assert_eq!(got, [a, b], "{form} in steps of {step}");
                assert_eq!(err, None, "{form}");
            }
        }
    }

    #[test]
    fn oversized_and_foreign_items_are_skipped_and_the_rest_read() {
        let big = format!(r#"{{"k":"{}"}}"#, "z".repeat(5000));
        let input = format!("[{big}, 7, \"s\", [1,2], {{\"ok\":1}}]\nnot json\n{{\"ok\":2}}");
        for step in [1, 5, 100_000] {
            let (got, err) = items(input.as_bytes(), 100, step);
            assert_eq!(
                got,
                [
                    format!("<oversized {}>", big.len()),
                    "<not an object: an array element that is not an object>".into(),
                    "<not an object: an array element that is not an object>".into(),
                    "<not an object: an array element that is not an object>".into(),
                    r#"{"ok":1}"#.into(),
                    "<not an object: a line that is not a JSON object>".into(),
                    r#"{"ok":2}"#.into(),
                ],
                "steps of {step}"
            );
            assert_eq!(err, None);
        }
    }

    #[test]
    fn a_cut_input_ends_with_truncated_after_the_whole_records() {
        let (got, err) = items(br#"{"Records":[{"a":1},{"a":"#, 1024, 3);
        assert_eq!(got, [r#"{"a":1}"#]);
        assert_eq!(err.as_deref(), Some("the input ends inside a record"));
        let (got, err) = items(br#"[{"a":1}"#, 1024, 2);
        assert_eq!(got, [r#"{"a":1}"#]);
        assert_eq!(
            err.as_deref(),
            Some("the input ends inside an array of records")
        );
    }

    #[test]
    fn stray_closers_do_not_stop_the_scan() {
        let (got, err) = items(b"[{\"a\":1}}, {\"b\":2}]\n}\n{\"c\":3}", 1024, 3);
        assert_eq!(
            got,
            [
                r#"{"a":1}"#.to_string(),
                "<not an object: an array element that is not an object>".into(),
                r#"{"b":2}"#.into(),
                "<not an object: a line that is not a JSON object>".into(),
                r#"{"c":3}"#.into(),
            ]
        );
        assert_eq!(err, None);
    }

    #[test]
    fn a_record_whose_first_key_is_not_the_wrapper_is_one_record() {
        let input = r#"{"Recordsx":[1],"b":2}{"x":{"Records":[]}}"#;
        let (got, _) = items(input.as_bytes(), 1024, 2);
        assert_eq!(
            got,
            [r#"{"Recordsx":[1],"b":2}"#, r#"{"x":{"Records":[]}}"#]
        );
    }
}
