//! The Elastic rules indexed by what an event must have for each to match, so an event
//! meets only the rules it could match instead of all of them in turn.
//!
//! Each rule's query gives a set of atoms of which a matching event has at least one
//! ([`Query::needs`](crate::eql::Query)): a folded field value equal to a literal (looked
//! up in one hash map per field) or containing one (one Aho-Corasick automaton per field
//! over every rule's literals). Rules that give no atoms are always evaluated. The
//! candidates are evaluated in load order, so alerts come out exactly as when every rule
//! runs in turn; the index only skips rules whose query would be false.

use crate::eql::Atom;
use crate::field::FieldRef;
use crate::glob::{fold_into, Literal};
use crate::rules::ElasticRule;
use aho_corasick::AhoCorasick;
use sensor_core::event::{Event, FieldValue};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Rule numbers (positions in load order).
type RuleIds = Vec<u32>;

/// Exact literals of one field → the rules needing them.
#[derive(Debug, Clone)]
struct ExactField {
    field: FieldRef,
    rules: HashMap<String, RuleIds, BuildHasherDefault<FnvHasher>>,
}

/// Contained literals of one field, as one automaton; pattern number → rules.
#[derive(Debug, Clone)]
struct ContainsField {
    field: FieldRef,
    automaton: AhoCorasick,
    rules: Vec<RuleIds>,
}

/// The compiled index over a rule list.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    rule_count: usize,
    always: RuleIds,
    exact: Vec<ExactField>,
    contains: Vec<ContainsField>,
}

/// Per-event buffers: the folded value and the candidate set (one bit per rule).
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    folded: String,
    bits: Vec<u64>,
}

impl Candidates {
    fn mark(&mut self, ids: &[u32]) {
        for &i in ids {
            if let Some(w) = self.bits.get_mut(i as usize / 64) {
                *w |= 1u64 << (i % 64);
            }
        }
    }

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
        let mut contains: Vec<(FieldRef, Vec<String>, Vec<RuleIds>)> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let Some(atoms) = rule.needs() else {
                index.always.push(id);
                continue;
            };
            for Atom { field, literal } in atoms {
                match literal {
                    Literal::Exact(value) => {
                        let slot = match index.exact.iter().position(|e| e.field == field) {
                            Some(s) => s,
                            None => {
                                index.exact.push(ExactField {
                                    field,
                                    rules: HashMap::default(),
                                });
                                index.exact.len() - 1
                            }
                        };
                        let ids = index.exact[slot].rules.entry(value).or_default();
                        if ids.last() != Some(&id) {
                            ids.push(id);
                        }
                    }
                    Literal::Contains(needle) => {
                        let slot = match contains.iter().position(|c| c.0 == field) {
                            Some(s) => s,
                            None => {
                                contains.push((field, Vec::new(), Vec::new()));
                                contains.len() - 1
                            }
                        };
                        let (_, needles, ids) = &mut contains[slot];
                        match needles.iter().position(|n| *n == needle) {
                            Some(p) if ids[p].last() != Some(&id) => ids[p].push(id),
                            Some(_) => {}
                            None => {
                                needles.push(needle);
                                ids.push(vec![id]);
                            }
                        }
                    }
                }
            }
        }
        for (field, needles, ids) in contains {
            match AhoCorasick::new(&needles) {
                Ok(automaton) => index.contains.push(ContainsField {
                    field,
                    automaton,
                    rules: ids,
                }),
                // Too big to build: those rules are evaluated for every event instead.
                Err(_) => index.always.extend(ids.into_iter().flatten()),
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
        out.bits.clear();
        out.bits.resize(self.rule_count.div_ceil(64), 0);
        out.mark(&self.always);
        for e in &self.exact {
            each_string(&e.field.get(ev), |s| {
                let key = folded(s, &mut out.folded);
                if let Some(ids) = e.rules.get(key) {
                    // `folded` borrows `out.folded`; copy the ids' marks after.
                    let ids: &[u32] = ids;
                    for &i in ids {
                        if let Some(w) = out.bits.get_mut(i as usize / 64) {
                            *w |= 1u64 << (i % 64);
                        }
                    }
                }
            });
        }
        for c in &self.contains {
            each_string(&c.field.get(ev), |s| {
                let hay = folded(s, &mut out.folded);
                for m in c.automaton.find_overlapping_iter(hay) {
                    if let Some(ids) = c.rules.get(m.pattern().as_usize()) {
                        for &i in ids {
                            if let Some(w) = out.bits.get_mut(i as usize / 64) {
                                *w |= 1u64 << (i % 64);
                            }
                        }
                    }
                }
            });
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

/// Calls `f` on each string of a string field (the index holds only such fields).
fn each_string(v: &FieldValue<'_>, mut f: impl FnMut(&str)) {
    match v {
        FieldValue::Str(s) => f(s),
        FieldValue::Strs(items) => items.iter().for_each(|s| f(s)),
        _ => {}
    }
}

/// FNV-1a: the index's keys are short field values, for which SipHash's setup costs more
/// than the hashing; the keys come from rule files, not from events, so flooding is moot.
#[derive(Debug, Clone, Copy)]
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
