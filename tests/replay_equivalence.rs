//! Speed changes never change verdicts: every built-in fixture format, and an ECS load
//! large enough to spread over many parser blocks, replayed with every optimisation on
//! (the default: parsing on one thread per core, batches of 64) gives the same alerts,
//! byte for byte and in the same order, as a replay with batching and threads turned
//! off (`replay_threads = 1`, `replay_batch_events = 1`). Only the fields that name the
//! run, not the verdict, are set aside: the alert's own `@timestamp` (when it was
//! written), `event.id` (which embeds the process id) and `picket.config_hash` (the two
//! configs differ in those two settings).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

/// The alert lines of a replay, with the run-specific fields removed.
fn replay(config: &Path, format: &str, inputs: &[PathBuf]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "--config"])
        .arg(config)
        .args(["--format", format])
        .args(inputs)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picket replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{format}: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut alert: serde_json::Value = serde_json::from_str(line).expect("NDJSON alert");
            let obj = alert.as_object_mut().expect("an alert is an object");
            obj.remove("@timestamp");
            if let Some(event) = obj.get_mut("event").and_then(|e| e.as_object_mut()) {
                event.remove("id");
            }
            if let Some(picket) = obj.get_mut("picket").and_then(|e| e.as_object_mut()) {
                picket.remove("config_hash");
            }
            alert.to_string()
        })
        .collect()
}

/// The alerts of the two replays are the same, in the same order.
fn assert_same_alerts(format: &str, what: &str, with: &[String], without: &[String]) {
    let first_difference = with.iter().zip(without).position(|(a, b)| a != b);
    assert!(
        with.len() == without.len() && first_difference.is_none(),
        "{format}: {} alerts with {what}, {} without; first difference at {first_difference:?}: {:?}",
        with.len(),
        without.len(),
        first_difference.map(|i| (&with[i], &without[i]))
    );
}

/// The embedded default config with the replay settings set.
fn config(dir: &Path, name: &str, threads: usize, batch: usize) -> PathBuf {
    // The file the binary embeds as its default.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config/picket.toml"),
    )
    .expect("default config");
    let text = text
        .replace("replay_threads = 0", &format!("replay_threads = {threads}"))
        .replace(
            "replay_batch_events = 64",
            &format!("replay_batch_events = {batch}"),
        );
    assert!(text.contains(&format!("replay_threads = {threads}")));
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    path
}

/// An ECS export of `events` events from Linux, Windows and macOS hosts, with discovery
/// commands among benign ones; at 40,000, several MB long, so that every parser thread
/// gets blocks.
fn ecs_load(dir: &Path, events: u32) -> PathBuf {
    use std::io::Write;
    let path = dir.join("load.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let tools = [
        ("linux", "/usr/bin/ss", "ss -tanp"),
        ("linux", "/usr/bin/git", "git status"),
        (
            "windows",
            "C:\\Windows\\System32\\NETSTAT.EXE",
            "NETSTAT.EXE -ano",
        ),
        (
            "windows",
            "C:\\Windows\\System32\\svchost.exe",
            "svchost.exe -k netsvcs",
        ),
        ("macos", "/usr/sbin/netstat", "netstat -an"),
        ("macos", "/usr/bin/xcrun", "xcrun --show-sdk-path"),
    ];
    for i in 0..events {
        let host = i % 60;
        let (os, exe, cmd) = tools[((host % 3) * 2 + u32::from(i % 37 != 0)) as usize];
        let name = exe.rsplit(['/', '\\']).next().unwrap_or(exe);
        let args: Vec<&str> = cmd.split(' ').collect();
        let line = serde_json::json!({
            "@timestamp": format!("2026-11-20T10:{:02}:{:02}.{:03}Z", (i / 1000) % 60, (i / 17) % 60, i % 1000),
            "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec", "id": format!("ev-{i}")},
            "host": {"name": format!("host-{host}"), "os": {"type": os}},
            "process": {"pid": 1000 + i, "name": name, "executable": exe, "args": args,
                        "command_line": cmd, "parent": {"pid": 900 + host, "name": "bash"}},
            "user": {"id": "1000", "name": "alice", "effective": {"id": "1000", "name": "alice"}},
            "picket": {"user_groups": ["alice"], "user_shell": "/bin/bash"}
        });
        writeln!(f, "{line}").expect("write");
    }
    f.flush().expect("flush");
    path
}

#[test]
fn every_fixture_gives_the_same_alerts_with_batching_and_threads_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fast = config(dir.path(), "fast.toml", 0, 64);
    let plain = config(dir.path(), "plain.toml", 1, 1);
    let f = fixtures();
    let evtx: Vec<PathBuf> = std::fs::read_dir(f.join("windows/evtx"))
        .expect("the EVTX fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    let load = ecs_load(dir.path(), 40_000);
    assert!(std::fs::metadata(&load).expect("load").len() > 8 << 20);
    let cases: Vec<(&str, Vec<PathBuf>)> = vec![
        ("ecs", vec![load]),
        ("evtx", evtx),
        ("eslogger", vec![f.join("macos/eslogger-samples.jsonl")]),
        (
            "syslog",
            [
                "esxi/shell.log",
                "esxi/auth.log",
                "esxi/hostd.log",
                "esxi/esxi8-syslog-audit.log",
                "network/arista-eos-accounting.log",
                "network/cisco-ise-tacacs-accounting.log",
            ]
            .iter()
            .map(|p| f.join(p))
            .collect(),
        ),
        (
            "tacacs",
            vec![
                f.join("network/tac_plus-ios-accounting.log"),
                f.join("network/tac_plus-srlinux-accounting.log"),
            ],
        ),
        ("cloudtrail", vec![f.join("cloud/aws")]),
    ];
    let mut total = 0;
    for (format, inputs) in &cases {
        let with = replay(&fast, format, inputs);
        let without = replay(&plain, format, inputs);
        // The recorded macOS and device samples are short and raise nothing under the
        // default config; comparing them still covers their events' way through.
        assert!(
            !["ecs", "evtx", "cloudtrail"].contains(format) || !with.is_empty(),
            "{format}: the fixtures raise alerts"
        );
        assert_same_alerts(format, "batching and threads", &with, &without);
        total += with.len();
    }
    assert!(total > 100, "{total} alerts compared");
}

/// With many rules loaded, a batch's single-event rules are checked on the precheck
/// threads (`replay_threads`) before the analytics see the events in order: every Elastic
/// and Sigma rule of the fixtures loaded, the alerts are the same as with one thread and
/// no batches, where the analytics check every rule themselves.
#[test]
fn every_rule_loaded_gives_the_same_alerts_with_precheck_threads_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = fixtures();
    let paths = format!(
        "paths = [{:?}, {:?}]",
        f.join("rules/elastic-process-eql").display().to_string(),
        f.join("rules/sigma-process-creation").display().to_string()
    );
    let with_rules = |name: &str, threads: usize, batch: usize| {
        let path = config(dir.path(), name, threads, batch);
        let text = std::fs::read_to_string(&path).expect("read config");
        assert!(
            text.contains("\npaths = []\n"),
            "the default config lists no rule paths"
        );
        std::fs::write(
            &path,
            text.replace("\npaths = []\n", &format!("\n{paths}\n")),
        )
        .expect("write config");
        path
    };
    let fast = with_rules("fast.toml", 2, 64);
    let plain = with_rules("plain.toml", 1, 1);
    let evtx: Vec<PathBuf> = std::fs::read_dir(f.join("windows/evtx"))
        .expect("the EVTX fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    let cases = [("ecs", vec![ecs_load(dir.path(), 6_000)]), ("evtx", evtx)];
    let mut elastic = 0;
    for (format, inputs) in &cases {
        let with = replay(&fast, format, inputs);
        let without = replay(&plain, format, inputs);
        let from_rules = |ruleset: &str| {
            with.iter()
                .filter(|a| a.contains(&format!("\"ruleset\":\"{ruleset}\"")))
                .filter(|a| !a.contains("c4e9ed3e-55a2-4309-a012-bc3c78dad10a"))
                .count()
        };
        // The loaded rules fire, so their checking on other threads is compared.
        assert!(
            from_rules("sigma") + from_rules("elastic") >= 10,
            "{format}: {} Sigma and {} Elastic alerts besides the built-in rule's",
            from_rules("sigma"),
            from_rules("elastic")
        );
        elastic += from_rules("elastic");
        assert_same_alerts(format, "precheck threads", &with, &without);
    }
    assert!(elastic >= 5, "{elastic} alerts of loaded Elastic rules");
}
