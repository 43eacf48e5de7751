//! WMI-Activity event 11 through the replay mapping, from both forms the replays read:
//! evtx_dump JSON (what `picket replay --format evtx` renders from an EVTX file) and a
//! Winlogbeat document. The records are BUILT here in the documented layout of
//! `Microsoft-Windows-WMI-Activity/Operational` event 11 (`UserData/Operation_New`:
//! CorrelationId, GroupOperationId, OperationId, Operation, ClientMachine,
//! ClientMachineFQDN, User, ClientProcessId, ClientProcessCreationTime, NamespaceName,
//! IsLocal); they are not recorded from a Windows host.

use sensor_core::event::FieldValue;
use sensor_windows::mapping::{map_record, Mapped, WinRecord};
use serde_json::{json, Value};

fn operation(class_part: &str) -> String {
    format!("Start IWbemServices::CreateInstanceEnum - root\\StandardCimv2 : {class_part}")
}

fn evtx_json(op: &str) -> Value {
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-WMI-Activity", "Guid": "{1418EF04-B0B4-4623-BF7E-D74AB47BBDAA}"}},
            "EventID": 11, "Version": 0, "Level": 4, "Task": 0, "Opcode": 0,
            "TimeCreated": {"#attributes": {"SystemTime": "2026-03-02T09:15:01.123456Z"}},
            "EventRecordID": 8812,
            "Channel": "Microsoft-Windows-WMI-Activity/Operational",
            "Computer": "WS-7.corp.example",
            "Security": {"#attributes": {"UserID": "S-1-5-18"}}
        },
        "UserData": {"Operation_New": {
            "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2006/windows/WMI"},
            "CorrelationId": "{6DB4F9F5-1C8B-0002-4F6C-B46D8B1CDA01}",
            "GroupOperationId": 20481,
            "OperationId": 20482,
            "Operation": op,
            "ClientMachine": "WS-7",
            "ClientMachineFQDN": "WS-7.corp.example",
            "User": "CORP\\alice",
            "ClientProcessId": 6120,
            "ClientProcessCreationTime": 134170000000000000u64,
            "NamespaceName": "\\\\.\\root\\StandardCimv2",
            "IsLocal": "true"
        }}
    }})
}

fn winlogbeat(op: &str) -> Value {
    json!({
        "@timestamp": "2026-03-02T09:15:01.123Z",
        "winlog": {
            "channel": "Microsoft-Windows-WMI-Activity/Operational",
            "provider_name": "Microsoft-Windows-WMI-Activity",
            "event_id": 11,
            "record_id": 8813,
            "computer_name": "WS-7.corp.example",
            "user_data": {
                "xml_name": "Operation_New",
                "CorrelationId": "{6DB4F9F5-1C8B-0002-4F6C-B46D8B1CDA01}",
                "GroupOperationId": "20481",
                "OperationId": "20482",
                "Operation": op,
                "ClientMachine": "WS-7",
                "User": "CORP\\alice",
                "ClientProcessId": "6120",
                "NamespaceName": "\\\\.\\root\\StandardCimv2",
                "IsLocal": "true"
            }
        }
    })
}

fn mapped(rec: WinRecord<'_>) -> sensor_core::event::Event {
    match map_record(&rec, Some("wmi.evtx")).expect("maps") {
        Mapped::Event(e) => *e,
        Mapped::Ignored => panic!("event 11 of WMI-Activity is used"),
    }
}

#[test]
fn event_11_from_evtx_json_and_winlogbeat_becomes_a_wmi_operation_of_the_client_process() {
    let op = operation("MSFT_NetTCPConnection");
    let a = evtx_json(&op);
    let b = winlogbeat(&op);
    for (form, ev) in [
        (
            "evtx",
            mapped(WinRecord::from_evtx_json(&a).expect("record")),
        ),
        (
            "winlogbeat",
            mapped(WinRecord::from_winlogbeat(&b).expect("record")),
        ),
    ] {
        assert_eq!(ev.event.action.as_deref(), Some("wmi-operation"), "{form}");
        assert_eq!(ev.event.kind_type, ["info"], "{form}");
        assert_eq!(
            ev.process.pid,
            Some(6120),
            "{form}: the client, not WmiPrvSE"
        );
        assert_eq!(ev.user.name.as_deref(), Some("alice"), "{form}");
        assert_eq!(ev.user.domain.as_deref(), Some("CORP"), "{form}");
        assert_eq!(ev.field("host.os.type"), FieldValue::Str("windows"));
        assert_eq!(
            ev.field("picket.enumeration.method"),
            FieldValue::Str("wmi")
        );
        let e = ev.picket.enumeration.as_ref().expect("enumeration");
        assert_eq!(e.tables, ["MSFT_NetTCPConnection"], "{form}");
        assert_eq!(ev.field("picket.enumeration.query"), FieldValue::Str(&op));
        assert_eq!(
            ev.field("picket.enumeration.namespace"),
            FieldValue::Str("\\\\.\\root\\StandardCimv2")
        );
        assert_eq!(
            ev.field("picket.enumeration.is_local"),
            FieldValue::Bool(true)
        );
        assert!(ev.picket.record.is_some(), "{form}: the record is named");
    }
}

#[test]
fn malformed_and_other_records() {
    let mut no_pid = evtx_json(&operation("Win32_Share"));
    no_pid["Event"]["UserData"]["Operation_New"]
        .as_object_mut()
        .expect("object")
        .remove("ClientProcessId");
    let err = map_record(&WinRecord::from_evtx_json(&no_pid).expect("record"), None)
        .expect_err("no client");
    assert!(err.contains("ClientProcessId"), "{err}");
    let mut bad_pid = winlogbeat(&operation("Win32_Share"));
    bad_pid["winlog"]["user_data"]["ClientProcessId"] = json!("many");
    let err = map_record(&WinRecord::from_winlogbeat(&bad_pid).expect("record"), None)
        .expect_err("bad pid");
    assert!(err.contains("ClientProcessId"), "{err}");
    // Event 11 of another provider is not a WMI operation.
    let mut other = winlogbeat(&operation("Win32_Share"));
    other["winlog"]["provider_name"] = json!("Some-Other-Provider");
    other["winlog"]["channel"] = json!("Application");
    assert!(matches!(
        map_record(&WinRecord::from_winlogbeat(&other).expect("record"), None),
        Ok(Mapped::Ignored)
    ));
}
