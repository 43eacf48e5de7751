//! The EQL gaps measured against Elasticsearch, closed, on replayed events in the forms
//! Picket reads them: EVTX (the recorded IIS webshell log), eslogger (the recorded
//! samples) and ECS NDJSON. Each rule below is loaded through `rules.paths` and run by
//! `picket replay`; the counts are the events each must (and only must) match.
//!
//! - a field as a later function argument;
//! - functions of a missing field are null, so their comparisons do not hold;
//! - `substring`, arithmetic and `\d` (ASCII) in a regex;
//! - `process where` needs `event.category` exactly `process`: EVTX and eslogger events
//!   get it from their parsers, an ECS line without it is no process event;
//! - a sub-object's unmodelled field (`group.Ext.real.id`) read by its path, so `not … ==`
//!   does not fire on the value it names;
//! - a `sequence` over the webshell's cmd.exe and the net.exe it started.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

const RULES: &[(&str, &str)] = &[
    (
        "gap-field-arg",
        r#"process where endsWith~(process.executable, process.name)"#,
    ),
    (
        "gap-null-length",
        r#"process where length(user.Ext.real.id) < 100"#,
    ),
    (
        "gap-null-ne",
        r#"process where length(user.Ext.real.id) != 100"#,
    ),
    (
        "gap-substring",
        r#"process where substring(process.name, 0, 3) == "net""#,
    ),
    (
        "gap-arith",
        r#"process where process.pid - 700 < 100 and process.pid % 4 == 0"#,
    ),
    (
        "gap-regex-digit",
        r#"process where process.command_line regex~ ".*\\d.*""#,
    ),
    ("gap-any", r#"any where true"#),
    ("gap-process", r#"process where true"#),
    (
        "gap-group-ext",
        r#"process where not group.Ext.real.id == "0""#,
    ),
];

const SEQUENCE: &str = r#"sequence by host.name with maxspan=5m
  [process where process.name : "cmd.exe"] by process.entity_id
  [process where process.name : "net.exe"] by process.parent.entity_id"#;

fn fixture(rel: &str) -> PathBuf {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/")).join(rel);
    assert!(
        path.is_file(),
        "missing fixture {} (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

/// A config whose `rules.paths` holds the rules above (and no built-in rule).
fn config(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let mut all: Vec<(&str, &str)> = RULES.to_vec();
    all.push(("gap-sequence", SEQUENCE));
    for (id, query) in all {
        let text = format!(
            "[rule]\nrule_id = \"{id}\"\nname = \"{id}\"\nlanguage = \"eql\"\nquery = '''\n{query}\n'''\n"
        );
        std::fs::write(rules.join(format!("{id}.toml")), text).expect("rule file");
    }
    let config = dir.join("picket.toml");
    std::fs::write(
        &config,
        format!(
            "[rules]\nbuiltin = false\npaths = [{:?}]\n",
            rules.display().to_string()
        ),
    )
    .expect("config");
    config
}

/// Alerts per rule id (repeats of one command on one host fold into one alert, so every
/// event here runs a different one) of `picket replay --format FORMAT FILE` (rule ids starting `gap-`).
fn counts(config: &Path, format: &str, file: &Path) -> Vec<(String, usize)> {
    let out = Command::new(PICKET)
        .args(["replay", "--format", format, "--config"])
        .arg(config)
        .arg(file)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picket");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "picket replay failed: {stderr}");
    let mut counts: Vec<(String, usize)> = RULES
        .iter()
        .map(|(id, _)| id.to_string())
        .chain(["gap-sequence".to_string()])
        .map(|id| (id, 0))
        .collect();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let alert: Value = serde_json::from_str(line).expect("NDJSON alert");
        let id = alert["rule"]["id"].as_str().unwrap_or_default();
        if let Some(slot) = counts.iter_mut().find(|(r, _)| r == id) {
            slot.1 += 1;
        }
    }
    counts
}

fn expect(got: &[(String, usize)], want: &[(&str, usize)]) {
    let got: Vec<(&str, usize)> = got.iter().map(|(r, n)| (r.as_str(), *n)).collect();
    assert_eq!(got, want);
}

#[test]
fn the_gaps_are_closed_on_evtx_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    // cmd.exe 2404 (w3wp's child), net.exe 788, net1.exe 712.
    let log = fixture("windows/evtx/LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");
    expect(
        &counts(&config, "evtx", &log),
        &[
            ("gap-field-arg", 3),
            ("gap-null-length", 0),
            ("gap-null-ne", 0),
            ("gap-substring", 2),
            ("gap-arith", 2),
            ("gap-regex-digit", 2),
            ("gap-any", 3),
            ("gap-process", 3),
            ("gap-group-ext", 3),
            ("gap-sequence", 1),
        ],
    );
}

#[test]
fn the_gaps_are_closed_on_eslogger_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let log = fixture("macos/eslogger-samples.jsonl");
    expect(
        &counts(&config, "eslogger", &log),
        &[
            ("gap-field-arg", 4),
            ("gap-null-length", 0),
            ("gap-null-ne", 0),
            ("gap-substring", 0),
            ("gap-arith", 0),
            ("gap-regex-digit", 0),
            ("gap-any", 4),
            ("gap-process", 4),
            ("gap-group-ext", 4),
            ("gap-sequence", 0),
        ],
    );
}

#[test]
fn the_gaps_are_closed_on_ecs_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let lines = [
        // A process event whose real group id is 0, and one with another.
        r#"{"@timestamp":"2026-12-01T00:00:00Z","event":{"category":["process"],"type":["start"]},"host":{"name":"h"},"process":{"pid":712,"name":"netstat","executable":"/usr/bin/netstat","command_line":"netstat -4an"},"group":{"id":"0","Ext":{"real":{"id":"0"}}},"user":{"Ext":{"real":{"id":"0"}}}}"#,
        r#"{"@timestamp":"2026-12-01T00:00:01Z","event":{"category":["process"],"type":["start"]},"host":{"name":"h"},"process":{"pid":9,"name":"ls","executable":"/bin/ls"},"group":{"Ext":{"real":{"id":"20"}}}}"#,
        // No category: an event, but no process event.
        r#"{"@timestamp":"2026-12-01T00:00:02Z","event":{"type":["start"]},"host":{"name":"h"},"process":{"pid":8,"name":"id","executable":"/bin/id"}}"#,
        // `Process`: not `process`.
        r#"{"@timestamp":"2026-12-01T00:00:03Z","event":{"category":["Process"],"type":["start"]},"host":{"name":"h"},"process":{"pid":7,"name":"pwd","executable":"/bin/pwd"}}"#,
    ];
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").expect("events");
    expect(
        &counts(&config, "ecs", &file),
        &[
            ("gap-field-arg", 2),
            ("gap-null-length", 1),
            ("gap-null-ne", 1),
            ("gap-substring", 1),
            ("gap-arith", 1),
            ("gap-regex-digit", 1),
            ("gap-any", 4),
            ("gap-process", 2),
            ("gap-group-ext", 1),
            ("gap-sequence", 0),
        ],
    );
}
