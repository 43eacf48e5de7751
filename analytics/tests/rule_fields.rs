//! Every field the Elastic `process where` rules of
//! `shared/fixtures/rules/elastic-process-eql/` read is readable by its ECS path: set in
//! an event (nested, as Elastic Defend writes it, and dotted), it reads back, survives the
//! alert's JSON round trip, and decides `==` and `not ==` the way Elasticsearch does.
//! (Before, fields of sub-objects Picket does not model, such as `group.Ext.real.id`,
//! read as missing, so `not group.Ext.real.id == "0"` held on an event whose value is
//! `"0"`.)

#[path = "../benches/corpus/mod.rs"]
#[allow(dead_code)]
mod corpus;

use analytics::load_rules;
use sensor_core::event::{Event, FieldValue};
use serde_json::{json, Map, Value};

/// `{"a": {"b": {"c": v}}}` for `a.b.c`.
fn nested(path: &str, v: Value) -> Value {
    path.rsplit('.').fold(v, |inner, key| {
        let mut m = Map::new();
        m.insert(key.to_string(), inner);
        Value::Object(m)
    })
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// An event holding `value` at `path`, or `None` when the model types the field
/// otherwise (a number or list field given a string).
fn event_with(path: &str, value: &Value, dotted: bool) -> Option<Event> {
    let mut doc = json!({"@timestamp": "2026-12-01T00:00:00Z",
                         "event": {"category": ["process"], "type": ["start"]}});
    if dotted {
        doc.as_object_mut()?.insert(path.to_string(), value.clone());
    } else {
        merge(&mut doc, nested(path, value.clone()));
    }
    Event::from_json_value(doc).ok()
}

fn reads_as(v: &FieldValue<'_>, want: &Value) -> bool {
    match (v, want) {
        (FieldValue::Str(s), Value::String(w)) => s == w,
        (FieldValue::Strs(items), Value::String(w)) => *items == std::slice::from_ref(w),
        (FieldValue::Strs(items), Value::Array(w)) => {
            items.iter().map(|s| json!(s)).eq(w.iter().cloned())
        }
        (FieldValue::Int(i), Value::Number(n)) => n.as_i64() == Some(*i),
        (FieldValue::Bool(b), Value::Bool(w)) => b == w,
        (FieldValue::Json(j), w) => *j == w,
        _ => false,
    }
}

#[test]
fn every_field_the_elastic_rules_read_is_readable_by_its_path() {
    let (rules, errors) = load_rules(false, &corpus::elastic_rule_sources());
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(rules.len() >= 512, "{} rules", rules.len());
    let mut paths: Vec<String> = rules.iter().flat_map(|r| r.field_paths()).collect();
    paths.sort();
    paths.dedup();
    assert!(paths.len() >= 60, "{} fields", paths.len());
    let mut checked = 0;
    for path in &paths {
        // The value the model takes at this path: a string, else a number, else a
        // boolean (the rules compare `process.pid`, `process.args_count`, ...).
        let candidates = [
            json!("Picket-Value"),
            json!(["Picket-Value"]),
            json!(7),
            json!(true),
        ];
        let Some((value, _)) = candidates
            .iter()
            .find_map(|v| event_with(path, v, false).map(|e| (v.clone(), e)))
        else {
            panic!("no value of any type is accepted at {path}");
        };
        for dotted in [false, true] {
            let ev = event_with(path, &value, dotted).expect("accepted above");
            assert!(
                reads_as(&ev.field(path), &value),
                "{path} (dotted: {dotted}) reads {:?}",
                ev.field(path)
            );
            let back = Event::from_json_slice(ev.to_json_line().as_bytes()).expect("round trip");
            assert!(reads_as(&back.field(path), &value), "{path} after JSON");
            let lit = match &value {
                Value::Array(items) => items[0].to_string(),
                v => v.to_string(),
            };
            let eq = analytics::eql::Query::compile(&format!("any where {path} == {lit}"))
                .expect("query");
            let ne = analytics::eql::Query::compile(&format!("any where not {path} == {lit}"))
                .expect("query");
            assert!(eq.matches(&ev), "{path} == {lit}");
            assert!(!ne.matches(&ev), "not {path} == {lit}");
            let empty = event_with("process.name", &json!("x"), false).expect("event");
            assert!(!eq.matches(&empty) && ne.matches(&empty), "{path} missing");
        }
        checked += 1;
    }
    assert_eq!(checked, paths.len());
}
