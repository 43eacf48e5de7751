//! A second EQL evaluator for `eql_differential`: a generator of `process where` queries
//! and ECS events from fuzz bytes, a renderer of the query to EQL text, and a plain
//! evaluator of the generated query on the generated event.
//!
//! The evaluator is written from the documented semantics (`../shared/DESIGN.md`, the
//! EQL section of `docs/ARCHITECTURE.md`, the engine's module doc), not from the
//! engine's code: it walks the AST, reads fields from the event's JSON, and has its own
//! wildcard and regex matchers (sets of end positions, no backtracking limits).
//!
//! Only inputs whose meaning those documents fix are generated:
//! - string operators only on string fields and number operators only on number
//!   fields (coercion across types is unspecified);
//! - query literals hold no `"`, newline or other escape but `\\` (only `\\` is
//!   documented); event values may hold anything in the pool, newlines included;
//! - characters whose lower case is one character and inside the BMP (per-character
//!   folding; `length` of astral characters differs between UTF-16 and chars);
//! - `startsWith` / `endsWith` never with an empty value (only `stringContains(x, "")`
//!   is documented); regexes from a small syntax both Rust's and Lucene's regexes read
//!   alike, with ASCII-only literals;
//! - no `null` inside lists, no comparisons of two fields.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One string.
    Str,
    /// An array of strings (any element may satisfy a comparison).
    Strs,
    /// An integer.
    Num,
}

/// Fields the generator uses: modelled ones and ones the event model only preserves.
pub const FIELDS: &[(&str, Kind)] = &[
    ("process.name", Kind::Str),
    ("process.executable", Kind::Str),
    ("process.command_line", Kind::Str),
    ("process.parent.name", Kind::Str),
    ("process.args", Kind::Strs),
    ("process.parent.args", Kind::Strs),
    ("process.pid", Kind::Num),
    ("user.name", Kind::Str),
    ("host.os.type", Kind::Str),
    ("process.Ext.token.integrity_level_name", Kind::Str),
    ("user.Ext.real.id", Kind::Str),
    ("winlog.event_data.TargetImage", Kind::Str),
    ("winlog.event_data.Tags", Kind::Strs),
    ("winlog.event_data.Count", Kind::Num),
];

/// Values events hold; query literals are drawn from them (and changed).
const VALUES: &[&str] = &[
    "net.exe",
    "NET.EXE",
    "Net.Exe",
    "net1.exe",
    "cmd.exe",
    "ss",
    "SS",
    "bash",
    "powershell.exe",
    "C:\\Windows\\System32\\net.exe",
    "c:\\windows\\system32\\NET.exe",
    "\\\\server\\share",
    "/usr/bin/ss",
    "/bin/bash",
    "-tanp",
    "-a",
    "use",
    "linux",
    "Linux",
    "windows",
    "High",
    "S-1-5-18",
    "É",
    "éa",
    "ÉA",
    "a\nb",
    "a b",
    "",
    "x*y",
    "x?y",
    "a.b",
    "1234",
    "_x9",
];

const NUMBERS: &[i64] = &[0, 1, 4, 77, 4242, 65535];

/// A generated event: each field's value, `None` when absent.
#[derive(Debug, Clone)]
pub struct GenEvent {
    /// `event.category`, or absent.
    pub category: Option<Vec<String>>,
    /// (path, value) of the fields present.
    pub fields: Vec<(&'static str, Value)>,
}

impl GenEvent {
    /// Every string the event holds, for [`gen_cond`] to draw literals from.
    pub fn strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in &self.fields {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(items) => {
                    out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                }
                _ => {}
            }
        }
        out
    }

    /// The ECS document (nested objects).
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("@timestamp".into(), "2026-06-15T12:00:00Z".into());
        let mut event = Map::new();
        if let Some(c) = &self.category {
            event.insert("category".into(), c.clone().into());
        }
        event.insert("type".into(), vec!["start"].into());
        root.insert("event".into(), Value::Object(event));
        for (path, v) in &self.fields {
            insert_path(&mut root, path, v.clone());
        }
        Value::Object(root)
    }
}

fn insert_path(obj: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.into(), v);
        }
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                insert_path(m, rest, v);
            }
        }
    }
}

fn pick<'a, T>(u: &mut Unstructured, list: &'a [T]) -> Result<&'a T> {
    u.choose(list)
}

fn value(u: &mut Unstructured) -> Result<String> {
    Ok((*pick(u, VALUES)?).to_string())
}

/// An event with some of [`FIELDS`] set.
pub fn gen_event(u: &mut Unstructured) -> Result<GenEvent> {
    // The first choice of each (what an exhausted input gives) is the common case.
    let category = match u.int_in_range(0..=7u8)? {
        4 => None,
        5 => Some(vec!["network".to_string()]),
        6 => Some(vec!["network".to_string(), "process".to_string()]),
        7 => Some(vec!["Process".to_string()]),
        _ => Some(vec!["process".to_string()]),
    };
    let mut fields = Vec::new();
    for &(path, kind) in FIELDS {
        if u.int_in_range(0..=2u8)? == 2 {
            continue;
        }
        let unmodelled = path.contains("Ext") || path.starts_with("winlog");
        let v = match kind {
            Kind::Str if unmodelled && u.int_in_range(0..=9u8)? == 9 => Value::Null,
            Kind::Str => Value::from(value(u)?),
            Kind::Strs => {
                let n = (u.int_in_range(0..=3u8)? + 1) % 4;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(Value::from(value(u)?));
                }
                Value::Array(items)
            }
            Kind::Num => Value::from(*pick(u, NUMBERS)?),
        };
        fields.push((path, v));
    }
    Ok(GenEvent { category, fields })
}

/// A string operator with literal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `:` (one value or a list)
    Colon,
    /// `in`
    In,
    /// `in~`
    InCi,
    /// `not in`
    NotIn,
    /// `like`
    Like,
    /// `like~`
    LikeCi,
    /// `<`, `<=`, `>`, `>=` (case-sensitive, by code point)
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A number comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl NumOp {
    fn text(self) -> &'static str {
        match self {
            NumOp::Eq => "==",
            NumOp::Ne => "!=",
            NumOp::Lt => "<",
            NumOp::Le => "<=",
            NumOp::Gt => ">",
            NumOp::Ge => ">=",
        }
    }
    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            NumOp::Eq => a == b,
            NumOp::Ne => a != b,
            NumOp::Lt => a < b,
            NumOp::Le => a <= b,
            NumOp::Gt => a > b,
            NumOp::Ge => a >= b,
        }
    }
}

/// A boolean string function of a field and literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `startsWith(f, s)`
    StartsWith,
    /// `endsWith(f, s)`
    EndsWith,
    /// `stringContains(f, s)`
    StringContains,
    /// `wildcard(f, p, ...)`
    Wildcard,
}

/// One regex item: an atom with a quantifier.
#[derive(Debug, Clone)]
pub struct ReItem {
    atom: ReAtom,
    /// (min, max); max `None` is unbounded.
    rep: (u8, Option<u8>),
}

#[derive(Debug, Clone)]
enum ReAtom {
    Lit(char),
    Dot,
    Digit,
    Word,
    Space,
    /// `[a-z]`
    Lower,
    /// `[A-Z0-9]`
    UpperDigit,
    /// `(a|b|...)`, each branch a sequence.
    Group(Vec<Vec<ReItem>>),
}

/// A generated condition.
#[derive(Debug, Clone)]
pub enum Cond {
    /// `(a and b)`
    And(Box<Cond>, Box<Cond>),
    /// `(a or b)`
    Or(Box<Cond>, Box<Cond>),
    /// `not (a)`
    Not(Box<Cond>),
    /// A string field against literals.
    Str(&'static str, StrOp, Vec<String>),
    /// A number field against a literal.
    Num(&'static str, NumOp, i64),
    /// `f in (n, ...)`, negated for `not in`.
    NumIn(&'static str, bool, Vec<i64>),
    /// `f == null` (true) or `f != null` (false).
    Null(&'static str, bool),
    /// A function, case-insensitive when true.
    Func(Func, bool, &'static str, Vec<String>),
    /// `length(f) op n`.
    Length(&'static str, NumOp, i64),
    /// `f regex "..."` / `regex~` (true), one or more patterns.
    Regex(&'static str, bool, Vec<Vec<ReItem>>),
}

/// The strings of the generated event: half the literals come from them, so that
/// comparisons hold often enough to be worth checking.
pub type Seen = [String];

/// A pool or event value, possibly changed into a pattern: case changed, a part
/// replaced by `*`, a character by `?`.
fn literal(u: &mut Unstructured, seen: &Seen, wildcards: bool) -> Result<String> {
    let base = if !seen.is_empty() && u.arbitrary::<bool>()? {
        u.choose(seen)?.clone()
    } else {
        value(u)?
    };
    let mut s: Vec<char> = base.chars().filter(|&c| c != '\n').collect();
    match u.int_in_range(0..=3u8)? {
        2 => s = s.iter().flat_map(|c| c.to_uppercase()).collect(),
        3 => s = s.iter().flat_map(|c| c.to_lowercase()).collect(),
        _ => {}
    }
    if wildcards && !s.is_empty() {
        let n = s.len();
        let a = u.int_in_range(0..=n - 1)?;
        let b = u.int_in_range(a..=n)?;
        match u.int_in_range(0..=4u8)? {
            1 => {
                s.splice(a..b, ['*']);
            }
            2 => {
                s.splice(a..b, ['*']);
                s.insert(0, '*');
            }
            3 if a < n => s[a] = '?',
            4 => s.push('*'),
            _ => {}
        }
    }
    Ok(s.into_iter().collect())
}

fn literals(u: &mut Unstructured, seen: &Seen, wildcards: bool, max: u8) -> Result<Vec<String>> {
    let n = u.int_in_range(1..=max)?;
    (0..n).map(|_| literal(u, seen, wildcards)).collect()
}

fn field_of(u: &mut Unstructured, want: &[Kind]) -> Result<&'static str> {
    let choices: Vec<&'static str> = FIELDS
        .iter()
        .filter(|(_, k)| want.contains(k))
        .map(|(p, _)| *p)
        .collect();
    Ok(*pick(u, &choices)?)
}

fn num_op(u: &mut Unstructured) -> Result<NumOp> {
    Ok(*pick(
        u,
        &[
            NumOp::Eq,
            NumOp::Ne,
            NumOp::Lt,
            NumOp::Le,
            NumOp::Gt,
            NumOp::Ge,
        ],
    )?)
}

const RE_CHARS: &[char] = &[
    'a', 'b', 'e', 'n', 's', 't', 'x', 'N', 'E', 'S', '1', '9', '.', '\\', '/', '-', ' ', ':', '_',
];

fn re_seq(u: &mut Unstructured, depth: u8) -> Result<Vec<ReItem>> {
    let n = u.int_in_range(1..=5u8)?;
    let mut items = Vec::new();
    for _ in 0..n {
        let atom = match u.int_in_range(0..=11u8)? {
            0 => ReAtom::Dot,
            1 => ReAtom::Digit,
            2 => ReAtom::Word,
            3 => ReAtom::Space,
            4 => ReAtom::Lower,
            5 => ReAtom::UpperDigit,
            6 if depth < 2 => {
                let k = u.int_in_range(1..=3u8)?;
                let mut alts = Vec::new();
                for _ in 0..k {
                    alts.push(re_seq(u, depth + 1)?);
                }
                ReAtom::Group(alts)
            }
            _ => ReAtom::Lit(*pick(u, RE_CHARS)?),
        };
        let rep = match u.int_in_range(0..=9u8)? {
            0 => (0, None),
            1 => (1, None),
            2 => (0, Some(1)),
            3 => {
                let m = u.int_in_range(0..=2u8)?;
                (m, Some(m + u.int_in_range(0..=2u8)?))
            }
            _ => (1, Some(1)),
        };
        items.push(ReItem { atom, rep });
    }
    Ok(items)
}

/// A regex that matches `value` or nearly: each character itself (ASCII) or `.`, some
/// turned into classes, repeated or left to `.*`.
fn re_from(u: &mut Unstructured, value: &str) -> Result<Vec<ReItem>> {
    let mut items = Vec::new();
    for c in value.chars() {
        let atom = match u.int_in_range(0..=11u8)? {
            _ if !c.is_ascii() || c.is_ascii_control() => ReAtom::Dot,
            1 => ReAtom::Dot,
            2 => ReAtom::Word,
            3 => ReAtom::Digit,
            4 => ReAtom::Lower,
            5 => ReAtom::UpperDigit,
            6 => ReAtom::Space,
            _ => ReAtom::Lit(c),
        };
        let rep = match u.int_in_range(0..=9u8)? {
            1 => (0, None),
            2 => (1, None),
            3 => (0, Some(1)),
            _ => (1, Some(1)),
        };
        items.push(ReItem { atom, rep });
    }
    match u.int_in_range(0..=3u8)? {
        1 => items.insert(
            0,
            ReItem {
                atom: ReAtom::Dot,
                rep: (0, None),
            },
        ),
        2 => items.push(ReItem {
            atom: ReAtom::Dot,
            rep: (0, None),
        }),
        _ => {}
    }
    Ok(items)
}

/// A condition of at most `depth` levels of `and` / `or` / `not`.
pub fn gen_cond(u: &mut Unstructured, seen: &Seen, depth: u8) -> Result<Cond> {
    if depth > 0 && u.int_in_range(0..=1u8)? == 1 {
        return Ok(match u.int_in_range(0..=2u8)? {
            0 => Cond::And(
                Box::new(gen_cond(u, seen, depth - 1)?),
                Box::new(gen_cond(u, seen, depth - 1)?),
            ),
            1 => Cond::Or(
                Box::new(gen_cond(u, seen, depth - 1)?),
                Box::new(gen_cond(u, seen, depth - 1)?),
            ),
            _ => Cond::Not(Box::new(gen_cond(u, seen, depth - 1)?)),
        });
    }
    let strs = [Kind::Str, Kind::Strs];
    Ok(match (u.int_in_range(0..=17u8)? + 10) % 18 {
        0 => Cond::Num(field_of(u, &[Kind::Num])?, num_op(u)?, *pick(u, NUMBERS)?),
        1 => {
            let n = u.int_in_range(1..=3u8)?;
            let mut vs = Vec::new();
            for _ in 0..n {
                vs.push(*pick(u, NUMBERS)?);
            }
            Cond::NumIn(field_of(u, &[Kind::Num])?, u.arbitrary()?, vs)
        }
        2 => Cond::Null(
            field_of(u, &[Kind::Str, Kind::Strs, Kind::Num])?,
            u.arbitrary()?,
        ),
        3 | 4 => {
            let f = *pick(
                u,
                &[
                    Func::StartsWith,
                    Func::EndsWith,
                    Func::StringContains,
                    Func::Wildcard,
                ],
            )?;
            let args = match f {
                Func::Wildcard => literals(u, seen, true, 3)?,
                Func::StringContains => vec![literal(u, seen, false)?],
                // A non-empty value: an empty prefix or suffix is not documented.
                _ => {
                    let mut s = literal(u, seen, false)?;
                    if s.is_empty() {
                        s.push('a');
                    }
                    vec![s]
                }
            };
            Cond::Func(f, u.arbitrary()?, field_of(u, &strs)?, args)
        }
        5 => Cond::Length(
            field_of(u, &strs)?,
            num_op(u)?,
            i64::from(u.int_in_range(0..=8u8)?),
        ),
        6 | 7 => {
            let n = u.int_in_range(1..=2u8)?;
            let mut pats = Vec::new();
            for _ in 0..n {
                pats.push(if !seen.is_empty() && u.arbitrary::<bool>()? {
                    let v = u.choose(seen)?.clone();
                    re_from(u, &v)?
                } else {
                    re_seq(u, 0)?
                });
            }
            Cond::Regex(field_of(u, &strs)?, u.arbitrary()?, pats)
        }
        k => {
            let op = match k {
                8 => StrOp::Eq,
                9 => StrOp::Ne,
                10 | 11 => StrOp::Colon,
                12 => StrOp::In,
                13 => StrOp::InCi,
                14 => StrOp::NotIn,
                15 => StrOp::Like,
                16 => StrOp::LikeCi,
                _ => *pick(u, &[StrOp::Lt, StrOp::Le, StrOp::Gt, StrOp::Ge])?,
            };
            let vals = match op {
                StrOp::Eq | StrOp::Ne | StrOp::Lt | StrOp::Le | StrOp::Gt | StrOp::Ge => {
                    vec![literal(u, seen, false)?]
                }
                StrOp::In | StrOp::InCi | StrOp::NotIn => literals(u, seen, false, 3)?,
                StrOp::Colon | StrOp::Like | StrOp::LikeCi => literals(u, seen, true, 3)?,
            };
            Cond::Str(field_of(u, &strs)?, op, vals)
        }
    })
}

// --- rendering -----------------------------------------------------------------------

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

fn quoted_list(vals: &[String], out: &mut String) {
    out.push('(');
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote(v, out);
    }
    out.push(')');
}

fn render_re(items: &[ReItem], out: &mut String) {
    for it in items {
        match &it.atom {
            ReAtom::Lit(c) if "\\.+*?()|[]{}^$-".contains(*c) => {
                out.push('\\');
                out.push(*c);
            }
            ReAtom::Lit(c) => out.push(*c),
            ReAtom::Dot => out.push('.'),
            ReAtom::Digit => out.push_str("\\d"),
            ReAtom::Word => out.push_str("\\w"),
            ReAtom::Space => out.push_str("\\s"),
            ReAtom::Lower => out.push_str("[a-z]"),
            ReAtom::UpperDigit => out.push_str("[A-Z0-9]"),
            ReAtom::Group(alts) => {
                out.push('(');
                for (i, a) in alts.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    render_re(a, out);
                }
                out.push(')');
            }
        }
        match it.rep {
            (1, Some(1)) => {}
            (0, None) => out.push('*'),
            (1, None) => out.push('+'),
            (0, Some(1)) => out.push('?'),
            (m, Some(n)) => {
                let _ = write!(out, "{{{m},{n}}}");
            }
            (m, None) => {
                let _ = write!(out, "{{{m},}}");
            }
        }
    }
}

/// The regex's source text.
pub fn regex_text(items: &[ReItem]) -> String {
    let mut s = String::new();
    render_re(items, &mut s);
    s
}

fn render(c: &Cond, out: &mut String) {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            out.push('(');
            render(a, out);
            out.push_str(if matches!(c, Cond::And(..)) {
                " and "
            } else {
                " or "
            });
            render(b, out);
            out.push(')');
        }
        Cond::Not(a) => {
            out.push_str("not (");
            render(a, out);
            out.push(')');
        }
        Cond::Str(f, op, vals) => {
            out.push_str(f);
            let (word, list) = match op {
                StrOp::Eq => (" == ", false),
                StrOp::Ne => (" != ", false),
                StrOp::Lt => (" < ", false),
                StrOp::Le => (" <= ", false),
                StrOp::Gt => (" > ", false),
                StrOp::Ge => (" >= ", false),
                StrOp::Colon => (" : ", vals.len() > 1),
                StrOp::Like => (" like ", vals.len() > 1),
                StrOp::LikeCi => (" like~ ", vals.len() > 1),
                StrOp::In => (" in ", true),
                StrOp::InCi => (" in~ ", true),
                StrOp::NotIn => (" not in ", true),
            };
            out.push_str(word);
            if list {
                quoted_list(vals, out);
            } else {
                quote(&vals[0], out);
            }
        }
        Cond::Num(f, op, n) => {
            let _ = write!(out, "{f} {} {n}", op.text());
        }
        Cond::NumIn(f, negated, vs) => {
            let list: Vec<String> = vs.iter().map(i64::to_string).collect();
            let word = if *negated { "not in" } else { "in" };
            let _ = write!(out, "{f} {word} ({})", list.join(", "));
        }
        Cond::Null(f, eq) => {
            let _ = write!(out, "{f} {} null", if *eq { "==" } else { "!=" });
        }
        Cond::Func(func, ci, f, args) => {
            out.push_str(match func {
                Func::StartsWith => "startsWith",
                Func::EndsWith => "endsWith",
                Func::StringContains => "stringContains",
                Func::Wildcard => "wildcard",
            });
            if *ci {
                out.push('~');
            }
            out.push('(');
            out.push_str(f);
            for a in args {
                out.push_str(", ");
                quote(a, out);
            }
            out.push(')');
        }
        Cond::Length(f, op, n) => {
            let _ = write!(out, "length({f}) {} {n}", op.text());
        }
        Cond::Regex(f, ci, pats) => {
            out.push_str(f);
            out.push_str(if *ci { " regex~ " } else { " regex " });
            let texts: Vec<String> = pats.iter().map(|p| regex_text(p)).collect();
            if texts.len() == 1 {
                quote(&texts[0], out);
            } else {
                quoted_list(&texts, out);
            }
        }
    }
}

/// The query's EQL text: `process where <cond>`.
pub fn query_text(c: &Cond) -> String {
    let mut s = String::from("process where ");
    render(c, &mut s);
    s
}

// --- the reference evaluator ----------------------------------------------------------

/// A field's value as EQL sees it.
#[derive(Debug, Clone)]
enum Got {
    Missing,
    Str(String),
    /// An array's strings (never empty).
    Arr(Vec<String>),
    Num(i64),
}

impl Got {
    /// The strings a comparison may match: the one, or any element.
    fn strings(self) -> Vec<String> {
        match self {
            Got::Str(s) => vec![s],
            Got::Arr(v) => v,
            _ => Vec::new(),
        }
    }
}

/// Reads `path` from the event's JSON (nested objects). `null` and `[]` are missing.
fn get(doc: &Value, path: &str) -> Got {
    let mut v = doc;
    for part in path.split('.') {
        match v.get(part) {
            Some(x) => v = x,
            None => return Got::Missing,
        }
    }
    match v {
        Value::String(s) => Got::Str(s.clone()),
        Value::Array(items) if items.is_empty() => Got::Missing,
        Value::Array(items) => Got::Arr(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        Value::Number(n) => n.as_i64().map_or(Got::Missing, Got::Num),
        _ => Got::Missing,
    }
}

fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// `*` is any run of characters, `?` one character, everything else itself.
fn wildcard_match(pattern: &str, value: &str, ci: bool) -> bool {
    let (p, v) = if ci {
        (fold(pattern), fold(value))
    } else {
        (pattern.to_string(), value.to_string())
    };
    let p: Vec<char> = p.chars().collect();
    let v: Vec<char> = v.chars().collect();
    // reach[j]: the pattern read so far can end at value position j.
    let mut reach = vec![false; v.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            if !reach[j] {
                continue;
            }
            match pc {
                '*' => {
                    for n in next.iter_mut().skip(j) {
                        *n = true;
                    }
                }
                '?' => {
                    if j < v.len() {
                        next[j + 1] = true;
                    }
                }
                c => {
                    if j < v.len() && v[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[v.len()]
}

fn atom_matches(a: &ReAtom, c: char, ci: bool) -> bool {
    match a {
        ReAtom::Lit(l) => {
            if ci {
                c.to_ascii_lowercase() == l.to_ascii_lowercase()
            } else {
                c == *l
            }
        }
        // `.` matches newlines too (documented).
        ReAtom::Dot => true,
        ReAtom::Digit => c.is_ascii_digit(),
        ReAtom::Word => c.is_ascii_alphanumeric() || c == '_',
        ReAtom::Space => matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'),
        ReAtom::Lower => c.is_ascii_lowercase() || (ci && c.is_ascii_uppercase()),
        ReAtom::UpperDigit => {
            c.is_ascii_uppercase() || c.is_ascii_digit() || (ci && c.is_ascii_lowercase())
        }
        ReAtom::Group(_) => false,
    }
}

/// Where one occurrence of `a` starting at `i` can end.
fn atom_ends(a: &ReAtom, s: &[char], i: usize, ci: bool) -> BTreeSet<usize> {
    match a {
        ReAtom::Group(alts) => alts
            .iter()
            .flat_map(|alt| seq_ends(alt, s, i, ci))
            .collect(),
        _ if i < s.len() && atom_matches(a, s[i], ci) => BTreeSet::from([i + 1]),
        _ => BTreeSet::new(),
    }
}

fn seq_ends(items: &[ReItem], s: &[char], start: usize, ci: bool) -> BTreeSet<usize> {
    let step = |from: &BTreeSet<usize>, atom: &ReAtom| -> BTreeSet<usize> {
        from.iter()
            .flat_map(|&i| atom_ends(atom, s, i, ci))
            .collect()
    };
    let mut at = BTreeSet::from([start]);
    for it in items {
        let (min, max) = it.rep;
        for _ in 0..min {
            at = step(&at, &it.atom);
        }
        let mut out = at.clone();
        match max {
            // Unbounded: every position reachable by more repetitions.
            None => {
                let mut work = at;
                while !work.is_empty() {
                    let next = step(&work, &it.atom);
                    work = next.difference(&out).copied().collect();
                    out.extend(next);
                }
            }
            Some(m) => {
                let mut frontier = at;
                for _ in min..m {
                    frontier = step(&frontier, &it.atom);
                    out.extend(frontier.iter().copied());
                }
            }
        }
        at = out;
    }
    at
}

/// The whole value must match (anchored).
fn regex_match(items: &[ReItem], value: &str, ci: bool) -> bool {
    let s: Vec<char> = value.chars().collect();
    seq_ends(items, &s, 0, ci).contains(&s.len())
}

/// Does the generated condition hold for the event (its JSON as the engine has it)?
pub fn eval(c: &Cond, doc: &Value) -> bool {
    match c {
        Cond::And(a, b) => eval(a, doc) && eval(b, doc),
        Cond::Or(a, b) => eval(a, doc) || eval(b, doc),
        // Two-valued: `not` of a comparison with a missing field is true.
        Cond::Not(a) => !eval(a, doc),
        Cond::Null(f, eq) => matches!(get(doc, f), Got::Missing) == *eq,
        Cond::Num(f, op, n) => match get(doc, f) {
            Got::Num(v) => op.holds(v, *n),
            // `!=` is `not ==` for a field and a literal.
            _ => *op == NumOp::Ne,
        },
        Cond::NumIn(f, negated, vs) => {
            let hit = matches!(get(doc, f), Got::Num(v) if vs.contains(&v));
            hit != *negated
        }
        Cond::Str(f, op, vals) => {
            let strs = get(doc, f).strings();
            let any = |t: &dyn Fn(&str) -> bool| strs.iter().any(|s| t(s));
            match op {
                StrOp::Eq => any(&|s| s == vals[0]),
                StrOp::Ne => !any(&|s| s == vals[0]),
                StrOp::Lt => any(&|s| s < vals[0].as_str()),
                StrOp::Le => any(&|s| s <= vals[0].as_str()),
                StrOp::Gt => any(&|s| s > vals[0].as_str()),
                StrOp::Ge => any(&|s| s >= vals[0].as_str()),
                StrOp::In => any(&|s| vals.iter().any(|v| v == s)),
                StrOp::NotIn => !any(&|s| vals.iter().any(|v| v == s)),
                StrOp::InCi => any(&|s| vals.iter().any(|v| fold(v) == fold(s))),
                StrOp::Colon | StrOp::LikeCi => {
                    any(&|s| vals.iter().any(|v| wildcard_match(v, s, true)))
                }
                StrOp::Like => any(&|s| vals.iter().any(|v| wildcard_match(v, s, false))),
            }
        }
        Cond::Func(func, ci, f, args) => {
            let strs = get(doc, f).strings();
            // A function of an array is computed for each element.
            strs.iter().any(|s| {
                let (s, args): (String, Vec<String>) = if *ci {
                    (fold(s), args.iter().map(|a| fold(a)).collect())
                } else {
                    (s.clone(), args.clone())
                };
                match func {
                    Func::StartsWith => s.starts_with(args[0].as_str()),
                    Func::EndsWith => s.ends_with(args[0].as_str()),
                    // `stringContains(x, "")` is false, as Elastic's reference says.
                    Func::StringContains => !args[0].is_empty() && s.contains(args[0].as_str()),
                    Func::Wildcard => args.iter().any(|p| wildcard_match(p, &s, false)),
                }
            })
        }
        // `length(missing)` is null and no comparison with null holds, `!=` included;
        // `length` of an array counts its elements (ARCHITECTURE.md).
        Cond::Length(f, op, n) => match get(doc, f) {
            Got::Str(s) => op.holds(s.chars().count() as i64, *n),
            Got::Arr(v) => op.holds(v.len() as i64, *n),
            _ => false,
        },
        Cond::Regex(f, ci, pats) => get(doc, f)
            .strings()
            .iter()
            .any(|s| pats.iter().any(|p| regex_match(p, s, *ci))),
    }
}

/// `process where`: `event.category` holds exactly `process` (a term query).
pub fn is_process(doc: &Value) -> bool {
    get(doc, "event.category")
        .strings()
        .iter()
        .any(|x| x == "process")
}

/// The reference verdict of `process where <c>` on the event.
pub fn matches(c: &Cond, doc: &Value) -> bool {
    is_process(doc) && eval(c, doc)
}
