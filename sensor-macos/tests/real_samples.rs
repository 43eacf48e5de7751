//! The four real eslogger lines (versions 9, 10, 11 and 9) parse into the right fields.
//! Every expected value below was read from the JSON by hand.

mod common;

use chrono::{DateTime, Utc};
use common::{parse_file, REAL_SAMPLES};
use sensor_core::event::{FieldValue, Lifecycle};
use sensor_core::replay::{LineParser, LineReplay};
use sensor_core::{Collector, Event, EventSender, Health, Shutdown};
use sensor_macos::EsloggerParser;
use std::path::Path;
use std::sync::atomic::Ordering;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

fn other<'a>(ev: &'a Event, key: &str) -> Option<&'a serde_json::Value> {
    ev.picket.other.get(key)
}

fn samples() -> Vec<Event> {
    let parsed = parse_file(Path::new(REAL_SAMPLES));
    for (i, r) in parsed.results.iter().enumerate() {
        assert_eq!(r, &Ok(1), "real line {} must give one event", i + 1);
    }
    assert_eq!(parsed.events.len(), 4);
    parsed.events
}

#[test]
fn exec_version_9_with_a_tty() {
    let ev = &samples()[0];
    assert_eq!(ev.lifecycle(), Lifecycle::Start);
    assert_eq!(ev.event.action.as_deref(), Some("exec"));
    assert_eq!(ev.timestamp, t("2025-08-07T13:21:35.880814738Z"));
    // The new image is event.exec.target, not the pre-exec `process` (/bin/nu).
    let p = &ev.process;
    assert_eq!(p.pid, Some(97391));
    assert_eq!(p.executable.as_deref(), Some("/bin/connection-checker"));
    assert_eq!(p.name.as_deref(), Some("connection-checker"));
    assert_eq!(p.args, vec!["/bin/connection-checker".to_string()]);
    assert_eq!(p.args_count, Some(1));
    assert_eq!(p.working_directory.as_deref(), Some("/bin/mullvadvpn-app"));
    assert_eq!(p.start, Some(t("2025-08-07T13:21:35.877422Z")));
    assert_eq!(p.parent.as_ref().and_then(|pp| pp.pid), Some(58916));
    assert_eq!(p.interactive, Some(true));
    let tty = p.tty.as_ref().expect("tty");
    assert_eq!(
        tty.other.get("name"),
        Some(&serde_json::json!("/dev/ttys003"))
    );
    // st_rdev 268435459 = 0x10000003: major 16, minor 3 (ttys003).
    let dev = tty.char_device.as_ref().expect("char_device");
    assert_eq!((dev.major, dev.minor), (Some(16), Some(3)));
    let cs = p.code_signature.as_ref().expect("code signature");
    assert_eq!(
        cs.signing_id.as_deref(),
        Some("connection_checker-04fde7bdb8bceee3")
    );
    assert_eq!(cs.team_id, None, "team_id is null in the sample");
    assert_eq!(ev.field("user.id"), FieldValue::Str("501"));
    assert_eq!(ev.field("user.effective.id"), FieldValue::Str("501"));
    assert_eq!(ev.field("group.id"), FieldValue::Str("20"));
    assert_eq!(ev.picket.login_uid, Some(501));
    assert_eq!(ev.picket.session_id, Some(100019));
    assert_eq!(other(ev, "global_seq_num"), Some(&serde_json::json!(75)));
    assert_eq!(other(ev, "original_ppid"), Some(&serde_json::json!(58916)));
    assert_eq!(other(ev, "responsible_pid"), Some(&serde_json::json!(938)));
    assert_eq!(
        other(ev, "platform_binary"),
        Some(&serde_json::json!(false))
    );
    assert_eq!(other(ev, "pidversion"), Some(&serde_json::json!(149092)));
    assert_eq!(other(ev, "eslogger_version"), Some(&serde_json::json!(9)));
    assert_eq!(ev.field("process.group_leader.pid"), FieldValue::Int(97391));
    assert_eq!(
        ev.field("process.session_leader.pid"),
        FieldValue::Int(58916)
    );
    assert_eq!(ev.field("host.os.type"), FieldValue::Str("macos"));
    assert_eq!(
        ev.field("picket.collector"),
        FieldValue::Str("replay-eslogger")
    );
    assert_eq!(ev.field("picket.global_seq_num"), FieldValue::Int(75));
}

#[test]
fn fork_version_10_with_array_audit_tokens() {
    let ev = &samples()[1];
    assert_eq!(ev.lifecycle(), Lifecycle::Fork);
    assert_eq!(ev.event.action.as_deref(), Some("fork"));
    assert_eq!(ev.timestamp, t("2025-07-22T15:09:01.084030274Z"));
    let p = &ev.process;
    // child audit_token [501,501,20,501,20,21497,100013,38282]: pid is word 5.
    assert_eq!(p.pid, Some(21497));
    assert_eq!(
        p.executable.as_deref(),
        Some("/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN")
    );
    assert_eq!(p.name.as_deref(), Some("Mullvad VPN"));
    assert!(p.args.is_empty(), "a fork carries no argv");
    assert_eq!(p.start, Some(t("2025-07-22T15:09:01.083979Z")));
    assert_eq!(p.interactive, Some(false), "tty is null");
    assert!(p.tty.is_none());
    let parent = p.parent.as_ref().expect("parent");
    assert_eq!(parent.pid, Some(19745));
    // The forking process (message `process`, pid 19745) is the parent.
    assert_eq!(parent.name.as_deref(), Some("Mullvad VPN"));
    let cs = p.code_signature.as_ref().expect("code signature");
    assert_eq!(cs.signing_id.as_deref(), Some("net.mullvad.vpn"));
    assert_eq!(cs.team_id.as_deref(), Some("CKG9MXH72F"));
    assert_eq!(ev.field("user.id"), FieldValue::Str("501"));
    assert_eq!(ev.field("user.effective.id"), FieldValue::Str("501"));
    assert_eq!(ev.picket.login_uid, Some(501));
    assert_eq!(ev.picket.session_id, Some(100013));
    assert_eq!(other(ev, "pidversion"), Some(&serde_json::json!(38282)));
    assert_eq!(other(ev, "global_seq_num"), Some(&serde_json::json!(1)));
    assert_eq!(other(ev, "original_ppid"), Some(&serde_json::json!(19745)));
    assert_eq!(
        other(ev, "responsible_pid"),
        Some(&serde_json::json!(19745))
    );
    assert_eq!(
        other(ev, "platform_binary"),
        Some(&serde_json::json!(false))
    );
    assert_eq!(other(ev, "eslogger_version"), Some(&serde_json::json!(10)));
}

#[test]
fn exec_version_11_of_a_platform_binary_without_tty() {
    let ev = &samples()[2];
    assert_eq!(ev.lifecycle(), Lifecycle::Start);
    assert_eq!(ev.timestamp, t("2026-08-04T11:38:25.825904694Z"));
    let p = &ev.process;
    let exe =
        "/System/Library/PrivateFrameworks/IntlPreferences.framework/Support/localizationswitcherd";
    assert_eq!(p.pid, Some(11085));
    assert_eq!(p.executable.as_deref(), Some(exe));
    assert_eq!(p.name.as_deref(), Some("localizationswitcherd"));
    assert_eq!(p.args, vec![exe.to_string()]);
    assert_eq!(p.working_directory.as_deref(), Some("/"));
    assert_eq!(p.parent.as_ref().and_then(|pp| pp.pid), Some(1));
    assert_eq!(p.interactive, Some(false));
    let cs = p.code_signature.as_ref().expect("code signature");
    assert_eq!(
        cs.signing_id.as_deref(),
        Some("com.apple.localizationswitcherd")
    );
    assert_eq!(cs.team_id, None);
    assert_eq!(other(ev, "platform_binary"), Some(&serde_json::json!(true)));
    // The target's auid is 501 (the pre-exec xpcproxy's was unset).
    assert_eq!(ev.picket.login_uid, Some(501));
    assert_eq!(ev.picket.session_id, Some(100015));
    assert_eq!(
        other(ev, "responsible_pid"),
        Some(&serde_json::json!(11085))
    );
    assert_eq!(other(ev, "pidversion"), Some(&serde_json::json!(25189)));
    assert_eq!(other(ev, "global_seq_num"), Some(&serde_json::json!(16)));
    assert_eq!(other(ev, "eslogger_version"), Some(&serde_json::json!(11)));
}

#[test]
fn exit_version_9_of_a_root_process() {
    let ev = &samples()[3];
    assert_eq!(ev.lifecycle(), Lifecycle::End);
    assert_eq!(ev.event.action.as_deref(), Some("exit"));
    assert_eq!(ev.timestamp, t("2025-08-07T15:13:09.811587464Z"));
    let p = &ev.process;
    assert_eq!(p.pid, Some(11221));
    assert_eq!(p.executable.as_deref(), Some("/usr/sbin/ipconfig"));
    assert_eq!(p.name.as_deref(), Some("ipconfig"));
    assert_eq!(p.parent.as_ref().and_then(|pp| pp.pid), Some(532));
    assert_eq!(p.exit_code, Some(0));
    assert_eq!(ev.field("user.id"), FieldValue::Str("0"));
    assert_eq!(ev.field("user.effective.id"), FieldValue::Str("0"));
    assert_eq!(ev.picket.login_uid, None, "auid 4294967295 means no login");
    assert_eq!(other(ev, "global_seq_num"), Some(&serde_json::json!(1103)));
    assert_eq!(other(ev, "platform_binary"), Some(&serde_json::json!(true)));
    assert_eq!(
        ev.process
            .code_signature
            .as_ref()
            .and_then(|c| c.signing_id.as_deref()),
        Some("com.apple.ipconfig")
    );
}

#[test]
fn the_real_file_reports_its_sequence_jumps_as_loss() {
    // The samples come from different recordings: 75 → 1 goes back (a new stream),
    // 1 → 16 skips 14 numbers, 16 → 1103 skips 1086.
    let parsed = parse_file(Path::new(REAL_SAMPLES));
    let stats = parsed.parser.stats();
    assert_eq!(stats.seq_resets, 1);
    assert_eq!(stats.seq_gaps, 2);
    assert_eq!(stats.seq_lost, 14 + 1086);
    let snap = parsed.health.snapshot();
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&1100));
    assert_eq!(snap.losses.get("eslogger_schema_drift"), Some(&0));
    let note = snap.notes.get("eslogger").expect("gap note");
    assert!(note.contains("gap from 16 to 1103"), "{note}");
    assert!(note.contains("1086 event(s) lost"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_runs_the_real_file_through_the_collector_seam() {
    let replay = LineReplay::new(vec![REAL_SAMPLES.into()], EsloggerParser::for_replay());
    assert_eq!(replay.name(), "replay-eslogger");
    let stats = replay.stats();
    let health = Health::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (_trigger, shutdown) = Shutdown::new();
    let sender = EventSender::new(tx, health.clone());
    Box::new(replay)
        .run(sender, shutdown)
        .await
        .expect("replay runs");
    let mut got = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        got.push(ev);
    }
    let pids: Vec<_> = got.iter().map(|e| e.process.pid).collect();
    assert_eq!(
        pids,
        vec![Some(97391), Some(21497), Some(11085), Some(11221)]
    );
    assert_eq!(stats.records_read.load(Ordering::Relaxed), 4);
    assert_eq!(stats.events.load(Ordering::Relaxed), 4);
    assert_eq!(stats.malformed.load(Ordering::Relaxed), 0);
    assert_eq!(stats.ignored.load(Ordering::Relaxed), 0);
    assert_eq!(
        health.snapshot().losses.get("eslogger_seq_gap"),
        Some(&1100)
    );
}

#[test]
fn live_parser_names_the_live_collector() {
    let mut parser = EsloggerParser::live();
    assert_eq!(parser.collector_name(), "macos-eslogger");
    let line = std::fs::read_to_string(REAL_SAMPLES).expect("real samples");
    let first = line.lines().next().expect("a line");
    let mut out = Vec::new();
    parser
        .parse_line(first.as_bytes(), &mut out)
        .expect("parses");
    assert_eq!(out[0].picket.collector.as_deref(), Some("macos-eslogger"));
}

#[test]
fn user_names_come_from_the_lookup_when_given() {
    let mut calls = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut parser = EsloggerParser::live().with_user_names(move |uid| {
        let _ = tx.send(uid);
        (uid == 501).then(|| "alice".to_string())
    });
    let text = std::fs::read_to_string(REAL_SAMPLES).expect("real samples");
    let mut out = Vec::new();
    for line in text.lines() {
        parser
            .parse_line(line.as_bytes(), &mut out)
            .expect("parses");
    }
    calls.extend(rx.try_iter());
    assert_eq!(out[0].user.name.as_deref(), Some("alice"));
    assert_eq!(
        out[0]
            .user
            .effective
            .as_ref()
            .and_then(|u| u.name.as_deref()),
        Some("alice")
    );
    assert_eq!(out[3].user.name, None, "uid 0 has no name in this lookup");
    calls.sort_unstable();
    calls.dedup();
    assert_eq!(calls, vec![0, 501]);
}
