//! AN0905 end to end on macOS telemetry: `picket replay --format eslogger` over the
//! eslogger fixtures (sensor-macos/tests/data, built from the real samples' structure)
//! gives the expected alerts and severities. The ancestor chain that decides "from a
//! terminal or not" comes from the fork/exec events in each file, through the pipeline's
//! process table.

use sensor_core::Severity;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sensor-macos/tests/data"
    ))
    .join(name);
    assert!(path.is_file(), "missing fixture {}", path.display());
    path
}

/// Runs the replay and returns the AN0905 alerts it printed (NDJSON on stdout).
fn an0905_alerts(name: &str) -> Vec<Value> {
    let path = fixture(name);
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "--format", "eslogger"])
        .arg(&path)
        .output()
        .expect("run picket replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "picket replay {} failed: {}\n{stderr}",
        path.display(),
        out.status
    );
    assert!(
        stderr.contains("0 malformed"),
        "{name} should replay without malformed lines:\n{stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .filter(|a| a["picket"]["analytic"] == "AN0905")
        .collect()
}

fn severity(alert: &Value) -> Severity {
    alert["picket"]["severity"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("alert without picket.severity: {alert}"))
}

fn element(alert: &Value) -> &str {
    alert["picket"]["mutable_element"].as_str().unwrap_or("")
}

fn process_name(alert: &Value) -> &str {
    alert["process"]["name"].as_str().unwrap_or("")
}

fn for_process<'a>(alerts: &'a [Value], name: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| process_name(a) == name)
        .unwrap_or_else(|| panic!("no AN0905 alert for {name} in {alerts:#?}"))
}

#[test]
fn terminal_zsh_lsof_and_netstat_are_plain_watchlist_hits() {
    let alerts = an0905_alerts("terminal_zsh.jsonl");
    let lsof = for_process(&alerts, "lsof");
    let netstat = for_process(&alerts, "netstat");
    for a in [lsof, netstat] {
        assert_eq!(element(a), "ShellCommandWatchlist", "{a}");
        assert_eq!(severity(a), Severity::Low, "{a}");
    }
    assert_eq!(
        lsof["process"]["args"],
        serde_json::json!(["lsof", "-i", "-nP"])
    );
    // Nothing else in the file is discovery (Terminal, login, zsh).
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
}

#[test]
fn an_app_running_them_through_sh_raises_severity() {
    let alerts = an0905_alerts("app_via_sh.jsonl");
    let lsof = for_process(&alerts, "lsof");
    let netstat = for_process(&alerts, "netstat");
    for a in [lsof, netstat] {
        assert_eq!(element(a), "TerminalBinaryDenylist", "{a}");
        assert!(severity(a) > Severity::Low, "{a}");
        let matched = a["picket"]["matched_value"].as_str().unwrap_or("");
        assert!(matched.contains("Acme Helper"), "{a}");
    }
}

#[test]
fn a_denylisted_app_raises_it_further() {
    let from_app = severity(for_process(&an0905_alerts("app_via_sh.jsonl"), "netstat"));
    let alerts = an0905_alerts("word_via_sh.jsonl");
    let netstat = for_process(&alerts, "netstat");
    assert_eq!(element(netstat), "TerminalBinaryDenylist");
    assert!(
        severity(netstat) > from_app,
        "Word ({:?}) must rank above a plain app ({from_app:?})",
        severity(netstat)
    );
    let matched = netstat["picket"]["matched_value"].as_str().unwrap_or("");
    assert!(matched.contains("Microsoft Word"), "{netstat}");
}

#[test]
fn osascript_do_shell_script_is_caught_and_ranked_outside_a_terminal() {
    let alerts = an0905_alerts("osascript_do_shell_script.jsonl");
    // The AppleScript itself (its `do shell script "netstat -an"`), and the netstat it ran.
    let osa = for_process(&alerts, "osascript");
    let details = &osa["picket"]["details"];
    assert_eq!(details["watchlist_entry"], "netstat", "{osa}");
    assert!(
        details["issued_via"]
            .as_str()
            .is_some_and(|v| v.contains("AppleScript")),
        "{osa}"
    );
    let netstat = for_process(&alerts, "netstat");
    for a in [osa, netstat] {
        assert!(
            severity(a) > Severity::Low,
            "launched by a LaunchAgent, not a terminal: {a}"
        );
    }
}

#[test]
fn iterm2_tree_keeps_its_terminal_through_subshells() {
    let alerts = an0905_alerts("tree_fork_exec_exit.jsonl");
    // lsof two forks below zsh, and who -a: both under iTerm2.
    for name in ["lsof", "who"] {
        let a = for_process(&alerts, name);
        assert_eq!(element(a), "ShellCommandWatchlist", "{a}");
        assert_eq!(severity(a), Severity::Low, "{a}");
    }
}
