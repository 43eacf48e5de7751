//! `picket alerts` on a generated alert log (with rotated files): filters, the table and
//! summary with attacker-controlled text escaped, byte-exact `--json`, `--follow`
//! across a rotation, the triggering event's time in the TIME column, and `--evidence`.
//! Runs the real binary.

use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::{Alert, Evidence, Rule, Severity, Threat};
use sensor_core::event::Event;
use sensor_core::sink::rotated_path;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn picket() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_picket"))
}

/// The attacker's argument: clears the screen, retitles the terminal, rings the bell,
/// fakes a new table row after a newline and flips the text direction.
const EVIL: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\r\nFAKE-ROW root ss\u{202e}";

struct Spec {
    ago_mins: i64,
    user: &'static str,
    host: &'static str,
    analytic: &'static str,
    rule: &'static str,
    severity: Severity,
    args: Vec<String>,
}

fn make_alert(now: DateTime<Utc>, s: &Spec) -> Alert {
    let mut ev = Event::exec(now);
    ev.set_executable("/usr/bin/ss");
    ev.set_argv(s.args.clone());
    ev.user.name = Some(s.user.into());
    ev.user.id = Some("1000".into());
    ev.host.name = Some(s.host.into());
    let rule = Rule {
        id: format!("picket-{}", s.analytic),
        name: s.rule.into(),
        ..Rule::default()
    };
    let mut a = Alert::for_event(&ev, rule, Threat::default(), s.severity);
    a.timestamp = now - TimeDelta::minutes(s.ago_mins);
    a.picket.analytic = s.analytic.into();
    a.picket.mutable_element = "UtilityNameList".into();
    a
}

fn spec(
    ago_mins: i64,
    user: &'static str,
    host: &'static str,
    analytic: &'static str,
    severity: Severity,
    args: &[&str],
) -> Spec {
    Spec {
        ago_mins,
        user,
        host,
        analytic,
        rule: if analytic == "AN0903" {
            "Windows System Network Connections Discovery"
        } else {
            "Network connections discovery"
        },
        severity,
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// Writes `alerts.jsonl.2`, `.1` and `alerts.jsonl` (oldest first) and returns the log
/// path and every line in order.
fn write_log(dir: &Path) -> (PathBuf, Vec<String>) {
    let now = Utc::now();
    let files = [
        vec![
            spec(
                300,
                "alice",
                "web-1",
                "AN0904",
                Severity::Low,
                &["ss", "-tan", "m0"],
            ),
            spec(
                290,
                "bob",
                "web-2",
                "AN0904",
                Severity::Medium,
                &["netstat", "-an", "m1"],
            ),
        ],
        vec![
            spec(
                180,
                "alice",
                "db-1",
                "AN0904",
                Severity::High,
                &["ss", "-tan", "m2"],
            ),
            spec(
                170,
                "mallory",
                "web-1",
                "AN0904",
                Severity::Critical,
                &["ss", EVIL, "m3"],
            ),
        ],
        vec![
            spec(
                60,
                "alice",
                "web-1",
                "AN0904",
                Severity::Low,
                &["ss", "-tan", "m4"],
            ),
            spec(
                30,
                "carol",
                "win-1",
                "AN0903",
                Severity::Medium,
                &["netstat.exe", "-ano", "m5"],
            ),
            spec(
                10,
                "alice",
                "web-1",
                "AN0904",
                Severity::Low,
                &["ss", "-tan", "m6"],
            ),
        ],
    ];
    let log = dir.join("alerts.jsonl");
    let targets = [rotated_path(&log, 2), rotated_path(&log, 1), log.clone()];
    let mut all = Vec::new();
    for (specs, path) in files.iter().zip(&targets) {
        let mut text = String::new();
        for s in specs {
            let mut a = make_alert(now, s);
            a.process.command_line = Some(s.args.join(" "));
            let line = a.to_json_line();
            text.push_str(&line);
            text.push('\n');
            all.push(line);
        }
        std::fs::write(path, text).expect("write log");
    }
    (log, all)
}

fn alerts(log: &Path, args: &[&str]) -> Output {
    let out = Command::new(picket())
        .arg("alerts")
        .arg("--file")
        .arg(log)
        .args(args)
        .env("COLUMNS", "200")
        .output()
        .expect("run picket alerts");
    assert!(
        out.status.success(),
        "picket alerts {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

/// Markers (m0..m6) of the alerts printed as JSON.
fn json_markers(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["process"]["args"][2]
                .as_str()
                .expect("marker")
                .to_string()
        })
        .collect()
}

fn assert_terminal_safe(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "raw control character U+{:04X} reached the terminal:\n{text}",
            c as u32
        );
    }
}

#[test]
fn json_output_is_the_log_byte_for_byte_across_rotated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let mut expected = Vec::new();
    for f in [rotated_path(&log, 2), rotated_path(&log, 1), log.clone()] {
        expected.extend(std::fs::read(f).expect("read"));
    }
    let out = alerts(&log, &["--json"]);
    assert_eq!(
        out.stdout, expected,
        "--json is the log files' bytes, oldest first"
    );
    // The evil alert's bytes are untouched in JSON (escaped as JSON, not for a terminal).
    assert!(stdout(&out).contains("\\u001b[2J\\u001b]0;owned\\u0007\\r\\nFAKE-ROW"));
    // Filtered JSON lines are still byte-exact lines of the file.
    let alice = alerts(&log, &["--json", "--user", "alice"]);
    let file_lines: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    for line in alice
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        assert!(file_lines.contains(&line));
    }
    assert_eq!(json_markers(&alice), ["m0", "m2", "m4", "m6"]);
}

#[test]
fn filters_select_by_time_rule_analytic_severity_user_host_and_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec!["--since".into(), "2h".into()], vec!["m4", "m5", "m6"]),
        (
            vec![
                "--since".into(),
                "4h".into(),
                "--until".into(),
                "1h30m".into(),
            ],
            vec!["m2", "m3"],
        ),
        (
            vec![
                "--until".into(),
                (Utc::now() - TimeDelta::minutes(200)).to_rfc3339(),
            ],
            vec!["m0", "m1"],
        ),
        (vec!["--rule".into(), "windows system".into()], vec!["m5"]),
        (vec!["--rule".into(), "picket-an0903".into()], vec!["m5"]),
        (
            vec!["--analytic".into(), "an0904".into()],
            vec!["m0", "m1", "m2", "m3", "m4", "m6"],
        ),
        (vec!["--severity".into(), "high".into()], vec!["m2", "m3"]),
        (
            vec![
                "--severity".into(),
                "medium".into(),
                "--host".into(),
                "web-*".into(),
            ],
            vec!["m1", "m3"],
        ),
        (
            vec![
                "--user".into(),
                "ALICE".into(),
                "--host".into(),
                "web-1".into(),
            ],
            vec!["m0", "m4", "m6"],
        ),
        (vec!["--grep".into(), "netstat".into()], vec!["m1", "m5"]),
        (vec!["--grep".into(), "fake-row".into()], vec!["m3"]),
        (
            vec!["--user".into(), "alice".into(), "--last".into(), "2".into()],
            vec!["m4", "m6"],
        ),
        (vec!["--user".into(), "nobody".into()], vec![]),
    ];
    for (args, want) in cases {
        let mut full = vec!["--json"];
        full.extend(args.iter().map(String::as_str));
        let got = json_markers(&alerts(&log, &full));
        assert_eq!(got, want, "picket alerts {full:?}");
    }
}

#[test]
fn table_shows_every_alert_with_attacker_text_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let out = alerts(&log, &[]);
    let text = stdout(&out);
    assert_terminal_safe(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "header + 7 rows, no injected row:\n{text}");
    assert!(lines[0].starts_with("TIME (UTC)"));
    let evil = lines
        .iter()
        .find(|l| l.contains("mallory"))
        .expect("mallory's row");
    assert!(
        evil.contains("ss \\e[2J\\e]0;owned\\u{7}\\r\\nFAKE-ROW root ss\\u{202e} m3"),
        "{evil}"
    );
    assert!(evil.contains("critical"), "{evil}");
    assert!(
        lines[1].contains("web-1")
            && lines[1].contains("alice")
            && lines[1].contains("AN0904 UtilityNameList")
    );
    assert!(!text.lines().any(|l| l.starts_with("FAKE-ROW")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("7 alerts"));
}

#[test]
fn summary_counts_by_rule_and_user_per_hour_and_command_line_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let text = stdout(&alerts(&log, &["--summary"]));
    assert_terminal_safe(&text);
    assert!(text.starts_with("7 alerts"), "{text}");
    let row = |rule: &str, user: &str| {
        text.lines()
            .find(|l| l.contains(rule) && l.trim_end().ends_with(user))
            .unwrap_or_else(|| panic!("no {rule}/{user} row:\n{text}"))
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .expect("count")
    };
    assert_eq!(row("AN0904 UtilityNameList", "alice"), 4);
    assert_eq!(row("AN0904 UtilityNameList", "bob"), 1);
    assert_eq!(row("AN0903 UtilityNameList", "carol"), 1);
    assert_eq!(row("AN0904 UtilityNameList", "mallory"), 1);
    // One bar per hour from the first alert's hour to the last's: five or six hours.
    let hours: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Alerts per hour"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!((5..=7).contains(&hours.len()), "{hours:?}");
    let total: u32 = hours
        .iter()
        .filter_map(|l| l.split_whitespace().last()?.parse::<u32>().ok())
        .sum();
    assert_eq!(total, 7, "{hours:?}");
    assert!(
        text.contains("ss \\e[2J\\e]0;owned\\u{7}\\r\\nFAKE-ROW"),
        "{text}"
    );
    assert!(text.contains("Top command lines"));
    let filtered = stdout(&alerts(&log, &["--summary", "--user", "bob"]));
    assert!(filtered.starts_with("1 alerts"), "{filtered}");
}

#[test]
fn bad_time_is_an_error_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let out = Command::new(picket())
        .args(["alerts", "--since", "yesterday-ish", "--file"])
        .arg(&log)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--since") && err.contains("yesterday-ish"),
        "{err}"
    );
}

#[test]
fn follow_prints_new_alerts_across_a_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = write_log(dir.path());
    let mut child = Command::new(picket())
        .args([
            "alerts", "--follow", "--json", "--last", "1", "--user", "alice", "--file",
        ])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("picket alerts --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_marker = || {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a line from --follow");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        v["process"]["args"][2]
            .as_str()
            .expect("marker")
            .to_string()
    };
    assert_eq!(next_marker(), "m6", "--last 1 of alice's alerts");
    let now = Utc::now();
    let append = |path: &Path, marker: &str, user: &'static str| {
        let a = make_alert(
            now,
            &spec(
                0,
                user,
                "web-9",
                "AN0904",
                Severity::Low,
                &["ss", "-tan", marker],
            ),
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .expect("open");
        writeln!(f, "{}", a.to_json_line()).expect("append");
    };
    append(&log, "f1", "alice");
    append(&log, "f2", "bob");
    append(&log, "f3", "alice");
    assert_eq!(next_marker(), "f1");
    assert_eq!(next_marker(), "f3", "bob filtered out");
    // Rotate as the sink does: rename, then a new file.
    std::fs::rename(&log, rotated_path(&log, 1)).expect("rotate");
    append(&log, "f4", "alice");
    assert_eq!(next_marker(), "f4", "new file followed after rotation");
    let _ = child.kill();
    let _ = child.wait();
}

/// A log of two alerts raised minutes ago about events recorded long before (a replay),
/// the first with the evidence of a folded burst read from files.
fn write_replayed_log(dir: &Path, event_time: DateTime<Utc>) -> PathBuf {
    let now = Utc::now();
    let mut first = make_alert(
        now,
        &spec(
            5,
            "alice",
            "web-1",
            "AN0904",
            Severity::High,
            &["ss", "-tan", "r0"],
        ),
    );
    first.event.created = event_time;
    first.picket.evidence = vec![
        Evidence {
            event_id: "ev-0001".into(),
            timestamp: event_time,
            file: Some("/cases/42/Security.evtx".into()),
            record: Some(4688),
        },
        Evidence {
            event_id: EVIL.into(),
            timestamp: event_time + TimeDelta::milliseconds(1500),
            file: Some("/cases/42/es.jsonl".into()),
            record: Some(17),
        },
    ];
    first.picket.evidence_omitted = 3;
    let mut second = make_alert(
        now,
        &spec(
            1,
            "bob",
            "web-2",
            "AN0904",
            Severity::Low,
            &["netstat", "-an", "r1"],
        ),
    );
    second.event.created = event_time + TimeDelta::hours(1);
    second.picket.evidence[0].event_id = "ev-0002".into();
    second.picket.evidence[0].timestamp = second.event.created;
    let log = dir.join("alerts.jsonl");
    let text: String = [first, second]
        .iter()
        .map(|a| a.to_json_line() + "\n")
        .collect();
    std::fs::write(&log, text).expect("write log");
    log
}

#[test]
fn time_column_shows_when_the_event_happened_and_alert_time_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let event_time = DateTime::parse_from_rfc3339("2023-03-04T05:06:07.25Z")
        .expect("time")
        .with_timezone(&Utc);
    let log = write_replayed_log(dir.path(), event_time);
    let raised = |ago: i64| {
        (Utc::now() - TimeDelta::minutes(ago))
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };

    let text = stdout(&alerts(&log, &[]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("TIME (UTC)"), "{text}");
    assert!(lines[1].starts_with("2023-03-04 05:06:07  web-1"), "{text}");
    assert!(lines[2].starts_with("2023-03-04 06:06:07  web-2"), "{text}");
    assert!(
        !text.contains(&raised(5)),
        "no alert time by default:\n{text}"
    );

    let text = stdout(&alerts(&log, &["--alert-time"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ALERT TIME (UTC)"), "{text}");
    // The minute may tick over between writing the log and reading the clock here.
    assert!(
        lines[1].starts_with(&raised(5)) || lines[1].starts_with(&raised(6)),
        "{text}"
    );
    assert!(!text.contains("2023-03-04"), "{text}");

    // --json is the log's bytes, with both times; --since is about when it was raised.
    let json = stdout(&alerts(&log, &["--json", "--since", "3m"]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one alert");
    assert_eq!(v["event"]["created"], "2023-03-04T06:06:07.250Z");
    assert!(v["@timestamp"]
        .as_str()
        .is_some_and(|t| t.starts_with(&Utc::now().format("%Y-").to_string())));
    assert_eq!(v["process"]["args"][2], "r1");
}

#[test]
fn evidence_prints_each_triggering_event_under_its_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let event_time = DateTime::parse_from_rfc3339("2023-03-04T05:06:07.25Z")
        .expect("time")
        .with_timezone(&Utc);
    let log = write_replayed_log(dir.path(), event_time);
    let text = stdout(&alerts(&log, &["--evidence"]));
    assert_terminal_safe(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2..5],
        [
            "    - ev-0001  2023-03-04 05:06:07.250  /cases/42/Security.evtx:4688",
            "    - \\e[2J\\e]0;owned\\u{7}\\r\\nFAKE-ROW root ss\\u{202e}  2023-03-04 05:06:08.750  /cases/42/es.jsonl:17",
            "    - … and 3 more events, not listed",
        ],
        "{text}"
    );
    assert!(
        lines[1].contains("alice") && lines[5].contains("bob"),
        "{text}"
    );
    // An alert of a live event: its id and time, no file.
    assert_eq!(lines[6], "    - ev-0002  2023-03-04 06:06:07.250", "{text}");
    assert_eq!(lines.len(), 7, "{text}");
    // Without the flag, rows only.
    assert_eq!(stdout(&alerts(&log, &[])).lines().count(), 3);
    // Evidence is part of the JSON already; asking for both is an error.
    let both = Command::new(picket())
        .args(["alerts", "--json", "--evidence", "--file"])
        .arg(&log)
        .output()
        .expect("run");
    assert!(!both.status.success());
}
