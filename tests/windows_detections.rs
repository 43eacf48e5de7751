//! Windows detections end to end: `picket replay --format evtx` on the recorded IIS
//! webshell log (EVTX-ATTACK-SAMPLES) and on Winlogbeat JSON lines, asserting on the
//! NDJSON alerts on stdout.
//!
//! - The Elastic rule "Windows System Network Connections Discovery"
//!   (c4e9ed3e-55a2-4309-a012-bc3c78dad10a) fires on `net user` run by the IIS worker's
//!   cmd.exe, and not on the `net1 user` that net.exe spawns (the rule's
//!   `not process.parent.name : "net.exe"`).
//! - AN0903's SuspiciousParentProcesses raises the severity when w3wp.exe launched the
//!   discovery (as parent or ancestor).
//! - Every clause of the rule is exercised by a mapped Windows event that must fire or
//!   must not.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const PICKET: &str = env!("CARGO_BIN_EXE_picket");
const ELASTIC_RULE: &str = "c4e9ed3e-55a2-4309-a012-bc3c78dad10a";

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/windows/evtx/"
    ))
    .join(name);
    assert!(
        path.is_file(),
        "missing fixture {} (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

/// Runs `picket replay --format evtx` and returns the alerts and stderr.
fn replay(config: Option<&Path>, files: &[&Path]) -> (Vec<Value>, String) {
    let mut cmd = Command::new(PICKET);
    cmd.args(["replay", "--format", "evtx"])
        .env_remove("RUST_LOG");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.args(files).output().expect("run picket");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "picket replay failed: {stderr}");
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON alert"))
        .collect();
    (alerts, stderr)
}

fn of_rule<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"]["id"] == rule).collect()
}

fn of_analytic<'a>(alerts: &'a [Value], analytic: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["picket"]["analytic"] == analytic)
        .collect()
}

#[test]
fn elastic_rule_fires_on_net_user_from_iis_but_not_on_net1_under_net() {
    let log = fixture("LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");
    let (alerts, stderr) = replay(None, &[&log]);
    assert!(
        stderr.contains(
            "4 records read, 3 events, 0 malformed skipped, 0 oversized skipped, 1 ignored"
        ),
        "replay summary: {stderr}"
    );
    let hits = of_rule(&alerts, ELASTIC_RULE);
    assert_eq!(hits.len(), 1, "exactly one hit, on net.exe: {hits:#?}");
    let hit = hits[0];
    assert_eq!(hit["process"]["name"], "net.exe");
    assert_eq!(hit["process"]["args"], json!(["net", "user"]));
    assert_eq!(hit["process"]["parent"]["name"], "cmd.exe");
    assert_eq!(hit["user"]["name"], "DefaultAppPool");
    assert_eq!(hit["host"]["name"], "IEWIN7");
    assert!(
        !of_rule(&alerts, ELASTIC_RULE)
            .iter()
            .any(|a| a["process"]["name"] == "net1.exe"),
        "net1.exe under net.exe is excluded"
    );
}

/// AN0903 with `user` added to its net/net1 pattern (the mutable CommandPatternList),
/// so the sample's `net user` chain is in scope; `suspicious` decides whether the
/// default SuspiciousParentProcesses (which lists w3wp.exe) is in force.
fn an0903_config(dir: &Path, suspicious: bool) -> PathBuf {
    let mut text = String::from(
        "[analytics.an0903.command_pattern_list]\n\
         regexes = ['\\bnet1?(\\.exe)?\\s+(use|users?|sessions?|config|view)\\b']\n",
    );
    if !suspicious {
        text.push_str("[analytics.an0903.suspicious_parent_processes]\nnames = []\n");
    }
    let path = dir.join(if suspicious {
        "an0903.toml"
    } else {
        "an0903-no-parents.toml"
    });
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn an0903_severity_is_raised_because_w3wp_launched_the_discovery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = fixture("LM_typical_IIS_webshell_sysmon_1_10_traces.evtx");

    let (alerts, _) = replay(Some(&an0903_config(dir.path(), true)), &[&log]);
    let an0903 = of_analytic(&alerts, "AN0903");
    let cmd = an0903
        .iter()
        .find(|a| a["process"]["name"] == "cmd.exe")
        .unwrap_or_else(|| panic!("AN0903 on cmd.exe /c net user: {alerts:#?}"));
    assert_eq!(cmd["process"]["parent"]["name"], "w3wp.exe");
    assert_eq!(
        cmd["picket"]["severity"], "high",
        "parent w3wp.exe: {cmd:#?}"
    );
    let net = an0903
        .iter()
        .find(|a| a["process"]["name"] == "net.exe")
        .unwrap_or_else(|| panic!("AN0903 on net user: {alerts:#?}"));
    assert_eq!(
        net["picket"]["severity"], "high",
        "w3wp.exe is net.exe's grandparent (check_ancestors): {net:#?}"
    );

    // Without w3wp.exe in SuspiciousParentProcesses the same events stay at the base
    // severity: the raise above is the parent's doing.
    let (plain, _) = replay(Some(&an0903_config(dir.path(), false)), &[&log]);
    let plain = of_analytic(&plain, "AN0903");
    assert!(!plain.is_empty(), "AN0903 still fires");
    assert!(
        plain.iter().all(|a| a["picket"]["severity"] == "low"),
        "{plain:#?}"
    );
}

/// A Sysmon event 1 as Winlogbeat ships it (dotted keys, string event data).
fn sysmon(record: u64, image: &str, cmd: &str, parent: &str, user: &str, ofn: &str) -> Value {
    json!({
        "@timestamp": format!("2024-03-01T10:00:{:02}.000Z", record % 60),
        "winlog.event_id": "1",
        "winlog.record_id": record.to_string(),
        "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
        "winlog.provider_name": "Microsoft-Windows-Sysmon",
        "winlog.computer_name": "WS01.corp.example",
        "winlog.event_data": {
            "ProcessId": (4000 + record).to_string(), "Image": image, "CommandLine": cmd,
            "OriginalFileName": ofn, "User": user, "ParentProcessId": "3000",
            "ParentImage": parent, "CurrentDirectory": "C:\\Users\\alice\\"
        }
    })
}

/// A Security 4688 event as Winlogbeat ships it.
fn security_4688(record: u64, image: &str, cmd: &str, sid: &str) -> Value {
    json!({
        "@timestamp": format!("2024-03-01T10:01:{:02}.000Z", record % 60),
        "winlog": {"event_id": 4688, "record_id": record, "channel": "Security",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "computer_name": "WS01.corp.example",
            "event_data": {"SubjectUserSid": sid, "SubjectUserName": "alice",
                "SubjectDomainName": "CORP", "NewProcessId": format!("{:#x}", 0x2000 + record),
                "NewProcessName": image, "ProcessId": "0x1f0", "CommandLine": cmd,
                "ParentProcessName": "C:\\Windows\\System32\\cmd.exe"}}
    })
}

#[test]
fn every_clause_of_the_elastic_rule_on_mapped_windows_events() {
    const NET: &str = r"C:\Windows\System32\net.exe";
    const NET1: &str = r"C:\Windows\System32\net1.exe";
    const CMD: &str = r"C:\Windows\System32\cmd.exe";
    const ALICE: &str = r"CORP\alice";
    // (record, event, fires?)
    let cases: Vec<(u64, Value, bool)> = vec![
        // process.name : "netstat.exe" (Atomic Red Team T1049 test 1)
        (
            1,
            sysmon(
                1,
                r"C:\Windows\System32\NETSTAT.EXE",
                "netstat -ano",
                CMD,
                ALICE,
                "NETSTAT.EXE",
            ),
            true,
        ),
        // net.exe with each listed argument, case-insensitively
        (2, sysmon(2, NET, "net use", CMD, ALICE, "net.exe"), true),
        (
            3,
            sysmon(3, NET, "net.exe USER", CMD, ALICE, "net.exe"),
            true,
        ),
        (
            4,
            sysmon(4, NET, "net session", CMD, ALICE, "net.exe"),
            true,
        ),
        (
            5,
            sysmon(5, NET, "net config workstation", CMD, ALICE, "net.exe"),
            true,
        ),
        // ... and not with other arguments ("sessions" is not "session")
        (6, sysmon(6, NET, "net view", CMD, ALICE, "net.exe"), false),
        (
            7,
            sysmon(7, NET, "net sessions", CMD, ALICE, "net.exe"),
            false,
        ),
        // process.pe.original_file_name == "net.exe": a renamed net.exe, exact case only
        (
            8,
            sysmon(
                8,
                r"C:\Users\Public\svc.exe",
                "svc.exe use",
                CMD,
                ALICE,
                "net.exe",
            ),
            true,
        ),
        (
            9,
            sysmon(
                9,
                r"C:\Users\Public\svc.exe",
                "svc.exe use",
                CMD,
                ALICE,
                "NET.EXE",
            ),
            false,
        ),
        // net1.exe, by name or original file name, unless its parent is net.exe
        (
            10,
            sysmon(
                10,
                NET1,
                "net1 session",
                r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                ALICE,
                "net1.exe",
            ),
            true,
        ),
        (
            11,
            sysmon(
                11,
                r"C:\Users\Public\n1.exe",
                "n1 config",
                CMD,
                ALICE,
                "net1.exe",
            ),
            true,
        ),
        (
            12,
            sysmon(12, NET1, "net1 user", NET, ALICE, "net1.exe"),
            false,
        ),
        // the argument exclusions: /persistent:*, /delete, \\*
        (
            13,
            sysmon(
                13,
                NET,
                r"net use Z: \\fs01\share /persistent:no",
                CMD,
                ALICE,
                "net.exe",
            ),
            false,
        ),
        (
            14,
            sysmon(14, NET, "net use Z: /delete", CMD, ALICE, "net.exe"),
            false,
        ),
        (
            15,
            sysmon(15, NET, r"net use \\fs01\ipc$", CMD, ALICE, "net.exe"),
            false,
        ),
        (
            16,
            sysmon(16, NET, r#"net use "\\fs01\share""#, CMD, ALICE, "net.exe"),
            false,
        ),
        // nbtstat.exe with -s* (case-insensitive), and not with other flags
        (
            17,
            sysmon(
                17,
                r"C:\Windows\System32\nbtstat.exe",
                "nbtstat -s",
                CMD,
                ALICE,
                "nbtstat.exe",
            ),
            true,
        ),
        (
            18,
            sysmon(
                18,
                r"C:\Windows\System32\nbtstat.exe",
                "nbtstat -S",
                CMD,
                ALICE,
                "nbtstat.exe",
            ),
            true,
        ),
        (
            19,
            sysmon(
                19,
                r"C:\Windows\System32\nbtstat.exe",
                "nbtstat -a host1",
                CMD,
                ALICE,
                "nbtstat.exe",
            ),
            false,
        ),
        // not user.id : "S-1-5-18": Sysmon names SYSTEM, Picket fills its well-known SID
        (
            20,
            sysmon(
                20,
                r"C:\Windows\System32\NETSTAT.EXE",
                "netstat -ano",
                CMD,
                r"NT AUTHORITY\SYSTEM",
                "NETSTAT.EXE",
            ),
            false,
        ),
        (
            21,
            sysmon(
                21,
                r"C:\Windows\System32\NETSTAT.EXE",
                "netstat -ano",
                CMD,
                r"NT AUTHORITY\NETWORK SERVICE",
                "NETSTAT.EXE",
            ),
            true,
        ),
        // Security 4688: SID from the record, hex pids
        (
            22,
            security_4688(22, NET, "net use", "S-1-5-21-1-2-3-1001"),
            true,
        ),
        (23, security_4688(23, NET, "net use", "S-1-5-18"), false),
        (
            24,
            security_4688(
                24,
                r"C:\Windows\System32\netstat.exe",
                "",
                "S-1-5-21-1-2-3-1001",
            ),
            true,
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("winlogbeat.ndjson");
    let lines: Vec<String> = cases.iter().map(|(_, v, _)| v.to_string()).collect();
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");

    // No folding: every hit is its own alert.
    let config = dir.path().join("no-fold.toml");
    std::fs::write(&config, "[analytics]\nfold_window_secs = 0\n").expect("write config");
    let (alerts, stderr) = replay(Some(&config), &[&input]);
    assert!(
        stderr.contains(
            "24 records read, 24 events, 0 malformed skipped, 0 oversized skipped, 0 ignored"
        ),
        "{stderr}"
    );
    let fired: std::collections::BTreeSet<u64> = of_rule(&alerts, ELASTIC_RULE)
        .iter()
        .filter_map(|a| {
            // pids encode the record: 4000 + n (Sysmon), 0x2000 + n (4688)
            let pid = a["process"]["pid"].as_u64()?;
            Some(if pid >= 0x2000 {
                pid - 0x2000
            } else {
                pid - 4000
            })
        })
        .collect();
    let want: std::collections::BTreeSet<u64> = cases
        .iter()
        .filter(|(_, _, fires)| *fires)
        .map(|(r, _, _)| *r)
        .collect();
    assert_eq!(fired, want, "records the Elastic rule fired on");
}

/// A `Microsoft-Windows-WMI-Activity/Operational` event 11 (`Operation_New`), built in
/// the documented layout (not recorded from a host): Winlogbeat's form, or
/// evtx_dump's (`UserData/Operation_New`) when `evtx_form`.
fn wmi_11(record: u64, pid: u32, operation: &str, evtx_form: bool) -> Value {
    let data = json!({
        "CorrelationId": "{6DB4F9F5-1C8B-0002-4F6C-B46D8B1CDA01}",
        "GroupOperationId": (20000 + record).to_string(),
        "OperationId": (20001 + record).to_string(),
        "Operation": operation,
        "ClientMachine": "WS01",
        "User": "CORP\\alice",
        "ClientProcessId": pid.to_string(),
        "NamespaceName": "\\\\.\\root\\StandardCimv2",
        "IsLocal": "true"
    });
    let time = format!("2024-03-01T10:02:{:02}.000Z", record % 60);
    if evtx_form {
        return json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-WMI-Activity"}},
                "EventID": 11, "EventRecordID": record,
                "TimeCreated": {"#attributes": {"SystemTime": time}},
                "Channel": "Microsoft-Windows-WMI-Activity/Operational",
                "Computer": "WS01.corp.example"
            },
            "UserData": {"Operation_New": data}
        }});
    }
    json!({
        "@timestamp": time,
        "winlog": {"event_id": 11, "record_id": record,
            "channel": "Microsoft-Windows-WMI-Activity/Operational",
            "provider_name": "Microsoft-Windows-WMI-Activity",
            "computer_name": "WS01.corp.example",
            "user_data": data}
    })
}

#[test]
fn an0903_alerts_on_wmi_queries_of_the_network_connection_classes_whatever_the_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wmi-activity.jsonl");
    let q = |ns: &str, rest: &str| format!("Start IWbemServices::ExecQuery - {ns} : {rest}");
    // The client: a renamed PowerShell (its name matches nothing in CommandPatternList).
    let exec = sysmon(
        1,
        r"C:\Users\alice\AppData\Local\Temp\p.exe",
        "p.exe -nop",
        r"C:\Windows\explorer.exe",
        r"CORP\alice",
        "p.exe",
    );
    let client: u32 = 4001; // sysmon() numbers its process 4000 + record
    let lines = [
        exec,
        wmi_11(
            10,
            client,
            "Start IWbemServices::CreateInstanceEnum - root\\StandardCimv2 : MSFT_NetTCPConnection",
            false,
        ),
        wmi_11(
            11,
            client,
            &q("root\\StandardCimv2", "SELECT * FROM MSFT_NetUDPEndpoint"),
            true,
        ),
        wmi_11(
            12,
            5000,
            &q("root\\cimv2", "select * from Win32_NetworkConnection"),
            false,
        ),
        wmi_11(
            13,
            5001,
            &q("root\\cimv2", "select * from win32_serverconnection"),
            false,
        ),
        wmi_11(
            14,
            5002,
            &q("root\\cimv2", "SELECT UserName FROM Win32_ServerSession"),
            false,
        ),
        // Not a network-connection class: nothing.
        wmi_11(
            15,
            5003,
            &q("root\\cimv2", "SELECT * FROM Win32_Process"),
            false,
        ),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).expect("write");
    let (alerts, stderr) = replay(None, &[&file]);
    let wmi: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["picket"]["mutable_element"] == "WmiQueries")
        .collect();
    let classes: Vec<&str> = wmi
        .iter()
        .filter_map(|a| a["picket"]["matched_value"].as_str())
        .collect();
    assert_eq!(
        classes,
        [
            "MSFT_NetTCPConnection",
            "MSFT_NetUDPEndpoint",
            "Win32_NetworkConnection",
            "Win32_ServerConnection",
            "Win32_ServerSession"
        ],
        "{alerts:#?}\n{stderr}"
    );
    for a in &wmi {
        assert_eq!(a["picket"]["analytic"], "AN0903");
    }
    // The client process is named from its exec (the process table), not by WMI.
    let first = wmi[0];
    assert_eq!(first["process"]["pid"], client);
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("p.exe -nop")),
        "{first}"
    );
    assert!(!alerts.iter().any(|a| a["message"]
        .as_str()
        .is_some_and(|m| m.contains("Win32_Process"))));
}
