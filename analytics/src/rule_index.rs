//! The Elastic rules indexed by what an event must have for each to match, so an event
//! meets only the rules it could match instead of all of them in turn.
//!
//! Each rule's query gives up to three groups of atoms ([`Query::need_groups`]), each
//! group a set of alternatives of which a matching event has at least one: a folded
//! field value equal to a literal (looked up in one hash map per field) or containing
//! one (one Aho-Corasick automaton per field over every rule's literals). A rule is a
//! candidate when every one of its groups has a hit. Rules that give no atoms are always
//! evaluated. The candidates are evaluated in load order, so alerts come out exactly as
//! when every rule runs in turn; the index only skips rules whose query would be false.
//!
//! Nearly every rule names the OS it is for (`host.os.type == "windows"`), and most
//! events come from one OS, so the index is built once per OS value the rules name
//! ([`Query::os_types`]), over only the rules that can match that OS (and those that name
//! none), plus once for any other host. An event reads its `host.os.type` once and meets
//! only that part: a Linux event never runs the Windows rules' automata, and a rule whose
//! one requirement is its OS is simply evaluated for that OS's events.
//!
//! [`Query::need_groups`]: crate::eql::Query
//! [`Query::os_types`]: crate::eql::Query

use crate::eql::{os_values, Atom};
use crate::field::{any_scalar, FieldRef, Scalar};
use crate::glob::{fold_into, Literal};
use crate::parallel::map_in_order;
use crate::rules::{ElasticRule, PARALLEL_COMPILE_MIN_FILES};
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use sensor_core::event::{Event, FieldValue};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// (rule number in load order, group number within the rule) pairs.
type RuleIds = Vec<(u32, u8)>;

/// One field's atoms: its exact literals (looked up by hash) and its contained ones (one
/// automaton), each leading to the rules needing it. A field is read and folded once per
/// event however many atoms name it.
#[derive(Debug, Clone)]
struct IndexedField {
    field: FieldRef,
    exact: HashMap<String, RuleIds, BuildHasherDefault<WordHasher>>,
    /// The automaton over the contained literals; pattern number → rules.
    contains: Option<(AhoCorasick, Vec<RuleIds>)>,
}

/// The compiled index over a rule list.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    rule_count: usize,
    /// Per folded `host.os.type` value some rule requires, the part for its events.
    by_os: Vec<(String, Part)>,
    /// The part for events of any other OS, or none: the rules that require none.
    other: Part,
}

/// The index over the rules that can match one OS's events.
#[derive(Debug, Clone, Default)]
struct Part {
    /// Per rule (all rules, by load order), the bit of every group it has here.
    required: Vec<u8>,
    always: Vec<u32>,
    fields: Vec<IndexedField>,
}

/// Per-event buffers: the folded value, the groups hit per rule, the rules touched and
/// the candidate set (one bit per rule).
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    folded: String,
    hit: Vec<u8>,
    touched: Vec<u32>,
    bits: Vec<u64>,
}

/// Records that group `group` of rule `rule` has a hit.
fn hit(hits: &mut [u8], touched: &mut Vec<u32>, ids: &[(u32, u8)]) {
    for &(rule, group) in ids {
        if let Some(h) = hits.get_mut(rule as usize) {
            if *h == 0 {
                touched.push(rule);
            }
            *h |= 1 << group;
        }
    }
}

fn set_bit(bits: &mut [u64], rule: u32) {
    if let Some(w) = bits.get_mut(rule as usize / 64) {
        *w |= 1u64 << (rule % 64);
    }
}

impl Candidates {
    /// The marked rules, in load order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(w * 64 + bit)
            })
        })
    }
}

impl RuleIndex {
    /// Indexes `rules` by the OS they need and by their queries' atoms.
    pub(crate) fn build(rules: &[ElasticRule]) -> RuleIndex {
        let needs: Vec<RuleNeeds> = rules.iter().map(RuleNeeds::of).collect();
        let mut os_values: Vec<&str> = (needs.iter())
            .flat_map(|n| n.os.iter().flatten().map(String::as_str))
            .collect();
        os_values.sort_unstable();
        os_values.dedup();
        // One part per OS value, then the part for any other OS; a large set's parts are
        // built side by side (a small set's in less time than a thread takes to start).
        let oses: Vec<Option<&str>> = os_values.into_iter().map(Some).chain([None]).collect();
        let min_parts = if rules.len() >= PARALLEL_COMPILE_MIN_FILES {
            2
        } else {
            usize::MAX
        };
        let mut parts = map_in_order(&oses, min_parts, |os| match *os {
            Some(os) => Part::build(&needs, |n| {
                n.os.as_ref().is_none_or(|v| v.iter().any(|x| x == os))
            }),
            None => Part::build(&needs, |n| n.os.is_none()),
        });
        let other = parts.pop().unwrap_or_default();
        let by_os = (oses.iter().flatten().map(|os| os.to_string()))
            .zip(parts)
            .collect();
        RuleIndex {
            rule_count: rules.len(),
            by_os,
            other,
        }
    }

    /// How many rules are evaluated for every event whatever its OS (they give neither
    /// atoms nor an OS).
    pub(crate) fn always_evaluated(&self) -> usize {
        self.other.always.len()
    }

    /// Marks in `out` every rule `ev` could match.
    pub(crate) fn candidates(&self, ev: &Event, out: &mut Candidates) {
        out.bits.clear();
        out.bits.resize(self.rule_count.div_ceil(64), 0);
        out.hit.resize(self.rule_count, 0);
        // The model holds one `host.os.type`; an event without one meets only the rules
        // that need no OS.
        let part = match FieldRef::HostOsType.get(ev) {
            FieldValue::Str(os) => {
                let os = folded(os, &mut out.folded);
                (self.by_os.iter())
                    .find(|(value, _)| value == os)
                    .map_or(&self.other, |(_, part)| part)
            }
            _ => &self.other,
        };
        part.mark(ev, out);
    }
}

/// What the index reads of one rule: the OS values it needs (`None`: any OS) and its
/// groups of atoms (`None`: nothing to go on).
struct RuleNeeds {
    os: Option<Vec<String>>,
    groups: Option<Vec<Vec<Atom>>>,
}

impl RuleNeeds {
    fn of(rule: &ElasticRule) -> RuleNeeds {
        RuleNeeds {
            os: rule.os_types(),
            groups: rule.need_groups(),
        }
    }
}

impl Part {
    /// Indexes the rules of `needs` that `member` admits. A group that only names the
    /// OS is dropped: every event meeting this part already has it.
    fn build(needs: &[RuleNeeds], member: impl Fn(&RuleNeeds) -> bool) -> Part {
        let mut part = Part {
            required: vec![0; needs.len()],
            ..Part::default()
        };
        // Per field (as in `part.fields`): its needles, each needle's rules, and where
        // each needle is.
        type Needles = (Vec<String>, Vec<RuleIds>, HashMap<String, usize>);
        let mut needles: Vec<Needles> = Vec::new();
        for (i, rule) in needs.iter().enumerate() {
            if !member(rule) {
                continue;
            }
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let Some(all) = &rule.groups else {
                part.always.push(id);
                continue;
            };
            // No groups at all: a sequence, never a single-event candidate.
            if all.is_empty() {
                continue;
            }
            let groups: Vec<&Vec<Atom>> = all.iter().filter(|g| os_values(g).is_none()).collect();
            if groups.is_empty() {
                part.always.push(id);
                continue;
            }
            for (g, atoms) in groups.into_iter().enumerate() {
                let Ok(group) = u8::try_from(g) else { break };
                part.required[i] |= 1 << group;
                let entry = (id, group);
                for Atom { field, literal } in atoms.iter().cloned() {
                    let slot = match part.fields.iter().position(|f| f.field == field) {
                        Some(s) => s,
                        None => {
                            part.fields.push(IndexedField {
                                field,
                                exact: HashMap::default(),
                                contains: None,
                            });
                            needles.push(Default::default());
                            part.fields.len() - 1
                        }
                    };
                    match literal {
                        Literal::Exact(value) => {
                            let ids = part.fields[slot].exact.entry(value).or_default();
                            if !ids.contains(&entry) {
                                ids.push(entry);
                            }
                        }
                        Literal::Contains(needle) => {
                            let (list, ids, at) = &mut needles[slot];
                            match at.get(&needle) {
                                Some(&p) if !ids[p].contains(&entry) => ids[p].push(entry),
                                Some(_) => {}
                                None => {
                                    at.insert(needle.clone(), list.len());
                                    list.push(needle);
                                    ids.push(vec![entry]);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (field, (list, ids, _)) in part.fields.iter_mut().zip(needles) {
            if list.is_empty() {
                continue;
            }
            // A contiguous NFA, not a DFA: with SigmaHQ's and Elastic's rules the DFA
            // searched 3.2K instructions an event faster but took 0.9G more to build
            // (even with 20K events replayed, more than it saved) and more memory.
            // No prefilter: over hundreds of literals its rare-byte scan stops at nearly
            // every position anyway (off, the index cost 5% less on the bench's load).
            let built = AhoCorasick::builder()
                .prefilter(false)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&list);
            match built {
                Ok(automaton) => field.contains = Some((automaton, ids)),
                // Too big to build: those rules are evaluated for every event instead.
                Err(_) => part
                    .always
                    .extend(ids.into_iter().flatten().map(|(rule, _)| rule)),
            }
        }
        part.always.sort_unstable();
        part.always.dedup();
        part
    }

    /// Marks in `out` every rule of this part `ev` could match.
    fn mark(&self, ev: &Event, out: &mut Candidates) {
        let Candidates {
            folded: buf,
            hit: hits,
            touched,
            bits,
        } = out;
        for &rule in &self.always {
            set_bit(bits, rule);
        }
        // A field outside the model reads as missing at once when its map is empty.
        for f in &self.fields {
            each_string(&f.field.get(ev), |s| {
                let value = folded(s, buf);
                if let Some(ids) = f.exact.get(value) {
                    hit(hits, touched, ids);
                }
                if let Some((automaton, rules)) = &f.contains {
                    for m in automaton.find_overlapping_iter(value) {
                        if let Some(ids) = rules.get(m.pattern().as_usize()) {
                            hit(hits, touched, ids);
                        }
                    }
                }
            });
        }
        // A rule is a candidate when every one of its groups had a hit.
        for rule in touched.drain(..) {
            let r = rule as usize;
            if let (Some(h), Some(&need)) = (hits.get_mut(r), self.required.get(r)) {
                if *h == need {
                    set_bit(bits, rule);
                }
                *h = 0;
            }
        }
    }
}

/// `s` folded, borrowing it when folding would not change it.
fn folded<'a>(s: &'a str, buf: &'a mut String) -> &'a str {
    if s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        fold_into(s, buf);
        buf
    } else {
        s
    }
}

/// Calls `f` on the string form of each scalar of a field, as the query's string
/// comparison sees it (a number as `12`, a boolean as `true`).
fn each_string(v: &FieldValue<'_>, mut f: impl FnMut(&str)) {
    match v {
        FieldValue::Missing => {}
        FieldValue::Str(s) => f(s),
        FieldValue::Strs(items) => items.iter().for_each(|s| f(s)),
        other => {
            any_scalar(other, |sc| {
                match sc {
                    Scalar::Str(s) => f(s),
                    Scalar::Int(i) => f(&i.to_string()),
                    Scalar::Float(x) => f(&x.to_string()),
                    Scalar::Bool(b) => f(if b { "true" } else { "false" }),
                }
                false
            });
        }
    }
}

/// A multiply-rotate hash over 8-byte words: the index's keys are short field values,
/// for which SipHash's setup costs more than the hashing. The keys come from rule files,
/// and events only look up, so there is no table for an attacker to flood.
#[derive(Debug, Clone, Copy, Default)]
struct WordHasher(u64);

const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(HASH_MUL);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rule;
    use serde_json::json;

    fn rule(id: &str, query: &str) -> ElasticRule {
        let text = format!(
            "[rule]\nrule_id = \"{id}\"\nname = \"{id}\"\nlanguage = \"eql\"\nquery = '''{query}'''\n"
        );
        parse_rule("t.toml", &text).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    fn event(os: Option<&str>, name: &str) -> Event {
        let mut v = json!({"process.name": name, "event.type": ["start"]});
        if let Some(os) = os {
            v["host.os.type"] = json!(os);
        }
        Event::from_json_value(v).expect("event")
    }

    fn candidates(index: &RuleIndex, ev: &Event) -> Vec<usize> {
        let mut out = Candidates::default();
        index.candidates(ev, &mut out);
        out.iter().collect()
    }

    #[test]
    fn an_event_meets_only_the_rules_of_its_os_and_those_that_name_none() {
        let rules = [
            rule(
                "linux-x",
                r#"process where host.os.type == "linux" and process.name == "x""#,
            ),
            rule(
                "unix-any",
                r#"process where host.os.type : ("linux", "macos") and process.name regex~ ".*\\s""#,
            ),
            rule("any-x", r#"process where process.name == "x""#),
            rule(
                "linux-and-windows",
                r#"process where host.os.type == "linux" and host.os.type == "windows""#,
            ),
            rule("all", r#"process where not process.name == "y""#),
        ];
        let index = RuleIndex::build(&rules);
        // The OS value is folded as the rules' `:` folds it.
        assert_eq!(candidates(&index, &event(Some("Linux"), "x")), [0, 1, 2, 4]);
        assert_eq!(candidates(&index, &event(Some("linux"), "z")), [1, 4]);
        assert_eq!(candidates(&index, &event(Some("macos"), "x")), [1, 2, 4]);
        assert_eq!(candidates(&index, &event(Some("windows"), "x")), [2, 4]);
        assert_eq!(candidates(&index, &event(Some("aix"), "x")), [2, 4]);
        assert_eq!(candidates(&index, &event(None, "x")), [2, 4]);
        // Rule 3 needs two OSes at once: no event meets it.
        assert_eq!(
            index.always_evaluated(),
            1,
            "only the rule naming neither OS nor atom"
        );
        // The candidates are a superset of the matches, whatever the event.
        for ev in [
            event(Some("LINUX"), "a b"),
            event(Some("macOS"), "x "),
            event(None, "y"),
        ] {
            let got = candidates(&index, &ev);
            for (i, r) in rules.iter().enumerate() {
                assert!(
                    !r.matches(&ev) || got.contains(&i),
                    "{} matches {ev:?}",
                    r.name
                );
            }
        }
    }
}
