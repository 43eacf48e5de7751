//! The alert log survives crashes and a full disk.
//!
//! - Kill test: the real `picket replay --output LOG` writes alerts at full speed from a
//!   large generated ECS NDJSON (`ss -tan <unique marker> <padding>` run by uid 1000) and
//!   is SIGKILLed mid-way; a second `picket replay --output LOG` then opens the same log.
//!   Every complete line written before the kill is still there byte for byte, a torn
//!   tail (if the kill cut a write) is moved aside with a warning, and the log has no
//!   corrupt line.
//! - Disk full: a 64 KiB tmpfs (root only) fills up; alerts are kept in memory up to the
//!   bound, the overflow is refused and counted, and once a filler file is deleted the kept
//!   alerts are written in order.

mod common;
use common::Tmpfs;
use sensor_core::alert::{Alert, Rule, Severity, Threat};
use sensor_core::event::Event;
use sensor_core::sink::AlertSink;
use sensor_core::Health;
use sinks::config::{FileSinkConfig, FsyncPolicy};
use sinks::JsonlFileSink;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn picket() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_picket"))
}

/// `n` ECS exec events of `ss -tan <marker>` by a regular user, each with `pad` bytes of
/// extra argument so writes are large (a SIGKILL can then cut one).
fn write_events(path: &Path, tag: &str, n: usize, pad: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create events"));
    let padding = "p".repeat(pad);
    for i in 0..n {
        let marker = format!("{tag}-{i}");
        let event = serde_json::json!({
            "@timestamp": format!("2024-05-01T10:{:02}:{:02}.{:06}Z", (i / 60_000) % 60, (i / 1000) % 60, i % 1000 * 1000),
            "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"name": "crash-test", "os": {"type": "linux"}},
            "user": {"id": "1000", "name": "analyst"},
            "process": {
                "pid": 10_000 + i,
                "name": "ss",
                "executable": "/usr/bin/ss",
                "args": ["ss", "-tan", marker, padding],
                "command_line": format!("ss -tan {marker} {padding}"),
                "parent": {"pid": 999, "name": "bash", "executable": "/bin/bash"}
            }
        });
        writeln!(out, "{event}").expect("write event");
    }
    out.flush().expect("flush events");
}

fn config_file(dir: &Path) -> PathBuf {
    // fsync off so the writer goes fast; a SIGKILL loses nothing the kernel accepted.
    let path = dir.join("picket.toml");
    std::fs::write(
        &path,
        "[sinks.file]\nfsync = \"never\"\nmax_bytes = 1073741824\n\n[analytics]\nfold_window_secs = 0\n",
    )
    .expect("config");
    path
}

/// The log's complete lines (each must be a JSON object) and the torn tail, if any.
fn split_log(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let lines: Vec<Vec<u8>> = bytes[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    (lines, bytes[end..].to_vec())
}

fn assert_all_alerts(lines: &[Vec<u8>]) {
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(l).unwrap_or_else(|e| {
            panic!(
                "line {} is corrupt ({e}): {}",
                i + 1,
                String::from_utf8_lossy(&l[..l.len().min(200)])
            )
        });
        assert_eq!(v["event"]["kind"], "alert", "line {}", i + 1);
    }
}

#[test]
fn sigkill_mid_write_keeps_every_flushed_alert_and_leaves_no_corrupt_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.ndjson");
    write_events(&events, "kill", 2_000, 16_000);
    let config = config_file(dir.path());
    let log = dir.path().join("alerts.jsonl");

    let mut child = Command::new(picket())
        .args(["replay", "--config"])
        .arg(&config)
        .arg("--output")
        .arg(&log)
        .arg(&events)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start picket replay");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        if size > 16 * 1024 * 1024 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("picket replay ended ({status}) before it could be killed; log {size} bytes");
        }
        assert!(Instant::now() < deadline, "picket replay wrote too little");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let before = std::fs::read(&log).expect("log after kill");
    let (flushed, torn) = split_log(&before);
    assert!(
        flushed.len() > 100,
        "{} alerts before the kill",
        flushed.len()
    );
    assert_all_alerts(&flushed);
    eprintln!(
        "killed after {} complete alerts ({} bytes), torn tail {} bytes",
        flushed.len(),
        before.len(),
        torn.len()
    );

    // Restart on the same log.
    let more = dir.path().join("more.ndjson");
    write_events(&more, "after", 10, 10);
    let restart = Command::new(picket())
        .args(["replay", "--config"])
        .arg(&config)
        .arg("--output")
        .arg(&log)
        .arg(&more)
        .output()
        .expect("restart picket replay");
    let stderr = String::from_utf8_lossy(&restart.stderr);
    assert!(restart.status.success(), "restart failed: {stderr}");

    let after = std::fs::read(&log).expect("log after restart");
    let (lines, tail) = split_log(&after);
    assert!(tail.is_empty(), "the log ends with a newline");
    assert_all_alerts(&lines);
    assert_eq!(
        &lines[..flushed.len()],
        &flushed[..],
        "every alert flushed before the kill is still there, unchanged"
    );
    let markers: HashSet<String> = lines[flushed.len()..]
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).ok()?;
            Some(v["process"]["args"][2].as_str()?.to_string())
        })
        .collect();
    assert_eq!(markers.len(), 10, "the restarted run appended its alerts");

    let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.display().to_string().contains("alerts.jsonl.torn-"))
        .collect();
    if torn.is_empty() {
        assert!(aside.is_empty(), "nothing to move aside: {aside:?}");
    } else if serde_json::from_slice::<serde_json::Value>(&torn).is_ok() {
        assert!(stderr.contains("newline"), "warning printed: {stderr}");
    } else {
        assert_eq!(aside.len(), 1, "torn tail moved aside");
        assert_eq!(std::fs::read(&aside[0]).expect("aside"), torn);
        assert!(stderr.contains("torn"), "warning printed: {stderr}");
    }

    // `picket alerts` reads it without complaint.
    let review = Command::new(picket())
        .args(["alerts", "--json", "--file"])
        .arg(&log)
        .output()
        .expect("picket alerts");
    assert!(review.status.success());
    assert_eq!(review.stdout, after, "--json is the log, byte for byte");
    assert!(
        !String::from_utf8_lossy(&review.stderr).contains("not valid"),
        "{}",
        String::from_utf8_lossy(&review.stderr)
    );
}

/// A torn tail written deliberately (as a crash that cut a write leaves it) is moved
/// aside by the real binary, with a warning naming the file.
#[test]
fn picket_moves_a_torn_tail_aside_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(dir.path());
    let log = dir.path().join("alerts.jsonl");
    let events = dir.path().join("events.ndjson");
    write_events(&events, "first", 5, 10);
    let run = |events: &Path| {
        Command::new(picket())
            .args(["replay", "--config"])
            .arg(&config)
            .arg("--output")
            .arg(&log)
            .arg(events)
            .output()
            .expect("picket replay")
    };
    assert!(run(&events).status.success());
    let good = std::fs::read(&log).expect("log");
    let first_run = split_log(&good).0.len();
    assert!(first_run >= 5, "{first_run} alerts");
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"kind\":\"al");
    std::fs::write(&log, &torn).expect("tear");
    let second = dir.path().join("second.ndjson");
    write_events(&second, "second", 3, 10);
    let out = run(&second);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("torn") && stderr.contains(".torn-"),
        "{stderr}"
    );
    let after = std::fs::read(&log).expect("log");
    assert!(after.starts_with(&good));
    let (lines, tail) = split_log(&after);
    assert!(tail.is_empty());
    assert!(lines.len() >= first_run + 3);
    assert_all_alerts(&lines);
    let text = String::from_utf8_lossy(&after);
    for i in 0..3 {
        assert!(
            text.contains(&format!("second-{i}")),
            "second run's alert {i} appended"
        );
    }
}

fn alert(i: usize) -> Alert {
    let mut ev = Event::exec(chrono::Utc::now());
    ev.set_executable("/usr/bin/ss");
    ev.set_argv(vec!["ss".into(), "-tan".into(), format!("disk-{i}")]);
    Alert::for_event(
        &ev,
        Rule {
            id: "picket-AN0904".into(),
            name: "disk full test".into(),
            ..Rule::default()
        },
        Threat::default(),
        Severity::Low,
    )
}

fn markers(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("log");
    let (lines, tail) = split_log(&bytes);
    assert!(tail.is_empty(), "no partial line in the log");
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).expect("valid line");
            v["process"]["args"][2]
                .as_str()
                .expect("marker")
                .to_string()
        })
        .collect()
}

/// A 64 KiB tmpfs at `mount` and an alert log on it (`fsync = "always"`), keeping up to
/// `backlog` alerts in memory while it cannot be written.
fn fsync_sink_on_tmpfs(
    mount: &Path,
    backlog: usize,
) -> (Tmpfs, PathBuf, JsonlFileSink, std::sync::Arc<Health>) {
    let fs = Tmpfs::mount(mount, "64k", "the disk-full test mounts a tmpfs");
    let log = mount.join("alerts.jsonl");
    let config = FileSinkConfig {
        fsync: FsyncPolicy::Always,
        ..FileSinkConfig::default()
    };
    let health = Health::new();
    let mut sink = JsonlFileSink::open(&log, &config)
        .expect("open")
        .with_backlog_limit(backlog, 1024 * 1024);
    sink.attach_health(&health);
    (fs, log, sink, health)
}

#[test]
fn disk_full_keeps_alerts_in_memory_then_writes_them_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    let (_fs, log, mut sink, health) = fsync_sink_on_tmpfs(&mount, 40);
    for i in 0..5 {
        let a = alert(i);
        sink.write(&a, &a.to_json_line())
            .expect("room for the first alerts");
    }

    // Fill the filesystem with a filler file.
    let filler = mount.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![b'f'; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let mut written_ok = 0;
    let mut refused = 0;
    let mut errors = Vec::new();
    for i in 5..100 {
        let a = alert(i);
        match sink.write(&a, &a.to_json_line()) {
            Ok(()) => written_ok += 1,
            Err(e) => {
                refused += 1;
                errors.push(e.to_string());
            }
        }
    }
    let in_file = markers(&log);
    let kept = sink.backlog_len();
    eprintln!(
        "disk full: {} in the file, {kept} kept in memory, {refused} refused",
        in_file.len()
    );
    assert!(
        in_file.len() >= 5,
        "alerts written before the disk filled stay"
    );
    assert_eq!(
        written_ok + 5,
        in_file.len() + kept,
        "accepted = written + kept"
    );
    assert_eq!(kept, 40, "kept up to the bound");
    assert_eq!(refused, 100 - 40 - in_file.len());
    assert!(
        errors[0].contains("full"),
        "the error says the disk is full: {}",
        errors[0]
    );
    assert!(health.snapshot().notes["sink.file"].contains("full"));

    // Space returns: the retry thread writes the kept alerts without a new alert.
    std::fs::remove_file(&filler).expect("free space");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.backlog_len() > 0 {
        assert!(Instant::now() < deadline, "kept alerts never written");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = markers(&log);
    assert_eq!(after.len(), in_file.len() + 40);
    let expected: Vec<String> = (0..in_file.len() + 40)
        .map(|i| format!("disk-{i}"))
        .collect();
    assert_eq!(after, expected, "in order, no gap, no duplicate");
    assert!(health.snapshot().notes["sink.file"].contains("recovered"));

    // New alerts go straight to the file again.
    let a = alert(1000);
    sink.write(&a, &a.to_json_line())
        .expect("write after recovery");
    sink.flush().expect("flush");
    drop(sink);
    assert_eq!(markers(&log).last().map(String::as_str), Some("disk-1000"));
    assert_eq!(health.snapshot().losses.get("sink.file"), Some(&0));
}

/// Group commit (`fsync = "always"`, a burst written deferred and synced once): the
/// disk fills in the middle of a burst; the burst's lines already written but not
/// synced are cut off the file and kept with the rest, the file always holds a prefix
/// of the alerts in order, and once space returns every alert is in it once, in order.
#[test]
fn a_burst_that_fills_the_disk_loses_nothing_and_keeps_its_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    let (_fs, log, mut sink, health) = fsync_sink_on_tmpfs(&mount, 1000);
    let log_len = || std::fs::metadata(&log).map_or(0, |m| m.len());
    // Synced alerts until the log's last 4 KiB page has room for two more lines: tmpfs
    // gives whole pages, so those fit after the disk is full and the failure comes in
    // the middle of the burst, after lines that are written but not synced. A log that
    // ends on a page boundary has no room: its next page is not allocated yet.
    let line = alert(10).to_json_line().len() as u64 + 1;
    let room_in_last_page = || match log_len() % 4096 {
        0 => 0,
        used => 4096 - used,
    };
    let mut synced = 0;
    while synced < 5 || room_in_last_page() < 2 * line + 16 {
        let a = alert(synced);
        sink.write_deferred(&a, &a.to_json_line()).expect("room");
        sink.sync().expect("sync");
        synced += 1;
    }
    assert_eq!(markers(&log).len(), synced, "a synced burst is in the file");
    let filler = mount.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        for size in [4096, 1] {
            let chunk = vec![b'f'; size];
            while f.write_all(&chunk).is_ok() {}
        }
    }
    // The failing write keeps its line and the burst's later ones; the file never
    // shrinks, so the lines written before the failure stay.
    let (mut longest, mut shrank, mut kept) = (0, false, false);
    for i in synced..synced + 40 {
        let a = alert(i);
        sink.write_deferred(&a, &a.to_json_line())
            .expect("kept, not refused");
        shrank |= log_len() < longest;
        longest = longest.max(log_len());
        kept |= sink.backlog_len() > 0;
    }
    let _ = sink.sync();
    assert!(kept, "a write of the burst failed");
    assert!(!shrank, "whole lines written before the failure stayed");
    let in_file = markers(&log);
    assert!(
        in_file.len() >= synced + 2,
        "the burst's lines that fitted are in the file: {} of {synced} + 2",
        in_file.len()
    );
    let expected: Vec<String> = (0..synced + 40).map(|i| format!("disk-{i}")).collect();
    assert_eq!(
        in_file[..],
        expected[..in_file.len()],
        "the file holds a prefix, in order"
    );
    assert_eq!(
        in_file.len() + sink.backlog_len(),
        synced + 40,
        "the rest is kept"
    );
    std::fs::remove_file(&filler).expect("free space");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.backlog_len() > 0 {
        assert!(Instant::now() < deadline, "kept alerts never written");
        std::thread::sleep(Duration::from_millis(50));
    }
    sink.flush().expect("flush");
    drop(sink);
    assert_eq!(markers(&log), expected, "in order, no gap, no duplicate");
    assert_eq!(health.snapshot().losses.get("sink.file"), Some(&0));
}

#[test]
fn alerts_still_kept_at_shutdown_are_counted_as_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    let _fs = Tmpfs::mount(&mount, "64k", "the disk-full test mounts a tmpfs");
    let log = mount.join("alerts.jsonl");
    let health = Health::new();
    let mut sink = JsonlFileSink::open(&log, &FileSinkConfig::default())
        .expect("open")
        .with_backlog_limit(10, 1024 * 1024);
    sink.attach_health(&health);
    let filler = mount.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![b'f'; 4096];
        while f.write_all(&chunk).is_ok() {}
    }
    let mut refused = 0;
    for i in 0..30 {
        let a = alert(i);
        refused += u64::from(sink.write(&a, &a.to_json_line()).is_err());
    }
    let in_file = markers(&log).len() as u64;
    let kept = sink.backlog_len() as u64;
    assert_eq!(kept, 10);
    assert!(sink.flush().is_err(), "flush reports the kept alerts");
    drop(sink);
    assert_eq!(in_file + kept + refused, 30);
    assert_eq!(
        health.snapshot().losses.get("sink.file"),
        Some(&kept),
        "kept alerts lost at shutdown are counted (refused ones are counted by the pipeline)"
    );
}

/// The real binary on a full disk: it says so clearly, keeps going, exits normally, and
/// reports the alerts it could not keep.
#[test]
fn picket_on_a_full_disk_reports_it_and_does_not_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    let _fs = Tmpfs::mount(&mount, "64k", "the disk-full test mounts a tmpfs");
    {
        let mut f = std::fs::File::create(mount.join("filler")).expect("filler");
        let chunk = vec![b'f'; 4096];
        while f.write_all(&chunk).is_ok() {}
    }
    let events = dir.path().join("events.ndjson");
    write_events(&events, "full", 20, 10);
    let config = config_file(dir.path());
    let out = Command::new(picket())
        .args(["replay", "--config"])
        .arg(&config)
        .arg("--output")
        .arg(mount.join("alerts.jsonl"))
        .arg(&events)
        .output()
        .expect("picket replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.contains("the filesystem is full"), "{stderr}");
    assert!(
        stderr.contains("Alerts kept in memory were lost"),
        "the loss at shutdown is reported: {stderr}"
    );
}
