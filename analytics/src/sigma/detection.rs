//! A Sigma `detection` block compiled into the EQL engine's AST ([`Expr`]): each
//! selection's field items become comparisons on the mapped ECS paths, and the
//! condition combines them. Nothing here evaluates: the EQL engine's `Node` tree does,
//! so Sigma and EQL rules share one evaluator and one rule index.

use super::condition::{self, Cond, Quant};
use super::fields::{self, Product, Target, HASH_PATHS};
use super::modifiers::{self, literal, parse_pattern, Encoding, Modifier, Pattern, Piece};
use super::yaml::{Node, Pos, Yaml};
use super::{Problem, Refusal};
use crate::eql::{Arg, Expr, Lit, Op, Operand};
use std::collections::BTreeMap;

/// What the compile needs to know beyond the detection.
pub(crate) struct Ctx<'a> {
    pub product: Product,
    pub placeholders: &'a BTreeMap<String, Vec<String>>,
}

/// Most `and` branches an `N of x` may expand to (it is a disjunction of every
/// combination of N detections).
const MAX_COMBINATIONS: usize = 256;

/// Compiles `detection` (a mapping with `condition`) to one condition.
pub(crate) fn compile(detection: &Node, ctx: &Ctx<'_>) -> Result<Expr, Problem> {
    let Yaml::Map(entries) = &detection.value else {
        return Err(Problem::invalid(
            detection.pos,
            "`detection` is not a mapping",
        ));
    };
    let mut named: Vec<(String, Expr)> = Vec::new();
    let mut condition = None;
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            return Err(Problem::invalid(key.pos, "detection keys are names"));
        };
        match name {
            "condition" => condition = Some(value),
            "timeframe" => {
                return Err(Problem::refused(
                    key.pos,
                    Refusal::Aggregation,
                    "`timeframe` (an aggregation over time)",
                ))
            }
            _ => named.push((name.to_string(), selection(value, ctx)?)),
        }
    }
    let Some(cond_node) = condition else {
        return Err(Problem::invalid(
            detection.pos,
            "the detection has no `condition`",
        ));
    };
    // A list of conditions is their `or` (Sigma 1 rules).
    let texts: Vec<&Node> = match &cond_node.value {
        Yaml::Seq(items) => items.iter().collect(),
        _ => vec![cond_node],
    };
    let mut alternatives = Vec::new();
    for node in texts {
        let Some(text) = node.as_str() else {
            return Err(Problem::invalid(node.pos, "`condition` is not a string"));
        };
        let cond = condition::parse(text).map_err(|e| {
            let pos = Pos {
                line: node.pos.line,
                column: node.pos.column + text[..e.offset.min(text.len())].chars().count(),
            };
            if e.aggregation {
                Problem::refused(pos, Refusal::Aggregation, e.message)
            } else {
                Problem::invalid(pos, format!("condition: {}", e.message))
            }
        })?;
        alternatives.push(resolve(&cond, &named).map_err(|m| Problem::invalid(node.pos, m))?);
    }
    Ok(or(alternatives))
}

fn or(mut items: Vec<Expr>) -> Expr {
    if items.len() == 1 {
        items.remove(0)
    } else {
        Expr::Or(items)
    }
}

fn and(mut items: Vec<Expr>) -> Expr {
    if items.len() == 1 {
        items.remove(0)
    } else {
        Expr::And(items)
    }
}

fn resolve(c: &Cond, named: &[(String, Expr)]) -> Result<Expr, String> {
    Ok(match c {
        Cond::Or(items) => Expr::Or(
            items
                .iter()
                .map(|i| resolve(i, named))
                .collect::<Result<_, _>>()?,
        ),
        Cond::And(items) => Expr::And(
            items
                .iter()
                .map(|i| resolve(i, named))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(inner) => Expr::Not(Box::new(resolve(inner, named)?)),
        Cond::Name(n) => named
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| format!("the condition names `{n}`, which the detection lacks"))?,
        Cond::Of { quant, pattern } => {
            let hits: Vec<Expr> = named
                .iter()
                .filter(|(k, _)| condition::name_matches(pattern, k))
                .map(|(_, e)| e.clone())
                .collect();
            if hits.is_empty() {
                return Err(format!("`of {pattern}` matches no detection"));
            }
            match quant {
                Quant::All => Expr::And(hits),
                Quant::AtLeast(0) => Expr::Bool(true),
                Quant::AtLeast(1) => Expr::Or(hits),
                Quant::AtLeast(n) if *n > hits.len() => Expr::Bool(false),
                Quant::AtLeast(n) => {
                    let combos = combinations(hits.len(), *n);
                    if combos.len() > MAX_COMBINATIONS {
                        return Err(format!(
                            "`{n} of {pattern}` has {} combinations (at most {MAX_COMBINATIONS})",
                            combos.len()
                        ));
                    }
                    Expr::Or(
                        combos
                            .into_iter()
                            .map(|idx| {
                                Expr::And(idx.into_iter().map(|i| hits[i].clone()).collect())
                            })
                            .collect(),
                    )
                }
            }
        }
    })
}

/// Every `k`-subset of `0..n`, stopping once past [`MAX_COMBINATIONS`].
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if out.len() > MAX_COMBINATIONS {
            return;
        }
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    go(0, n, k, &mut cur, &mut out);
    out
}

/// One named detection: a mapping (every item holds) or a list of mappings (any).
fn selection(node: &Node, ctx: &Ctx<'_>) -> Result<Expr, Problem> {
    match &node.value {
        Yaml::Map(entries) => {
            if entries.is_empty() {
                return Err(Problem::invalid(node.pos, "an empty selection"));
            }
            let mut items = Vec::new();
            for (k, v) in entries {
                let Some(key) = k.as_str() else {
                    return Err(Problem::invalid(k.pos, "field names are strings"));
                };
                items.push(item(key, k.pos, v, ctx)?);
            }
            Ok(and(items))
        }
        Yaml::Seq(list) => {
            if list.iter().all(|n| matches!(n.value, Yaml::Map(_))) && !list.is_empty() {
                Ok(or(list
                    .iter()
                    .map(|n| selection(n, ctx))
                    .collect::<Result<_, _>>()?))
            } else {
                Err(Problem::refused(
                    node.pos,
                    Refusal::Keywords,
                    "keyword search (values without a field)",
                ))
            }
        }
        Yaml::Scalar { .. } => Err(Problem::refused(
            node.pos,
            Refusal::Keywords,
            "keyword search (values without a field)",
        )),
    }
}

/// How an item compares its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Str,
    Re { i: bool, m: bool, s: bool },
    Cidr,
    Exists,
    Fieldref,
    Range(Op),
}

/// One `Field|modifiers: value(s)` item.
fn item(key: &str, pos: Pos, value: &Node, ctx: &Ctx<'_>) -> Result<Expr, Problem> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    if field.is_empty() {
        return Err(Problem::refused(
            pos,
            Refusal::Keywords,
            "keyword search (modifiers without a field)",
        ));
    }
    let mut mods = Vec::new();
    for m in parts {
        let parsed = modifiers::parse_modifier(m).ok_or_else(|| {
            Problem::refused(
                pos,
                Refusal::UnknownModifier,
                format!("unknown modifier `{m}`"),
            )
        })?;
        mods.push(parsed);
    }
    let target = fields::target(field, ctx.product).ok_or_else(|| {
        Problem::refused(
            pos,
            Refusal::Field,
            format!(
                "field `{field}`: Picket's {} process events do not carry it",
                ctx.product.os_type()
            ),
        )
    })?;

    let mut mode = Mode::Str;
    let mut all = false;
    let mut cased = false;
    for m in &mods {
        let next = match m {
            Modifier::Re => Mode::Re {
                i: false,
                m: false,
                s: false,
            },
            Modifier::ReFlag(f) => match mode {
                Mode::Re { i, m, s } => Mode::Re {
                    i: i || *f == 'i',
                    m: m || *f == 'm',
                    s: s || *f == 's',
                },
                _ => {
                    return Err(Problem::invalid(
                        pos,
                        format!("modifier `{f}` is a flag of `re` and must follow it"),
                    ))
                }
            },
            Modifier::Cidr => Mode::Cidr,
            Modifier::Exists => Mode::Exists,
            Modifier::Fieldref => Mode::Fieldref,
            Modifier::Gt => Mode::Range(Op::Gt),
            Modifier::Gte => Mode::Range(Op::Ge),
            Modifier::Lt => Mode::Range(Op::Lt),
            Modifier::Lte => Mode::Range(Op::Le),
            Modifier::All => {
                all = true;
                continue;
            }
            Modifier::Cased => {
                cased = true;
                continue;
            }
            _ => continue,
        };
        if mode != Mode::Str && !matches!((mode, next), (Mode::Re { .. }, Mode::Re { .. })) {
            return Err(Problem::invalid(
                pos,
                "at most one of re, cidr, exists, fieldref, gt, gte, lt, lte",
            ));
        }
        mode = next;
    }

    let values: Vec<&Node> = match &value.value {
        Yaml::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    if values.is_empty() {
        return Err(Problem::invalid(value.pos, "an empty list of values"));
    }
    for v in &values {
        if !matches!(v.value, Yaml::Scalar { .. }) {
            return Err(Problem::invalid(
                v.pos,
                "a value is a string, number or null",
            ));
        }
    }

    match mode {
        Mode::Str => string_item(field, target, &mods, &values, all, cased, ctx),
        Mode::Re { i, m, s } => {
            let mut pats = Vec::new();
            for v in &values {
                let text = v.as_str().unwrap_or_default();
                let flags = format!("{}{}", if m { "m" } else { "" }, if s { "s" } else { "-s" });
                // Sigma's regex searches; the EQL engine's is anchored, hence the runs.
                // Parsed here only, for the error's position: the engine compiles it.
                let wrapped = format!("(?s:.*)(?{flags}:{text})(?s:.*)");
                if let Err(e) = regex_syntax::ParserBuilder::new()
                    .case_insensitive(i)
                    .build()
                    .parse(&wrapped)
                {
                    let msg = e.to_string();
                    let last = msg.lines().last().unwrap_or("").trim().to_string();
                    return Err(Problem::refused(
                        v.pos,
                        Refusal::Regex,
                        format!("regex {text:?} is not supported: {last}"),
                    ));
                }
                pats.push(wrapped);
            }
            let per_path = |path: &str, pats: Vec<String>| Expr::Cmp {
                lhs: Operand::Field(path.to_string()),
                op: Op::Regex { ci: i },
                rhs: pats.into_iter().map(Lit::Str).collect(),
                at: 0,
            };
            let paths = plain_paths(target);
            let combine =
                |pats: &[String]| or(paths.iter().map(|p| per_path(p, pats.to_vec())).collect());
            Ok(if all {
                and(pats
                    .iter()
                    .map(|p| combine(std::slice::from_ref(p)))
                    .collect())
            } else {
                combine(&pats)
            })
        }
        Mode::Cidr => {
            let paths = plain_paths(target);
            let nets: Vec<String> = values
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            Ok(or(paths
                .iter()
                .map(|p| Expr::Truthy {
                    operand: Operand::Func {
                        name: "cidrMatch".into(),
                        ci: false,
                        args: std::iter::once((Arg::Field((*p).to_string()), 0))
                            .chain(nets.iter().map(|n| (Arg::Lit(Lit::Str(n.clone())), 0)))
                            .collect(),
                    },
                    at: 0,
                })
                .collect()))
        }
        Mode::Exists => {
            let [v] = values.as_slice() else {
                return Err(Problem::invalid(pos, "`exists` takes true or false"));
            };
            let want = match v.as_str() {
                Some("true" | "True" | "yes") => true,
                Some("false" | "False" | "no") => false,
                _ => return Err(Problem::invalid(v.pos, "`exists` takes true or false")),
            };
            let present = or(all_paths(target)
                .iter()
                .map(|p| Expr::Not(Box::new(is_null(p))))
                .collect());
            Ok(if want {
                present
            } else {
                Expr::Not(Box::new(present))
            })
        }
        Mode::Fieldref => {
            let lhs = fields::fieldref_paths(field, ctx.product).unwrap_or(&[]);
            let mut items = Vec::new();
            for v in &values {
                let other = v.as_str().unwrap_or_default();
                let rhs = fields::fieldref_paths(other, ctx.product).ok_or_else(|| {
                    Problem::refused(
                        v.pos,
                        Refusal::Field,
                        format!(
                            "field `{other}`: Picket's {} process events do not carry it",
                            ctx.product.os_type()
                        ),
                    )
                })?;
                let mut pairs = Vec::new();
                for l in lhs {
                    for r in rhs {
                        pairs.push(Expr::FieldsEqual {
                            lhs: (*l).to_string(),
                            rhs: (*r).to_string(),
                            ci: !cased,
                        });
                    }
                }
                items.push(or(pairs));
            }
            Ok(if all { and(items) } else { or(items) })
        }
        Mode::Range(op) => {
            let paths = plain_paths(target);
            let mut items = Vec::new();
            for v in &values {
                let text = v.as_str().unwrap_or_default().trim();
                let lit = if let Ok(i) = text.parse::<i64>() {
                    Lit::Int(i)
                } else if let Ok(f) = text.parse::<f64>() {
                    Lit::Float(f)
                } else {
                    return Err(Problem::invalid(
                        v.pos,
                        format!("{text:?} is not a number to compare with"),
                    ));
                };
                items.push(or(paths
                    .iter()
                    .map(|p| Expr::Cmp {
                        lhs: Operand::Field((*p).to_string()),
                        op,
                        rhs: vec![lit.clone()],
                        at: 0,
                    })
                    .collect()));
            }
            Ok(if all { and(items) } else { or(items) })
        }
    }
}

/// Every path a target reads (for `exists`).
fn all_paths(target: Target) -> Vec<&'static str> {
    match target {
        Target::Paths(p) => p.to_vec(),
        Target::WindowsUser => vec!["user.name"],
        Target::Hashes => HASH_PATHS.iter().map(|(_, p)| *p).collect(),
    }
}

/// The paths of a target that is compared as one string (regex, cidr, numbers).
fn plain_paths(target: Target) -> Vec<&'static str> {
    match target {
        Target::Paths(p) => p.to_vec(),
        // Sysmon's raw strings, kept in the replayed event data.
        Target::WindowsUser => vec!["winlog.event_data.User"],
        Target::Hashes => vec!["winlog.event_data.Hashes"],
    }
}

fn is_null(path: &str) -> Expr {
    Expr::Cmp {
        lhs: Operand::Field(path.to_string()),
        op: Op::Eq,
        rhs: vec![Lit::Null],
        at: 0,
    }
}

/// A string item: each value through the modifiers to alternatives, and the
/// alternatives to comparisons on the target.
#[allow(clippy::too_many_arguments)]
fn string_item(
    field: &str,
    target: Target,
    mods: &[Modifier],
    values: &[&Node],
    all: bool,
    cased: bool,
    ctx: &Ctx<'_>,
) -> Result<Expr, Problem> {
    let ci = !cased;
    // Per value: its alternatives (windash, base64offset and expand make several);
    // `None` for a null value.
    let mut groups: Vec<Option<Vec<Pattern>>> = Vec::new();
    for v in values {
        if v.is_null() {
            groups.push(None);
            continue;
        }
        let raw = v.as_str().unwrap_or_default();
        groups.push(Some(transform(raw, mods, ctx).map_err(
            |(class, m)| match class {
                Some(c) => Problem::refused(v.pos, c, m),
                None => Problem::invalid(v.pos, format!("{field}: {m}")),
            },
        )?));
    }
    let emit = |pats: &[Pattern]| -> Expr { patterns_on(target, pats, ci) };
    if all {
        Ok(and(groups
            .iter()
            .map(|g| match g {
                None => null_of(target),
                Some(pats) => emit(pats),
            })
            .collect()))
    } else {
        let mut items = Vec::new();
        let pats: Vec<Pattern> = groups.iter().flatten().flatten().cloned().collect();
        if !pats.is_empty() {
            items.push(emit(&pats));
        }
        if groups.iter().any(Option::is_none) {
            items.push(null_of(target));
        }
        Ok(or(items))
    }
}

/// `Field: null`: the field is missing (every path of it).
fn null_of(target: Target) -> Expr {
    and(all_paths(target).iter().map(|p| is_null(p)).collect())
}

/// Applies the value modifiers, in their order, to one value. An error is
/// `(Some(refusal class), why)` for what Picket refuses, `(None, why)` for a bad rule.
fn transform(
    raw: &str,
    mods: &[Modifier],
    ctx: &Ctx<'_>,
) -> Result<Vec<Pattern>, (Option<Refusal>, String)> {
    let texts = if mods.contains(&Modifier::Expand) {
        modifiers::expand(raw, ctx.placeholders).map_err(|m| (Some(Refusal::Placeholder), m))?
    } else {
        vec![raw.to_string()]
    };
    let mut pats: Vec<Pattern> = texts.iter().map(|t| parse_pattern(t)).collect();
    let mut encoding = Encoding::Utf8;
    let mut encoded = false;
    for m in mods {
        match m {
            Modifier::Utf16le => encoding = Encoding::Utf16le,
            Modifier::Utf16be => encoding = Encoding::Utf16be,
            Modifier::Utf16 => encoding = Encoding::Utf16Bom,
            Modifier::Base64 | Modifier::Base64Offset => {
                let mut out = Vec::new();
                for p in &pats {
                    let text = literal(p).ok_or((
                        None,
                        "base64 of a value with wildcards is undefined".to_string(),
                    ))?;
                    let bytes = modifiers::encode(&text, encoding);
                    if *m == Modifier::Base64 {
                        out.push(vec![Piece::Lit(modifiers::base64(&bytes))]);
                    } else {
                        out.extend(
                            modifiers::base64_offsets(&bytes)
                                .into_iter()
                                .map(|s| vec![Piece::Lit(s)]),
                        );
                    }
                }
                pats = out;
                encoded = true;
            }
            Modifier::Windash => {
                let mut out = Vec::new();
                for p in &pats {
                    out.extend(modifiers::windash(p).map_err(|m| (Some(Refusal::Other), m))?);
                }
                pats = out;
            }
            Modifier::Contains => {
                pats = pats
                    .into_iter()
                    .map(|p| modifiers::wrap(p, true, true))
                    .collect()
            }
            Modifier::StartsWith => {
                pats = pats
                    .into_iter()
                    .map(|p| modifiers::wrap(p, false, true))
                    .collect()
            }
            Modifier::EndsWith => {
                pats = pats
                    .into_iter()
                    .map(|p| modifiers::wrap(p, true, false))
                    .collect()
            }
            _ => {}
        }
    }
    if encoding != Encoding::Utf8 && !encoded {
        return Err((
            Some(Refusal::Other),
            "a UTF-16 modifier without base64 after it: Picket's fields are text".into(),
        ));
    }
    Ok(pats)
}

/// The comparisons for a list of alternative patterns on a target.
fn patterns_on(target: Target, pats: &[Pattern], ci: bool) -> Expr {
    match target {
        Target::Paths(paths) => or(paths
            .iter()
            .map(|p| patterns_on_path(p, pats, ci))
            .collect()),
        Target::WindowsUser => or(pats.iter().map(|p| windows_user(p, ci)).collect()),
        Target::Hashes => or(pats.iter().map(|p| hashes(p, ci)).collect()),
    }
}

fn field_op(path: &str, op: Op, values: Vec<String>) -> Expr {
    Expr::Cmp {
        lhs: Operand::Field(path.to_string()),
        op,
        rhs: values.into_iter().map(Lit::Str).collect(),
        at: 0,
    }
}

fn func(name: &str, path: &str, ci: bool, value: String) -> Expr {
    Expr::Truthy {
        operand: Operand::Func {
            name: name.into(),
            ci,
            args: vec![
                (Arg::Field(path.to_string()), 0),
                (Arg::Lit(Lit::Str(value)), 0),
            ],
        },
        at: 0,
    }
}

/// Patterns on one path: those the EQL wildcard syntax can say go in one `:` (or
/// case-sensitive `like`) list, so the engine compiles them into one matcher; a literal
/// `*` or `?` needs a function or a regex; the empty value also matches a missing field
/// (Picket drops empty and `-` values, as Windows writes for "none").
fn patterns_on_path(path: &str, pats: &[Pattern], ci: bool) -> Expr {
    let mut globs = Vec::new();
    let mut items = Vec::new();
    for p in pats {
        if p.is_empty() {
            items.push(Expr::Or(vec![
                is_null(path),
                field_op(path, Op::In { ci }, vec![String::new()]),
            ]));
            continue;
        }
        let special = p
            .iter()
            .any(|x| matches!(x, Piece::Lit(l) if l.contains(['*', '?'])));
        if !special {
            globs.push(glob_text(p));
            continue;
        }
        items.push(match p.as_slice() {
            [Piece::Lit(l)] => field_op(path, Op::In { ci }, vec![l.clone()]),
            [Piece::Star, Piece::Lit(l), Piece::Star] => {
                func("stringContains", path, ci, l.clone())
            }
            [Piece::Lit(l), Piece::Star] => func("startsWith", path, ci, l.clone()),
            [Piece::Star, Piece::Lit(l)] => func("endsWith", path, ci, l.clone()),
            _ => field_op(path, Op::Regex { ci }, vec![regex_text(p)]),
        });
    }
    if !globs.is_empty() {
        let op = if ci {
            Op::Colon
        } else {
            Op::Like { ci: false }
        };
        items.insert(0, field_op(path, op, globs));
    }
    or(items)
}

/// The EQL wildcard text of a pattern without literal `*` or `?`.
fn glob_text(p: &Pattern) -> String {
    p.iter()
        .map(|x| match x {
            Piece::Lit(l) => l.as_str(),
            Piece::Star => "*",
            Piece::One => "?",
        })
        .collect()
}

fn regex_text(p: &Pattern) -> String {
    p.iter()
        .map(|x| match x {
            Piece::Lit(l) => regex::escape(l),
            Piece::Star => ".*".into(),
            Piece::One => ".".into(),
        })
        .collect()
}

/// Windows `User` (`DOMAIN\name`) on `user.domain` and `user.name`: a value with a
/// backslash splits there; `*x` is on the name, `x*` on the domain (or the name when
/// there is no domain), `*x*` on either, and `x` on the name alone, as the ECS mapping
/// (`user.name`) has it.
fn windows_user(p: &Pattern, ci: bool) -> Expr {
    let split = p.iter().enumerate().find_map(|(i, x)| match x {
        Piece::Lit(l) => l.find('\\').map(|at| (i, at)),
        _ => None,
    });
    if let Some((i, at)) = split {
        let mut domain: Pattern = p[..i].to_vec();
        let mut name: Pattern = p[i + 1..].to_vec();
        if let Piece::Lit(l) = &p[i] {
            if at > 0 {
                domain.push(Piece::Lit(l[..at].to_string()));
            }
            if at + 1 < l.len() {
                name.insert(0, Piece::Lit(l[at + 1..].to_string()));
            }
        }
        let domain = if domain.is_empty() {
            vec![Piece::Star]
        } else {
            domain
        };
        return Expr::And(vec![
            patterns_on_path("user.domain", &[domain], ci),
            patterns_on_path("user.name", &[name], ci),
        ]);
    }
    let starts = p.first() == Some(&Piece::Star);
    let ends = p.last() == Some(&Piece::Star) && p.len() > 1;
    let on = |path: &str| patterns_on_path(path, std::slice::from_ref(p), ci);
    match (starts, ends) {
        (true, true) => Expr::Or(vec![on("user.domain"), on("user.name")]),
        (false, true) => Expr::Or(vec![
            on("user.domain"),
            Expr::And(vec![is_null("user.domain"), on("user.name")]),
        ]),
        _ => on("user.name"),
    }
}

/// Sysmon `Hashes` values (`IMPHASH=…`, `SHA256=…`) on the field Picket split that
/// hash into; a value without an algorithm on every hash field.
fn hashes(p: &Pattern, ci: bool) -> Expr {
    let lead = p.iter().position(|x| matches!(x, Piece::Lit(_)));
    if let Some(i) = lead {
        if let Piece::Lit(l) = &p[i] {
            if let Some((algo, rest)) = l.split_once('=') {
                let algo = algo.to_ascii_lowercase();
                if let Some((_, path)) = HASH_PATHS.iter().find(|(a, _)| *a == algo) {
                    let mut rest_pat: Pattern = Vec::new();
                    if !rest.is_empty() {
                        rest_pat.push(Piece::Lit(rest.to_string()));
                    }
                    rest_pat.extend(p[i + 1..].iter().cloned());
                    // The hash alone: the pattern's leading `*` stood for other hashes.
                    return patterns_on_path(path, &[rest_pat], ci);
                }
            }
        }
    }
    or(HASH_PATHS
        .iter()
        .map(|(_, path)| patterns_on_path(path, std::slice::from_ref(p), ci))
        .collect())
}
