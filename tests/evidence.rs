//! Every alert names its evidence: the triggering events' `event.id`, and for replayed
//! events the file and the record (`picket.evidence`). Checked on `picket replay` over
//! ECS, EVTX (record = `winlog.record_id`) and eslogger input, and for a TimeWindow
//! correlation, which names both of its events.

mod common;

use sensor_core::collector::Shutdown;
use sensor_core::health::Health;
use sensor_core::replay::ReplayStats;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn replay(format: &str, file: &Path) -> Vec<Value> {
    common::replay_alerts(format, file)
}

fn evidence(alert: &Value) -> &Vec<Value> {
    alert["picket"]["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("no picket.evidence: {alert}"))
}

fn windows_exec(t: u32, id: Option<&str>, exe: &str, cmd: &str) -> String {
    let mut ev = json!({
        "@timestamp": format!("2026-11-20T10:{:02}:{:02}.000Z", t / 60, t % 60),
        "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "start"},
        "host": {"name": "WIN10", "os": {"type": "windows"}},
        "process": {"pid": 4000 + t, "executable": exe, "name": exe.rsplit('\\').next(),
                    "command_line": cmd, "parent": {"pid": 100, "name": "cmd.exe"}},
        "user": {"id": "S-1-5-21-1004336348-1177238915-682003330-1104", "name": "bob", "domain": "CORP"}
    });
    if let Some(id) = id {
        ev["event"]["id"] = json!(id);
    }
    ev.to_string()
}

#[test]
fn ecs_alerts_name_the_source_id_or_a_stable_one_and_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("win.ndjson");
    let lines = [
        windows_exec(
            0,
            Some("src-id-1"),
            r"C:\Windows\System32\NETSTAT.EXE",
            "netstat -ano",
        ),
        windows_exec(1, None, r"C:\Windows\System32\notepad.exe", "notepad"),
        windows_exec(2, None, r"C:\Windows\System32\ROUTE.EXE", "route print"),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let alerts = replay("ecs", &file);
    assert!(!alerts.is_empty());
    let again = replay("ecs", &file);
    for (alert, same) in alerts.iter().zip(&again) {
        let ev = &evidence(alert)[0];
        let cmd = alert["process"]["command_line"].as_str().expect("cmd");
        let line = lines
            .iter()
            .position(|l| l.contains(&format!("\"command_line\":\"{cmd}\"")))
            .expect("the line of the event")
            + 1;
        assert_eq!(ev["record"], json!(line), "{alert}");
        assert_eq!(ev["file"], json!(file.display().to_string()), "{alert}");
        assert_eq!(ev["timestamp"], alert["event"]["created"], "{alert}");
        let id = ev["event_id"].as_str().expect("event_id");
        if line == 1 {
            assert_eq!(id, "src-id-1", "the source's own event.id is kept");
        } else {
            assert!(id.starts_with("pk-"), "a stable id is made: {id}");
        }
        assert_eq!(
            evidence(same)[0]["event_id"],
            ev["event_id"],
            "ids are stable across replays"
        );
    }
}

#[test]
fn a_time_window_alert_names_both_of_its_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tw.ndjson");
    let lines = [
        windows_exec(
            0,
            Some("discovery-1"),
            r"C:\Windows\System32\NETSTAT.EXE",
            "netstat -ano",
        ),
        windows_exec(
            120,
            Some("lateral-1"),
            r"C:\Tools\PsExec64.exe",
            r"PsExec64.exe \\srv02 -s cmd.exe",
        ),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let alerts = replay("ecs", &file);
    let tw = alerts
        .iter()
        .find(|a| a["picket"]["mutable_element"] == "TimeWindow")
        .unwrap_or_else(|| panic!("a TimeWindow alert: {alerts:?}"));
    let ids: Vec<&str> = evidence(tw)
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["lateral-1", "discovery-1"], "{tw}");
    let records: Vec<&Value> = evidence(tw).iter().map(|e| &e["record"]).collect();
    assert_eq!(records, [&json!(2), &json!(1)]);
}

fn fixture(path: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    assert!(p.is_file(), "missing fixture {}", p.display());
    p
}

#[test]
fn evtx_alerts_name_the_file_and_the_record_id() {
    let log =
        fixture("../shared/fixtures/windows/evtx/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");
    // What each record holds, read straight from the file.
    let mut by_record: HashMap<u64, String> = HashMap::new();
    let health = Health::new();
    let (_trigger, shutdown) = Shutdown::new();
    sensor_windows::replay::replay_evtx_file(
        &log,
        &ReplayStats::default(),
        &mut |ev| {
            let id = ev.picket.record.expect("every EVTX event names its record");
            by_record.insert(id, ev.process.command_line.clone().unwrap_or_default());
            true
        },
        &health,
        &shutdown,
    )
    .expect("replay");
    let alerts = replay("evtx", &log);
    assert!(!alerts.is_empty(), "{alerts:?}");
    for alert in &alerts {
        for ev in evidence(alert) {
            assert_eq!(ev["file"], json!(log.display().to_string()), "{alert}");
            assert!(ev["event_id"].as_str().is_some_and(|s| !s.is_empty()));
            let record = ev["record"].as_u64().expect("record");
            assert!(
                by_record.contains_key(&record),
                "record {record} is in the file"
            );
        }
        let primary = evidence(alert)[0]["record"].as_u64().expect("record");
        assert_eq!(
            by_record[&primary],
            alert["process"]["command_line"]
                .as_str()
                .unwrap_or_default(),
            "the record holds the alert's process: {alert}"
        );
    }
}

#[test]
fn eslogger_alerts_name_the_line() {
    let file = fixture("sensor-macos/tests/data/terminal_zsh.jsonl");
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let alerts = replay("eslogger", &file);
    assert!(!alerts.is_empty());
    for alert in &alerts {
        let ev = &evidence(alert)[0];
        assert!(ev["event_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(ev["file"], json!(file.display().to_string()));
        let line = ev["record"].as_u64().expect("line") as usize;
        let exe = alert["process"]["executable"].as_str().expect("executable");
        let record: Value = serde_json::from_str(lines[line - 1]).expect("an eslogger line");
        assert!(
            record["event"]["exec"]["target"]["executable"]["path"] == exe,
            "line {line} holds {exe}: {}",
            lines[line - 1]
        );
    }
}
