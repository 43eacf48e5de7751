//! Feeds the bench's mixed corpus through `Engine::on_event` many times, for counting
//! instructions per event under `valgrind --tool=callgrind` (repeatable where wall-clock
//! time on a shared machine is not).
//!
//! Run: `cargo build --release -p analytics --example on_event_cost`, then
//! `valgrind --tool=callgrind target/release/examples/on_event_cost [builtin|rules|sigma]
//! [on|off] [passes]`; `rules` loads the Elastic rules of the fixtures as well, `sigma`
//! the Elastic and the Sigma rules, `off` turns the prefilters off. Divide the inclusive
//! cost of `on_event` by the event count it prints.

#[path = "../benches/corpus/mod.rs"]
#[allow(dead_code)]
mod corpus;

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::Engine;
use sensor_core::detect::Detector;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let rule_set = args.next().unwrap_or_default();
    let prefilters = args.next().is_none_or(|a| a != "off");
    let passes: usize = args.next().and_then(|p| p.parse().ok()).unwrap_or(3);
    let mut sources = Vec::new();
    if rule_set == "rules" || rule_set == "sigma" {
        sources.extend(corpus::elastic_rule_sources());
    }
    if rule_set == "sigma" {
        sources.extend(corpus::sigma_rule_sources());
    }
    let (mut pristine, _errors) = Engine::build(
        &AnalyticsConfig::default(),
        &RulesConfig::default(),
        &sources,
    );
    pristine.set_prefilters(prefilters);
    let events = corpus::corpus_events();
    let mut alerts = Vec::new();
    for _ in 0..passes {
        let mut engine = pristine.clone();
        for (i, ev) in events.iter().enumerate() {
            if i % 200 == 0 {
                engine.on_tick(ev.timestamp, false, &mut alerts);
            }
            engine.on_event(black_box(ev), &mut alerts);
        }
        alerts.clear();
    }
    println!(
        "{} events through {} rules",
        passes * events.len(),
        pristine.rules().len()
    );
}
