//! A replay of one ECS stream from three hosts whose pids collide gives each host the
//! verdicts it gives when replayed alone: process state is kept per host.
//!
//! The hosts: a Mac where Terminal → zsh (pid 310) → `lsof -i`; a Windows workstation
//! where WINWORD.EXE → cmd.exe (pid 310) → `netstat -ano`; a Linux web server where
//! nginx is pid 310 → sh → `ss -tan`. Events carry only `process.parent.pid`, as a
//! collector records them, so ancestry comes from the process table.

mod common;

use serde_json::{json, Value};
use std::path::Path;

struct Exec {
    host: &'static str,
    os: &'static str,
    pid: u32,
    ppid: u32,
    exe: &'static str,
    args: &'static [&'static str],
}

const EXECS: [Exec; 9] = [
    Exec {
        host: "mac-1",
        os: "macos",
        pid: 300,
        ppid: 1,
        exe: "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
        args: &["Terminal"],
    },
    Exec {
        host: "mac-1",
        os: "macos",
        pid: 310,
        ppid: 300,
        exe: "/bin/zsh",
        args: &["-zsh"],
    },
    Exec {
        host: "ws-1",
        os: "windows",
        pid: 300,
        ppid: 1,
        exe: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
        args: &["WINWORD.EXE"],
    },
    Exec {
        host: "ws-1",
        os: "windows",
        pid: 310,
        ppid: 300,
        exe: r"C:\Windows\System32\cmd.exe",
        args: &["cmd.exe"],
    },
    Exec {
        host: "web-1",
        os: "linux",
        pid: 310,
        ppid: 1,
        exe: "/usr/sbin/nginx",
        args: &["nginx"],
    },
    Exec {
        host: "web-1",
        os: "linux",
        pid: 320,
        ppid: 310,
        exe: "/bin/sh",
        args: &["sh"],
    },
    Exec {
        host: "mac-1",
        os: "macos",
        pid: 330,
        ppid: 310,
        exe: "/usr/sbin/lsof",
        args: &["lsof", "-i", "-nP"],
    },
    Exec {
        host: "ws-1",
        os: "windows",
        pid: 330,
        ppid: 310,
        exe: r"C:\Windows\System32\NETSTAT.EXE",
        args: &["netstat", "-ano"],
    },
    Exec {
        host: "web-1",
        os: "linux",
        pid: 331,
        ppid: 320,
        exe: "/usr/bin/ss",
        args: &["ss", "-tan"],
    },
];

fn ecs_line(i: usize, e: &Exec) -> String {
    let user = match e.os {
        "macos" => json!({"id": "501", "name": "alice"}),
        "windows" => json!({"id": "S-1-5-21-1-2-3-1001", "name": "bob", "domain": "CORP"}),
        _ => json!({"id": "1001", "name": "carol"}),
    };
    let name = e.exe.rsplit(['/', '\\']).next().unwrap_or(e.exe);
    json!({
        "@timestamp": format!("2026-11-20T10:00:{i:02}.000Z"),
        "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"name": e.host, "os": {"type": e.os}},
        "process": {"pid": e.pid, "executable": e.exe, "name": name, "args": e.args,
                    "command_line": e.args.join(" "), "parent": {"pid": e.ppid}},
        "user": user,
        "picket": {"user_groups": ["staff"], "user_shell": "/bin/bash"}
    })
    .to_string()
}

/// The verdict of an alert, without what differs between runs (ids, times, files).
fn verdict(a: &Value) -> String {
    let mut details = a["picket"]["details"].clone();
    if let Some(d) = details.as_object_mut() {
        d.remove("rule_origin");
    }
    format!(
        "{} {} {} {} parent={} cmd={} {}",
        a["host"]["name"],
        a["rule"]["id"],
        a["picket"]["severity"],
        a["picket"]["mutable_element"],
        a["process"]["parent"]["name"],
        a["process"]["command_line"],
        details
    )
}

fn replay(file: &Path) -> Vec<String> {
    let mut verdicts: Vec<String> = common::replay_alerts("ecs", file)
        .iter()
        .map(verdict)
        .collect();
    verdicts.sort();
    verdicts
}

#[test]
fn colliding_pids_across_hosts_give_each_host_its_own_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = EXECS
        .iter()
        .enumerate()
        .map(|(i, e)| ecs_line(i, e))
        .collect();
    let all = dir.path().join("all.ndjson");
    std::fs::write(&all, lines.join("\n") + "\n").expect("write");
    let together = replay(&all);

    let mut alone = Vec::new();
    for host in ["mac-1", "ws-1", "web-1"] {
        let file = dir.path().join(format!("{host}.ndjson"));
        let own: Vec<&str> = EXECS
            .iter()
            .zip(&lines)
            .filter(|(e, _)| e.host == host)
            .map(|(_, l)| l.as_str())
            .collect();
        std::fs::write(&file, own.join("\n") + "\n").expect("write");
        alone.extend(replay(&file));
    }
    alone.sort();
    assert_eq!(together, alone, "replayed together vs host by host");

    // And the verdicts are the right ones, not merely the same wrong ones.
    let mac = together
        .iter()
        .find(|v| v.contains("\"mac-1\"") && v.contains("lsof"))
        .expect("an AN0905 alert for lsof -i");
    assert!(
        mac.contains("parent=\"zsh\"") && mac.contains("\"low\"") && mac.contains("Terminal"),
        "lsof under Terminal.app → zsh is a terminal command (low), not nginx's: {mac}"
    );
    let ws = together
        .iter()
        .find(|v| {
            v.contains("\"ws-1\"") && v.contains("picket-AN0903") && v.contains("netstat -ano")
        })
        .expect("an AN0903 alert for netstat -ano");
    assert!(
        ws.contains("SuspiciousParentProcesses")
            && ws.contains("WINWORD.EXE")
            && ws.contains("parent=\"cmd.exe\""),
        "netstat under WINWORD.EXE → cmd.exe keeps its SuspiciousParentProcesses verdict: {ws}"
    );
    assert!(
        together
            .iter()
            .any(|v| v.contains("\"web-1\"") && v.contains("parent=\"sh\"")),
        "{together:?}"
    );
}
