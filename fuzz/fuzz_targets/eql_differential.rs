//! The EQL engine against a second evaluator: the input generates one to three
//! `process where` queries (`picket_fuzz::eql_ref`) and an ECS event. Each query's text
//! is compiled by the engine (`Query::compile`) and its verdict on the event compared
//! with the reference evaluator's on the generated AST. Then the queries are loaded as
//! rules into an `Engine` (sometimes with 16 filler rules, so the precheck path exists)
//! and the event is run through it with the rule index on, with it off, and through
//! `Detector::precheck`: each must alert exactly for the rules whose query matches, in
//! rule order. Any disagreement panics with the query text and the event.
#![no_main]

use analytics::{AnalyticsConfig, Engine, Query, RuleSource, RulesConfig};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use picket_fuzz::eql_ref;
use sensor_core::alert::Alert;
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use std::sync::OnceLock;

/// Every analytic off and no folding: only the rules alert, each time they match.
fn config() -> &'static AnalyticsConfig {
    static CONFIG: OnceLock<AnalyticsConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let off = serde_json::json!({"enabled": false});
        serde_json::from_value(serde_json::json!({
            "fold_window_secs": 0,
            "an0903": off, "an0904": off, "an0905": off, "an0906": off,
            "an0907": off, "an0908": off, "time_window": off,
        }))
        .expect("the analytics config")
    })
}

fn analytics() -> &'static analytics::Analytics {
    static BUILT: OnceLock<analytics::Analytics> = OnceLock::new();
    BUILT.get_or_init(|| analytics::Analytics::build(config()).0)
}

fn rule(id: &str, query: &str) -> RuleSource {
    RuleSource {
        origin: format!("{id}.toml"),
        text: format!(
            "[rule]\nrule_id = \"{id}\"\nname = \"{id}\"\nlanguage = \"eql\"\nquery = '''\n{query}\n'''\n"
        ),
    }
}

fn ids(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.rule.id.clone()).collect()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    // The event first, so the queries can draw their literals from it.
    let Ok(gen) = eql_ref::gen_event(&mut u) else {
        return;
    };
    let seen = gen.strings();
    let Ok(n) = u.int_in_range(1..=3u8) else {
        return;
    };
    let mut conds = Vec::new();
    for _ in 0..n {
        match eql_ref::gen_cond(&mut u, &seen, 3) {
            Ok(c) => conds.push(c),
            Err(_) => return,
        }
    }
    let filler = u.arbitrary::<bool>().unwrap_or(false);
    let json = gen.to_json();
    let event = Event::from_json_value(json.clone())
        .unwrap_or_else(|e| panic!("a generated event does not parse ({e}): {json}"));
    // The reference reads the event as the engine has it (the model's own JSON), so a
    // field the model fills or normalises reads the same on both sides.
    let line = event.to_json_line();
    let doc: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));

    let mut sources = Vec::new();
    let mut expected = Vec::new();
    for (i, c) in conds.iter().enumerate() {
        let text = eql_ref::query_text(c);
        let q = Query::compile(&text)
            .unwrap_or_else(|e| panic!("a generated query does not compile ({e}):\n{text}"));
        let engine = q.matches(&event);
        let reference = eql_ref::matches(c, &doc);
        if engine != reference {
            panic!(
                "EQL disagreement: engine {engine}, reference {reference}\nquery: {text}\nevent: {line}\ngenerated: {json}"
            );
        }
        let id = format!("q{i}");
        if engine {
            expected.push(id.clone());
        }
        sources.push(rule(&id, &text));
    }
    if filler {
        for i in 0..16 {
            let q = format!("process where process.name == \"filler-{i}\"");
            sources.push(rule(&format!("filler{i}"), &q));
        }
    }
    let rules = RulesConfig {
        builtin: false,
        ..RulesConfig::default()
    };
    let (mut engine, errors) = Engine::with_analytics(analytics().clone(), &rules, &sources);
    assert!(errors.is_empty(), "rules did not load: {errors:?}");
    let texts: Vec<String> = conds.iter().map(eql_ref::query_text).collect();
    let mut indexed = engine.clone();
    let mut alerts = Vec::new();
    indexed.on_event(&event, &mut alerts);
    if ids(&alerts) != expected {
        panic!(
            "rule index: alerts {:?}, direct matches {expected:?}\nqueries: {texts:#?}\nevent: {line}",
            ids(&alerts)
        );
    }
    engine.set_prefilters(false);
    let mut alerts = Vec::new();
    engine.clone().on_event(&event, &mut alerts);
    if ids(&alerts) != expected {
        panic!(
            "every rule tried: alerts {:?}, direct matches {expected:?}\nqueries: {texts:#?}\nevent: {line}",
            ids(&alerts)
        );
    }
    if let Some(pre) = indexed.precheck() {
        let mut out = Vec::new();
        pre.check(std::slice::from_ref(&event), &mut out);
        let got = out.first().map(|p| ids(&p.0)).unwrap_or_default();
        if got != expected || out.len() != 1 {
            panic!(
                "precheck: alerts {got:?} ({} results), direct matches {expected:?}\nqueries: {texts:#?}\nevent: {line}",
                out.len()
            );
        }
    }
});
