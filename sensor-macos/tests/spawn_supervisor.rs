//! The eslogger supervisor, driven with stand-in programs (shell scripts) that behave
//! like eslogger does: print JSON lines and exit, or refuse to start the way Endpoint
//! Security refuses a client without Full Disk Access or root.
#![cfg(unix)]

mod common;

use common::data;
use sensor_core::{CollectorError, Event, EventSender, Health, Shutdown};
use sensor_macos::spawn::{supervise, SpawnOptions};
use sensor_macos::EsloggerParser;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn opts(program: PathBuf) -> SpawnOptions {
    SpawnOptions {
        program,
        args: Vec::new(),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        healthy_after: Duration::from_secs(3600),
    }
}

async fn next_event(rx: &mut tokio::sync::mpsc::Receiver<Event>) -> Event {
    // A bound so a broken supervisor fails instead of hanging; not a timing assertion.
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an event should arrive")
        .expect("channel open")
}

struct Run {
    rx: tokio::sync::mpsc::Receiver<Event>,
    health: Arc<Health>,
    trigger: sensor_core::collector::ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<(), CollectorError>>,
}

fn start(opts: SpawnOptions) -> Run {
    let health = Health::new();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(supervise(
        opts,
        EsloggerParser::live(),
        EventSender::new(tx, health.clone()),
        shutdown,
    ));
    Run {
        rx,
        health,
        trigger,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eslogger_that_exits_is_restarted_and_its_output_parsed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = data("terminal_zsh.jsonl");
    assert!(fixture.exists(), "missing {}", fixture.display());
    // One junk line per run, as eslogger's stdout could carry after a crash.
    let program = script(
        dir.path(),
        "eslogger",
        &format!("cat '{}'\necho 'not json'\nexit 3", fixture.display()),
    );
    let mut run = start(opts(program));
    let mut got = Vec::new();
    for _ in 0..(13 * 3) {
        got.push(next_event(&mut run.rx).await);
    }
    run.trigger.trigger();
    run.task
        .await
        .expect("task")
        .expect("supervisor stops cleanly");
    // Three runs of the same output, each whole and in order.
    let pids: Vec<_> = got.iter().map(|e| e.process.pid.unwrap_or(0)).collect();
    assert_eq!(pids[0..13], pids[13..26]);
    assert_eq!(pids[0..13], pids[26..39]);
    let snap = run.health.snapshot();
    let restarts = snap.losses.get("eslogger_restarts").copied().unwrap_or(0);
    assert!(restarts >= 2, "restarts: {restarts}");
    // The junk line of each finished run was counted.
    let malformed = snap.losses.get("malformed_input").copied().unwrap_or(0);
    assert!(malformed >= 2, "malformed: {malformed}");
    // Each restart starts a new sequence: no bogus gap, no "went back" note.
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&0));
    let note = &snap.notes["eslogger"];
    assert!(
        note.contains("eslogger exited") && note.contains("restart #"),
        "{note}"
    );
    assert!(note.contains("exit status: 3"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_access_denial_stops_with_what_to_grant_and_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = script(
        dir.path(),
        "eslogger",
        "echo 'ERROR: Failed to create ES client: ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED' >&2\nexit 1",
    );
    let run = start(opts(program));
    let err = run.task.await.expect("task").expect_err("must fail");
    let CollectorError::Prerequisite(msg) = &err else {
        panic!("expected a prerequisite error, got {err:?}");
    };
    for needle in [
        "Full Disk Access",
        "System Settings › Privacy & Security › Full Disk Access",
        "picket binary",
        "root",
        "ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED",
    ] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    let snap = run.health.snapshot();
    assert_eq!(
        snap.losses.get("eslogger_restarts"),
        Some(&0),
        "no restart loop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_root_stops_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = script(
        dir.path(),
        "eslogger",
        "echo 'es_new_client: ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED' >&2\nexit 1",
    );
    let run = start(opts(program));
    let err = run.task.await.expect("task").expect_err("must fail");
    let msg = err.to_string();
    assert!(matches!(err, CollectorError::Prerequisite(_)), "{err:?}");
    assert!(msg.contains("must run as root"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_eslogger_is_a_prerequisite_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = start(opts(dir.path().join("no-such-eslogger")));
    let err = run.task.await.expect("task").expect_err("must fail");
    let msg = err.to_string();
    assert!(matches!(err, CollectorError::Prerequisite(_)), "{err:?}");
    assert!(
        msg.contains("no-such-eslogger") && msg.contains("macOS 13"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_running_eslogger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = data("osascript_do_shell_script.jsonl");
    // Prints its events, then keeps running (as eslogger does) until killed.
    let program = script(
        dir.path(),
        "eslogger",
        &format!("cat '{}'\nexec sleep 3600", fixture.display()),
    );
    let mut run = start(opts(program));
    for _ in 0..7 {
        next_event(&mut run.rx).await;
    }
    run.trigger.trigger();
    run.task.await.expect("task").expect("clean stop");
    assert_eq!(
        run.health.snapshot().losses.get("eslogger_restarts"),
        Some(&0)
    );
}

#[cfg(not(target_os = "macos"))]
#[tokio::test]
async fn the_live_collector_is_unsupported_off_macos() {
    use sensor_core::Collector;
    let collector =
        sensor_macos::MacosCollector::new(&sensor_macos::MacosCollectorConfig::default())
            .expect("default config is valid");
    assert_eq!(collector.name(), "macos-eslogger");
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let (_t, shutdown) = Shutdown::new();
    let err = Box::new(collector)
        .run(EventSender::new(tx, Health::new()), shutdown)
        .await
        .expect_err("unsupported");
    assert!(matches!(err, CollectorError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("macOS"), "{err}");
}

#[test]
fn collector_config_is_checked_up_front() {
    use sensor_macos::{MacosCollector, MacosCollectorConfig, MacosError, MacosSource};
    let tail = MacosCollectorConfig {
        source: MacosSource::Tail,
        ..MacosCollectorConfig::default()
    };
    assert!(matches!(
        MacosCollector::new(&tail),
        Err(MacosError::NoTailPath)
    ));
    // An unknown source cannot reach the collector: the config refuses it by name.
    let err = sensor_core::config::from_toml_str::<Root>(
        "[collector.macos]\nsource = \"kext\"\n",
        "t.toml",
    )
    .expect_err("unknown source");
    assert!(err.to_string().contains("`kext`"), "{err}");
    assert!(err.to_string().contains("collector.macos.source"), "{err}");
    let ok = MacosCollectorConfig {
        source: MacosSource::Tail,
        tail_path: Some("/var/log/eslogger.jsonl".into()),
        ..MacosCollectorConfig::default()
    };
    assert!(MacosCollector::new(&ok).is_ok());
}

/// A root with only `[collector.macos]`, to parse the section through the real loader.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Root {
    collector: RootCollector,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RootCollector {
    macos: sensor_macos::MacosCollectorConfig,
}

impl sensor_core::ConfigRoot for Root {
    type Built = ();
    fn build(&self) -> Result<(), sensor_core::config::Problems> {
        let mut problems = Vec::new();
        self.collector.macos.validate(&mut problems);
        problems.is_empty().then_some(()).ok_or(problems)
    }
}
