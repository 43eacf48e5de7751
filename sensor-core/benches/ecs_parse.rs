//! ECS line parsing, side by side in one run: a plain `serde_json::Value` parse (the
//! baseline every JSON reader pays), the tree path Picket used before (Value, expand
//! dotted keys, convert), and the one-pass reader (`Event::from_json_slice`).
//!
//! The corpus: Linux, Windows and macOS process starts round-robin over 150 hosts, each
//! with an unmodelled `agent`/`winlog` object, as SIEM exports carry them.
//!
//! Run: `cargo bench -p sensor-core --bench ecs_parse`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sensor_core::event::{expand_dotted_keys, Event};
use serde_json::{json, Value};
use std::hint::black_box;

const N: usize = 5_000;

fn corpus() -> Vec<String> {
    (0..N)
        .map(|i| {
            let host = format!("host-{:03}", i % 150);
            let t = format!("2026-11-20T10:{:02}:{:02}.{:03}Z", (i / 60) % 60, i % 60, i % 1000);
            let doc = match i % 3 {
                0 => json!({
                    "@timestamp": t, "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec", "id": format!("ev-{i}")},
                    "host": {"name": host, "id": format!("mid-{}", i % 150), "os": {"type": "linux", "family": "debian"}},
                    "process": {"pid": 1000 + i, "name": "git", "executable": "/usr/bin/git", "args": ["git", "status", "--porcelain"],
                                "command_line": "git status --porcelain", "working_directory": "/home/alice/src", "parent": {"pid": 999}},
                    "user": {"id": "1000", "name": "alice", "effective": {"id": "1000", "name": "alice"}},
                    "agent": {"type": "picket", "version": "0.1.0"}
                }),
                1 => json!({
                    "@timestamp": t, "event.kind": "event", "event.category": "process", "event.type": "start", "event.code": "1",
                    "host.name": host, "host.os.type": "windows",
                    "process.pid": 4000 + i, "process.name": "chrome.exe",
                    "process.executable": "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                    "process.command_line": "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US",
                    "process.parent.pid": 3999, "process.parent.name": "chrome.exe",
                    "user.name": "bob", "user.domain": "CORP", "user.id": "S-1-5-21-1-2-3-1001",
                    "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "record_id": i, "event_data": {"IntegrityLevel": "Medium", "LogonId": "0x3e7"}}
                }),
                _ => json!({
                    "@timestamp": t, "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
                    "host": {"name": host, "os": {"type": "macos"}},
                    "process": {"pid": 700 + i, "name": "mdworker_shared", "executable": "/System/Library/Frameworks/CoreServices.framework/mdworker_shared",
                                "args": ["mdworker_shared", "-s", "mdworker", "-c", "MDSImporterWorker"], "code_signature": {"signing_id": "com.apple.mdworker_shared", "team_id": null},
                                "parent": {"pid": 1, "name": "launchd"}},
                    "user": {"id": "501", "name": "carol"}
                }),
            };
            doc.to_string()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut g = c.benchmark_group("ecs_parse");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline: serde_json::Value", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_str::<Value>(l).ok());
            }
        })
    });
    g.bench_function("tree: Value, expand, convert", |b| {
        b.iter(|| {
            for l in &lines {
                let mut v: Value = serde_json::from_str(l).unwrap_or_default();
                expand_dotted_keys(&mut v);
                black_box(serde_json::from_value::<Event>(v).ok());
            }
        })
    });
    g.bench_function("one pass: Event::from_json_slice", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(Event::from_json_slice(l.as_bytes()).ok());
            }
        })
    });
    g.finish();
    eprintln!("corpus: {N} lines, {bytes} bytes");
}

criterion_group!(benches, bench);
criterion_main!(benches);
