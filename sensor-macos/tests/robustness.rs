//! Malformed, truncated and wrong-typed lines are counted and skipped, never a panic;
//! sequence gaps are reported.

mod common;

use common::{data, lines, parse_file, REAL_SAMPLES};
use sensor_core::replay::{LineParser, LineReplay};
use sensor_core::{Collector, EventSender, Health, Shutdown};
use sensor_macos::EsloggerParser;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::Ordering;

fn real_lines() -> Vec<Vec<u8>> {
    let l = lines(Path::new(REAL_SAMPLES));
    assert_eq!(l.len(), 4, "{REAL_SAMPLES} should hold 4 lines");
    l
}

#[test]
fn every_truncation_of_every_real_line_is_rejected_without_panic() {
    let mut parser = EsloggerParser::for_replay();
    let mut out = Vec::new();
    let mut rejected = 0u64;
    for line in real_lines() {
        for cut in 0..line.len() {
            out.clear();
            let r = parser.parse_line(&line[..cut], &mut out);
            assert!(
                r.is_err() && out.is_empty(),
                "a line cut at {cut} of {} bytes must be rejected, got {r:?}",
                line.len()
            );
            rejected += 1;
        }
        out.clear();
        assert_eq!(parser.parse_line(&line, &mut out), Ok(()));
        assert_eq!(out.len(), 1);
    }
    assert_eq!(parser.stats().invalid_json, rejected);
    assert_eq!(parser.stats().schema_drift, 0);
}

#[test]
fn byte_mutations_of_real_lines_never_panic() {
    // A deterministic sweep: at many positions, replace the byte with characters that
    // break JSON in different ways (quotes, brackets, digits, NUL, invalid UTF-8).
    let replacements: &[u8] = b"\"{}[]0-9x:,\\\x00\xff ";
    let mut parser = EsloggerParser::for_replay();
    let mut out = Vec::new();
    let (mut ok, mut err) = (0u64, 0u64);
    for line in real_lines() {
        for pos in (0..line.len()).step_by(5) {
            for &r in replacements {
                let mut m = line.clone();
                m[pos] = r;
                out.clear();
                match parser.parse_line(&m, &mut out) {
                    Ok(()) => ok += 1,
                    Err(reason) => {
                        assert!(!reason.is_empty());
                        assert!(out.is_empty(), "no event from a rejected line");
                        err += 1
                    }
                }
            }
        }
    }
    // Mutations inside values Picket skips (stat blocks, env) leave lines usable.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

/// Real line 1 (exec, version 9) as a JSON value, to change one field at a time.
fn exec_line() -> Value {
    serde_json::from_slice(&real_lines()[0]).expect("real line 1 is JSON")
}

fn parse_value(parser: &mut EsloggerParser, v: &Value) -> Result<usize, String> {
    let mut out = Vec::new();
    parser
        .parse_line(v.to_string().as_bytes(), &mut out)
        .map(|()| out.len())
}

#[test]
fn essential_fields_missing_or_retyped_are_schema_drift_and_skipped() {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 9] = [
        ("pid as a string", |v| {
            v["event"]["exec"]["target"]["audit_token"]["pid"] = json!("97391")
        }),
        ("args as a string", |v| {
            v["event"]["exec"]["args"] = json!("/bin/connection-checker")
        }),
        ("args missing", |v| {
            v["event"]["exec"].as_object_mut().map(|o| o.remove("args"));
        }),
        ("ppid negative", |v| {
            v["event"]["exec"]["target"]["ppid"] = json!(-1)
        }),
        ("executable path missing", |v| {
            v["event"]["exec"]["target"]["executable"] = json!({})
        }),
        ("time missing", |v| {
            v.as_object_mut().map(|o| o.remove("time"));
        }),
        ("time not a timestamp", |v| v["time"] = json!("yesterday")),
        ("event_type as a string", |v| v["event_type"] = json!("9")),
        ("exec body missing", |v| v["event"] = json!({})),
    ];
    for (i, (what, edit)) in cases.iter().enumerate() {
        let mut v = exec_line();
        v["global_seq_num"] = json!(1000 + i);
        edit(&mut v);
        let reason = parse_value(&mut parser, &v).expect_err(what);
        assert!(reason.contains("schema drift"), "{what}: {reason}");
    }
    assert_eq!(parser.stats().schema_drift, 9);
    assert_eq!(parser.stats().events, 0);
    let snap = health.snapshot();
    assert_eq!(snap.losses.get("eslogger_schema_drift"), Some(&9));
    // The sequence numbers were still read (1000..1008 contiguous): no false gap.
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&0));
    assert!(snap.notes.contains_key("eslogger_schema_drift"));
}

#[test]
fn supplementary_fields_retyped_are_dropped_and_counted_but_the_event_is_kept() {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    let mut v = exec_line();
    v["event"]["exec"]["target"]["tty"] = json!(3);
    v["event"]["exec"]["target"]["team_id"] = json!({"id": "X"});
    v["event"]["exec"]["cwd"] = json!("/");
    let mut out = Vec::new();
    parser
        .parse_line(v.to_string().as_bytes(), &mut out)
        .expect("kept");
    let ev = &out[0];
    assert_eq!(ev.process.pid, Some(97391));
    assert_eq!(ev.process.interactive, None);
    assert!(ev.process.tty.is_none());
    assert_eq!(ev.process.working_directory, None);
    assert_eq!(
        ev.process
            .code_signature
            .as_ref()
            .and_then(|c| c.signing_id.as_deref()),
        Some("connection_checker-04fde7bdb8bceee3")
    );
    assert_eq!(parser.stats().field_drift, 3);
    assert_eq!(
        health.snapshot().losses.get("eslogger_field_drift"),
        Some(&3)
    );
    let note = &health.snapshot().notes["eslogger_schema_drift"];
    assert!(
        note.contains("tty") && note.contains("team_id") && note.contains("cwd"),
        "{note}"
    );
}

#[test]
fn unknown_event_types_and_non_object_lines() {
    let mut parser = EsloggerParser::for_replay();
    let mut v = exec_line();
    v["event_type"] = json!(10);
    v["event"] = json!({"open": {"fflag": 1}});
    assert_eq!(parse_value(&mut parser, &v), Ok(0));
    assert_eq!(parser.ignored(), 1);
    for junk in [
        &b"42"[..],
        b"[]",
        b"null",
        b"\"exec\"",
        b"{}",
        b"\xff\xfe",
        b"",
    ] {
        let mut out = Vec::new();
        assert!(
            parser.parse_line(junk, &mut out).is_err(),
            "{:?}",
            String::from_utf8_lossy(junk)
        );
        assert!(out.is_empty());
    }
}

#[test]
fn built_malformed_file_is_counted_line_by_line() {
    let parsed = parse_file(&data("malformed_and_gaps.jsonl"));
    let shape: Vec<&str> = parsed
        .results
        .iter()
        .map(|r| match r {
            Ok(1) => "event",
            Ok(_) => "ignored",
            Err(e) if e.starts_with("invalid JSON") => "invalid",
            Err(e) if e.contains("schema drift") => "drift",
            Err(_) => "other",
        })
        .collect();
    assert_eq!(
        shape,
        [
            "event", "invalid", "event", "drift", "event", "ignored", "drift", "invalid", "event",
            "event"
        ]
    );
    let stats = parsed.parser.stats();
    assert_eq!(stats.events, 5);
    assert_eq!(stats.ignored, 1);
    assert_eq!(stats.invalid_json, 2);
    assert_eq!(stats.schema_drift, 2);
    assert_eq!(stats.field_drift, 1);
    // 100 → 102 is explained by the truncated line; 106 → 110 skips 3, one of which is
    // the non-JSON line: 2 lost. Then 110 → 3 is a restart.
    assert_eq!(
        (stats.seq_gaps, stats.seq_lost, stats.seq_resets),
        (1, 2, 1)
    );
    let snap = parsed.health.snapshot();
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&2));
    assert_eq!(snap.losses.get("eslogger_schema_drift"), Some(&2));
    assert_eq!(snap.losses.get("eslogger_field_drift"), Some(&1));
    let kept_with_bad_tty = &parsed.events[2];
    assert_eq!(kept_with_bad_tty.process.args, vec!["netstat", "-rn"]);
    assert_eq!(kept_with_bad_tty.process.interactive, None);
}

#[test]
fn a_gap_names_both_ends_in_the_health_note() {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    for seq in [10u64, 11, 12, 20, 21] {
        let mut v = exec_line();
        v["global_seq_num"] = json!(seq);
        assert_eq!(parse_value(&mut parser, &v), Ok(1));
    }
    let snap = health.snapshot();
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&7));
    let note = &snap.notes["eslogger"];
    assert!(note.contains("gap from 12 to 20"), "{note}");
    assert!(note.contains("7 event(s) lost"), "{note}");
    // After reset_sequence (eslogger restarted by the supervisor) a lower number is no gap.
    parser.reset_sequence();
    let mut v = exec_line();
    v["global_seq_num"] = json!(1);
    assert_eq!(parse_value(&mut parser, &v), Ok(1));
    assert_eq!(parser.stats().seq_resets, 0);
    assert_eq!(health.snapshot().losses.get("eslogger_seq_gap"), Some(&7));
}

#[test]
fn newer_message_versions_are_parsed_and_noted() {
    let health = Health::new();
    let mut parser = EsloggerParser::for_replay();
    parser.attach_health(&health);
    let mut v = exec_line();
    v["version"] = json!(12);
    assert_eq!(parse_value(&mut parser, &v), Ok(1));
    let note = &health.snapshot().notes["eslogger_version"];
    assert!(note.contains("version 12"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_counts_malformed_lines_and_keeps_going() {
    let replay = LineReplay::new(
        vec![data("malformed_and_gaps.jsonl")],
        EsloggerParser::for_replay(),
    );
    let stats = replay.stats();
    let health = Health::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let (_trigger, shutdown) = Shutdown::new();
    Box::new(replay)
        .run(EventSender::new(tx, health.clone()), shutdown)
        .await
        .expect("replay runs");
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, 5);
    assert_eq!(stats.records_read.load(Ordering::Relaxed), 10);
    assert_eq!(stats.malformed.load(Ordering::Relaxed), 4);
    assert_eq!(stats.ignored.load(Ordering::Relaxed), 1);
    let snap = health.snapshot();
    assert_eq!(snap.losses.get("malformed_input"), Some(&4));
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&2));
}
