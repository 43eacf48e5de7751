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
//! [`Query::need_groups`]: crate::eql::Query

use crate::eql::Atom;
use crate::field::{any_scalar, FieldRef, Scalar};
use crate::glob::{fold_into, Literal};
use crate::rules::ElasticRule;
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
    /// Per rule, the bit of every group it has.
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
    /// Indexes `rules` by their queries' atoms.
    pub(crate) fn build(rules: &[ElasticRule]) -> RuleIndex {
        let mut index = RuleIndex {
            rule_count: rules.len(),
            ..RuleIndex::default()
        };
        // Per field (as in `index.fields`): its needles, each needle's rules, and where
        // each needle is.
        type Needles = (Vec<String>, Vec<RuleIds>, HashMap<String, usize>);
        let mut needles: Vec<Needles> = Vec::new();
        index.required = vec![0; rules.len()];
        for (i, rule) in rules.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let Some(groups) = rule.need_groups() else {
                index.always.push(id);
                continue;
            };
            for (g, atoms) in groups.into_iter().enumerate() {
                let Ok(group) = u8::try_from(g) else { break };
                index.required[i] |= 1 << group;
                let entry = (id, group);
                for Atom { field, literal } in atoms {
                    let slot = match index.fields.iter().position(|f| f.field == field) {
                        Some(s) => s,
                        None => {
                            index.fields.push(IndexedField {
                                field,
                                exact: HashMap::default(),
                                contains: None,
                            });
                            needles.push(Default::default());
                            index.fields.len() - 1
                        }
                    };
                    match literal {
                        Literal::Exact(value) => {
                            let ids = index.fields[slot].exact.entry(value).or_default();
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
        for (field, (list, ids, _)) in index.fields.iter_mut().zip(needles) {
            if list.is_empty() {
                continue;
            }
            // A contiguous NFA, not a DFA: with SigmaHQ's and Elastic's rules the DFA
            // searched 3.2K instructions an event faster but took 0.9G more to build
            // (even with 20K events replayed, more than it saved) and more memory.
            let built = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&list);
            match built {
                Ok(automaton) => field.contains = Some((automaton, ids)),
                // Too big to build: those rules are evaluated for every event instead.
                Err(_) => index
                    .always
                    .extend(ids.into_iter().flatten().map(|(rule, _)| rule)),
            }
        }
        index.always.sort_unstable();
        index.always.dedup();
        index
    }

    /// How many rules are evaluated for every event (they give no atoms).
    pub(crate) fn always_evaluated(&self) -> usize {
        self.always.len()
    }

    /// Marks in `out` every rule `ev` could match.
    pub(crate) fn candidates(&self, ev: &Event, out: &mut Candidates) {
        let Candidates {
            folded: buf,
            hit: hits,
            touched,
            bits,
        } = out;
        bits.clear();
        bits.resize(self.rule_count.div_ceil(64), 0);
        hits.resize(self.rule_count, 0);
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
