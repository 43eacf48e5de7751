//! Every SigmaHQ `process_creation` rule of `shared/fixtures/rules/sigma-process-creation/`
//! loaded into `picket replay` over every recorded fixture: the EVTX logs, the eslogger
//! recordings (shared and sensor-macos's test data), the ESXi and network-device logs
//! and the CloudTrail records. The exact set of (fixture, event, Sigma rule) hits must
//! equal `tests/data/sigma-fixture-hits.txt`, whose header says why each hit is right.
//!
//! SigmaHQ's own regression data (an EVTX per rule) is not among the fixtures, so most
//! rules are shown here only not to fire; `analytics/tests/sigma.rs` covers the
//! matching semantics case by case.
//!
//! After an intended change, regenerate and review the diff:
//! `PICKET_BLESS=1 cargo test --test sigma_fixtures` (the header is kept).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

fn shared(rel: &str) -> PathBuf {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/")).join(rel);
    assert!(
        path.exists(),
        "missing fixture {} (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("missing fixture folder {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no *.{ext} in {}", dir.display());
    v
}

/// `picket replay --format <format>` with the Sigma rules; one line per Sigma alert.
fn sigma_hits(config: &Path, format: &str, label: &str, files: &[PathBuf]) -> Vec<String> {
    let out = Command::new(PICKET)
        .args(["replay", "--format", format, "--config"])
        .arg(config)
        .args(files)
        .env_remove("RUST_LOG")
        .output()
        .expect("run picket");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay {label} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("NDJSON alert"))
        .filter(|a| a["rule"]["ruleset"] == "sigma")
        .map(|a| {
            format!(
                "{label} {} pid={} {} {} {}",
                a["event"]["created"].as_str().unwrap_or("-"),
                a["process"]["pid"],
                a["process"]["name"].as_str().unwrap_or("-"),
                a["rule"]["id"].as_str().unwrap_or("-"),
                a["rule"]["name"].as_str().unwrap_or("-"),
            )
        })
        .collect()
}

#[test]
fn sigma_rules_fire_on_the_fixtures_exactly_as_listed() {
    let rules = shared("rules/sigma-process-creation");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("picket.toml");
    std::fs::write(
        &config,
        format!("[rules]\npaths = [{:?}]\n", rules.display().to_string()),
    )
    .expect("config");

    let mut hits = Vec::new();
    // One replay per format: each loads the 1,434 rules (seconds in a debug build).
    let evtx = files_in(&shared("windows/evtx"), "evtx");
    hits.extend(sigma_hits(&config, "evtx", "evtx", &evtx));
    let mut eslogger = vec![shared("macos/eslogger-samples.jsonl")];
    eslogger.extend(files_in(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sensor-macos/tests/data"
        )),
        "jsonl",
    ));
    hits.extend(sigma_hits(&config, "eslogger", "eslogger", &eslogger));
    let mut syslog = files_in(&shared("esxi"), "log");
    syslog.push(shared("network/arista-eos-accounting.log"));
    syslog.push(shared("network/cisco-ise-tacacs-accounting.log"));
    hits.extend(sigma_hits(&config, "syslog", "syslog", &syslog));
    let tacacs = [
        shared("network/tac_plus-ios-accounting.log"),
        shared("network/tac_plus-srlinux-accounting.log"),
    ];
    hits.extend(sigma_hits(&config, "tacacs", "tacacs", &tacacs));
    hits.extend(sigma_hits(
        &config,
        "cloudtrail",
        "cloudtrail",
        &[shared("cloud/aws")],
    ));
    hits.sort();

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sigma-fixture-hits.txt"
    );
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let header: String = committed
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let expected: BTreeSet<&str> = committed.lines().filter(|l| !l.starts_with('#')).collect();
    if std::env::var_os("PICKET_BLESS").is_some_and(|v| v == "1") {
        let body: String = hits.iter().map(|h| format!("{h}\n")).collect();
        std::fs::write(path, header + &body).expect("write hits");
        return;
    }
    assert!(!committed.is_empty(), "missing {path}");
    let actual: BTreeSet<&str> = hits.iter().map(String::as_str).collect();
    assert_eq!(hits.len(), actual.len(), "one alert per (event, rule)");
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "Sigma hits differ from {path}\n  expected, not seen: {missing:#?}\n  seen, not expected: {extra:#?}"
    );
}
