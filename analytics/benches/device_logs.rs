//! Cost per device-log message, from the line to the verdict: the recorded ESXi and
//! network-device fixture lines with the built positives (about a third of them
//! discovery commands), repeated. Side by side on the same lines, in one run:
//! - `syslog_header`: the RFC 3164/5424 header alone (the floor of any syslog parser);
//! - `parse`: the header and the device parser (a `LogRecord`);
//! - `parse_event`: that, as an ECS `Event`;
//! - `parse_detect`: that, through every analytic (AN0906, AN0907, the Elastic rule).
//!
//! Run: `cargo bench -p analytics --bench device_logs`.

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sensor_core::detect::Detector;
use sensor_logs::{parse_line, parse_syslog, ParseContext, Parsed};
use std::hint::black_box;
use std::path::Path;

const N: usize = 20_000;

fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    let mut lines = Vec::new();
    for dir in ["esxi", "network"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{}: {e}", root.join(dir).display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("fixture");
            lines.extend(text.lines().map(str::to_string));
        }
    }
    let built =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sensor-logs/tests/data/built-positives.log");
    let text = std::fs::read_to_string(&built).expect("built positives");
    lines.extend(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_string),
    );
    lines.iter().cycle().take(N).cloned().collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let ctx = ParseContext::new(chrono::Utc::now()).with_default_host("esx01");
    let (engine, errors) = Engine::build(&AnalyticsConfig::default(), &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    let hits = {
        let mut e = engine.clone();
        let mut alerts = Vec::new();
        for l in &lines {
            if let Parsed::Record(r) = parse_line(l, &ctx) {
                e.on_event(&r.into_event(), &mut alerts);
            }
        }
        alerts.len()
    };
    eprintln!("{} lines, {hits} alerts before folding", lines.len());

    let mut g = c.benchmark_group("device_logs");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(20);
    g.bench_function("syslog_header", |b| {
        b.iter(|| {
            for l in &lines {
                let _ = black_box(parse_syslog(l, &ctx));
            }
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(parse_line(l, &ctx));
            }
        })
    });
    g.bench_function("parse_event", |b| {
        b.iter(|| {
            for l in &lines {
                if let Parsed::Record(r) = parse_line(l, &ctx) {
                    black_box(r.into_event());
                }
            }
        })
    });
    g.bench_function("parse_detect", |b| {
        b.iter_batched(
            || engine.clone(),
            |mut e| {
                let mut alerts = Vec::new();
                for l in &lines {
                    if let Parsed::Record(r) = parse_line(l, &ctx) {
                        e.on_event(&r.into_event(), &mut alerts);
                    }
                }
                black_box(alerts.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
