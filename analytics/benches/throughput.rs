//! Events per second through every analytic plus the Elastic rule, single thread, on a
//! mixed corpus (Windows, Linux, macOS; about 1% discovery commands).
//!
//! Baselines on the same corpus: parsing the events from ECS JSON (what `picket replay`
//! pays per event before detection), and the Elastic rule alone. The `ruleset` group
//! runs the same engine with the built-in rule only and with the 512 Elastic rules of
//! `shared/fixtures/rules/elastic-process-eql/` side by side, and prints their ratio.
//!
//! Run: `cargo bench -p analytics --bench throughput`.

mod corpus;

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::Engine;
use chrono::TimeDelta;
use corpus::{corpus_events, corpus_json, elastic_rule_sources, t0, N};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::Value;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One pass of the corpus through a fresh clone of `pristine`, as the pipeline feeds it.
fn replay(pristine: &Engine, events: &[Event]) -> usize {
    let mut engine = pristine.clone();
    let mut alerts = Vec::with_capacity(1024);
    for (i, ev) in events.iter().enumerate() {
        if i % 200 == 0 {
            engine.on_tick(ev.timestamp, false, &mut alerts);
        }
        engine.on_event(ev, &mut alerts);
    }
    alerts.len()
}

fn bench(c: &mut Criterion) {
    let values = corpus_json();
    let lines: Vec<String> = values.iter().map(Value::to_string).collect();
    let events = corpus_events();
    let (pristine, errors) =
        Engine::build(&AnalyticsConfig::default(), &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");

    // How many alerts the corpus gives (printed once, for the report).
    {
        let mut e = pristine.clone();
        let mut alerts = Vec::new();
        for ev in &events {
            e.on_event(ev, &mut alerts);
        }
        e.on_tick(t0() + TimeDelta::hours(1), true, &mut alerts);
        let s = e.stats();
        eprintln!(
            "corpus: {N} events, {} detections ({:.2}%), {} alerts sent after folding",
            s.detections,
            100.0 * s.detections as f64 / N as f64,
            s.alerts_sent
        );
    }

    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("all_analytics_and_elastic_rule", |b| {
        b.iter_batched_ref(
            || (pristine.clone(), Vec::with_capacity(1024)),
            |(engine, alerts)| {
                for (i, ev) in events.iter().enumerate() {
                    if i % 200 == 0 {
                        engine.on_tick(ev.timestamp, false, alerts);
                    }
                    engine.on_event(ev, alerts);
                }
                black_box(alerts.len())
            },
            BatchSize::LargeInput,
        )
    });
    let rule = pristine.rules()[0].clone();
    g.bench_function("elastic_rule_only", |b| {
        b.iter(|| {
            events
                .iter()
                .filter(|ev| rule.matches(black_box(ev)))
                .count()
        })
    });
    g.bench_function("baseline_parse_ecs_json", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| {
                    let v: Value = serde_json::from_str(black_box(l)).expect("json");
                    Event::from_json_value(v).map(|e| e.process.pid).ok()
                })
                .count()
        })
    });
    g.finish();

    ruleset(c, &events, &pristine);
}

/// The whole Elastic ruleset against the built-in rule alone, same engine settings, same
/// corpus, measured in one run.
fn ruleset(c: &mut Criterion, events: &[Event], builtin_only: &Engine) {
    let sources = elastic_rule_sources();
    let (all_rules, errors) = Engine::build(
        &AnalyticsConfig::default(),
        &RulesConfig::default(),
        &sources,
    );
    // The folder holds the seed rule too (the built-in one, so a duplicate) and one
    // rule whose query Picket's EQL does not support; the rest load.
    eprintln!(
        "ruleset: {} rules loaded, {} files not: {:?}",
        all_rules.rules().len(),
        errors.len(),
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    assert!(all_rules.rules().len() > 500, "{errors:?}");

    let mut with_sigma_sources = sources.clone();
    with_sigma_sources.extend(corpus::sigma_rule_sources());
    let (with_sigma, _) = Engine::build(
        &AnalyticsConfig::default(),
        &RulesConfig::default(),
        &with_sigma_sources,
    );
    eprintln!(
        "ruleset: with SigmaHQ's process_creation rules, {} rules loaded",
        with_sigma.rules().len()
    );

    let mut g = c.benchmark_group("ruleset");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("builtin_rule_only", |b| {
        b.iter(|| black_box(replay(builtin_only, events)))
    });
    g.bench_function("all_elastic_process_rules", |b| {
        b.iter(|| black_box(replay(&all_rules, events)))
    });
    g.bench_function("elastic_and_sigma_process_rules", |b| {
        b.iter(|| black_box(replay(&with_sigma, events)))
    });
    g.finish();

    // The ratios, from interleaved timed passes, with the prefilters on (as shipped)
    // and off (every analytic and rule on every event, as before the index).
    for on in [true, false] {
        let (mut builtin, mut all) = (builtin_only.clone(), all_rules.clone());
        let mut sigma = with_sigma.clone();
        builtin.set_prefilters(on);
        all.set_prefilters(on);
        sigma.set_prefilters(on);
        let mut spent = [Duration::ZERO; 3];
        let passes = if on { 10 } else { 3 };
        for _ in 0..passes {
            for (slot, engine) in [&builtin, &all, &sigma].into_iter().enumerate() {
                let start = Instant::now();
                black_box(replay(engine, events));
                spent[slot] += start.elapsed();
            }
        }
        eprintln!(
            "ruleset (prefilters {}): all {} rules cost {:.2}x the built-in rule alone ({:.0} vs {:.0} ns per event)",
            if on { "on" } else { "off" },
            all_rules.rules().len(),
            spent[1].as_secs_f64() / spent[0].as_secs_f64(),
            spent[1].as_secs_f64() * 1e9 / (passes * events.len()) as f64,
            spent[0].as_secs_f64() * 1e9 / (passes * events.len()) as f64,
        );
        eprintln!(
            "ruleset (prefilters {}): with the Sigma rules, {} rules cost {:.2}x the built-in rule alone ({:.0} ns per event)",
            if on { "on" } else { "off" },
            with_sigma.rules().len(),
            spent[2].as_secs_f64() / spent[0].as_secs_f64(),
            spent[2].as_secs_f64() * 1e9 / (passes * events.len()) as f64,
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
