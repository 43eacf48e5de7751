//! Wildcard patterns (`*` any run of characters, `?` exactly one), compiled once.
//!
//! Case-insensitive matching lower-cases both sides character by character (as Lucene's
//! lower-case normaliser does, which is what Elastic's `:` runs on). Patterns are
//! classified at compile time so the common shapes (`exact`, `prefix*`, `*suffix`,
//! `*infix*`) never run the general matcher, and ASCII values are compared in place
//! without allocating.

use std::borrow::Cow;

/// One token of a general pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    One,
    Run,
}

#[derive(Debug, Clone)]
enum Shape {
    /// No wildcard.
    Exact(String),
    /// `abc*`.
    Prefix(String),
    /// `*abc`.
    Suffix(String),
    /// `*abc*`.
    Contains(String),
    /// `*` alone.
    Any,
    /// Anything else.
    General(Vec<Tok>),
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    shape: Shape,
    ci: bool,
    /// The pattern text as written (for reporting what matched).
    source: String,
}

/// Lower-cases per character (the same fold is applied to patterns and values).
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        if s.is_ascii() {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
        }
    } else {
        Cow::Borrowed(s)
    }
}

/// [`fold`] into a reused buffer (no allocation once the buffer has grown).
pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.extend(s.chars().flat_map(char::to_lowercase));
    }
}

/// What a value must hold, in [`fold`]ed form, for a pattern to match it: used to index
/// rules, so it may be weaker than the pattern but never stronger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// The folded value equals this.
    Exact(String),
    /// The folded value contains this (never empty).
    Contains(String),
}

impl Glob {
    /// The literal every value this pattern matches must hold once folded, or `None` when
    /// there is none (`*`, `?`). Sound because [`fold`] lower-cases character by
    /// character: a value equal to (or containing) a string folds to one equal to (or
    /// containing) that string folded, whatever the pattern's case-sensitivity.
    pub fn required_literal(&self) -> Option<Literal> {
        let folded = |p: &str| fold(p).into_owned();
        let contains = |p: &str| (!p.is_empty()).then(|| Literal::Contains(folded(p)));
        match &self.shape {
            Shape::Exact(p) => Some(Literal::Exact(folded(p))),
            Shape::Prefix(p) | Shape::Suffix(p) | Shape::Contains(p) => contains(p),
            Shape::Any => None,
            Shape::General(toks) => {
                // The longest run of literal characters between wildcards; of equal ones
                // the last, which in a path or command line is the more particular (in
                // `/home/*/.kube`, `/.kube` rather than `/home/`).
                let mut best = String::new();
                let mut run = String::new();
                for t in toks.iter().chain(std::iter::once(&Tok::Run)) {
                    match t {
                        Tok::Lit(c) => run.push(*c),
                        _ => {
                            if run.chars().count() >= best.chars().count() {
                                best = std::mem::take(&mut run);
                            }
                            run.clear();
                        }
                    }
                }
                contains(&best)
            }
        }
    }

    /// Compiles a wildcard pattern; `ci` makes it case-insensitive.
    pub fn new(pattern: &str, ci: bool) -> Glob {
        let text = if ci {
            fold(pattern).into_owned()
        } else {
            pattern.to_string()
        };
        let has = |c: char| text.contains(c);
        let shape = if !has('*') && !has('?') {
            Shape::Exact(text)
        } else if text.chars().all(|c| c == '*') {
            Shape::Any
        } else if has('?') {
            Shape::General(tokens(&text))
        } else {
            let stars = text.matches('*').count();
            let starts = text.starts_with('*');
            let ends = text.ends_with('*');
            let inner = text.trim_matches('*');
            if inner.contains('*') {
                Shape::General(tokens(&text))
            } else if starts && ends && stars == 2 {
                Shape::Contains(inner.to_string())
            } else if ends && !starts && stars == 1 {
                Shape::Prefix(inner.to_string())
            } else if starts && !ends && stars == 1 {
                Shape::Suffix(inner.to_string())
            } else {
                Shape::General(tokens(&text))
            }
        };
        Glob {
            shape,
            ci,
            source: pattern.to_string(),
        }
    }

    /// A pattern matching values that start with `literal` (no wildcard parsing).
    pub fn prefix(literal: &str, ci: bool) -> Glob {
        Self::literal(literal, ci, Shape::Prefix)
    }

    /// A pattern matching values that end with `literal`.
    pub fn suffix(literal: &str, ci: bool) -> Glob {
        Self::literal(literal, ci, Shape::Suffix)
    }

    /// A pattern matching values that contain `literal`.
    pub fn contains(literal: &str, ci: bool) -> Glob {
        Self::literal(literal, ci, Shape::Contains)
    }

    /// A pattern matching exactly `literal`.
    pub fn exact(literal: &str, ci: bool) -> Glob {
        Self::literal(literal, ci, Shape::Exact)
    }

    fn literal(literal: &str, ci: bool, make: fn(String) -> Shape) -> Glob {
        let text = if ci {
            fold(literal).into_owned()
        } else {
            literal.to_string()
        };
        Glob {
            shape: make(text),
            ci,
            source: literal.to_string(),
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether this pattern has no wildcard (a plain string comparison).
    pub fn is_exact(&self) -> bool {
        matches!(self.shape, Shape::Exact(_))
    }

    /// Does `value` match?
    pub fn matches(&self, value: &str) -> bool {
        if !self.ci {
            return match_shape(&self.shape, value);
        }
        // Fast path: ASCII value, compared with ASCII folding in place.
        if value.is_ascii() {
            match &self.shape {
                Shape::Exact(p) => return value.eq_ignore_ascii_case(p),
                Shape::Prefix(p) => {
                    return value.len() >= p.len()
                        && value.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                }
                Shape::Suffix(p) => {
                    return value.len() >= p.len()
                        && value.as_bytes()[value.len() - p.len()..]
                            .eq_ignore_ascii_case(p.as_bytes())
                }
                Shape::Contains(p) => return contains_ascii_ci(value.as_bytes(), p.as_bytes()),
                Shape::Any => return true,
                Shape::General(toks) => {
                    let v = value.as_bytes();
                    return run(toks, v.len(), |ti, vi| match toks[ti] {
                        Tok::Lit(c) => c.is_ascii() && v[vi].to_ascii_lowercase() == c as u8,
                        _ => true,
                    });
                }
            }
        }
        match_shape(&self.shape, &fold(value))
    }
}

fn tokens(text: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let t = match c {
            '*' => Tok::Run,
            '?' => Tok::One,
            c => Tok::Lit(c),
        };
        if t == Tok::Run && out.last() == Some(&Tok::Run) {
            continue;
        }
        out.push(t);
    }
    out
}

fn contains_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.len() < needle.len() {
        return false;
    }
    // `needle` is already lower case.
    let first = needle[0];
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
    })
}

fn match_shape(shape: &Shape, value: &str) -> bool {
    match shape {
        Shape::Exact(p) => value == p,
        Shape::Prefix(p) => value.starts_with(p.as_str()),
        Shape::Suffix(p) => value.ends_with(p.as_str()),
        Shape::Contains(p) => value.contains(p.as_str()),
        Shape::Any => true,
        Shape::General(toks) => general(toks, value),
    }
}

/// Iterative wildcard match with single-star backtracking: O(len(pattern) × len(value))
/// in the worst case, no recursion, no allocation for ASCII values.
fn general(toks: &[Tok], value: &str) -> bool {
    if value.is_ascii() {
        let v = value.as_bytes();
        run(toks, v.len(), |ti, vi| match toks[ti] {
            Tok::Lit(c) => c.is_ascii() && v[vi] == c as u8,
            _ => true,
        })
    } else {
        let v: Vec<char> = value.chars().collect();
        run(toks, v.len(), |ti, vi| match toks[ti] {
            Tok::Lit(c) => v[vi] == c,
            _ => true,
        })
    }
}

fn run(toks: &[Tok], n: usize, eq: impl Fn(usize, usize) -> bool) -> bool {
    let (mut t, mut v) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while v < n {
        if t < toks.len() && toks[t] != Tok::Run && eq(t, v) {
            t += 1;
            v += 1;
        } else if t < toks.len() && toks[t] == Tok::Run {
            star = Some((t, v));
            t += 1;
        } else if let Some((st, sv)) = star {
            t = st + 1;
            v = sv + 1;
            star = Some((st, sv + 1));
        } else {
            return false;
        }
    }
    while t < toks.len() && toks[t] == Tok::Run {
        t += 1;
    }
    t == toks.len()
}

/// A list of globs matched as one: exact entries are checked first.
#[derive(Debug, Clone, Default)]
pub struct GlobList {
    globs: Vec<Glob>,
}

impl GlobList {
    /// Compiles every pattern (case-insensitive).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> GlobList {
        let mut globs: Vec<Glob> = patterns
            .iter()
            .map(|p| Glob::new(p.as_ref().trim(), true))
            .collect();
        globs.sort_by_key(|g| !g.is_exact());
        GlobList { globs }
    }

    /// The first pattern `value` matches.
    pub fn find(&self, value: &str) -> Option<&Glob> {
        self.globs.iter().find(|g| g.matches(value))
    }

    /// Whether any pattern matches.
    pub fn matches(&self, value: &str) -> bool {
        self.find(value).is_some()
    }

    /// No patterns.
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_literal_is_the_longest_run_and_of_equal_ones_the_last() {
        let literal = |p: &str| Glob::new(p, true).required_literal();
        let contains = |s: &str| Some(Literal::Contains(s.into()));
        assert_eq!(literal("/home/*/.kube"), contains("/.kube"));
        assert_eq!(literal("/var/lib/*/kubeconfig"), contains("/kubeconfig"));
        assert_eq!(literal("C:\\Users\\*\\x"), contains("c:\\users\\"));
        assert_eq!(literal("*a?b*"), contains("b"));
        assert_eq!(literal("*?*"), None);
    }

    #[test]
    fn shapes_and_case() {
        let g = Glob::new("\\\\*", true);
        assert!(g.matches("\\\\server\\share"));
        assert!(!g.matches("\\server"));
        assert!(Glob::new("/persistent:*", true).matches("/PERSISTENT:NO"));
        assert!(Glob::new("-s*", true).matches("-S"));
        assert!(!Glob::new("-s*", false).matches("-S"));
        assert!(Glob::new("net?.exe", true).matches("NET1.EXE"));
        assert!(!Glob::new("net?.exe", true).matches("net.exe"));
        assert!(Glob::new("*a*b*c", true).matches("xxAyyBzzC"));
        assert!(!Glob::new("*a*b*c", true).matches("xxAyyBzzCd"));
        assert!(Glob::new("ÄBC*", true).matches("äbcdef"));
        assert!(Glob::new("*", true).matches(""));
        assert!(!Glob::new("?", true).matches(""));
        assert!(Glob::new("é?", true).matches("Éz"));
    }
}
