//! The mixed corpus the analytics benches and the instruction-count example share:
//! Windows, Linux and macOS process starts round-robin, every 100th a discovery command.

use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::event::Event;
use serde_json::{json, Value};

pub const N: usize = 10_000;

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

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// The corpus as ECS JSON values: every 100th event is a discovery command.
pub fn corpus_json() -> Vec<Value> {
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

/// The corpus as events.
pub fn corpus_events() -> Vec<Event> {
    corpus_json()
        .into_iter()
        .map(|v| Event::from_json_value(v).expect("corpus event"))
        .collect()
}

/// The Elastic `process where` rules of `shared/fixtures/rules/elastic-process-eql/`
/// (the caller reads files: the analytics crate does no I/O).
pub fn elastic_rule_sources() -> Vec<analytics::RuleSource> {
    fixture_rules("elastic-process-eql", "toml")
}

/// SigmaHQ's `process_creation` rules of `shared/fixtures/rules/sigma-process-creation/`.
pub fn sigma_rule_sources() -> Vec<analytics::RuleSource> {
    fixture_rules("sigma-process-creation", "yml")
}

/// Every `*.EXT` file of `shared/fixtures/rules/FOLDER/`, sorted by name.
fn fixture_rules(folder: &str, ext: &str) -> Vec<analytics::RuleSource> {
    let dir = format!(
        "{}/../../shared/fixtures/rules/{folder}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing fixture folder {dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no rules in {dir}");
    paths
        .into_iter()
        .map(|p| analytics::RuleSource {
            origin: p.display().to_string(),
            text: std::fs::read_to_string(&p).expect("rule file"),
        })
        .collect()
}
