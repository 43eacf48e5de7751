//! The recorded EVTX-ATTACK-SAMPLES logs in `shared/fixtures/windows/evtx/` replayed into
//! ECS events: counts per file as the fixtures README lists them, and field values read
//! from the records themselves. Damaged copies check that a corrupt chunk or record is
//! reported and the rest of the file still read; JSON-lines exports of the same records
//! (evtx_dump and Winlogbeat shapes) must map to the same events.

use sensor_core::collector::{EventSender, Shutdown};
use sensor_core::event::{Event, FieldValue};
use sensor_core::health::Health;
use sensor_core::replay::ReplayStats;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/windows/evtx/"
    ))
    .join(name);
    assert!(
        path.is_file(),
        "missing fixture {} (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

struct Replayed {
    events: Vec<Event>,
    stats: Arc<ReplayStats>,
    health: Arc<Health>,
}

impl Replayed {
    fn count(&self, c: fn(&ReplayStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        c(&self.stats).load(Ordering::Relaxed)
    }
}

/// Replays `files` through the public collector, as `picket replay --format evtx` does.
fn replay(files: Vec<PathBuf>) -> Replayed {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let health = Health::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let out = EventSender::new(tx, health.clone());
        let (_trigger, shutdown) = Shutdown::new();
        let (collector, stats) = sensor_windows::evtx_replay(files, 0);
        assert_eq!(collector.name(), "replay-evtx");
        let run = tokio::spawn(collector.run(out, shutdown));
        let mut events = Vec::new();
        while let Some(ev) = rx.recv().await {
            events.push(ev);
        }
        run.await.expect("join").expect("replay succeeds");
        Replayed {
            events,
            stats,
            health,
        }
    })
}

fn by_name<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.process.name.as_deref() == Some(name))
        .collect()
}

fn parent(ev: &Event) -> &sensor_core::event::ParentProcess {
    ev.process.parent.as_deref().expect("parent")
}

#[test]
fn iis_webshell_net_user_chain_under_w3wp() {
    let path = fixture("LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");
    let r = replay(vec![path.clone()]);
    assert_eq!(r.events.len(), 3, "3 Sysmon event 1 records");
    assert_eq!(r.count(|s| &s.records_read), 4);
    assert_eq!(r.count(|s| &s.events), 3);
    assert_eq!(r.count(|s| &s.ignored), 1, "the Sysmon event 10");
    assert_eq!(r.count(|s| &s.malformed), 0);

    let names: Vec<_> = r.events.iter().map(|e| e.process.name.as_deref()).collect();
    assert_eq!(names, [Some("cmd.exe"), Some("net.exe"), Some("net1.exe")]);

    let cmd = &r.events[0];
    assert_eq!(cmd.process.pid, Some(2404));
    assert_eq!(
        cmd.process.entity_id.as_deref(),
        Some("{365abb72-4a01-5ce7-0000-0010ee9dac00}")
    );
    assert_eq!(
        cmd.process.args,
        [r"c:\windows\system32\cmd.exe", "/c", "net", "user"]
    );
    assert_eq!(cmd.process.args_count, Some(4));
    assert_eq!(
        cmd.process.working_directory.as_deref(),
        Some(r"c:\windows\system32\inetsrv\")
    );
    assert_eq!(parent(cmd).name.as_deref(), Some("w3wp.exe"));
    assert_eq!(parent(cmd).pid, Some(2580));
    assert_eq!(
        parent(cmd).executable.as_deref(),
        Some(r"C:\Windows\System32\inetsrv\w3wp.exe")
    );
    assert_eq!(
        parent(cmd).args[..3],
        [
            "c:\\windows\\system32\\inetsrv\\w3wp.exe",
            "-ap",
            "DefaultAppPool"
        ]
    );

    let net = &r.events[1];
    assert_eq!(net.process.pid, Some(788));
    assert_eq!(
        net.process.executable.as_deref(),
        Some(r"C:\Windows\System32\net.exe")
    );
    assert_eq!(net.process.command_line.as_deref(), Some("net  user"));
    assert_eq!(net.process.args, ["net", "user"]);
    assert_eq!(parent(net).name.as_deref(), Some("cmd.exe"));
    assert_eq!(parent(net).pid, Some(2404));
    assert_eq!(
        parent(net).entity_id,
        cmd.process.entity_id,
        "linked by ProcessGuid"
    );

    let net1 = &r.events[2];
    assert_eq!(net1.process.pid, Some(712));
    assert_eq!(net1.process.args, [r"C:\Windows\system32\net1", "user"]);
    assert_eq!(parent(net1).name.as_deref(), Some("net.exe"));
    assert_eq!(parent(net1).args, ["net", "user"]);

    for ev in &r.events {
        assert_eq!(ev.event.kind_type, ["start"]);
        assert_eq!(ev.event.action.as_deref(), Some("exec"));
        assert_eq!(ev.user.name.as_deref(), Some("DefaultAppPool"));
        assert_eq!(ev.user.domain.as_deref(), Some("IIS APPPOOL"));
        assert_eq!(
            ev.user.id, None,
            "an app-pool identity has no well-known SID"
        );
        assert_eq!(ev.host.name.as_deref(), Some("IEWIN7"));
        assert_eq!(
            ev.host.os.as_ref().and_then(|o| o.os_type.as_deref()),
            Some("windows")
        );
        assert_eq!(ev.picket.collector.as_deref(), Some("replay-evtx"));
        assert_eq!(
            ev.other["winlog"]["channel"],
            "Microsoft-Windows-Sysmon/Operational"
        );
        assert_eq!(ev.other["winlog"]["computer_name"], "IEWIN7");
        assert_eq!(ev.other["winlog"]["event_id"], 1);
        assert_eq!(
            ev.field("log.file.path"),
            FieldValue::Str(&path.display().to_string())
        );
        assert_eq!(ev.event.other["code"], "1");
    }
    let ids: Vec<_> = r
        .events
        .iter()
        .map(|e| e.other["winlog"]["record_id"].clone())
        .collect();
    assert_eq!(ids, [json!(1044), json!(1046), json!(1047)]);
    assert_eq!(
        net.timestamp.to_rfc3339(),
        "2019-05-24T01:33:53.182587400+00:00",
        "TimeCreated"
    );
    assert_eq!(
        net.process.start.map(|t| t.to_rfc3339()).as_deref(),
        Some("2019-05-24T01:33:53.152+00:00"),
        "UtcTime: created 30 ms before Sysmon logged it"
    );
}

#[test]
fn rdp_tunnel_security_4688_with_hex_pids() {
    let r = replay(vec![fixture("DE_RDP_Tunnel_5156.evtx")]);
    assert_eq!(r.events.len(), 17, "17 Security 4688 records");
    assert_eq!(r.count(|s| &s.records_read), 101);
    assert_eq!(
        r.count(|s| &s.ignored),
        84,
        "5156, 5158, 4624, 4648, 4672, 1102"
    );
    assert_eq!(r.count(|s| &s.malformed), 0);

    let first = &r.events[0];
    assert_eq!(first.process.name.as_deref(), Some("TSTheme.exe"));
    assert_eq!(
        first.process.executable.as_deref(),
        Some(r"C:\Windows\System32\TSTheme.exe")
    );
    assert_eq!(first.process.pid, Some(0x1fc));
    assert_eq!(parent(first).pid, Some(0x278));
    assert_eq!(parent(first).name, None, "4688 version 1 names no parent");
    assert_eq!(first.user.id.as_deref(), Some("S-1-5-18"));
    assert_eq!(first.user.name.as_deref(), Some("PC01$"));
    assert_eq!(first.user.domain.as_deref(), Some("EXAMPLE"));
    assert_eq!(
        first.process.command_line, None,
        "command-line auditing was off"
    );
    assert!(first.process.args.is_empty());
    assert_eq!(first.host.name.as_deref(), Some("PC01.example.corp"));
    assert_eq!(first.other["winlog"]["record_id"], 227695);
    assert_eq!(first.other["winlog"]["channel"], "Security");
    assert_eq!(
        first.other["winlog"]["event_data"]["TokenElevationType"],
        "%%1936"
    );

    let plink = by_name(&r.events, "plink.exe");
    assert_eq!(plink.len(), 1);
    assert_eq!(plink[0].process.pid, Some(0xcfc));
    assert_eq!(parent(plink[0]).pid, Some(0xe60));
    assert_eq!(
        plink[0].user.id.as_deref(),
        Some("S-1-5-21-1587066498-1489273250-1035260531-1106")
    );
    assert_eq!(plink[0].user.name.as_deref(), Some("user01"));

    let rdpclip = by_name(&r.events, "rdpclip.exe");
    assert_eq!(rdpclip[0].user.id.as_deref(), Some("S-1-5-20"));
    assert_eq!(by_name(&r.events, "smss.exe").len(), 2);
    assert_eq!(by_name(&r.events, "LogonUI.exe").len(), 2);
}

#[test]
fn wmi_target_host_4688() {
    let r = replay(vec![fixture("LM_WMI_4624_4688_TargetHost.evtx")]);
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.count(|s| &s.records_read), 8);
    assert_eq!(r.count(|s| &s.ignored), 6, "the 4624 logons");
    let (wmi, calc) = (&r.events[0], &r.events[1]);
    assert_eq!(wmi.process.name.as_deref(), Some("WmiPrvSE.exe"));
    assert_eq!(wmi.process.pid, Some(0xae8));
    assert_eq!(calc.process.name.as_deref(), Some("calc.exe"));
    assert_eq!(calc.process.pid, Some(0x424));
    assert_eq!(
        parent(calc).pid,
        wmi.process.pid,
        "calc.exe was launched by WmiPrvSE.exe"
    );
    assert_eq!(calc.user.id.as_deref(), Some("S-1-5-20"));
    assert_eq!(
        calc.host.name.as_deref(),
        Some("WIN-77LTAPHIQ1R.example.corp")
    );
}

#[test]
fn appcmd_discovery_under_powershell_under_w3wp() {
    let r = replay(vec![fixture(
        "discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
    )]);
    assert_eq!(r.events.len(), 40);
    assert_eq!(r.count(|s| &s.records_read), 40);
    assert_eq!(r.count(|s| &s.ignored), 0);
    let ps = by_name(&r.events, "powershell.exe");
    assert_eq!(ps.len(), 1);
    assert_eq!(parent(ps[0]).name.as_deref(), Some("w3wp.exe"));
    assert_eq!(ps[0].process.args[1..4], ["-nop", "-noni", "-enc"]);
    let appcmd = by_name(&r.events, "appcmd.exe");
    assert_eq!(appcmd.len(), 39);
    assert!(appcmd
        .iter()
        .all(|e| parent(e).name.as_deref() == Some("powershell.exe")));
    assert_eq!(
        appcmd[0].process.args,
        [
            r"C:\Windows\System32\InetSRV\appcmd.exe",
            "list",
            "vdir",
            "/text:physicalpath"
        ]
    );
    // A quoted argument with a space stays one argument.
    assert_eq!(
        appcmd[2].process.args[3],
        "ERROR ( message:Configuration error "
    );
}

#[test]
fn netsh_portproxy() {
    let r = replay(vec![fixture("de_portforward_netsh_rdp_sysmon_13_1.evtx")]);
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.count(|s| &s.ignored), 1, "the Sysmon event 13");
    let netsh = &r.events[1];
    assert_eq!(netsh.process.name.as_deref(), Some("netsh.exe"));
    assert_eq!(
        netsh.process.args,
        [
            "netsh",
            "I",
            "p",
            "a",
            "v",
            "l=8001",
            "listena=1.2.3.4",
            "connectp=3389",
            "c=1.2.3.5"
        ]
    );
    assert_eq!(parent(netsh).name.as_deref(), Some("cmd.exe"));
    assert_eq!(netsh.user.name.as_deref(), Some("IEUser"));
    assert_eq!(netsh.user.domain.as_deref(), Some("IEWIN7"));
}

#[test]
fn rundll32_chain_carries_original_file_names() {
    let r = replay(vec![fixture("rundll32_cmd_schtask.evtx")]);
    assert_eq!(r.events.len(), 8);
    assert_eq!(r.count(|s| &s.records_read), 50);
    assert_eq!(r.count(|s| &s.ignored), 42);
    let ofn = |e: &Event| {
        e.process
            .pe
            .as_ref()
            .and_then(|p| p.original_file_name.clone())
    };
    let wmi = &r.events[0];
    assert_eq!(ofn(wmi).as_deref(), Some("Wmiprvse.exe"));
    assert_eq!(
        wmi.user.id.as_deref(),
        Some("S-1-5-20"),
        "NT AUTHORITY\\NETWORK SERVICE"
    );
    assert_eq!(parent(wmi).pid, Some(836));
    assert_eq!(parent(wmi).name, None, "ParentImage \"?\"");
    assert_eq!(parent(wmi).entity_id, None, "null ParentProcessGuid");
    let cmd = by_name(&r.events, "cmd.exe");
    assert_eq!(ofn(cmd[0]).as_deref(), Some("Cmd.Exe"));
    assert_eq!(parent(cmd[0]).name.as_deref(), Some("rundll32.exe"));
    let schtasks = by_name(&r.events, "schtasks.exe");
    assert_eq!(ofn(schtasks[0]).as_deref(), Some("schtasks.exe"));
    assert_eq!(
        schtasks[0].process.args,
        [
            "schtasks",
            "/Create",
            "/f",
            "/XML",
            r"C:\Users\IEUser\AppData\Local\Temp\sduchxll.tmp",
            "/TN",
            "DataUsageHandlers"
        ]
    );
    let rundll = by_name(&r.events, "rundll32.exe");
    assert_eq!(rundll.len(), 5);
    assert!(rundll
        .iter()
        .all(|e| ofn(e).as_deref() == Some("RUNDLL32.EXE")));
    let pe = wmi.process.pe.as_ref().expect("pe");
    assert_eq!(pe.other["company"], "Microsoft Corporation");
    assert!(wmi.process.other["hash"]["sha256"]
        .as_str()
        .is_some_and(|h| h.len() == 64));
}

#[test]
fn all_fixtures_in_one_replay() {
    let files = [
        "LM_typical_IIS_webshell_sysmon_1_10_traces.evtx",
        "DE_RDP_Tunnel_5156.evtx",
        "LM_WMI_4624_4688_TargetHost.evtx",
        "discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
        "de_portforward_netsh_rdp_sysmon_13_1.evtx",
        "rundll32_cmd_schtask.evtx",
    ];
    let r = replay(files.iter().map(|f| fixture(f)).collect());
    assert_eq!(r.events.len(), 3 + 17 + 2 + 40 + 2 + 8);
    assert_eq!(r.count(|s| &s.records_read), 4 + 101 + 8 + 40 + 3 + 50);
    assert_eq!(r.count(|s| &s.malformed), 0);
    assert_eq!(
        r.health
            .snapshot()
            .losses
            .get("malformed_input")
            .copied()
            .unwrap_or(0),
        0
    );
}

/// Offset of chunk `n` in an EVTX file.
fn chunk_at(n: usize) -> usize {
    4096 + n * 65536
}

#[test]
fn corrupt_chunk_is_reported_and_the_rest_is_read() {
    // The appcmd log holds 40 records in chunks 0-4 (9, 9, 9, 9 and 4 records).
    let mut bytes = std::fs::read(fixture(
        "discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
    ))
    .expect("read");
    assert_eq!(&bytes[chunk_at(2)..chunk_at(2) + 8], b"ElfChnk\0");
    bytes[chunk_at(2)..chunk_at(2) + 8].copy_from_slice(b"garbage!");
    let dir = tempfile::tempdir().expect("tempdir");
    let damaged = dir.path().join("damaged.evtx");
    std::fs::write(&damaged, &bytes).expect("write");

    let r = replay(vec![damaged]);
    assert_eq!(r.count(|s| &s.malformed), 1, "one chunk reported");
    assert_eq!(r.events.len(), 31, "the other four chunks are read");
    assert_eq!(
        r.health.snapshot().losses.get("malformed_input").copied(),
        Some(1)
    );
    // The clean file's events minus the 9 of chunk 2 (its 19th to 27th records).
    let clean = replay(vec![fixture(
        "discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
    )]);
    let record_ids = |events: &[Event]| -> Vec<Value> {
        events
            .iter()
            .map(|e| e.other["winlog"]["record_id"].clone())
            .collect()
    };
    let mut want = record_ids(&clean.events);
    want.drain(18..27);
    assert_eq!(record_ids(&r.events), want);
}

#[test]
fn corrupt_record_is_reported_and_the_rest_is_read() {
    let mut bytes =
        std::fs::read(fixture("LM_typical_IIS_webshell_sysmon_1_10_traces.evtx")).expect("read");
    // The first record of chunk 0 (EventRecordID 1044, cmd.exe; number 1 in this file's
    // record header) starts right after the 512-byte chunk header: magic, size, number,
    // time, then its binary XML. Break the XML.
    let rec = chunk_at(0) + 512;
    assert_eq!(&bytes[rec..rec + 4], b"**\0\0");
    let number = u64::from_le_bytes(bytes[rec + 8..rec + 16].try_into().expect("8 bytes"));
    assert_eq!(number, 1);
    for b in &mut bytes[rec + 24..rec + 40] {
        *b = 0xff;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let damaged = dir.path().join("damaged.evtx");
    std::fs::write(&damaged, &bytes).expect("write");

    let r = replay(vec![damaged]);
    assert_eq!(r.count(|s| &s.malformed), 1, "record 1044 reported");
    let names: Vec<_> = r.events.iter().map(|e| e.process.name.as_deref()).collect();
    assert_eq!(names, [Some("net.exe"), Some("net1.exe")]);
}

#[test]
fn missing_file_fails_and_non_evtx_file_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = rt.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let out = EventSender::new(tx, Health::new());
        let (_t, shutdown) = Shutdown::new();
        let (c, _) = sensor_windows::evtx_replay(vec![dir.path().join("nope.evtx")], 0);
        c.run(out, shutdown).await.expect_err("missing file")
    });
    assert!(err.to_string().contains("nope.evtx"), "{err}");

    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"MZ\x90\0 not a log").expect("write");
    let r = replay(vec![
        junk,
        fixture("de_portforward_netsh_rdp_sysmon_13_1.evtx"),
    ]);
    assert_eq!(r.count(|s| &s.malformed), 1);
    assert_eq!(r.events.len(), 2, "the next file is still replayed");
}

/// Every record of `path` as the evtx crate renders it: what `evtx_dump -o jsonl` writes.
fn evtx_dump_lines(path: &Path) -> Vec<Value> {
    let mut parser = evtx::EvtxParser::from_path(path).expect("parse");
    parser
        .records_json_value()
        .map(|r| r.expect("record").data)
        .collect()
}

/// A Winlogbeat document for an evtx_dump record: `winlog.*` with string event data, as
/// Winlogbeat ships them, and dotted keys.
fn winlogbeat_doc(rec: &Value) -> Value {
    let sys = &rec["Event"]["System"];
    let data: serde_json::Map<String, Value> = rec["Event"]["EventData"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(s))
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "@timestamp": sys["TimeCreated"]["#attributes"]["SystemTime"],
        "winlog.event_id": sys["EventID"].to_string(),
        "winlog.record_id": sys["EventRecordID"].to_string(),
        "winlog.channel": sys["Channel"],
        "winlog.computer_name": sys["Computer"],
        "winlog.provider_name": sys["Provider"]["#attributes"]["Name"],
        "winlog.event_data": data,
        "agent": {"type": "winlogbeat"}
    })
}

/// The process fields the two routes must agree on.
fn process_view(ev: &Event) -> Value {
    json!({
        "ts": ev.timestamp, "pid": ev.process.pid, "name": ev.process.name,
        "exe": ev.process.executable, "args": ev.process.args, "cmd": ev.process.command_line,
        "ppid": ev.process.parent.as_ref().and_then(|p| p.pid),
        "pname": ev.process.parent.as_ref().and_then(|p| p.name.clone()),
        "ofn": ev.process.pe.as_ref().and_then(|p| p.original_file_name.clone()),
        "uid": ev.user.id, "user": ev.user.name, "domain": ev.user.domain, "host": ev.host.name,
        "record": ev.other["winlog"]["record_id"],
    })
}

#[test]
fn json_lines_exports_map_like_the_binary_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["rundll32_cmd_schtask.evtx", "DE_RDP_Tunnel_5156.evtx"] {
        let binary = replay(vec![fixture(name)]);
        let records = evtx_dump_lines(&fixture(name));

        let dump = dir.path().join(format!("{name}.evtx_dump.jsonl"));
        let text: Vec<String> = records.iter().map(Value::to_string).collect();
        std::fs::write(&dump, text.join("\n") + "\n").expect("write");
        let from_dump = replay(vec![dump.clone()]);

        let beat = dir.path().join(format!("{name}.winlogbeat.ndjson"));
        let mut lines: Vec<String> = records
            .iter()
            .map(|r| winlogbeat_doc(r).to_string())
            .collect();
        lines.insert(3, "{\"winlog\": truncated".into());
        std::fs::write(&beat, lines.join("\n") + "\n").expect("write");
        let from_beat = replay(vec![beat.clone()]);

        let want: Vec<Value> = binary.events.iter().map(process_view).collect();
        assert!(!want.is_empty());
        assert_eq!(
            from_dump
                .events
                .iter()
                .map(process_view)
                .collect::<Vec<_>>(),
            want,
            "{name} evtx_dump"
        );
        assert_eq!(
            from_beat
                .events
                .iter()
                .map(process_view)
                .collect::<Vec<_>>(),
            want,
            "{name} Winlogbeat"
        );
        assert_eq!(
            from_dump.events[0].field("log.file.path"),
            FieldValue::Str(&dump.display().to_string())
        );

        assert_eq!(
            from_dump.count(|s| &s.ignored),
            binary.count(|s| &s.ignored)
        );
        assert_eq!(
            from_beat.count(|s| &s.ignored),
            binary.count(|s| &s.ignored)
        );
        assert_eq!(from_beat.count(|s| &s.malformed), 1, "the truncated line 4");
        assert_eq!(
            from_beat.count(|s| &s.records_read),
            records.len() as u64 + 1
        );
    }

    // Binary and JSON lines in one replay: the counters add up across both kinds.
    let dump = dir.path().join("rundll32_cmd_schtask.evtx.evtx_dump.jsonl");
    let mixed = replay(vec![fixture("LM_WMI_4624_4688_TargetHost.evtx"), dump]);
    assert_eq!(mixed.events.len(), 2 + 8);
    assert_eq!(mixed.count(|s| &s.records_read), 8 + 50);
    assert_eq!(mixed.count(|s| &s.ignored), 6 + 42);
}
