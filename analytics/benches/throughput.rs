//! Events per second through every analytic plus the Elastic rule, single thread, on a
//! mixed corpus (Windows, Linux, macOS; about 1% discovery commands).
//!
//! Baselines on the same corpus: parsing the events from ECS JSON (what `picket replay`
//! pays per event before detection), and the Elastic rule alone.
//!
//! Run: `cargo bench -p analytics --bench throughput`.

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::{json, Value};
use std::hint::black_box;

const N: usize = 10_000;

const WIN_BENIGN: &[(&str, &str)] = &[
    ("svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("chrome.exe", "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US --field-trial-handle=1234,i,567"),
    ("powershell.exe", "powershell.exe -NoProfile -Command Get-ChildItem C:\\Users\\bob\\Documents | Sort-Object Length"),
    ("cmd.exe", "cmd.exe /c echo hello > C:\\temp\\out.txt"),
    ("git.exe", "\"C:\\Program Files\\Git\\cmd\\git.exe\" status --porcelain"),
    ("msedge.exe", "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://example.com/"),
    ("taskhostw.exe", "taskhostw.exe Install $(Arg0)"),
];
const WIN_HITS: &[(&str, &str)] = &[
    ("NETSTAT.EXE", "netstat -ano"),
    ("net.exe", "net use"),
    (
        "powershell.exe",
        "powershell.exe -Command Get-NetTCPConnection",
    ),
];
const LNX_BENIGN: &[&[&str]] = &[
    &["ls", "-la", "/home/alice"],
    &["git", "status"],
    &["grep", "-r", "TODO", "src"],
    &["python3", "manage.py", "runserver"],
    &["cat", "/etc/os-release"],
    &["sh", "-c", "echo ok"],
    &["cargo", "build", "--release"],
    &["systemctl", "status", "nginx"],
];
const LNX_HITS: &[&[&str]] = &[
    &["ss", "-antp"],
    &["lsof", "-i", "-nP"],
    &["netstat", "-tulpn"],
];
const MAC_BENIGN: &[&[&str]] = &[
    &["ls", "-G"],
    &[
        "mdworker_shared",
        "-s",
        "mdworker",
        "-c",
        "MDSImporterWorker",
    ],
    &["zsh", "-l"],
    &["git", "log", "--oneline"],
];
const MAC_HITS: &[&[&str]] = &[&["lsof", "-i"], &["netstat", "-an"]];

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// The corpus as ECS JSON values: every 100th event is a discovery command.
fn corpus_json() -> Vec<Value> {
    (0..N)
        .map(|i| {
            let hit = i % 100 == 50;
            let ts = (t0() + TimeDelta::milliseconds(i as i64 * 5)).to_rfc3339();
            let user = format!("{}", 1000 + i % 7);
            match i % 3 {
                0 => {
                    let (name, cmd) = if hit {
                        WIN_HITS[(i / 100) % WIN_HITS.len()]
                    } else {
                        WIN_BENIGN[i % WIN_BENIGN.len()]
                    };
                    let args: Vec<&str> = cmd.split_whitespace().collect();
                    json!({"@timestamp": ts, "event.type": "start", "event.category": "process", "event.action": "exec",
                           "host.name": "WIN10", "host.os.type": "windows",
                           "user.id": format!("S-1-5-21-1-2-3-{user}"), "user.name": "bob",
                           "process.name": name, "process.executable": format!("C:\\Windows\\System32\\{name}"),
                           "process.command_line": cmd, "process.args": args,
                           "process.parent.name": "explorer.exe"})
                }
                1 => {
                    let args = if hit {
                        LNX_HITS[(i / 100) % LNX_HITS.len()]
                    } else {
                        LNX_BENIGN[i % LNX_BENIGN.len()]
                    };
                    json!({"@timestamp": ts, "event.type": "start", "event.category": "process", "event.action": "exec",
                           "host.name": "lnx1", "host.os.type": "linux", "user.id": user, "user.name": "alice",
                           "picket.login_uid": 1000, "picket.user_groups": ["alice"], "picket.user_shell": "/bin/bash",
                           "process.name": args[0], "process.executable": format!("/usr/bin/{}", args[0]),
                           "process.args": args, "process.command_line": args.join(" "),
                           "process.parent.name": "bash"})
                }
                _ => {
                    let args = if hit {
                        MAC_HITS[(i / 100) % MAC_HITS.len()]
                    } else {
                        MAC_BENIGN[i % MAC_BENIGN.len()]
                    };
                    json!({"@timestamp": ts, "event.type": "start", "event.category": "process", "event.action": "exec",
                           "host.name": "mac1", "host.os.type": "macos", "user.id": "501", "user.name": "carol",
                           "process.name": args[0], "process.executable": format!("/usr/bin/{}", args[0]),
                           "process.args": args, "process.command_line": args.join(" "),
                           "process.parent.name": "zsh",
                           "picket.ancestors": [{"pid": 9, "name": "zsh"}, {"pid": 8, "name": "login"},
                               {"pid": 7, "name": "Terminal", "executable": "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal"}]})
                }
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let values = corpus_json();
    let lines: Vec<String> = values.iter().map(Value::to_string).collect();
    let events: Vec<Event> = values
        .into_iter()
        .map(|v| Event::from_json_value(v).expect("corpus event"))
        .collect();
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
