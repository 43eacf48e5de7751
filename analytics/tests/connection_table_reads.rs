//! AN0904 by behaviour: `connection-table-read` events (what the Linux collector
//! reports when a process reads a `/proc/net` table or sends a sock_diag dump request)
//! through the engine, with the default settings unless a test says otherwise.

use analytics::config::{AllowedReader, AnalyticsConfig, RulesConfig};
use analytics::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::Alert;
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::{json, Value};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
        .expect("constant")
        .with_timezone(&Utc)
        + TimeDelta::seconds(secs)
}

fn engine(config: &AnalyticsConfig) -> Engine {
    let (engine, errors) = Engine::build(config, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    engine
}

/// A read as the Linux collector and the process table make it: an ordinary user's
/// `exe` (the file it runs) with `args`, reading `tables` by `method`.
fn read(
    pid: u32,
    uid: u32,
    exe: &str,
    args: &[&str],
    method: &str,
    tables: &[&str],
    secs: i64,
) -> Event {
    let user = if uid == 0 { "root" } else { "alice" };
    let doc = json!({
        "@timestamp": at(secs).to_rfc3339(),
        "event": {"kind": "event", "category": ["process"], "type": ["info"], "action": "connection-table-read"},
        "host": {"name": "web1", "id": "m1", "os": {"type": "linux"}},
        "process": {
            "pid": pid,
            "start": at(-100).to_rfc3339(),
            "name": exe.rsplit('/').next(),
            "executable": exe,
            "args": args,
            "command_line": args.join(" "),
            "hash": {"sha256": "aa".repeat(32)},
        },
        "user": {"id": uid.to_string(), "name": user, "effective": {"id": uid.to_string(), "name": user}},
        "picket": {
            "collector": "linux-ebpf",
            "user_groups": [user],
            "user_shell": "/bin/bash",
            "executable_real": exe,
            "enumeration": {"method": method, "tables": tables, "count": 1},
        },
    });
    Event::from_json_value(doc).expect("ECS")
}

fn alerts(engine: &mut Engine, events: &[Event]) -> Vec<Alert> {
    let mut out = Vec::new();
    for e in events {
        engine.on_event(e, &mut out);
    }
    out
}

fn json_of(a: &Alert) -> Value {
    serde_json::to_value(a).expect("alert JSON")
}

#[test]
fn a_renamed_or_unknown_reader_raises_naming_the_program_the_tables_and_the_method() {
    let mut e = engine(&AnalyticsConfig::default());
    let got = alerts(
        &mut e,
        &[read(
            10,
            1000,
            "/tmp/xq",
            &["/tmp/xq", "-tan"],
            "sock_diag",
            &["tcp", "tcp6"],
            0,
        )],
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = json_of(&got[0]);
    assert_eq!(a["picket"]["analytic"], "AN0904");
    assert_eq!(a["picket"]["mutable_element"], "ConnectionTableReads");
    assert_eq!(a["picket"]["matched_value"], "sock_diag tcp,tcp6");
    let msg = a["message"].as_str().unwrap_or_default();
    assert!(msg.contains("`/tmp/xq -tan`"), "{msg}");
    assert!(msg.contains("tcp, tcp6"), "{msg}");
    assert!(msg.contains("NETLINK_SOCK_DIAG"), "{msg}");
    assert!(!msg.contains("UtilityNameList"), "xq is in no list: {msg}");
    assert_eq!(a["picket"]["details"]["reader_executable"], "/tmp/xq");
    assert_eq!(
        a["picket"]["details"]["enumeration_tables"],
        json!(["tcp", "tcp6"])
    );
    assert_eq!(a["process"]["executable"], "/tmp/xq");
}

#[test]
fn a_script_reading_proc_net_is_named_by_its_command_line() {
    let mut e = engine(&AnalyticsConfig::default());
    let got = alerts(
        &mut e,
        &[read(
            11,
            1000,
            "/usr/bin/python3.11",
            &["python3", "/home/alice/peek.py"],
            "procfs",
            &["tcp", "tcp6"],
            0,
        )],
    );
    assert_eq!(got.len(), 1);
    let msg = json_of(&got[0])["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("python3 /home/alice/peek.py"), "{msg}");
    assert!(msg.contains("through /proc/net"), "{msg}");
}

#[test]
fn a_listed_utility_is_reported_as_well() {
    let mut e = engine(&AnalyticsConfig::default());
    let got = alerts(
        &mut e,
        &[read(
            12,
            1000,
            "/usr/bin/ss",
            &["ss", "-tan"],
            "sock_diag",
            &["tcp"],
            0,
        )],
    );
    assert_eq!(got.len(), 1);
    let a = json_of(&got[0]);
    assert_eq!(a["picket"]["details"]["utility_name_list"], "ss");
    assert!(a["message"]
        .as_str()
        .unwrap_or_default()
        .contains("\"ss\" is also in UtilityNameList"));
}

#[test]
fn tables_out_of_the_list_root_allowlisted_agents_and_a_hash_mismatch() {
    let mut e = engine(&AnalyticsConfig::default());
    // /proc/net/dev and route are T1016, not in the default tables (the collector does
    // not even hook them; a replayed event naming them still raises nothing).
    let dev = read(
        13,
        1000,
        "/usr/bin/cat",
        &["cat", "/proc/net/dev"],
        "procfs",
        &["dev", "route"],
        0,
    );
    let root = read(
        14,
        0,
        "/usr/bin/cat",
        &["cat", "/proc/net/tcp"],
        "procfs",
        &["tcp"],
        1,
    );
    let agent = read(
        15,
        1000,
        "/usr/bin/prometheus-node-exporter",
        &["prometheus-node-exporter"],
        "procfs",
        &["tcp", "tcp6"],
        2,
    );
    assert!(alerts(&mut e, &[dev, root, agent]).is_empty());
    assert_eq!(e.stats().an0904_reads_allowlisted, 1);

    let mut cfg = AnalyticsConfig::default();
    cfg.an0904.connection_table_reads.allowlist = vec![AllowedReader {
        executable: "/opt/agent/agent".into(),
        sha256: Some("AA".repeat(32)),
    }];
    let mut e = engine(&cfg);
    let same = read(
        16,
        1000,
        "/opt/agent/agent",
        &["agent"],
        "procfs",
        &["tcp"],
        0,
    );
    assert!(
        alerts(&mut e, std::slice::from_ref(&same)).is_empty(),
        "hash matches, any case"
    );
    let mut other = same;
    other.process.pid = Some(17);
    other
        .process
        .other
        .insert("hash".into(), json!({"sha256": "bb".repeat(32)}));
    assert_eq!(
        alerts(&mut e, &[other.clone()]).len(),
        1,
        "another file at that path raises"
    );
    let mut unhashed = other;
    unhashed.process.pid = Some(18);
    unhashed.process.other.remove("hash");
    // A fresh engine: the same alert again would be folded into the last one.
    let mut e = engine(&cfg);
    assert_eq!(alerts(&mut e, &[unhashed]).len(), 1, "no hash, no match");

    let mut cfg = AnalyticsConfig::default();
    cfg.an0904.user_context_scope.scope = analytics::config::UserScope::All;
    let mut e = engine(&cfg);
    let root = read(
        19,
        0,
        "/usr/bin/cat",
        &["cat", "/proc/net/tcp"],
        "procfs",
        &["tcp"],
        0,
    );
    assert_eq!(
        alerts(&mut e, &[root]).len(),
        1,
        "root is in scope under `all`"
    );

    let mut cfg = AnalyticsConfig::default();
    cfg.an0904.connection_table_reads.enabled = false;
    let mut e = engine(&cfg);
    let off = read(20, 1000, "/tmp/xq", &["/tmp/xq"], "sock_diag", &["tcp"], 0);
    assert!(alerts(&mut e, &[off]).is_empty());
}

#[test]
fn bursts_count_processes_not_their_events() {
    let mut e = engine(&AnalyticsConfig::default());
    // One process that reads every few seconds (one event per folding window): one
    // execution, no burst.
    let events: Vec<Event> = (0..8)
        .map(|i| {
            read(
                30,
                1000,
                "/tmp/loop",
                &["/tmp/loop"],
                "procfs",
                &["tcp"],
                i * 3,
            )
        })
        .collect();
    let got = alerts(&mut e, &events);
    assert!(
        got.iter()
            .all(|a| json_of(a)["picket"]["mutable_element"] == "ConnectionTableReads"),
        "{got:#?}"
    );
    // Five processes within the window: a burst.
    let mut e = engine(&AnalyticsConfig::default());
    let events: Vec<Event> = (0..5)
        .map(|i| {
            read(
                40 + i,
                1000,
                "/tmp/xq",
                &["/tmp/xq", "-tan"],
                "sock_diag",
                &["tcp"],
                i64::from(i),
            )
        })
        .collect();
    let got = alerts(&mut e, &events);
    let burst = got
        .iter()
        .map(json_of)
        .find(|a| a["picket"]["mutable_element"] == "ExecutionFrequencyThreshold");
    assert!(burst.is_some(), "{got:#?}");
}

#[test]
fn a_named_tool_s_exec_and_its_reads_are_one_execution_for_bursts() {
    let mut e = engine(&AnalyticsConfig::default());
    let mut events = Vec::new();
    for i in 0..3u32 {
        let mut exec = read(
            50 + i,
            1000,
            "/usr/bin/ss",
            &["ss", "-tan"],
            "sock_diag",
            &["tcp"],
            i64::from(i),
        );
        exec.event.kind_type = vec!["start".into()];
        exec.event.action = Some("exec".into());
        exec.picket.enumeration = None;
        events.push(exec);
        events.push(read(
            50 + i,
            1000,
            "/usr/bin/ss",
            &["ss", "-tan"],
            "sock_diag",
            &["tcp", "tcp6"],
            i64::from(i),
        ));
    }
    let got = alerts(&mut e, &events);
    assert!(
        !got.iter()
            .any(|a| json_of(a)["picket"]["mutable_element"] == "ExecutionFrequencyThreshold"),
        "three ss runs are three executions, below the threshold of five: {got:#?}"
    );
}
