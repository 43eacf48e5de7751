//! EQL tokens, with the byte offset of each in the query text.

use super::EqlError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A field name, keyword or function name; `ci` when directly followed by `~`.
    Ident {
        name: String,
        ci: bool,
    },
    /// A string literal, unescaped.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    LParen,
    RParen,
    Comma,
    Colon,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Minus,
    Plus,
    Star,
    Slash,
    Percent,
    /// `=`, only in `with maxspan=…` and `with runs=…`.
    Assign,
    Pipe,
    LBracket,
    RBracket,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident { name, ci } => format!("`{name}{}`", if *ci { "~" } else { "" }),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::EqEq => "`==`".into(),
            Tok::NotEq => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::Percent => "`%`".into(),
            Tok::Assign => "`=`".into(),
            Tok::Pipe => "`|`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Eof => "the end of the query".into(),
        }
    }
}

/// Splits `text` into tokens (the last is `Eof`).
pub(crate) fn lex(text: &str) -> Result<Vec<(Tok, usize)>, EqlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                match text[i + 2..].find("*/") {
                    Some(end) => i = i + 2 + end + 2,
                    None => return Err(EqlError::new(start, "unterminated /* comment")),
                }
                continue;
            }
            b'(' => push(&mut out, Tok::LParen, start, &mut i, 1),
            b')' => push(&mut out, Tok::RParen, start, &mut i, 1),
            b',' => push(&mut out, Tok::Comma, start, &mut i, 1),
            b':' => push(&mut out, Tok::Colon, start, &mut i, 1),
            b'|' => push(&mut out, Tok::Pipe, start, &mut i, 1),
            b'[' => push(&mut out, Tok::LBracket, start, &mut i, 1),
            b']' => push(&mut out, Tok::RBracket, start, &mut i, 1),
            b'-' => push(&mut out, Tok::Minus, start, &mut i, 1),
            b'+' => push(&mut out, Tok::Plus, start, &mut i, 1),
            b'*' => push(&mut out, Tok::Star, start, &mut i, 1),
            b'/' => push(&mut out, Tok::Slash, start, &mut i, 1),
            b'%' => push(&mut out, Tok::Percent, start, &mut i, 1),
            b'=' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, Tok::EqEq, start, &mut i, 2),
            b'=' if matches!(out.last(), Some((Tok::Ident { name, ci: false }, _))
                if name.eq_ignore_ascii_case("maxspan") || name.eq_ignore_ascii_case("runs")) =>
            {
                push(&mut out, Tok::Assign, start, &mut i, 1)
            }
            b'=' => return Err(EqlError::new(
                start,
                "`=` is not an EQL operator; use `==` (case-sensitive) or `:` (case-insensitive)",
            )),
            b'!' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, Tok::NotEq, start, &mut i, 2),
            b'!' if bytes.get(i + 1) == Some(&b'[') => {
                return Err(EqlError::new(
                    start,
                    "missing-event steps (`![...]`) are not supported in sequences",
                ))
            }
            b'<' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, Tok::Le, start, &mut i, 2),
            b'<' => push(&mut out, Tok::Lt, start, &mut i, 1),
            b'>' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, Tok::Ge, start, &mut i, 2),
            b'>' => push(&mut out, Tok::Gt, start, &mut i, 1),
            b'"' => {
                let (s, end) = string(text, i)?;
                out.push((Tok::Str(s), start));
                i = end;
            }
            b'\'' => {
                return Err(EqlError::new(
                    start,
                    "single-quoted strings are not EQL; use double quotes",
                ))
            }
            b'0'..=b'9' => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let is_float =
                    bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                if is_float {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    let v: f64 = text[start..i]
                        .parse()
                        .map_err(|_| EqlError::new(start, "invalid number"))?;
                    out.push((Tok::Float(v), start));
                } else {
                    let v: i64 = text[start..i]
                        .parse()
                        .map_err(|_| EqlError::new(start, "number out of range"))?;
                    out.push((Tok::Int(v), start));
                }
            }
            b'`' => {
                let Some(end) = text[i + 1..].find('`') else {
                    return Err(EqlError::new(start, "unterminated `quoted` field name"));
                };
                let name = text[i + 1..i + 1 + end].to_string();
                i = i + 1 + end + 1;
                out.push((Tok::Ident { name, ci: false }, start));
            }
            b'?' if bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'@') =>
            {
                // `?field`: optional field; a missing field is null either way here.
                i += 1;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'@' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.' | b'@'))
                {
                    i += 1;
                }
                let name = text[start..i].to_string();
                let ci = bytes.get(i) == Some(&b'~');
                if ci {
                    i += 1;
                }
                out.push((Tok::Ident { name, ci }, start));
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(EqlError::new(start, format!("unexpected character {ch:?}")));
            }
        }
    }
    out.push((Tok::Eof, text.len()));
    Ok(out)
}

fn push(out: &mut Vec<(Tok, usize)>, tok: Tok, start: usize, i: &mut usize, len: usize) {
    out.push((tok, start));
    *i += len;
}

/// Reads a string literal starting at the `"` at `start`; returns it unescaped and the
/// offset after its closing quote. `"""raw"""` strings take no escapes.
fn string(text: &str, start: usize) -> Result<(String, usize), EqlError> {
    if text[start..].starts_with("\"\"\"") {
        let body = start + 3;
        return match text[body..].find("\"\"\"") {
            Some(end) => Ok((text[body..body + end].to_string(), body + end + 3)),
            None => Err(EqlError::new(start, "unterminated \"\"\" string")),
        };
    }
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        match c {
            '"' => return Ok((out, at + 1)),
            '\n' => {
                return Err(EqlError::new(
                    at,
                    "newline in a string (close the \" first)",
                ))
            }
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    break;
                };
                match e {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let rest = &text[at + 2..];
                        let Some(body) = rest.strip_prefix('{') else {
                            return Err(EqlError::new(at, "expected \\u{XXXX}"));
                        };
                        let Some(close) = body.find('}') else {
                            return Err(EqlError::new(at, "unterminated \\u{...} escape"));
                        };
                        let hex = &body[..close];
                        let ch = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                EqlError::new(at, format!("invalid unicode escape \\u{{{hex}}}"))
                            })?;
                        out.push(ch);
                        for _ in 0..close + 2 {
                            chars.next();
                        }
                    }
                    other => {
                        return Err(EqlError::new(
                            at,
                            format!("unknown escape \\{other} (write \\\\ for a backslash)"),
                        ))
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(EqlError::new(start, "unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_eql() {
        let toks = lex(r#"process.args: "\\\\*" and x == "a\"b\u{41}""#).expect("lex");
        assert_eq!(toks[2].0, Tok::Str("\\\\*".into()));
        assert_eq!(toks[6].0, Tok::Str("a\"bA".into()));
        assert_eq!(
            lex(r#"x : """C:\raw\*""""#).expect("raw")[2].0,
            Tok::Str("C:\\raw\\*".into())
        );
        assert!(lex(r#"x : "\q""#).is_err());
        assert!(lex("x = 1").is_err());
    }
}
