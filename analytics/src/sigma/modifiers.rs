//! Sigma values and the modifiers that rewrite them: wildcard parsing with Sigma's
//! escapes, `contains`/`startswith`/`endswith`, `windash`, `base64`/`base64offset` over
//! UTF-8 or UTF-16 bytes, and `expand` placeholders. Pure functions on strings.

use base64::Engine as _;
use std::collections::BTreeMap;

/// One part of a Sigma string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
}

/// A Sigma string value: literals and wildcards.
pub(crate) type Pattern = Vec<Piece>;

/// A value modifier (`Field|mod1|mod2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Cased,
    Re,
    /// `re`'s flags: `i`, `m`, `s`.
    ReFlag(char),
    Cidr,
    Base64,
    Base64Offset,
    Utf16le,
    Utf16be,
    /// `utf16`: little-endian with a byte-order mark.
    Utf16,
    Windash,
    Exists,
    Fieldref,
    Gt,
    Gte,
    Lt,
    Lte,
    Expand,
}

/// The modifier named `s`, if Sigma v2 has it.
pub(crate) fn parse_modifier(s: &str) -> Option<Modifier> {
    use Modifier::*;
    Some(match s {
        "contains" => Contains,
        "startswith" => StartsWith,
        "endswith" => EndsWith,
        "all" => All,
        "cased" => Cased,
        "re" => Re,
        "i" | "ignorecase" => ReFlag('i'),
        "m" | "multiline" => ReFlag('m'),
        "s" | "dotall" => ReFlag('s'),
        "cidr" => Cidr,
        "base64" => Base64,
        "base64offset" => Base64Offset,
        "utf16le" | "wide" => Utf16le,
        "utf16be" => Utf16be,
        "utf16" => Utf16,
        "windash" => Windash,
        "exists" => Exists,
        "fieldref" => Fieldref,
        "gt" => Gt,
        "gte" => Gte,
        "lt" => Lt,
        "lte" => Lte,
        "expand" => Expand,
        _ => return None,
    })
}

/// Parses Sigma's wildcards: `*` and `?`, with `\*`, `\?` and `\\` for the characters
/// themselves; any other backslash is literal (`C:\Windows`).
pub(crate) fn parse_pattern(s: &str) -> Pattern {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    let flush = |lit: &mut String, out: &mut Pattern| {
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(lit)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' => {
                flush(&mut lit, &mut out);
                out.push(Piece::Star);
            }
            '?' => {
                flush(&mut lit, &mut out);
                out.push(Piece::One);
            }
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut out);
    out
}

/// The text of a pattern without wildcards.
pub(crate) fn literal(p: &Pattern) -> Option<String> {
    let mut s = String::new();
    for piece in p {
        match piece {
            Piece::Lit(l) => s.push_str(l),
            _ => return None,
        }
    }
    Some(s)
}

/// Wraps a pattern for `contains` / `startswith` / `endswith` (a wildcard already there
/// is not doubled).
pub(crate) fn wrap(mut p: Pattern, start: bool, end: bool) -> Pattern {
    if start && p.first() != Some(&Piece::Star) {
        p.insert(0, Piece::Star);
    }
    if end && p.last() != Some(&Piece::Star) {
        p.push(Piece::Star);
    }
    p
}

/// The byte encoding `base64` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Utf16le,
    Utf16be,
    Utf16Bom,
}

pub(crate) fn encode(s: &str, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Utf8 => s.as_bytes().to_vec(),
        Encoding::Utf16le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Encoding::Utf16be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Encoding::Utf16Bom => [0xff, 0xfe]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
    }
}

/// `base64`: the standard encoding, padded.
pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `base64offset`: the three encodings of `bytes` at each offset into a 3-byte group,
/// with the characters that depend on the unknown neighbours cut off, so each is found
/// inside the encoding of any text that contains `bytes`.
pub(crate) fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    (0..3usize)
        .map(|i| {
            let mut padded = vec![0u8; i];
            padded.extend_from_slice(bytes);
            let enc = base64(&padded);
            let start = [0, 2, 3][i];
            let cut = [0, 3, 2][(bytes.len() + i) % 3];
            enc.get(start..enc.len().saturating_sub(cut))
                .unwrap_or("")
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// The characters `windash` lets stand for a leading `-` or `/`: the two Windows
/// programs accept, and the dashes a pasted command line brings (en, em, horizontal bar).
const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most variants `windash` may make of one value (5 per dash, multiplied).
const MAX_WINDASH_VARIANTS: usize = 625;

/// `windash`: every `-` or `/` that starts an option (after a non-word character or the
/// start, before a word character) in each of [`WINDASH`]'s forms, every combination.
pub(crate) fn windash(p: &Pattern) -> Result<Vec<Pattern>, String> {
    // Split the literals so each option dash is a piece of its own.
    let mut parts: Vec<Option<Piece>> = Vec::new(); // None = an option dash
    let word = |c: char| c.is_alphanumeric() || c == '_';
    for (idx, piece) in p.iter().enumerate() {
        let Piece::Lit(l) = piece else {
            parts.push(Some(piece.clone()));
            continue;
        };
        let chars: Vec<char> = l.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let before_ok = if i == 0 {
                // The piece before: a wildcard or the start is no word character.
                match idx.checked_sub(1).and_then(|j| p.get(j)) {
                    Some(Piece::Lit(prev)) => !prev.chars().last().is_some_and(word),
                    _ => true,
                }
            } else {
                !word(chars[i - 1])
            };
            let after_ok = chars.get(i + 1).is_some_and(|&n| word(n));
            if (c == '-' || c == '/') && before_ok && after_ok {
                if !cur.is_empty() {
                    parts.push(Some(Piece::Lit(std::mem::take(&mut cur))));
                }
                parts.push(None);
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            parts.push(Some(Piece::Lit(cur)));
        }
    }
    let dashes = parts.iter().filter(|p| p.is_none()).count();
    let count = WINDASH
        .len()
        .checked_pow(dashes as u32)
        .unwrap_or(usize::MAX);
    if count > MAX_WINDASH_VARIANTS {
        return Err(format!(
            "windash would make {count} variants of one value (at most {MAX_WINDASH_VARIANTS})"
        ));
    }
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let mut k = n;
        let mut pat: Pattern = Vec::new();
        for part in &parts {
            let piece = match part {
                Some(p) => p.clone(),
                None => {
                    let c = WINDASH[k % WINDASH.len()];
                    k /= WINDASH.len();
                    Piece::Lit(c.to_string())
                }
            };
            match (pat.last_mut(), piece) {
                (Some(Piece::Lit(prev)), Piece::Lit(l)) => prev.push_str(&l),
                (_, piece) => pat.push(piece),
            }
        }
        out.push(pat);
    }
    Ok(out)
}

/// `expand`: each `%name%` in `s` replaced by each of the placeholder's configured
/// values (every combination); an unknown placeholder is an error naming it.
pub(crate) fn expand(
    s: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = s;
    while let Some(open) = rest.find('%') {
        let Some(len) = rest[open + 1..].find('%') else {
            break;
        };
        let name = &rest[open + 1..open + 1 + len];
        let values = placeholders.get(name).ok_or_else(|| {
            format!("placeholder %{name}% is not configured (rules.sigma.placeholders)")
        })?;
        let head = &rest[..open];
        let mut next = Vec::with_capacity(out.len() * values.len());
        for prefix in &out {
            for v in values {
                next.push(format!("{prefix}{head}{v}"));
            }
        }
        out = next;
        rest = &rest[open + 2 + len..];
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            parse_pattern(r"a\*b*c?\\d\x"),
            vec![
                Piece::Lit("a*b".into()),
                Piece::Star,
                Piece::Lit("c".into()),
                Piece::One,
                Piece::Lit(r"\d\x".into())
            ]
        );
        assert_eq!(
            parse_pattern(r"\\*"),
            vec![Piece::Lit("\\".into()), Piece::Star]
        );
    }

    #[test]
    fn base64_offsets_are_found_in_any_encoding() {
        let needle = b"http://";
        let offsets = base64_offsets(needle);
        for prefix in ["", "a", "ab", "abc"] {
            let mut text = prefix.as_bytes().to_vec();
            text.extend_from_slice(needle);
            text.extend_from_slice(b"xyz");
            let enc = base64(&text);
            assert!(
                offsets.iter().any(|o| enc.contains(o)),
                "{prefix}: {enc} {offsets:?}"
            );
        }
    }

    #[test]
    fn windash_variants() {
        let v = windash(&parse_pattern("net -a /b c-d")).expect("ok");
        assert_eq!(v.len(), 25);
        assert!(v.contains(&vec![Piece::Lit("net /a -b c-d".into())]));
    }
}
