//! The `picket` binary, end to end: replay of ECS NDJSON with a malformed line, the
//! replay summary, a 100 MB record skipped in bounded memory, check-config on good and
//! bad files, alerts and version.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

fn picket(args: &[&str]) -> Output {
    Command::new(PICKET)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picket")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// An exec event as a Linux collector would record it.
fn linux_exec(pid: u32, ppid: u32, uid: &str, exe: &str, args: &[&str]) -> String {
    serde_json::json!({
        "@timestamp": "2026-11-20T10:00:00.000Z",
        "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"name": "web-1", "os": {"type": "linux"}},
        "process": {"pid": pid, "executable": exe, "name": exe.rsplit('/').next(), "args": args,
                    "command_line": args.join(" "), "parent": {"pid": ppid}},
        "user": {"id": uid, "name": "alice", "effective": {"id": uid, "name": "alice"}},
        "picket": {"user_groups": ["alice"], "user_shell": "/bin/bash"}
    })
    .to_string()
}

#[test]
fn replay_reports_malformed_lines_and_processes_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    let lines = [
        linux_exec(100, 1, "1000", "/bin/bash", &["bash"]),
        "{\"@timestamp\": \"2026-11-20T10:00:01Z\", truncated".to_string(),
        linux_exec(101, 100, "1000", "/usr/bin/ss", &["ss", "-antp"]),
        String::new(),
        linux_exec(
            102,
            100,
            "1000",
            "/usr/bin/lsof",
            &["lsof", "/var/log/syslog"],
        ),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let out = picket(&["replay", "--format", "ecs", input.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "replay succeeds: {stderr}");
    assert!(
        stderr.contains("events.ndjson") && stderr.contains("line=2"),
        "malformed line 2 named: {stderr}"
    );
    assert!(
        stderr.contains("4 records read, 3 events, 1 malformed skipped"),
        "summary: {stderr}"
    );
    let alerts: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON alert"))
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "only ss alerts, lsof on a file is benign: {alerts:?}"
    );
    assert_eq!(alerts[0]["picket"]["analytic"], "AN0904");
    assert_eq!(
        alerts[0]["process"]["parent"]["name"], "bash",
        "parent from the process table"
    );
    assert!(
        stderr.contains("1 alerts"),
        "alerts per rule in the summary: {stderr}"
    );
}

/// The hostile-input case of the speed issue: one 100 MB line of 100,000 arguments.
/// It is counted and skipped without being held whole (the replay's peak RSS stays far
/// below the line), and the lines after it are still read and alerted on.
/// The running daemon has opted out of transparent huge pages (`THP_enabled: 0` in its
/// status), as `main` asks the kernel to.
/// A replay input that cannot be read is named with why: missing, a directory for a
/// format that reads files, or not a regular file at all.
#[test]
fn replay_says_why_an_input_cannot_be_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("events.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let missing = dir.path().join("missing.ndjson");
    let cases = [
        (missing.clone(), "no such file"),
        (
            dir.path().to_path_buf(),
            "a directory (only --format cloudtrail",
        ),
        (fifo.clone(), "not a regular file"),
    ];
    for (path, why) in cases {
        let out = picket(&["replay", path.to_str().expect("utf8")]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("cannot read {}: {why}", path.display())),
            "{stderr}"
        );
    }
}

#[test]
fn picket_runs_without_transparent_huge_pages() {
    // Following an alert log keeps the process alive until it is killed.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("alerts.jsonl");
    std::fs::write(&log, "").expect("alert log");
    let mut child = Command::new(PICKET)
        .args(["alerts", "--follow", "--file", log.to_str().expect("utf8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run picket");
    let status_file = format!("/proc/{}/status", child.id());
    let mut thp = None;
    for _ in 0..400 {
        let text = std::fs::read_to_string(&status_file).unwrap_or_default();
        thp = text
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string());
        // The status shows the flag once `main` has run; before, it is the kernel's.
        if thp.as_deref() == Some("0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let still_running = child.try_wait().expect("wait").is_none();
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(still_running, "picket alerts --follow exited early");
    assert_eq!(thp.as_deref(), Some("0"), "THP_enabled of picket");
}

#[test]
fn a_100_mb_record_is_counted_and_skipped_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("hostile.ndjson");
    let arg = "A".repeat(1000);
    let args: Vec<&str> = std::iter::once("ss")
        .chain((0..100_000).map(|_| arg.as_str()))
        .collect();
    let huge = linux_exec(200, 1, "1000", "/usr/bin/ss", &args);
    assert!(huge.len() > 200_000_000);
    let lines = [
        linux_exec(100, 1, "1000", "/bin/bash", &["bash"]),
        huge,
        linux_exec(101, 100, "1000", "/usr/bin/ss", &["ss", "-antp"]),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    drop(lines);
    let stdout = std::fs::File::create(dir.path().join("stdout")).expect("stdout");
    let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr");
    let child = Command::new(PICKET)
        .args(["replay", input.to_str().expect("utf8")])
        .env_remove("RUST_LOG")
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("run picket");
    // The child's own peak (VmHWM of its image after exec; ru_maxrss would include
    // this test's memory from before the exec), read until it exits.
    let mut child = child;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).expect("stderr");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("2 records read, 2 events, 0 malformed skipped, 1 oversized skipped"),
        "summary: {stderr}"
    );
    assert!(
        stderr.contains("hostile.ndjson") && stderr.contains("line=2"),
        "{stderr}"
    );
    let peak_mb = peak_kb / 1024;
    assert!(
        peak_mb > 0 && peak_mb < 100,
        "peak RSS {peak_mb} MB for a 200 MB line"
    );
    let alerts = std::fs::read_to_string(dir.path().join("stdout")).expect("stdout");
    assert_eq!(
        alerts.lines().count(),
        1,
        "the ss after the huge line alerts: {alerts}"
    );
    assert!(alerts.contains("\"pid\":101"), "{alerts}");
}

#[test]
fn replay_output_file_then_alerts_table_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    std::fs::write(
        &input,
        linux_exec(7, 1, "1000", "/usr/bin/netstat", &["netstat", "-ant"]) + "\n",
    )
    .expect("write");
    let log = dir.path().join("alerts.jsonl");
    let out = picket(&[
        "replay",
        "--output",
        log.to_str().expect("utf8"),
        input.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "alerts went to the file");
    let table = picket(&["alerts", "--file", log.to_str().expect("utf8")]);
    let shown = text(&table.stdout);
    assert!(
        shown.contains("netstat -ant") && shown.contains("AN0904"),
        "{shown}"
    );
    let json = picket(&["alerts", "--json", "--file", log.to_str().expect("utf8")]);
    assert_eq!(
        text(&json.stdout),
        std::fs::read_to_string(&log).expect("log"),
        "--json is byte-exact"
    );
}

#[test]
fn check_config_reports_every_error_with_lines_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    write_config(
        &bad,
        "[general]\nlog_format = \"xml\"\n\n[pipeline]\nchanel_capacity = 10\n",
    );
    let out = picket(&["check-config", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains("bad.toml:2:") && report.contains("general.log_format"),
        "{report}"
    );
    assert!(
        report.contains("bad.toml:5:") && report.contains("chanel_capacity"),
        "{report}"
    );
}

/// Settings with a fixed set of values are enums: an unknown value is reported where it
/// is, with what was expected, instead of falling back to a default.
#[test]
fn check_config_names_the_expected_values_of_enum_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    write_config(
        &bad,
        concat!(
            "[general]\n",
            "log_format = \"xml\"\n",
            "state_dir = \"\"\n",
            "\n",
            "[collector.macos]\n",
            "source = \"kext\"\n",
            "\n",
            "[sinks.syslog]\n",
            "enabled = true\n",
            "protocol = \"tpc\"\n",
            "facility = \"local9\"\n",
        ),
    );
    let out = picket(&["check-config", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    let lines: Vec<&str> = report.lines().collect();
    let expected = [
        "bad.toml:2:14: field `general.log_format`: unknown variant `xml`, expected `text` or `json`",
        "bad.toml:3:13: field `general.state_dir`: expected a path, found an empty string",
        "bad.toml:6:10: field `collector.macos.source`: unknown variant `kext`, expected `spawn` or `tail`",
        "bad.toml:10:12: field `sinks.syslog.protocol`: unknown variant `tpc`, expected one of `tcp`, `tls`, `udp`",
        "bad.toml:11:12: field `sinks.syslog.facility`: unknown variant `local9`, expected one of `kern`, `user`,",
    ];
    assert_eq!(lines.len(), expected.len(), "{report}");
    for (line, want) in lines.iter().zip(expected) {
        // The report names the file by the path it was given.
        assert!(
            line.starts_with(&format!("{}/{want}", dir.path().display())),
            "expected {want:?}\nin {report}"
        );
    }
    assert!(report.contains("`local7`"), "{report}");
}

#[test]
fn check_config_accepts_the_embedded_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("picket.toml");
    write_config(&good, picket::config::DEFAULT_TOML);
    let out = picket(&["check-config", good.to_str().expect("utf8")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let hash = picket::config::Config::default().hash();
    assert_eq!(stdout.trim(), format!("OK {hash}"));
}

#[test]
fn version_is_printed() {
    let out = picket(&["--version"]);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("picket {}", env!("CARGO_PKG_VERSION"))
    );
}

/// A rule directory mixing Elastic TOML and Sigma YAML: `check-config` lists each rule
/// that loaded and each Sigma rule refused (with its place and class), and passes.
#[test]
fn check_config_lists_loaded_and_refused_rules_of_a_mixed_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    let sigma = |id: &str, condition: &str| {
        format!("title: Rule {id}\nid: {id}\nlogsource:\n    category: process_creation\n    product: linux\ndetection:\n    sel:\n        Image|endswith: '/netstat'\n    condition: {condition}\nlevel: low\n")
    };
    write_config(&rules.join("a.yml"), &sigma("sigma-ok", "sel"));
    write_config(
        &rules.join("b.yaml"),
        &sigma("sigma-count", "sel | count() > 3"),
    );
    write_config(
        &rules.join("c.toml"),
        "[rule]\nrule_id = \"elastic-ok\"\nname = \"E\"\nlanguage = \"eql\"\nquery = 'process where process.name : \"ss\"'\n",
    );
    write_config(&rules.join("notes.txt"), "not a rule");
    let config = dir.path().join("picket.toml");
    write_config(
        &config,
        &format!("[rules]\npaths = [{:?}]\n", rules.display().to_string()),
    );
    let out = picket(&["check-config", config.to_str().expect("utf8")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("loaded sigma sigma-ok \"Rule sigma-ok\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("loaded elastic elastic-ok \"E\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("b.yaml:9:20: Sigma rule refused (aggregation)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rules: 3 loaded (2 elastic, 1 sigma), 1 refused"),
        "{stdout}"
    );
}
