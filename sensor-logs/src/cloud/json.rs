//! A small strict JSON reader for one cloud audit record: the record's fields are read
//! where they lie (strings borrowed unless they hold escapes) and every other value is
//! checked and stepped over, in one pass that also finds where the record ends, without building a tree or calling through
//! serde's visitors. It accepts RFC 8259 JSON nested at most 128 deep (it recurses), so
//! a record it reads is one serde_json reads too; `tests/cloud.rs` holds it to
//! serde_json on every recorded record and on mutations of them.
//!
//! May touch: nothing (pure).

use std::borrow::Cow;

/// Deepest nesting accepted: the reader recurses, and a 1 MiB record of brackets must
/// not exhaust the stack.
const MAX_DEPTH: u32 = 128;

/// Why a record is not JSON, or not the JSON expected, and where.
pub(crate) type Res<T> = Result<T, String>;

/// A reader over one record's bytes. Strings are checked as UTF-8 where they lie (the
/// rest of JSON is ASCII), so a record is read in one pass even before its end is known.
pub(crate) struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text
    }

    /// How far it has read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// `from..to` as text, or where it is not UTF-8.
    /// A run of string bytes from `from` to where the scan stopped, as text, or where it
    /// is not UTF-8.
    fn utf8(&self, from: usize, stop: Stop) -> Res<&'a str> {
        let bytes = &self.text[from..stop.at];
        // Most of a record is ASCII, found so by the scan itself: from_utf8's set-up
        // costs more than a short string's check.
        if stop.ascii {
            // SAFETY: the scan saw no byte over 0x7f in `bytes`, and ASCII is UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8 at byte {}", from + e.valid_up_to()))
    }

    /// `from..to` as text (a raw value: its strings were checked as they were read).
    fn utf8_span(&self, from: usize, to: usize) -> Res<&'a str> {
        std::str::from_utf8(&self.text[from..to])
            .map_err(|e| format!("not UTF-8 at byte {}", from + e.valid_up_to()))
    }

    fn fail<T>(&self, what: &str) -> Res<T> {
        Err(format!("{what} at byte {}", self.pos))
    }

    /// The next byte past whitespace, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.pos) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    fn eat(&mut self, c: u8, what: &str) -> Res<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// Only whitespace may follow the value read.
    pub(crate) fn end(&mut self) -> Res<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    /// Reads an object: `member(reader, key)` for each member, with the reader at its
    /// value, which `member` must read or skip.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Res<()>,
    ) -> Res<()> {
        self.eat(b'{', "expected an object")?;
        self.nest()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return self.fail("expected a key");
            }
            let key = self.string()?;
            self.eat(b':', "expected ':'")?;
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }

    fn nest(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("nested too deep");
        }
        Ok(())
    }

    /// True (and consumed) when the value here is `null`.
    pub(crate) fn null(&mut self) -> Res<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A string, or `null` as `None`; `field` names it in the error otherwise.
    pub(crate) fn opt_string(&mut self, field: &str) -> Res<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'"') => self.string().map(Some),
            Some(b'n') => self.literal(b"null").map(|()| None),
            _ => self.fail(&format!("{field}: expected a string")),
        }
    }

    /// `true`, `false` (or their strings, as some re-shaped records have), or `null`.
    pub(crate) fn opt_flag(&mut self, field: &str) -> Res<Option<bool>> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| Some(true)),
            Some(b'f') => self.literal(b"false").map(|()| Some(false)),
            Some(b'n') => self.literal(b"null").map(|()| None),
            Some(b'"') => match &*self.string()? {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => self.fail(&format!("{field}: expected true or false")),
            },
            _ => self.fail(&format!("{field}: expected true or false")),
        }
    }

    /// The text of the value here, checked and stepped over (`null` is `None`).
    pub(crate) fn opt_raw(&mut self) -> Res<Option<&'a str>> {
        if self.null()? {
            return Ok(None);
        }
        let start = self.pos;
        self.skip()?;
        self.utf8_span(start, self.pos).map(Some)
    }

    fn literal(&mut self, word: &[u8]) -> Res<()> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("expected a JSON value")
        }
    }

    /// Checks the value here and steps over it.
    pub(crate) fn skip(&mut self) -> Res<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => self.object(|r, _| r.skip()),
            Some(b'[') => {
                self.pos += 1;
                self.nest()?;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Ok(());
                        }
                        _ => return self.fail("expected ',' or ']'"),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("expected a JSON value"),
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Res<()> {
        let b = self.bytes();
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => return self.fail("expected a digit"),
        }
        if b.get(i) == Some(&b'.') {
            let after = digits(i + 1);
            if after == i + 1 {
                self.pos = i + 1;
                return self.fail("expected a digit");
            }
            i = after;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let after = digits(i);
            if after == i {
                self.pos = i;
                return self.fail("expected a digit");
            }
            i = after;
        }
        self.pos = i;
        Ok(())
    }

    /// The string here (at its `"`), unescaped; borrowed when it has no escapes.
    pub(crate) fn string(&mut self) -> Res<Cow<'a, str>> {
        let b = self.bytes();
        let start = self.pos + 1;
        let stop = find_special(b, start);
        let at = stop.at;
        match b.get(at) {
            Some(b'"') => {
                self.pos = at + 1;
                self.utf8(start, stop).map(Cow::Borrowed)
            }
            Some(b'\\') => {
                let mut out = String::with_capacity(at - start + 16);
                out.push_str(self.utf8(start, stop)?);
                self.pos = at;
                self.unescape_into(&mut out)?;
                Ok(Cow::Owned(out))
            }
            Some(_) => {
                self.pos = at;
                self.fail("a control character in a string")
            }
            None => {
                self.pos = at;
                self.fail("the record ends inside a string")
            }
        }
    }

    /// From a `\` inside a string to just past its closing quote, decoded into `out`.
    fn unescape_into(&mut self, out: &mut String) -> Res<()> {
        let b = self.bytes();
        loop {
            // At a backslash.
            self.pos += 1;
            match b.get(self.pos) {
                Some(b'"') => out.push('"'),
                Some(b'\\') => out.push('\\'),
                Some(b'/') => out.push('/'),
                Some(b'b') => out.push('\u{8}'),
                Some(b'f') => out.push('\u{c}'),
                Some(b'n') => out.push('\n'),
                Some(b'r') => out.push('\r'),
                Some(b't') => out.push('\t'),
                Some(b'u') => {
                    let c = self.unicode_escape()?;
                    out.push(c);
                    // unicode_escape leaves pos on the last hex digit.
                }
                _ => return self.fail("an invalid escape in a string"),
            }
            // Runs end at ASCII bytes, so each is whole UTF-8 when the string is.
            let run = self.pos + 1;
            let stop = find_special(b, run);
            let at = stop.at;
            out.push_str(self.utf8(run, stop)?);
            self.pos = at;
            match b.get(at) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {}
                Some(_) => return self.fail("a control character in a string"),
                None => return self.fail("the record ends inside a string"),
            }
        }
    }

    /// At the `u` of `\uXXXX`: the character, reading a second escape for a surrogate
    /// pair; leaves `pos` on the last hex digit read.
    fn unicode_escape(&mut self) -> Res<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi).map_or_else(|| self.fail("an invalid \\u escape"), Ok);
        }
        if hi >= 0xDC00 || !self.bytes()[self.pos + 1..].starts_with(b"\\u") {
            return self.fail("a lone surrogate in a \\u escape");
        }
        self.pos += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return self.fail("a lone surrogate in a \\u escape");
        }
        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        char::from_u32(c).map_or_else(|| self.fail("an invalid \\u escape"), Ok)
    }

    /// At a `u`: the four hex digits after it; leaves `pos` on the last.
    fn hex4(&mut self) -> Res<u32> {
        let b = self.bytes();
        let mut v = 0;
        for _ in 0..4 {
            self.pos += 1;
            let d = match b.get(self.pos) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.fail("an invalid \\u escape"),
            };
            v = v * 16 + u32::from(d);
        }
        Ok(v)
    }

    /// Checks the string here and steps over it, without decoding it.
    fn skip_string(&mut self) -> Res<()> {
        let b = self.bytes();
        let mut run = self.pos + 1;
        loop {
            let stop = find_special(b, run);
            let at = stop.at;
            self.utf8(run, stop)?;
            self.pos = at;
            match b.get(at) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match b.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            self.hex4()?;
                        }
                        _ => return self.fail("an invalid escape in a string"),
                    }
                    run = self.pos + 1;
                }
                Some(_) => return self.fail("a control character in a string"),
                None => return self.fail("the record ends inside a string"),
            }
        }
    }
}

/// Where a scan inside a string stopped: at the first `"`, `\` or control character at
/// or after its start (the input's length when there is none), and whether every byte
/// before that is ASCII (then the run needs no UTF-8 check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stop {
    at: usize,
    ascii: bool,
}

/// The [`Stop`] of a run of string bytes from `from`: sixteen bytes at a time on x86-64
/// (SSE2 is part of the architecture), eight elsewhere. Strings are most of a record.
#[inline]
fn find_special(b: &[u8], from: usize) -> Stop {
    #[cfg(target_arch = "x86_64")]
    {
        find_special_sse2(b, from)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        find_special_words(b, from)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn find_special_sse2(b: &[u8], from: usize) -> Stop {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut high = 0;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 16) {
        // SAFETY: SSE2 is part of x86-64, and `chunk` is 16 readable bytes (the load
        // is unaligned).
        let (found, non_ascii) = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let special = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                ),
                // v <= 0x1f, unsigned.
                _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v),
            );
            (
                _mm_movemask_epi8(special) as u32,
                _mm_movemask_epi8(v) as u32,
            )
        };
        if found != 0 {
            let k = found.trailing_zeros();
            high |= non_ascii & ((1 << k) - 1);
            return Stop {
                at: i + k as usize,
                ascii: high == 0,
            };
        }
        high |= non_ascii;
        i += 16;
    }
    tail(b, i, high == 0)
}

/// The bytes after the last whole block, one at a time.
#[inline]
fn tail(b: &[u8], mut i: usize, mut ascii: bool) -> Stop {
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        ascii &= c < 0x80;
        i += 1;
    }
    Stop { at: i, ascii }
}

#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn find_special_words(b: &[u8], from: usize) -> Stop {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut seen = 0;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        // A byte is flagged when it is zero (in `quote`, `slash`) or below 0x20 (in
        // `w`); borrows only flag bytes above the first true one, so the lowest flag
        // is exact.
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let found = found & HIGH;
        if found != 0 {
            let k = found.trailing_zeros() - 7;
            seen |= w & ((1u64 << k) - 1);
            return Stop {
                at: i + (k / 8) as usize,
                ascii: seen & HIGH == 0,
            };
        }
        seen |= w;
        i += 8;
    }
    tail(b, i, seen & HIGH == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_all(text: &str) -> Res<()> {
        let mut r = Reader::new(text.as_bytes());
        r.skip()?;
        r.end()
    }

    #[test]
    fn it_accepts_what_serde_json_accepts_and_rejects_the_rest() {
        let cases = [
            r#"{}"#,
            r#"{"a":[1,-0.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"],"b":{}}"#,
            " { \"a\" : [ ] , \"b\" : [ { } ] } ",
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[1 2]}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":1}x"#,
            r#"{"a":"cut"#,
            r#"[1,2,]"#,
            r#"{"a":{"b":[]}}"#,
            r#"{"a":"é ü 🦀"}"#,
        ];
        for text in cases {
            let ours = skip_all(text).is_ok();
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(ours, serde, "{text}");
        }
        // serde_json steps over skipped values of any depth; this reader recurses,
        // so it stops at 128 (no cloud record comes near it).
        let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(skip_all(&deep(128)).is_ok());
        assert!(skip_all(&deep(129)).is_err());
        assert!(skip_all(&deep(100_000)).is_err());
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        for text in [
            r#""plain""#,
            r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
            r#""\u00e9\u20ac\ud83d\ude00x""#,
            r#""0123456789abcdef\n0123456789abcdef""#,
            r#""""#,
            r#""é and \u00e9""#,
        ] {
            let mut r = Reader::new(text.as_bytes());
            let ours = r.string().expect(text);
            let serde: String = serde_json::from_str(text).expect(text);
            assert_eq!(ours, serde, "{text}");
            assert_eq!(matches!(ours, Cow::Borrowed(_)), !text.contains('\\'));
        }
        for bad in [r#""\ud83d""#, r#""\ude00x""#, r#""\ud83d\u0041""#] {
            assert!(Reader::new(bad.as_bytes()).string().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_block_scans_find_the_first_special_byte_and_see_non_ascii_before_it() {
        for len in 0..70 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    for high_at in [None, Some(0), Some(at / 2), Some(at + 1), Some(len - 1)] {
                        let mut b: Vec<u8> = (0..len).map(|i| b"ab~ \x7f!zq"[i % 8]).collect();
                        if let Some(h) = high_at.filter(|&h| h < len) {
                            b[h] = 0xc3;
                        }
                        b[at] = special;
                        // A second special byte later must not matter.
                        if at + 3 < len {
                            b[at + 3] = b'"';
                        }
                        let ascii = b[..at].is_ascii();
                        let want = Stop { at, ascii };
                        assert_eq!(find_special(&b, 0), want, "{b:?}");
                        assert_eq!(find_special_words(&b, 0), want, "{b:?}");
                    }
                }
            }
            let b: Vec<u8> = (0..len).map(|i| b" ~A\x7f"[i % 4]).collect();
            let want = Stop {
                at: len,
                ascii: true,
            };
            assert_eq!(find_special(&b, 0), want);
            assert_eq!(find_special_words(&b, 0), want);
        }
    }
}
