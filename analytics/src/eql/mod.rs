//! A single-event EQL engine with Elastic's semantics.
//!
//! (Over 600 lines: the evaluator of every EQL operator Elastic's rules use, kept together
//! so the semantics below are read in one place; computed functions are in `value.rs`.)
//!
//! Elastic runs single-event EQL as Query DSL filters; Picket matches that:
//! - `field : "v"` is case-insensitive, `*`/`?` are wildcards, `field : ("a", "b*")` holds
//!   when any value matches.
//! - `==` is exact and case-sensitive; `!=` is `not ==` for a field and a literal (of a
//!   computed value, a script's `!=`: false when either side is null).
//! - `in` (case-sensitive) / `in~`, `like` / `like~` (wildcards), `regex` / `regex~`
//!   (anchored: the whole value must match; Rust regex syntax, `.` matches newlines,
//!   and `\w`, `\d`, `\s` are ASCII-only, as Lucene's are).
//! - A comparison against an array field (`process.args`) holds when any element does.
//! - A comparison against a missing field is false and `not` of it is true (two-valued):
//!   `field == null` holds exactly when the field is missing.
//! - Functions (`value.rs`): the whole EQL reference, `add` to `wildcard`, with `~`
//!   variants where Elastic has them, and the operators `+ - * / %`. Any argument may
//!   be a field, a literal or another call. A function of a missing field is null, and a
//!   comparison with null does not hold: `length(missing) < 3` is false.
//!   `stringContains(x, "")` is false, as Elastic's reference says. `length` of an
//!   array field counts its elements; other functions of one run on each element.
//! - `process where` holds when `event.category` is exactly `process` (Elasticsearch's
//!   term query); an event without a category is no process event. `any where` holds
//!   for every event.
//!
//! Everything is compiled once: field paths to accessors, wildcards to classified
//! patterns, value lists to sets and regex lists to a `RegexSet`.

mod lexer;
mod needs;
mod parser;
mod regex_form;
mod sequence;
mod value;

pub use sequence::{Advance, Sequence, SequenceState, MAX_PENDING as MAX_SEQUENCE_PENDING};

pub(crate) use needs::{os_values, Atom};

use crate::field::{any_scalar, FieldRef, Scalar};
use crate::glob::{fold, Glob};
pub(crate) use parser::{Arg, Ast, Expr, Lit, Op, Operand};
use regex::{RegexSet, RegexSetBuilder};
use sensor_core::event::{Event, FieldValue};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::OnceLock;
use value::{Computed, Val};

/// A query that does not parse or compile, with the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {offset}: {message}")]
pub struct EqlError {
    /// Byte offset into the query text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl EqlError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> EqlError {
        EqlError {
            offset,
            message: message.into(),
        }
    }

    /// 1-based (line, column) of the problem within `query`.
    pub fn line_col(&self, query: &str) -> (usize, usize) {
        let upto = &query[..floor_char_boundary(query, self.offset)];
        let line = upto.matches('\n').count() + 1;
        let col = upto.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A compiled single-event EQL query.
#[derive(Debug, Clone)]
pub struct Query {
    root: Node,
}

impl Query {
    /// Parses and compiles `text`.
    pub fn compile(text: &str) -> Result<Query, EqlError> {
        Query::from_ast(&parser::parse(text)?)
    }

    /// Compiles a parsed query (a whole one, a sequence's step, or a Sigma rule's
    /// detection under `process where`).
    pub(crate) fn from_ast(ast: &parser::Ast) -> Result<Query, EqlError> {
        let category = match ast.category.to_ascii_lowercase().as_str() {
            "any" => Node::Const(true),
            "process" => Node::Leaf(FieldRef::EventCategory, Test::ProcessCategory),
            _ => Node::Leaf(
                FieldRef::EventCategory,
                Test::Str(Box::new(StrMatch::exact(
                    std::slice::from_ref(&ast.category),
                    false,
                ))),
            ),
        };
        let cond = compile(&ast.condition)?;
        Ok(Query {
            root: simplify(Node::And(vec![category, cond].into_boxed_slice())),
        })
    }

    /// Does `event` match?
    #[inline]
    pub fn matches(&self, event: &Event) -> bool {
        self.root.eval(event)
    }

    /// Every field path the query reads, once each, in first-use order.
    pub fn field_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.root.field_paths(&mut out);
        out
    }

    /// Groups of atoms that must each hold for the query to match (see [`needs`]).
    pub(crate) fn need_groups(&self) -> Option<Vec<Vec<Atom>>> {
        needs::groups(&self.root)
    }

    /// The `host.os.type` values (folded) of which a matching event has one, when the
    /// query requires one ([`needs::os_types`]).
    pub(crate) fn os_types(&self) -> Option<Vec<String>> {
        needs::os_types(&self.root)
    }
}

#[derive(Debug, Clone)]
enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Const(bool),
    Leaf(FieldRef, Test),
    /// A leaf test applied to a computed value (`length(concat(a, b)) > 3`).
    Computed(Box<Computed>, Test),
    /// Two value expressions compared (`startsWith` aside, EQL compares a field with a
    /// literal; this is for functions and arithmetic on both sides).
    Compare(Box<(Computed, Op, Computed)>),
    /// Some value of the first field equals some value of the second (`ci`: folded).
    FieldsEqual(FieldRef, FieldRef, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ord3 {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Ord3 {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Ord3::Lt => o == Less,
            Ord3::Le => o != Greater,
            Ord3::Gt => o == Greater,
            Ord3::Ge => o != Less,
        }
    }
}

#[derive(Debug, Clone)]
enum Test {
    /// String/number/bool matching, any element.
    Str(Box<StrMatch>),
    /// Numeric range comparison.
    Num(Ord3, f64),
    /// String range comparison (case-sensitive, byte order).
    StrOrd(Ord3, String),
    /// The field is missing.
    Null,
    /// `length(field) <op> n` (chars of a string, elements of an array; never holds for
    /// a missing field, whose length is null).
    Length(Option<Ord3>, f64),
    /// `cidrMatch`.
    Cidr(Vec<(IpAddr, u8)>),
    /// `process where`.
    ProcessCategory,
}

/// A compiled set of values to compare a field against.
#[derive(Debug, Clone, Default)]
struct StrMatch {
    ci: bool,
    /// Exact strings (folded when `ci`); a hash set once the list is long.
    exact: Vec<String>,
    exact_set: Option<HashSet<String>>,
    globs: Vec<Glob>,
    /// With many globs: an ASCII case-insensitive automaton over every glob's required
    /// literal, so an ASCII value holding none of them skips the globs. Built on first
    /// use: most rules never meet an event that gets this far (a host runs one OS's
    /// rules), and building every gate of SigmaHQ's and Elastic's rules up front was a
    /// fifth of their load time.
    glob_gate: OnceLock<Option<aho_corasick::AhoCorasick>>,
    regex: Option<RegexSet>,
    /// Folded literals of which every match of `regex` contains one (for the index).
    regex_literals: Option<Vec<String>>,
    ints: Vec<i64>,
    floats: Vec<f64>,
    bools: Vec<bool>,
    /// Matches a missing field (`field : null`, `field in (..., null)`).
    null: bool,
}

impl StrMatch {
    fn exact(values: &[String], ci: bool) -> StrMatch {
        let mut m = StrMatch {
            ci,
            ..StrMatch::default()
        };
        for v in values {
            m.push_exact(v);
        }
        m.finish();
        m
    }

    fn push_exact(&mut self, v: &str) {
        self.exact.push(if self.ci {
            fold(v).into_owned()
        } else {
            v.to_string()
        });
    }

    fn push_lit(&mut self, lit: &Lit, mut string: impl FnMut(&mut StrMatch, &str)) {
        match lit {
            Lit::Str(s) => string(self, s),
            Lit::Int(i) => self.ints.push(*i),
            Lit::Float(f) => self.floats.push(*f),
            Lit::Bool(b) => self.bools.push(*b),
            Lit::Null => self.null = true,
        }
    }

    fn finish(&mut self) {
        if self.exact.len() > 8 {
            self.exact_set = Some(self.exact.drain(..).collect());
        }
    }

    fn str_matches(&self, s: &str) -> bool {
        if !self.exact.is_empty() || self.exact_set.is_some() {
            let hit = if self.ci {
                if let Some(set) = &self.exact_set {
                    set.contains(fold(s).as_ref())
                } else if s.is_ascii() {
                    self.exact.iter().any(|e| e.eq_ignore_ascii_case(s))
                } else {
                    let f = fold(s);
                    self.exact.iter().any(|e| *e == f)
                }
            } else if let Some(set) = &self.exact_set {
                set.contains(s)
            } else {
                self.exact.iter().any(|e| e == s)
            };
            if hit {
                return true;
            }
        }
        // A glob matches only a value whose fold holds its literal; for an ASCII value the
        // fold is ASCII lower-casing, which the gate's matching ignores.
        let gated = self
            .glob_gate
            .get_or_init(|| glob_gate(&self.globs))
            .as_ref()
            .is_some_and(|gate| s.is_ascii() && !gate.is_match(s));
        (!gated && self.globs.iter().any(|g| g.matches(s)))
            || self.regex.as_ref().is_some_and(|r| r.is_match(s))
    }

    fn has_strings(&self) -> bool {
        !self.exact.is_empty()
            || self.exact_set.is_some()
            || !self.globs.is_empty()
            || self.regex.is_some()
    }

    fn scalar(&self, v: Scalar<'_>) -> bool {
        match v {
            Scalar::Str(s) => self.str_matches(s),
            Scalar::Int(i) => {
                self.ints.contains(&i)
                    || self.floats.contains(&(i as f64))
                    || (self.has_strings() && self.str_matches(&i.to_string()))
            }
            Scalar::Float(x) => {
                self.floats.contains(&x)
                    || self.ints.iter().any(|i| *i as f64 == x)
                    || (self.has_strings() && self.str_matches(&x.to_string()))
            }
            Scalar::Bool(b) => {
                self.bools.contains(&b)
                    || (self.has_strings() && self.str_matches(if b { "true" } else { "false" }))
            }
        }
    }
}

impl Node {
    fn eval(&self, ev: &Event) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(ev)),
            Node::Or(items) => items.iter().any(|n| n.eval(ev)),
            Node::Not(inner) => !inner.eval(ev),
            Node::Const(b) => *b,
            Node::Leaf(field, test) => test.eval(&field.get(ev)),
            Node::Computed(value, test) => {
                let vals = value.eval(ev);
                let json = match vals.as_slice() {
                    [Val::Null] => return test.eval(&FieldValue::Missing),
                    [one] => one.to_json(),
                    many => serde_json::Value::Array(many.iter().map(Val::to_json).collect()),
                };
                test.eval(&FieldValue::Json(&json))
            }
            Node::Compare(cmp) => {
                let (lhs, op, rhs) = cmp.as_ref();
                let (l, r) = (lhs.eval(ev), rhs.eval(ev));
                l.iter()
                    .any(|a| r.iter().any(|b| value::compare(*op, a, b)))
            }
            Node::FieldsEqual(a, b, ci) => fields_equal(&a.get(ev), &b.get(ev), *ci),
        }
    }
}

impl Node {
    fn field_paths(&self, out: &mut Vec<String>) {
        let mut push = |f: &FieldRef| {
            if !out.iter().any(|p| p == f.path()) {
                out.push(f.path().to_string());
            }
        };
        match self {
            Node::And(items) | Node::Or(items) => {
                items.iter().for_each(|n| n.field_paths(out));
            }
            Node::Not(inner) => inner.field_paths(out),
            Node::Const(_) => {}
            Node::Leaf(f, _) => push(f),
            Node::Computed(c, _) => c.fields(&mut push),
            Node::Compare(cmp) => {
                cmp.0.fields(&mut push);
                cmp.2.fields(&mut push);
            }
            Node::FieldsEqual(a, b, _) => {
                push(a);
                push(b);
            }
        }
    }
}

/// Whether any scalar of `a` equals any scalar of `b` (strings folded when `ci`,
/// numbers by value, a number and a string through the number's text).
fn fields_equal(a: &FieldValue<'_>, b: &FieldValue<'_>, ci: bool) -> bool {
    let text = |s: Scalar<'_>| -> String {
        let t = match s {
            Scalar::Str(s) => s.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        };
        if ci {
            fold(&t).into_owned()
        } else {
            t
        }
    };
    let mut left = Vec::new();
    any_scalar(a, |s| {
        left.push(text(s));
        false
    });
    !left.is_empty() && any_scalar(b, |s| left.contains(&text(s)))
}

impl Test {
    fn eval(&self, v: &FieldValue<'_>) -> bool {
        match self {
            Test::Str(m) => {
                if matches!(v, FieldValue::Missing) {
                    m.null
                } else {
                    any_scalar(v, |s| m.scalar(s))
                }
            }
            Test::Null => matches!(v, FieldValue::Missing),
            Test::Num(op, n) => any_scalar(v, |s| {
                let x = match s {
                    Scalar::Int(i) => i as f64,
                    Scalar::Float(f) => f,
                    Scalar::Str(s) => match s.trim().parse::<f64>() {
                        Ok(f) => f,
                        Err(_) => return false,
                    },
                    Scalar::Bool(_) => return false,
                };
                x.partial_cmp(n).is_some_and(|o| op.holds(o))
            }),
            Test::StrOrd(op, s) => any_scalar(v, |x| match x {
                Scalar::Str(x) => op.holds(x.cmp(s.as_str())),
                _ => false,
            }),
            Test::Length(op, n) => {
                // `length(null)` is null, and a comparison with null does not hold.
                let Some(len) = value::field_length(v) else {
                    return false;
                };
                let len = len as f64;
                match op {
                    Some(op) => len.partial_cmp(n).is_some_and(|o| op.holds(o)),
                    None => len == *n,
                }
            }
            Test::Cidr(nets) => any_scalar(v, |s| match s {
                Scalar::Str(s) => s
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| nets.iter().any(|(net, bits)| in_cidr(ip, *net, *bits))),
                _ => false,
            }),
            // Elasticsearch's term query on `event.category`: exact, case-sensitive.
            Test::ProcessCategory => {
                any_scalar(v, |s| matches!(s, Scalar::Str(c) if c == "process"))
            }
        }
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.trim().parse::<u8>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

fn compile(e: &Expr) -> Result<Node, EqlError> {
    Ok(match e {
        Expr::Or(items) => Node::Or(items.iter().map(compile).collect::<Result<_, _>>()?),
        Expr::And(items) => Node::And(items.iter().map(compile).collect::<Result<_, _>>()?),
        Expr::Not(inner) => Node::Not(Box::new(compile(inner)?)),
        Expr::Bool(b) => Node::Const(*b),
        Expr::FieldsEqual { lhs, rhs, ci } => {
            Node::FieldsEqual(FieldRef::resolve(lhs), FieldRef::resolve(rhs), *ci)
        }
        Expr::Truthy { operand, at } => {
            let is_true = || {
                Test::Str(Box::new(StrMatch {
                    bools: vec![true],
                    ..StrMatch::default()
                }))
            };
            match operand {
                Operand::Field(f) => Node::Leaf(FieldRef::resolve(f), is_true()),
                Operand::Func { name, ci, args } => match function(name, *ci, args, *at)? {
                    Some(node) => node,
                    None => Node::Computed(Box::new(Computed::compile(operand, *at)?), is_true()),
                },
                Operand::Lit(_) | Operand::Arith { .. } => {
                    return Err(EqlError::new(*at, "a value is not a condition; compare it"))
                }
            }
        }
        Expr::Cmp { lhs, op, rhs, at } => match lhs {
            Operand::Field(f) => compare(FieldRef::resolve(f), *op, rhs, *at)?,
            Operand::Func {
                name,
                args,
                ci: false,
            } if name.eq_ignore_ascii_case("length")
                && matches!(args.as_slice(), [(Arg::Field(_), _)]) =>
            {
                length(args, *op, rhs, *at)?
            }
            _ if *op == Op::Ne && !matches!(rhs.as_slice(), [Lit::Null]) => {
                // Computed in a script in Elasticsearch: `null != x` is null, so false.
                // (`!= null` is "is not null", below.)
                let [lit] = rhs.as_slice() else {
                    return Err(EqlError::new(*at, "`!=` compares with one value"));
                };
                Node::Compare(Box::new((
                    Computed::compile(lhs, *at)?,
                    Op::Ne,
                    Computed::Lit(Val::from_lit(lit)),
                )))
            }
            _ => {
                // Any other value expression: computed, then tested as a field would be.
                let value = Box::new(Computed::compile(lhs, *at)?);
                let (test, negated) = compare_test(*op, rhs, *at)?;
                let node = Node::Computed(value, test);
                if negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                }
            }
        },
        Expr::Compare { lhs, op, rhs, at } => {
            if !matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                return Err(EqlError::new(
                    *at,
                    "only ==, !=, <, <=, > and >= compare two expressions",
                ));
            }
            // Computed in a script in Elasticsearch: `!=` with a null side is null, so
            // false (not `not ==`, as for a field and a literal).
            Node::Compare(Box::new((
                Computed::compile(lhs, *at)?,
                *op,
                Computed::compile(rhs, *at)?,
            )))
        }
    })
}

/// `length(field) <op> n`, as a leaf.
fn length(args: &[(Arg, usize)], op: Op, rhs: &[Lit], at: usize) -> Result<Node, EqlError> {
    let [(Arg::Field(f), _)] = args else {
        return Err(EqlError::new(at, "length(...) takes one field"));
    };
    let field = FieldRef::resolve(f);
    let n = match rhs {
        [Lit::Int(i)] => *i as f64,
        [Lit::Float(f)] => *f,
        _ => return Err(EqlError::new(at, "length(...) compares with a number")),
    };
    let op3 = match op {
        Op::Eq | Op::Colon => None,
        // A script comparison in Elasticsearch: `length(null) != n` is null, so false
        // (unlike a field's `!=`, which is `not ==`).
        Op::Ne => {
            return Ok(Node::Or(Box::new([
                Node::Leaf(field.clone(), Test::Length(Some(Ord3::Lt), n)),
                Node::Leaf(field, Test::Length(Some(Ord3::Gt), n)),
            ])))
        }
        Op::Lt => Some(Ord3::Lt),
        Op::Le => Some(Ord3::Le),
        Op::Gt => Some(Ord3::Gt),
        Op::Ge => Some(Ord3::Ge),
        _ => {
            return Err(EqlError::new(
                at,
                "length(...) compares with ==, !=, <, <=, > or >=",
            ))
        }
    };
    Ok(Node::Leaf(field, Test::Length(op3, n)))
}

fn compare(field: FieldRef, op: Op, rhs: &[Lit], at: usize) -> Result<Node, EqlError> {
    let (test, negated) = compare_test(op, rhs, at)?;
    let leaf = Node::Leaf(field, test);
    Ok(if negated {
        Node::Not(Box::new(leaf))
    } else {
        leaf
    })
}

/// The test `op rhs` makes of a value, and whether it is negated (`!=`).
fn compare_test(op: Op, rhs: &[Lit], at: usize) -> Result<(Test, bool), EqlError> {
    let leaf = |t: Test| (t, false);
    Ok(match op {
        Op::Colon => {
            let mut m = StrMatch {
                ci: true,
                ..StrMatch::default()
            };
            for lit in rhs {
                m.push_lit(lit, |m, s| {
                    let g = Glob::new(s, true);
                    if g.is_exact() {
                        m.push_exact(s);
                    } else {
                        m.globs.push(g);
                    }
                });
            }
            m.finish();
            leaf(Test::Str(Box::new(m)))
        }
        Op::Eq | Op::Ne => {
            let [lit] = rhs else {
                return Err(EqlError::new(at, "`==` compares with one value"));
            };
            let test = match lit {
                Lit::Null => Test::Null,
                lit => {
                    let mut m = StrMatch::default();
                    m.push_lit(lit, |m, s| m.push_exact(s));
                    m.finish();
                    Test::Str(Box::new(m))
                }
            };
            (test, op == Op::Ne)
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let o = match op {
                Op::Lt => Ord3::Lt,
                Op::Le => Ord3::Le,
                Op::Gt => Ord3::Gt,
                _ => Ord3::Ge,
            };
            match rhs {
                [Lit::Int(i)] => leaf(Test::Num(o, *i as f64)),
                [Lit::Float(f)] => leaf(Test::Num(o, *f)),
                [Lit::Str(s)] => leaf(Test::StrOrd(o, s.clone())),
                _ => {
                    return Err(EqlError::new(
                        at,
                        "range comparisons take one number or string",
                    ))
                }
            }
        }
        Op::In { ci } => {
            let mut m = StrMatch {
                ci,
                ..StrMatch::default()
            };
            for lit in rhs {
                m.push_lit(lit, |m, s| m.push_exact(s));
            }
            m.finish();
            leaf(Test::Str(Box::new(m)))
        }
        Op::Like { ci } => {
            let mut m = StrMatch {
                ci,
                ..StrMatch::default()
            };
            for lit in rhs {
                match lit {
                    Lit::Str(s) => m.globs.push(Glob::new(s, ci)),
                    _ => return Err(EqlError::new(at, "`like` takes string patterns")),
                }
            }
            m.finish();
            leaf(Test::Str(Box::new(m)))
        }
        Op::Regex { ci } => {
            let mut pats = Vec::new();
            // Every match holds one of these, if every pattern has some.
            let mut literals = Some(Vec::new());
            for lit in rhs {
                match lit {
                    Lit::Str(s) => {
                        let (searched, needs) = regex_form::search_form(&ascii_classes(s), ci);
                        pats.push(searched);
                        literals = literals.zip(needs).map(|(mut all, some)| {
                            all.extend(some);
                            all
                        });
                    }
                    _ => return Err(EqlError::new(at, "`regex` takes string patterns")),
                }
            }
            let set = RegexSetBuilder::new(&pats)
                .case_insensitive(ci)
                .dot_matches_new_line(true)
                .build()
                .map_err(|e| {
                    let msg = e.to_string();
                    let last = msg.lines().last().unwrap_or("").trim().to_string();
                    EqlError::new(at, format!("invalid regex: {last}"))
                })?;
            leaf(Test::Str(Box::new(StrMatch {
                ci,
                regex: Some(set),
                regex_literals: literals.filter(|l| !l.is_empty()),
                ..StrMatch::default()
            })))
        }
    })
}

/// Boolean functions on a field and string literals (`startsWith`, `endsWith`,
/// `stringContains`, `wildcard`, `cidrMatch`) as leaves the rule index can read;
/// `None` for any other call, which is computed instead.
fn function(
    name: &str,
    ci: bool,
    args: &[(Arg, usize)],
    at: usize,
) -> Result<Option<Node>, EqlError> {
    let lower = name.to_ascii_lowercase();
    if lower == "length" {
        return Err(EqlError::new(
            at,
            "length(...) is a number; compare it (`length(process.args) > 3`)",
        ));
    }
    let Some(((Arg::Field(field), _), rest)) = args.split_first() else {
        return Ok(None);
    };
    let mut strs = Vec::new();
    for (arg, _) in rest {
        match arg {
            Arg::Lit(Lit::Str(s)) => strs.push(s.as_str()),
            _ => return Ok(None),
        }
    }
    if strs.is_empty() {
        return Ok(None);
    }
    let field = FieldRef::resolve(field);
    let make: fn(&str, bool) -> Glob = match lower.as_str() {
        "startswith" if strs.len() == 1 => Glob::prefix,
        "endswith" if strs.len() == 1 => Glob::suffix,
        "stringcontains" if strs.len() == 1 => {
            // Elastic's reference: `stringContains(x, "")` is false.
            if strs[0].is_empty() {
                return Ok(Some(Node::Const(false)));
            }
            Glob::contains
        }
        "wildcard" => Glob::new,
        "cidrmatch" if !ci => {
            let mut nets = Vec::new();
            for (s, (_, off)) in strs.iter().zip(rest) {
                nets.push(
                    parse_cidr(s)
                        .ok_or_else(|| EqlError::new(*off, format!("invalid CIDR block {s:?}")))?,
                );
            }
            return Ok(Some(Node::Leaf(field, Test::Cidr(nets))));
        }
        _ => return Ok(None),
    };
    let mut m = StrMatch {
        ci,
        globs: strs.iter().map(|s| make(s, ci)).collect(),
        ..StrMatch::default()
    };
    m.finish();
    Ok(Some(Node::Leaf(field, Test::Str(Box::new(m)))))
}

/// `pattern` with `\w`, `\d`, `\s` and their negations made ASCII-only, as Lucene's
/// are (Rust's are Unicode-aware): `\d` would otherwise match Arabic-Indic digits.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut depth = 0usize;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push(c);
                    break;
                };
                let class = match e {
                    'w' => Some("[:word:]"),
                    'W' => Some("[:^word:]"),
                    'd' => Some("[:digit:]"),
                    'D' => Some("[:^digit:]"),
                    's' => Some("[:space:]"),
                    'S' => Some("[:^space:]"),
                    _ => None,
                };
                match class {
                    Some(cls) if depth > 0 => out.push_str(cls),
                    Some(cls) => {
                        out.push('[');
                        out.push_str(cls);
                        out.push(']');
                    }
                    None => {
                        out.push(c);
                        out.push(e);
                    }
                }
            }
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Fewest globs in a list worth an automaton in front of them.
const GLOB_GATE_MIN: usize = 4;

/// The automaton over every glob's required literal, when each glob has an ASCII one
/// (a glob without, such as `*`, could match anything, so there is no gate).
fn glob_gate(globs: &[Glob]) -> Option<aho_corasick::AhoCorasick> {
    if globs.len() < GLOB_GATE_MIN {
        return None;
    }
    let mut literals = Vec::with_capacity(globs.len());
    for g in globs {
        let lit = match g.required_literal()? {
            crate::glob::Literal::Exact(l) | crate::glob::Literal::Contains(l) => l,
        };
        if !lit.is_ascii() {
            return None;
        }
        literals.push(lit);
    }
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
        .build(&literals)
        .ok()
}

/// How dear `n` is to evaluate, coarsely: 0 for plain field comparisons, 1 for reads of
/// fields outside the event model (a lookup by path) and long wildcard lists, 2 for
/// regexes. Only dear conjuncts and negations move back (see [`simplify`]): the rule's
/// own order, which puts selective tests first, is otherwise kept.
fn eval_cost(n: &Node) -> u8 {
    match n {
        Node::Const(_) => 0,
        Node::Not(inner) => eval_cost(inner),
        Node::And(items) | Node::Or(items) => items.iter().map(eval_cost).max().unwrap_or(0),
        Node::Leaf(field, test) => {
            let test_cost = match test {
                Test::Str(m) if m.regex.is_some() => 2,
                Test::Str(m) if m.globs.len() > 8 => 1,
                _ => 0,
            };
            let field_cost = u8::from(matches!(field, FieldRef::Other(_)));
            test_cost.max(field_cost)
        }
        Node::Computed(..) | Node::Compare(_) => 2,
        Node::FieldsEqual(..) => 1,
    }
}

/// Flattens nested and/or, folds constants and puts cheap conjuncts first.
fn simplify(n: Node) -> Node {
    match n {
        Node::And(items) => {
            let mut out = Vec::new();
            for item in items.into_vec().into_iter().map(simplify) {
                match item {
                    Node::Const(true) => {}
                    Node::Const(false) => return Node::Const(false),
                    Node::And(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            // `and` of side-effect-free, total tests is the same in any order. Positive
            // tests first, cheap before dear: a false one spares the rest. Negations
            // last: in rules they are exclusion lists, nearly always true, so ahead of
            // the tests they guard they cost without sparing anything.
            out.sort_by_key(|n| (matches!(n, Node::Not(_)), eval_cost(n)));
            match out.len() {
                0 => Node::Const(true),
                1 => out.remove(0),
                _ => Node::And(out.into_boxed_slice()),
            }
        }
        Node::Or(items) => {
            let mut out = Vec::new();
            for item in items.into_vec().into_iter().map(simplify) {
                match item {
                    Node::Const(false) => {}
                    Node::Const(true) => return Node::Const(true),
                    Node::Or(inner) => out.extend(inner.into_vec()),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::Const(false),
                1 => out.remove(0),
                _ => Node::Or(out.into_boxed_slice()),
            }
        }
        Node::Not(inner) => match simplify(*inner) {
            Node::Const(b) => Node::Const(!b),
            Node::Not(x) => *x,
            other => Node::Not(Box::new(other)),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;
