//! Value expressions: functions and arithmetic evaluated to values, for the comparisons
//! the leaf tests of `mod.rs` cannot express (`startsWith(process.executable,
//! process.command_line)`, `length(concat(a, b)) > 3`, `process.pid % 2 == 0`).
//!
//! Null semantics are Elasticsearch's: a missing field is `null`, a function of a
//! `null` argument is `null` (but `concat` of nothing), and a comparison with `null`
//! does not hold. A multi-valued field (`process.args`) gives one value per element,
//! and a comparison holds when it holds for any of them; only `length(field)` counts
//! the elements instead.

use super::parser::{ArithOp, Lit, Op, Operand};
use super::{fold, in_cidr, parse_cidr, EqlError, Ord3};
use crate::field::FieldRef;
use crate::glob::Glob;
use sensor_core::event::{Event, FieldValue};
use serde_json::Value;
use std::cmp::Ordering;

/// At most this many values come out of one expression (the product of its arguments'
/// elements): a bound on the work an event with huge arrays can cause.
const MAX_VALUES: usize = 1024;

/// One value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Val {
    pub(crate) fn from_lit(l: &Lit) -> Val {
        match l {
            Lit::Str(s) => Val::Str(s.clone()),
            Lit::Int(i) => Val::Int(*i),
            Lit::Float(f) => Val::Float(*f),
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Null => Val::Null,
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The string form `concat` and `string` give.
    fn text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            Val::Bool(b) => Some(b.to_string()),
            Val::Int(i) => Some(i.to_string()),
            Val::Float(f) => Some(f.to_string()),
            Val::Str(s) => Some(s.clone()),
        }
    }

    /// As JSON, so the leaf tests of `mod.rs` can be applied to computed values.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.clone()),
        }
    }
}

/// The functions of Elastic's EQL reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Between,
    CidrMatch,
    Concat,
    EndsWith,
    IndexOf,
    Length,
    Number,
    StartsWith,
    String,
    StringContains,
    Substring,
    Wildcard,
}

impl Func {
    /// The function named `name` (any case), and whether `name~` is allowed.
    fn lookup(name: &str) -> Option<(Func, bool)> {
        use Func::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "add" => (Add, false),
            "subtract" => (Subtract, false),
            "multiply" => (Multiply, false),
            "divide" => (Divide, false),
            "modulo" => (Modulo, false),
            "between" => (Between, true),
            "cidrmatch" => (CidrMatch, false),
            "concat" => (Concat, false),
            "endswith" => (EndsWith, true),
            "indexof" => (IndexOf, true),
            "length" => (Length, false),
            "number" => (Number, false),
            "startswith" => (StartsWith, true),
            "string" => (String, false),
            "stringcontains" => (StringContains, true),
            "substring" => (Substring, false),
            "wildcard" => (Wildcard, true),
            _ => return None,
        })
    }

    /// (fewest, most) arguments; `None` for no upper bound.
    fn arity(self) -> (usize, Option<usize>) {
        use Func::*;
        match self {
            Add | Subtract | Multiply | Divide | Modulo | EndsWith | StartsWith
            | StringContains => (2, Some(2)),
            Between => (3, Some(4)),
            IndexOf | Substring => (2, Some(3)),
            Number => (1, Some(2)),
            Length | String => (1, Some(1)),
            Concat => (1, None),
            CidrMatch | Wildcard => (2, None),
        }
    }
}

/// A compiled value expression.
#[derive(Debug, Clone)]
pub(crate) enum Computed {
    Field(FieldRef),
    Lit(Val),
    Call {
        func: Func,
        ci: bool,
        args: Box<[Computed]>,
    },
}

const SUPPORTED: &str = "add, between, cidrMatch, concat, divide, endsWith, indexOf, length, modulo, multiply, number, startsWith, string, stringContains, substring, subtract, wildcard";

impl Computed {
    /// Compiles `operand`; `at` locates errors.
    pub(crate) fn compile(operand: &Operand, at: usize) -> Result<Computed, EqlError> {
        Ok(match operand {
            Operand::Field(f) => Computed::Field(FieldRef::resolve(f)),
            Operand::Lit(l) => Computed::Lit(Val::from_lit(l)),
            Operand::Arith { op, lhs, rhs } => Computed::Call {
                func: match op {
                    ArithOp::Add => Func::Add,
                    ArithOp::Sub => Func::Subtract,
                    ArithOp::Mul => Func::Multiply,
                    ArithOp::Div => Func::Divide,
                    ArithOp::Mod => Func::Modulo,
                },
                ci: false,
                args: Box::new([Computed::compile(lhs, at)?, Computed::compile(rhs, at)?]),
            },
            Operand::Func { name, ci, args } => {
                let Some((func, ci_ok)) = Func::lookup(name) else {
                    return Err(EqlError::new(
                        at,
                        format!("unsupported function `{name}` (supported: {SUPPORTED})"),
                    ));
                };
                if *ci && !ci_ok {
                    return Err(EqlError::new(at, format!("`{name}` has no `~` form")));
                }
                let (min, max) = func.arity();
                if args.len() < min || max.is_some_and(|m| args.len() > m) {
                    let want = match max {
                        Some(m) if m == min => format!("{min}"),
                        Some(m) => format!("{min} to {m}"),
                        None => format!("at least {min}"),
                    };
                    return Err(EqlError::new(
                        at,
                        format!("{name}(...) takes {want} arguments, found {}", args.len()),
                    ));
                }
                if func == Func::CidrMatch {
                    for (arg, off) in &args[1..] {
                        if let Operand::Lit(Lit::Str(block)) = arg {
                            if parse_cidr(block).is_none() {
                                return Err(EqlError::new(
                                    *off,
                                    format!("invalid CIDR block {block:?}"),
                                ));
                            }
                        }
                    }
                }
                let args = args
                    .iter()
                    .map(|(a, off)| Computed::compile(a, *off))
                    .collect::<Result<Box<[_]>, _>>()?;
                Computed::Call {
                    func,
                    ci: *ci,
                    args,
                }
            }
        })
    }

    /// Calls `f` on every field the expression reads.
    pub(crate) fn fields(&self, f: &mut impl FnMut(&FieldRef)) {
        match self {
            Computed::Field(field) => f(field),
            Computed::Lit(_) => {}
            Computed::Call { args, .. } => args.iter().for_each(|a| a.fields(f)),
        }
    }

    /// Every value of the expression for `ev` (at least one; `Null` when missing).
    pub(crate) fn eval(&self, ev: &Event) -> Vec<Val> {
        match self {
            Computed::Lit(v) => vec![v.clone()],
            Computed::Field(f) => field_values(&f.get(ev)),
            Computed::Call { func, ci, args } => {
                // `length` of a field counts an array's elements, as the leaf test does
                // (`length(process.args) > 3`), rather than giving each element's length.
                if let (Func::Length, [Computed::Field(f)]) = (func, &args[..]) {
                    let n = field_length(&f.get(ev));
                    return vec![n.map_or(Val::Null, |n| Val::Int(n as i64))];
                }
                let values: Vec<Vec<Val>> = args.iter().map(|a| a.eval(ev)).collect();
                let mut out = Vec::new();
                if *func == Func::CidrMatch || *func == Func::Wildcard {
                    // The patterns are alternatives, not a product.
                    for source in &values[0] {
                        let pats: Vec<&Val> = values[1..].iter().flatten().collect();
                        out.push(apply_multi(*func, *ci, source, &pats));
                        if out.len() >= MAX_VALUES {
                            break;
                        }
                    }
                    return out;
                }
                let mut pick = vec![0usize; values.len()];
                loop {
                    let row: Vec<&Val> = pick.iter().zip(&values).map(|(i, v)| &v[*i]).collect();
                    out.push(apply(*func, *ci, &row));
                    if out.len() >= MAX_VALUES || !advance(&mut pick, &values) {
                        return out;
                    }
                }
            }
        }
    }
}

/// The next combination of argument elements, like an odometer; false after the last.
fn advance(pick: &mut [usize], values: &[Vec<Val>]) -> bool {
    for (i, p) in pick.iter_mut().enumerate().rev() {
        *p += 1;
        if *p < values[i].len() {
            return true;
        }
        *p = 0;
    }
    false
}

/// `length(field)`: the characters of a string, the elements of an array; `None`
/// (null) for a missing field or any other value. The leaf test (`mod.rs`) and the
/// computed path share it, so both forms of a query agree.
pub(crate) fn field_length(v: &FieldValue<'_>) -> Option<usize> {
    match v {
        FieldValue::Str(s) => Some(s.chars().count()),
        FieldValue::Strs(items) => Some(items.len()),
        FieldValue::Json(Value::Array(a)) => Some(a.len()),
        FieldValue::Json(Value::String(s)) => Some(s.chars().count()),
        _ => None,
    }
}

fn field_values(v: &FieldValue<'_>) -> Vec<Val> {
    let one = |j: &Value| match j {
        Value::String(s) => Val::Str(s.clone()),
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| n.as_f64().map_or(Val::Null, Val::Float), Val::Int),
        _ => Val::Null,
    };
    let out: Vec<Val> = match v {
        FieldValue::Missing => Vec::new(),
        FieldValue::Str(s) => vec![Val::Str((*s).to_string())],
        FieldValue::Strs(items) => items.iter().map(|s| Val::Str(s.clone())).collect(),
        FieldValue::Int(i) => vec![Val::Int(*i)],
        FieldValue::Bool(b) => vec![Val::Bool(*b)],
        FieldValue::Json(Value::Array(items)) => items.iter().map(one).collect(),
        FieldValue::Json(j) => vec![one(j)],
    };
    if out.is_empty() {
        vec![Val::Null]
    } else {
        out
    }
}

fn text_of(v: &Val) -> Option<&str> {
    match v {
        Val::Str(s) => Some(s),
        _ => None,
    }
}

fn int_of(v: &Val) -> Option<i64> {
    match v {
        Val::Int(i) => Some(*i),
        Val::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    }
}

/// `source` folded when case-insensitive.
fn cased(s: &str, ci: bool) -> std::borrow::Cow<'_, str> {
    if ci {
        fold(s)
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn apply(func: Func, ci: bool, a: &[&Val]) -> Val {
    use Func::*;
    match func {
        Add | Subtract | Multiply | Divide | Modulo => arith(func, a[0], a[1]),
        Concat => {
            let mut out = std::string::String::new();
            for v in a {
                match v.text() {
                    Some(t) => out.push_str(&t),
                    None => return Val::Null,
                }
            }
            Val::Str(out)
        }
        Length => match a[0] {
            Val::Str(s) => Val::Int(s.chars().count() as i64),
            _ => Val::Null,
        },
        String => a[0].text().map_or(Val::Null, Val::Str),
        Number => number(a[0], a.get(1).copied()),
        StartsWith | EndsWith | StringContains => {
            let (Some(src), Some(sub)) = (text_of(a[0]), text_of(a[1])) else {
                return Val::Null;
            };
            let (src, sub) = (cased(src, ci), cased(sub, ci));
            Val::Bool(match func {
                StartsWith => src.starts_with(sub.as_ref()),
                EndsWith => src.ends_with(sub.as_ref()),
                // Elastic's reference: an empty substring is not contained.
                _ => !sub.is_empty() && src.contains(sub.as_ref()),
            })
        }
        IndexOf => index_of(ci, a),
        Between => between(ci, a),
        Substring => substring(a),
        CidrMatch | Wildcard => apply_multi(func, ci, a[0], &a[1..]),
    }
}

/// `cidrMatch` and `wildcard`: does `source` match any of `patterns`?
fn apply_multi(func: Func, ci: bool, source: &Val, patterns: &[&Val]) -> Val {
    let Some(src) = text_of(source) else {
        return Val::Null;
    };
    let mut any = false;
    for p in patterns {
        let Some(p) = text_of(p) else {
            return Val::Null;
        };
        any |= match func {
            Func::CidrMatch => match (src.parse(), parse_cidr(p)) {
                (Ok(ip), Some((net, bits))) => in_cidr(ip, net, bits),
                _ => false,
            },
            _ => Glob::new(p, ci).matches(src),
        };
    }
    Val::Bool(any)
}

fn arith(func: Func, a: &Val, b: &Val) -> Val {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let r = match func {
                Func::Add => x.checked_add(*y),
                Func::Subtract => x.checked_sub(*y),
                Func::Multiply => x.checked_mul(*y),
                // Integer division truncates, as Java's does.
                Func::Divide => x.checked_div(*y),
                _ => x.checked_rem(*y),
            };
            r.map_or(Val::Null, Val::Int)
        }
        _ => {
            let (Some(x), Some(y)) = (a.num(), b.num()) else {
                return Val::Null;
            };
            let r = match func {
                Func::Add => x + y,
                Func::Subtract => x - y,
                Func::Multiply => x * y,
                Func::Divide if y == 0.0 => return Val::Null,
                Func::Divide => x / y,
                _ if y == 0.0 => return Val::Null,
                _ => x % y,
            };
            Val::Float(r)
        }
    }
}

fn number(v: &Val, base: Option<&Val>) -> Val {
    let s = match v {
        Val::Str(s) => s.trim(),
        Val::Int(_) | Val::Float(_) => return v.clone(),
        _ => return Val::Null,
    };
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let hex = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"));
    let radix = match (base, hex) {
        (_, Some(_)) => 16,
        (Some(Val::Int(b)), None) if (2..=36).contains(b) => *b as u32,
        (Some(Val::Null) | None, None) => 10,
        _ => return Val::Null,
    };
    let digits = hex.unwrap_or(body);
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Val::Int(if neg { -i } else { i });
    }
    if radix == 10 {
        if let Ok(f) = digits.parse::<f64>() {
            if f.is_finite() {
                return Val::Float(if neg { -f } else { f });
            }
        }
    }
    Val::Null
}

/// Char index of `sub` in `src` at or after `start`, case-folded when `ci`.
fn index_of(ci: bool, a: &[&Val]) -> Val {
    let (Some(src), Some(sub)) = (text_of(a[0]), text_of(a[1])) else {
        return Val::Null;
    };
    let start = match a.get(2) {
        None => 0,
        Some(v) => match int_of(v) {
            Some(i) => i.max(0) as usize,
            None => return Val::Null,
        },
    };
    let (src, sub) = (cased(src, ci), cased(sub, ci));
    let len = src.chars().count();
    if start > len {
        return Val::Null;
    }
    let byte_start = src.char_indices().nth(start).map_or(src.len(), |(b, _)| b);
    match src[byte_start..].find(sub.as_ref()) {
        Some(b) => Val::Int((start + src[byte_start..byte_start + b].chars().count()) as i64),
        None => Val::Null,
    }
}

/// The text between `left` and `right` in the source; `""` when either is not found.
fn between(ci: bool, a: &[&Val]) -> Val {
    let (Some(src), Some(left), Some(right)) = (text_of(a[0]), text_of(a[1]), text_of(a[2])) else {
        return Val::Null;
    };
    let greedy = match a.get(3) {
        None => false,
        Some(Val::Bool(b)) => *b,
        Some(_) => return Val::Null,
    };
    // Searches run on the folded text; folding can change byte lengths, so positions
    // are mapped back through char counts.
    let folded = cased(src, ci);
    let (l, r) = (cased(left, ci), cased(right, ci));
    let Some(lpos) = folded.find(l.as_ref()) else {
        return Val::Str(std::string::String::new());
    };
    let after = lpos + l.len();
    let rest = &folded[after..];
    let rpos = if greedy {
        rest.rfind(r.as_ref())
    } else {
        rest.find(r.as_ref())
    };
    let Some(rpos) = rpos else {
        return Val::Str(std::string::String::new());
    };
    let from = folded[..after].chars().count();
    let count = rest[..rpos].chars().count();
    Val::Str(src.chars().skip(from).take(count).collect())
}

/// Python-style slicing by chars, negative positions counting from the end.
fn substring(a: &[&Val]) -> Val {
    let Some(src) = text_of(a[0]) else {
        return Val::Null;
    };
    let len = src.chars().count() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let Some(start) = int_of(a[1]).map(norm) else {
        return Val::Null;
    };
    let end = match a.get(2) {
        None => len,
        Some(v) => match int_of(v) {
            Some(e) => norm(e),
            None => return Val::Null,
        },
    };
    if start >= end {
        return Val::Str(std::string::String::new());
    }
    Val::Str(
        src.chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect(),
    )
}

/// `lhs op rhs` on two values; `null` on either side never compares.
pub(crate) fn compare(op: Op, lhs: &Val, rhs: &Val) -> bool {
    let ord = match (lhs, rhs) {
        (Val::Null, _) | (_, Val::Null) => return false,
        (Val::Str(a), Val::Str(b)) => Some(a.as_str().cmp(b.as_str())),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (a, b) => match (a.num(), b.num()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    let Some(ord) = ord else {
        return op == Op::Ne;
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => Ord3::Lt.holds(ord),
        Op::Le => Ord3::Le.holds(ord),
        Op::Gt => Ord3::Gt.holds(ord),
        Op::Ge => Ord3::Ge.holds(ord),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Val {
        Val::Str(v.into())
    }

    #[test]
    fn string_functions_follow_the_reference_examples() {
        let path = s("C:\\Windows\\System32\\cmd.exe");
        assert_eq!(
            between(false, &[&path, &s("System32\\"), &s(".exe")]),
            s("cmd")
        );
        assert_eq!(
            between(false, &[&path, &s("system32\\"), &s(".exe")]),
            s("")
        );
        assert_eq!(
            between(true, &[&path, &s("system32\\"), &s(".exe")]),
            s("cmd")
        );
        assert_eq!(between(false, &[&path, &s("\\"), &s("\\")]), s("Windows"));
        assert_eq!(
            between(false, &[&path, &s("\\"), &s("\\"), &Val::Bool(true)]),
            s("Windows\\System32")
        );
        assert_eq!(between(false, &[&Val::Null, &s("a"), &s("b")]), Val::Null);
        let domain = s("subdomain.example.com");
        assert_eq!(index_of(false, &[&domain, &s(".")]), Val::Int(9));
        assert_eq!(
            index_of(false, &[&domain, &s("."), &Val::Int(10)]),
            Val::Int(17)
        );
        assert_eq!(
            index_of(false, &[&domain, &s("."), &Val::Int(-6)]),
            Val::Int(9)
        );
        assert_eq!(
            index_of(false, &[&domain, &s(""), &Val::Int(10)]),
            Val::Int(10)
        );
        assert_eq!(index_of(false, &[&domain, &s("z")]), Val::Null);
        assert_eq!(
            index_of(false, &[&domain, &s("."), &Val::Int(30)]),
            Val::Null
        );
        let line = s("start regsvr32.exe");
        assert_eq!(substring(&[&line, &Val::Int(6)]), s("regsvr32.exe"));
        assert_eq!(substring(&[&line, &Val::Int(0), &Val::Int(5)]), s("start"));
        assert_eq!(substring(&[&line, &Val::Int(-4)]), s(".exe"));
        assert_eq!(substring(&[&line, &Val::Int(-4), &Val::Int(-1)]), s(".ex"));
        assert_eq!(
            apply(
                Func::Concat,
                false,
                &[&s("regsvr32.exe"), &s(" "), &Val::Float(42.5)]
            ),
            s("regsvr32.exe 42.5")
        );
        assert_eq!(
            apply(Func::Concat, false, &[&s("a"), &Val::Null]),
            Val::Null
        );
        assert_eq!(
            apply(Func::StringContains, false, &[&line, &s("")]),
            Val::Bool(false)
        );
        assert_eq!(
            apply(Func::StartsWith, false, &[&s(""), &s("")]),
            Val::Bool(true)
        );
        assert_eq!(apply(Func::Length, false, &[&Val::Null]), Val::Null);
    }

    #[test]
    fn numbers_and_arithmetic_follow_the_reference_examples() {
        assert_eq!(number(&s("1337"), None), Val::Int(1337));
        assert_eq!(number(&s("42.5"), None), Val::Float(42.5));
        assert_eq!(
            number(&s("deadbeef"), Some(&Val::Int(16))),
            Val::Int(3_735_928_559)
        );
        assert_eq!(
            number(&s("0xdeadbeef"), Some(&Val::Null)),
            Val::Int(3_735_928_559)
        );
        assert_eq!(number(&s("  -1337  "), None), Val::Int(-1337));
        assert_eq!(number(&s(""), None), Val::Null);
        assert_eq!(arith(Func::Divide, &Val::Int(4), &Val::Int(3)), Val::Int(1));
        assert_eq!(arith(Func::Divide, &Val::Int(4), &Val::Int(0)), Val::Null);
        assert_eq!(
            arith(Func::Divide, &Val::Float(0.5), &Val::Int(4)),
            Val::Float(0.125)
        );
        assert_eq!(
            arith(Func::Modulo, &Val::Int(10), &Val::Int(-6)),
            Val::Int(4)
        );
        assert_eq!(
            arith(Func::Modulo, &Val::Int(-10), &Val::Int(-6)),
            Val::Int(-4)
        );
        assert_eq!(arith(Func::Add, &Val::Null, &Val::Int(4)), Val::Null);
        assert_eq!(
            arith(Func::Add, &Val::Int(i64::MAX), &Val::Int(1)),
            Val::Null
        );
        assert!(compare(Op::Eq, &Val::Int(2), &Val::Float(2.0)));
        assert!(!compare(Op::Eq, &Val::Null, &Val::Null));
        assert!(!compare(Op::Ne, &Val::Null, &s("x")));
        assert!(
            compare(Op::Ne, &s("1"), &Val::Int(1)),
            "a string is not a number"
        );
    }
}
