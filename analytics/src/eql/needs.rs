//! What an event must have for a compiled query to possibly match, derived from the
//! query's tree so that rules can be indexed and skipped without being evaluated.
//!
//! Soundness: [`needs`] returns atoms only when `query matches ⇒ some atom holds`.
//! - A comparison leaf with only exact string values or wildcard patterns
//!   (`:`, `==`, `in`, `in~`, `like`, `like~`, `startsWith`, ...) holds only when some
//!   string of the field equals one value or contains the pattern's longest literal,
//!   compared after [`fold`](crate::glob::fold): folding keeps equality and containment,
//!   so this holds for the case-sensitive operators too. A number or boolean value is
//!   compared through its string form (`1`, `true`), and so is it looked up; a list's
//!   own numbers are looked up the same way, except zero and integers beyond 2^53,
//!   whose string forms are not unique (then the leaf gives nothing). A leaf that also
//!   matches a missing field (`: null`) gives nothing.
//! - `and`: every conjunct is necessary, so the most selective conjunct's atoms will do.
//! - `or`: one branch must hold, so the union of every branch's atoms, and only when
//!   every branch gives some (one branch without requirements lets anything through).
//! - A regex gives the literals every match contains (`regex_form.rs`), when it has
//!   some worth indexing.
//! - `not`, numbers, `cidrMatch`, `length` and the `process where` category test give
//!   nothing: their truth does not require a literal.

use super::{Node, StrMatch, Test};
use crate::field::FieldRef;
use crate::glob::{fold, Literal};

/// One thing an event may have that lets a query match: the folded string of `field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atom {
    /// The field.
    pub field: FieldRef,
    /// Equal to, or containing, this folded literal.
    pub literal: Literal,
}

/// Fields that hold only strings (or string arrays) in the event model, so a leaf on
/// them is decided by its string values alone.
pub(crate) fn is_string_field(f: &FieldRef) -> bool {
    use FieldRef::*;
    matches!(
        f,
        EventType
            | EventCategory
            | EventAction
            | HostOsType
            | ProcessName
            | ProcessExecutable
            | ProcessArgs
            | ProcessCommandLine
            | ProcessPeOriginalFileName
            | ParentName
            | ParentExecutable
            | ParentArgs
            | ParentCommandLine
            | UserId
            | UserName
    )
}

/// How many events a requirement on `field` lets through, roughly (lower is better).
fn field_rank(f: &FieldRef) -> u32 {
    use FieldRef::*;
    match f {
        ProcessName | ProcessPeOriginalFileName | ParentName => 0,
        // Fields outside the model (`process.env_vars`, `event.code`) are missing from
        // most events, and a missing field meets no atom.
        ProcessExecutable | ParentExecutable | Other(_) => 1,
        ProcessArgs | ParentArgs => 2,
        ProcessCommandLine | ParentCommandLine | UserId | UserName => 3,
        EventAction => 6,
        HostOsType => 7,
        _ => 8,
    }
}

/// The cost of checking a set of alternatives, and how many events it lets through:
/// its weakest atom decides; a `contains` costs an automaton pass.
fn cost(atoms: &[Atom]) -> (u32, usize) {
    let worst = atoms
        .iter()
        .map(|a| field_rank(&a.field) * 2 + u32::from(matches!(a.literal, Literal::Contains(_))))
        .max()
        .unwrap_or(0);
    (worst, atoms.len())
}

/// Atoms of which one must hold whenever `node` holds; `None` when there are none to
/// give (the query must always be evaluated). `Some(vec![])` means it never holds.
pub(crate) fn needs(node: &Node) -> Option<Vec<Atom>> {
    match node {
        Node::Const(false) => Some(Vec::new()),
        Node::Const(true) | Node::Not(_) => None,
        Node::Leaf(field, Test::Str(m)) => leaf(field, m),
        Node::Leaf(..) | Node::Computed(..) | Node::Compare(_) | Node::FieldsEqual(..) => None,
        Node::Or(items) => {
            let mut all = Vec::new();
            for item in items.iter() {
                all.extend(needs(item)?);
            }
            Some(all)
        }
        Node::And(items) => items.iter().filter_map(needs).min_by_key(|a| cost(a)),
    }
}

/// Most requirement groups kept per query (each costs the index a little per hit).
pub(crate) const MAX_GROUPS: usize = 3;

/// Groups of atoms, each of which must hold (one atom of it) whenever `node` holds: the
/// conjuncts of a top-level `and` that give atoms, most selective first, keeping only
/// selective ones (names, paths, arguments: not `event.type` or `host.os.type`, which
/// most events have) when there are any. `None` when there is nothing to require.
pub(crate) fn groups(node: &Node) -> Option<Vec<Vec<Atom>>> {
    let Node::And(items) = node else {
        return needs(node).map(|a| vec![a]);
    };
    let mut all: Vec<Vec<Atom>> = items.iter().filter_map(needs).collect();
    if all.iter().any(Vec::is_empty) {
        return Some(vec![Vec::new()]);
    }
    all.sort_by_key(|a| cost(a));
    let selective = all
        .iter()
        .take_while(|a| cost(a).0 <= SELECTIVE)
        .count()
        .clamp(1, MAX_GROUPS);
    all.truncate(selective);
    (!all.is_empty()).then_some(all)
}

/// The folded `host.os.type` values of which an event must have one for `node` to hold:
/// from every conjunct of a top-level `and` (or the whole query) whose atoms are all
/// exact `host.os.type` values, intersected. `None` when no conjunct says. Sound for the
/// same reason as [`groups`]: each such conjunct is necessary.
pub(crate) fn os_types(node: &Node) -> Option<Vec<String>> {
    let conjuncts = match node {
        Node::And(items) => &items[..],
        other => std::slice::from_ref(other),
    };
    let mut out: Option<Vec<String>> = None;
    for values in conjuncts.iter().filter_map(|c| os_values(&needs(c)?)) {
        out = Some(match out {
            None => values,
            Some(prev) => prev.into_iter().filter(|v| values.contains(v)).collect(),
        });
    }
    out.map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// The literals of `atoms` when every one is an exact `host.os.type` value.
pub(crate) fn os_values(atoms: &[Atom]) -> Option<Vec<String>> {
    if atoms.is_empty() {
        return None;
    }
    (atoms.iter())
        .map(|a| match (&a.field, &a.literal) {
            (FieldRef::HostOsType, Literal::Exact(v)) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// The highest [`cost`] of a group worth indexing beside a better one: a contained
/// literal in a command line or user field at worst.
const SELECTIVE: u32 = 7;

fn leaf(field: &FieldRef, m: &StrMatch) -> Option<Vec<Atom>> {
    // A missing field matches `: null`.
    if m.null {
        return None;
    }
    // Numbers and booleans in the list never equal a string value, so on a string field
    // they add nothing. Any other field may hold numbers and booleans, which the index
    // looks up by their string form (`1`, `0.5`, `true`): the list's own are atoms then.
    let atom = |literal| Atom {
        field: field.clone(),
        literal,
    };
    let mut out: Vec<Atom> = m
        .exact
        .iter()
        .chain(m.exact_set.iter().flatten())
        .map(|e| atom(Literal::Exact(fold(e).into_owned())))
        .collect();
    if !is_string_field(field) {
        out.extend(typed_forms(m)?.into_iter().map(|s| atom(Literal::Exact(s))));
    }
    for g in &m.globs {
        out.push(atom(g.required_literal()?));
    }
    if m.regex.is_some() {
        let literals = m.regex_literals.as_ref()?;
        out.extend(literals.iter().map(|l| atom(Literal::Contains(l.clone()))));
    }
    Some(out)
}

/// The string forms the index sees of every number or boolean the list matches: an
/// integer-valued number prints the same as an integer or a float (`1`), and so does
/// any other float as itself. `None` when a form could differ: zero (a float `-0`
/// equals `0`) and integers beyond 2^53 (equal as floats to their neighbours).
fn typed_forms(m: &StrMatch) -> Option<Vec<String>> {
    const EXACT_INTS: f64 = 9_007_199_254_740_992.0;
    let mut out = Vec::new();
    for &i in &m.ints {
        if i == 0 || (i as f64).abs() > EXACT_INTS {
            return None;
        }
        out.push(i.to_string());
    }
    for &x in &m.floats {
        if !x.is_finite() || x == 0.0 || (x.fract() == 0.0 && x.abs() > EXACT_INTS) {
            return None;
        }
        out.push(x.to_string());
    }
    out.extend(m.bools.iter().map(|b| b.to_string()));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eql::Query;

    fn atoms(q: &str) -> Option<Vec<(FieldRef, Literal)>> {
        let q = Query::compile(q).expect("query");
        needs(&q.root).map(|v| v.into_iter().map(|a| (a.field, a.literal)).collect())
    }

    #[test]
    fn selective_conjuncts_become_groups() {
        let q = Query::compile(r#"process where host.os.type == "linux" and event.type == "start" and process.name : "curl" and process.args : ("-k", "--insecure") and process.parent.name : "*sh*""#).expect("query");
        let g = groups(&q.root).expect("groups");
        let fields: Vec<Vec<FieldRef>> = g
            .iter()
            .map(|a| a.iter().map(|a| a.field.clone()).collect())
            .collect();
        assert_eq!(
            fields,
            [
                vec![FieldRef::ProcessName],
                vec![FieldRef::ParentName],
                vec![FieldRef::ProcessArgs, FieldRef::ProcessArgs]
            ]
        );
        let q =
            Query::compile(r#"process where host.os.type == "linux" and event.type == "start""#)
                .expect("query");
        assert_eq!(groups(&q.root).map(|g| g.len()), Some(1));
    }

    fn exact(f: FieldRef, s: &str) -> (FieldRef, Literal) {
        (f, Literal::Exact(s.into()))
    }

    #[test]
    fn numbers_and_booleans_are_looked_up_by_their_string_form() {
        let forms = |q: &str| {
            atoms(q).map(|v| {
                v.into_iter()
                    .map(|(_, l)| match l {
                        Literal::Exact(s) | Literal::Contains(s) => s,
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            forms("any where problemchild.prediction == 1"),
            Some(vec!["1".into()])
        );
        assert_eq!(
            forms("any where x.score in (0.5, 2.0, true)"),
            Some(vec!["0.5".into(), "2".into(), "true".into()])
        );
        assert_eq!(forms("any where x.count == 0"), None, "-0 equals 0");
        // On a string field a number never matches: nothing to look up for it.
        assert_eq!(
            forms("process where process.name in (\"a\", 1)"),
            Some(vec!["a".into()])
        );
    }

    #[test]
    fn the_most_selective_conjunct_is_chosen() {
        assert_eq!(
            atoms(
                r#"process where host.os.type == "windows" and event.type == "start" and process.name : ("A.exe", "b.EXE")"#
            ),
            Some(vec![
                exact(FieldRef::ProcessName, "a.exe"),
                exact(FieldRef::ProcessName, "b.exe")
            ])
        );
        assert_eq!(
            atoms(r#"process where event.type == "start" and not process.name : "x""#),
            Some(vec![exact(FieldRef::EventType, "start")])
        );
    }

    #[test]
    fn or_needs_every_branch() {
        assert_eq!(
            atoms(
                r#"process where process.name : "Net.exe" or process.pe.original_file_name == "NET.exe""#
            ),
            Some(vec![
                exact(FieldRef::ProcessName, "net.exe"),
                exact(FieldRef::ProcessPeOriginalFileName, "net.exe")
            ])
        );
        assert_eq!(
            atoms(r#"process where process.name : "a" or process.args_count > 3"#),
            None
        );
        assert_eq!(
            atoms(r#"process where process.name : "a" or not process.name : "b""#),
            None
        );
    }

    #[test]
    fn wildcards_give_their_longest_literal_and_null_or_regex_nothing() {
        assert_eq!(
            atoms(r#"process where process.command_line : "*Invoke-*Mimikatz*""#),
            Some(vec![(
                FieldRef::ProcessCommandLine,
                Literal::Contains("mimikatz".into())
            )])
        );
        assert_eq!(atoms(r#"process where process.name : "*""#), None);
        assert_eq!(atoms(r#"process where process.name : ("a", null)"#), None);
        assert_eq!(atoms(r#"process where process.name regex "a.*""#), None);
        assert_eq!(
            atoms(r#"process where process.name : "a" and false"#),
            Some(vec![])
        );
    }
}
