//! EQL `sequence` queries: `sequence by <keys> with maxspan=<span> [step] [step] ...
//! until [step]`, over the events of one host, in the order they arrive.
//!
//! The state machine is Elasticsearch's: each step keeps, per join key, the most recent
//! partial sequence that reached it. An event matching step *k* moves the partial at step
//! *k − 1* with its keys forward (steps are tried last to first, so one event moves a
//! partial one step only); an event matching the first step starts a new partial, in
//! place of an older one with the same keys. A partial older than `maxspan` (first event
//! to this one) is dropped, and an `until` event drops every partial with its keys.
//!
//! Choices where Elastic says nothing: a join key missing from an event keeps the event
//! out of the sequence (two events without a `process.entity_id` are not one process),
//! and the host (`host.id`, else `host.name`) is always the first key, so sequences
//! never span hosts.

use super::parser::{self, SeqStep};
use super::{EqlError, Query};
use crate::field::FieldRef;
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::event::{Event, FieldValue};
use std::collections::HashMap;

/// Most partial sequences one rule keeps at once; past it, the oldest goes (counted).
pub const MAX_PENDING: usize = 4096;

/// A compiled `sequence` query.
#[derive(Debug, Clone)]
pub struct Sequence {
    steps: Vec<Step>,
    until: Option<Step>,
    maxspan: Option<TimeDelta>,
}

#[derive(Debug, Clone)]
struct Step {
    query: Query,
    /// Shared keys, then the step's own.
    keys: Vec<FieldRef>,
}

/// The partial sequences of one rule.
#[derive(Debug, Default, Clone)]
pub struct SequenceState {
    /// Per step: join key → the partial sequence that reached that step.
    stages: Vec<HashMap<Box<[String]>, Partial>>,
}

impl SequenceState {
    /// Partial sequences held, over every step.
    fn pending(&self) -> usize {
        self.stages.iter().map(HashMap::len).sum()
    }
}

#[derive(Debug, Clone)]
struct Partial {
    first: DateTime<Utc>,
    events: Vec<Event>,
}

/// What one event did to a rule's sequences.
#[derive(Debug, Default)]
pub struct Advance {
    /// The events of a sequence this event completed, in order (this one last).
    pub completed: Option<Vec<Event>>,
    /// Partials dropped to stay under [`MAX_PENDING`].
    pub evicted: u64,
}

impl Sequence {
    /// Parses and compiles a `sequence` query.
    pub fn compile(text: &str) -> Result<Sequence, EqlError> {
        let ast = parser::parse_sequence(text)?;
        let step = |s: &SeqStep| -> Result<Step, EqlError> {
            Ok(Step {
                query: Query::from_ast(&s.ast)?,
                keys: ast
                    .by
                    .iter()
                    .chain(&s.by)
                    .map(|k| FieldRef::resolve(k))
                    .collect(),
            })
        };
        let mut steps = Vec::new();
        for s in &ast.steps {
            let compiled = step(s)?;
            for _ in 0..s.runs {
                steps.push(compiled.clone());
            }
        }
        Ok(Sequence {
            steps,
            until: ast.until.as_ref().map(step).transpose()?,
            maxspan: ast
                .maxspan_ms
                .and_then(|ms| i64::try_from(ms).ok())
                .map(TimeDelta::milliseconds),
        })
    }

    /// Every field path the steps, their keys and `until` read.
    pub fn field_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for step in self.steps.iter().chain(&self.until) {
            let keys = step.keys.iter().map(|k| k.path().to_string());
            for p in step.query.field_paths().into_iter().chain(keys) {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// How many steps, `runs` expanded.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Never: a sequence has at least two steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Feeds `ev` (an event of `host`) through the sequence.
    pub fn advance(&self, state: &mut SequenceState, host: &str, ev: &Event) -> Advance {
        let mut out = Advance::default();
        if state.stages.len() != self.steps.len() {
            state.stages = vec![HashMap::new(); self.steps.len()];
        }
        if let Some(until) = &self.until {
            if until.query.matches(ev) {
                if let Some(key) = key_of(host, &until.keys, ev) {
                    for stage in &mut state.stages {
                        stage.remove(&key);
                    }
                }
            }
        }
        let last = self.steps.len() - 1;
        for (j, step) in self.steps.iter().enumerate().rev() {
            if !step.query.matches(ev) {
                continue;
            }
            let Some(key) = key_of(host, &step.keys, ev) else {
                continue;
            };
            if j == 0 {
                let partial = Partial {
                    first: ev.timestamp,
                    events: vec![ev.clone()],
                };
                state.stages[0].insert(key, partial);
                continue;
            }
            let Some(mut partial) = state.stages[j - 1].remove(&key) else {
                continue;
            };
            if self
                .maxspan
                .is_some_and(|span| ev.timestamp - partial.first > span)
            {
                continue;
            }
            partial.events.push(ev.clone());
            if j == last {
                out.completed = Some(partial.events);
            } else {
                state.stages[j].insert(key, partial);
            }
        }
        while state.pending() > MAX_PENDING {
            self.drop_oldest(state, ev.timestamp);
            out.evicted += 1;
        }
        out
    }

    /// Drops every expired partial, or else the oldest one.
    fn drop_oldest(&self, state: &mut SequenceState, now: DateTime<Utc>) {
        if let Some(span) = self.maxspan {
            let before = state.pending();
            for stage in &mut state.stages {
                stage.retain(|_, p| now - p.first <= span);
            }
            if state.pending() < before {
                return;
            }
        }
        let oldest = state
            .stages
            .iter()
            .enumerate()
            .flat_map(|(j, s)| s.iter().map(move |(k, p)| (p.first, j, k.clone())))
            .min_by_key(|(first, _, _)| *first);
        if let Some((_, j, key)) = oldest {
            state.stages[j].remove(&key);
        }
    }
}

/// The join key of `ev`: its host, then each key field's value; `None` when one is
/// missing.
fn key_of(host: &str, keys: &[FieldRef], ev: &Event) -> Option<Box<[String]>> {
    let mut out = Vec::with_capacity(keys.len() + 1);
    out.push(host.to_string());
    for k in keys {
        out.push(match k.get(ev) {
            FieldValue::Missing => return None,
            FieldValue::Str(s) => s.to_string(),
            FieldValue::Strs(v) => v.first()?.clone(),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Json(serde_json::Value::String(s)) => s.clone(),
            FieldValue::Json(v) => v.to_string(),
        });
    }
    Some(out.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(secs: i64, name: &str, pid: u32, ppid: u32) -> Event {
        let mut e = Event::from_json_value(json!({
            "@timestamp": "2026-12-01T00:00:00Z",
            "event": {"category": "process", "type": "start"},
            "host": {"id": "h1"},
            "process": {"name": name, "pid": pid, "entity_id": pid.to_string(),
                "parent": {"pid": ppid, "entity_id": ppid.to_string()}},
        }))
        .expect("event");
        e.timestamp += TimeDelta::seconds(secs);
        e
    }

    fn run(seq: &Sequence, events: &[Event]) -> Vec<Vec<String>> {
        let mut state = SequenceState::default();
        events
            .iter()
            .filter_map(|e| seq.advance(&mut state, "h1", e).completed)
            .map(|done| {
                done.iter()
                    .map(|e| e.process.name.clone().unwrap_or_default())
                    .collect()
            })
            .collect()
    }

    const SHELL_THEN_NET: &str = r#"sequence by process.parent.entity_id with maxspan=30s
        [process where process.name == "sh"]
        [process where process.name : "netstat"]
        until [process where process.name == "exit"]"#;

    #[test]
    fn steps_in_order_with_the_same_keys_complete_once() {
        let seq = Sequence::compile(SHELL_THEN_NET).expect("compiles");
        assert_eq!(seq.len(), 2);
        let done = run(
            &seq,
            &[
                ev(0, "sh", 10, 1),
                ev(1, "NETSTAT", 11, 1),
                ev(2, "netstat", 12, 1),
            ],
        );
        assert_eq!(done, vec![vec!["sh", "NETSTAT"]]);
        // Another parent, or the wrong order: nothing.
        assert!(run(&seq, &[ev(0, "sh", 10, 1), ev(1, "netstat", 11, 2)]).is_empty());
        assert!(run(&seq, &[ev(0, "netstat", 11, 1), ev(1, "sh", 10, 1)]).is_empty());
    }

    #[test]
    fn maxspan_and_until_end_a_partial() {
        let seq = Sequence::compile(SHELL_THEN_NET).expect("compiles");
        assert!(run(&seq, &[ev(0, "sh", 10, 1), ev(31, "netstat", 11, 1)]).is_empty());
        assert_eq!(
            run(&seq, &[ev(0, "sh", 10, 1), ev(30, "netstat", 11, 1)]).len(),
            1
        );
        assert!(run(
            &seq,
            &[
                ev(0, "sh", 10, 1),
                ev(1, "exit", 13, 1),
                ev(2, "netstat", 11, 1)
            ]
        )
        .is_empty());
        // A later first step replaces the older partial: its span counts from itself.
        assert_eq!(
            run(
                &seq,
                &[
                    ev(0, "sh", 10, 1),
                    ev(20, "sh", 14, 1),
                    ev(45, "netstat", 11, 1)
                ]
            )
            .len(),
            1
        );
    }

    #[test]
    fn runs_repeat_a_step_and_per_step_keys_join_parent_to_child() {
        let seq = Sequence::compile(
            r#"sequence with maxspan=1m
                [process where process.name == "sh"] by process.entity_id
                [process where process.name == "id"] by process.parent.entity_id with runs=2"#,
        )
        .expect("compiles");
        assert_eq!(seq.len(), 3);
        let done = run(
            &seq,
            &[
                ev(0, "sh", 10, 1),
                ev(1, "id", 11, 10),
                ev(2, "id", 12, 99),
                ev(3, "id", 13, 10),
            ],
        );
        assert_eq!(done, vec![vec!["sh", "id", "id"]]);
    }

    #[test]
    fn bad_sequences_are_errors() {
        for (text, needle) in [
            ("sequence [process where true]", "at least two steps"),
            (
                "sequence [process where true] by a [process where true]",
                "same number of `by` keys",
            ),
            (
                "sequence with maxspan=0s [any where true] [any where true]",
                "positive",
            ),
            (
                "sequence [any where true] ![any where true]",
                "missing-event",
            ),
            (
                "sequence [any where true] [any where true] | head 1",
                "pipes",
            ),
            (
                "sequence [any where true] [any where true] with runs=0",
                "whole number",
            ),
        ] {
            let e = Sequence::compile(text).expect_err(text);
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn pending_partials_are_bounded_and_counted() {
        let seq = Sequence::compile(
            "sequence by process.pid [process where process.name == \"sh\"] [process where process.name == \"x\"]",
        )
        .expect("compiles");
        let mut state = SequenceState::default();
        let mut evicted = 0;
        for i in 0..(MAX_PENDING as u32 + 10) {
            evicted += seq.advance(&mut state, "h1", &ev(0, "sh", i, 1)).evicted;
        }
        assert_eq!(evicted, 10);
        assert_eq!(state.pending(), MAX_PENDING);
    }
}
