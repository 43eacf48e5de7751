//! `Microsoft-Windows-WMI-Activity` operation events → [`Event`]s: which WMI classes a
//! client process asked for, whatever that process is called (`Get-NetTCPConnection`,
//! `Get-CimInstance MSFT_NetTCPConnection`, `wmic netuse` all reach WMI this way).
//!
//! Event 11 (`Operation_New`, written under `UserData`, not `EventData`) is the start of
//! one WMI operation, with `CorrelationId`, `GroupOperationId`, `OperationId`,
//! `Operation` (`Start IWbemServices::ExecQuery - root\cimv2 : select * from
//! Win32_NetworkConnection`, or `... CreateInstanceEnum - root\StandardCimv2 :
//! MSFT_NetTCPConnection`), `ClientMachine`, `ClientMachineFQDN`, `User`,
//! `ClientProcessId`, `ClientProcessCreationTime`, `NamespaceName` and `IsLocal`. Each
//! becomes one `wmi-operation` event (`event.category: process`, `event.type: info`)
//! naming the client process (`process.pid`; the process table adds its image and
//! ancestry), the user, and in `picket.enumeration` the method `wmi`, the classes the
//! operation names (`tables`) and the operation text and namespace. Which classes are
//! discovery is the analytics' call (AN0903's `[analytics.an0903.wmi_queries]`).

use crate::etw::{decode_utf16z, filetime_to_utc};
use crate::mapping::WinRecord;
use sensor_core::event::{Enumeration, Event, EventMeta, User};
use serde_json::{Map, Value};

/// The provider's GUID, which the live session enables.
pub const WMI_ACTIVITY_GUID: &str = "1418ef04-b0b4-4623-bf7e-d74ab47bbdaa";

/// The provider's name.
pub const WMI_ACTIVITY_PROVIDER: &str = "Microsoft-Windows-WMI-Activity";

/// `event.action` of a WMI operation.
pub const WMI_OPERATION: &str = "wmi-operation";

/// True for a WMI-Activity record (by provider, else by channel).
pub fn is_wmi_activity(rec: &WinRecord<'_>) -> bool {
    rec.provider
        .map(|p| p.eq_ignore_ascii_case(WMI_ACTIVITY_PROVIDER))
        .or_else(|| {
            rec.channel.map(|c| {
                c.to_ascii_lowercase()
                    .starts_with("microsoft-windows-wmi-activity")
            })
        })
        .unwrap_or(false)
}

/// The WMI classes an operation names: the identifiers after the namespace that look
/// like class names (a schema prefix, an underscore, a name: `Win32_NetworkConnection`,
/// `MSFT_NetTCPConnection`, `CIM_Process`), each once, in order.
pub fn classes_in(operation: &str) -> Vec<String> {
    // "Start IWbemServices::ExecQuery - root\cimv2 : select * from Win32_Share"
    let target = operation
        .split_once(" : ")
        .map_or(operation, |(_, rest)| rest);
    let mut out: Vec<String> = Vec::new();
    for word in target.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let Some((schema, name)) = word.split_once('_') else {
            continue;
        };
        let class_like = !schema.is_empty()
            && schema.starts_with(|c: char| c.is_ascii_alphabetic())
            && !name.is_empty();
        if class_like && !out.iter().any(|o| o.eq_ignore_ascii_case(word)) {
            out.push(word.to_string());
        }
    }
    out
}

/// Event 11 as an event; `Err` when it names no client process or operation.
pub fn map_operation(rec: &WinRecord<'_>) -> Result<Event, String> {
    let operation = rec
        .text("Operation")
        .ok_or("WMI-Activity event 11 without Operation")?;
    let pid = rec
        .pid("ClientProcessId")?
        .ok_or("WMI-Activity event 11 without ClientProcessId")?;
    let time = rec
        .time_created
        .ok_or("no event time (TimeCreated / @timestamp)")?;
    let mut ev = Event {
        timestamp: time,
        event: EventMeta {
            kind: Some("event".into()),
            category: vec!["process".into()],
            kind_type: vec!["info".into()],
            action: Some(WMI_OPERATION.into()),
            ..EventMeta::default()
        },
        ..Event::default()
    };
    ev.process.pid = Some(pid);
    if let Some(user) = rec.text("User") {
        let (domain, name) = match user.split_once('\\') {
            Some((d, n)) => (Some(d.to_string()), n.to_string()),
            None => (None, user),
        };
        ev.user = User {
            name: Some(name),
            domain,
            ..User::default()
        };
    }
    let mut e = Enumeration {
        method: Some("wmi".into()),
        tables: classes_in(&operation),
        count: Some(1),
        ..Enumeration::default()
    };
    e.other.insert("query".into(), Value::String(operation));
    if let Some(ns) = rec.text("NamespaceName") {
        e.other.insert("namespace".into(), Value::String(ns));
    }
    if let Some(m) = rec.text("ClientMachine") {
        e.other.insert("client_machine".into(), Value::String(m));
    }
    if let Some(local) = rec.text("IsLocal") {
        e.other.insert(
            "is_local".into(),
            Value::Bool(local.eq_ignore_ascii_case("true")),
        );
    }
    ev.picket.enumeration = Some(e);
    Ok(ev)
}

/// One live event 11 as the ETW session reads it: strings as the raw UTF-16LE bytes of
/// their properties (decoded here, bounds-checked, never by the ETW parser), the client
/// pid, and the event's FILETIME.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveOperation {
    /// The event's timestamp (FILETIME, 100 ns since 1601).
    pub filetime: i64,
    /// `ClientProcessId`.
    pub client_pid: Option<u32>,
    /// `Operation`, `User`, `NamespaceName`, `ClientMachine`, `IsLocal` (raw UTF-16LE).
    pub operation: Option<Vec<u8>>,
    /// `User`.
    pub user: Option<Vec<u8>>,
    /// `NamespaceName`.
    pub namespace: Option<Vec<u8>>,
    /// `ClientMachine`.
    pub client_machine: Option<Vec<u8>>,
}

/// A live event 11 through the same mapping as a replayed one; `None` when it names no
/// operation or client (counted by the caller).
pub fn map_live(op: &LiveOperation, collector: &str) -> Option<Event> {
    let mut data = Map::new();
    let mut put = |k: &str, v: &Option<Vec<u8>>| {
        if let Some(b) = v {
            data.insert(k.into(), Value::String(decode_utf16z(b)));
        }
    };
    put("Operation", &op.operation);
    put("User", &op.user);
    put("NamespaceName", &op.namespace);
    put("ClientMachine", &op.client_machine);
    if let Some(pid) = op.client_pid {
        data.insert("ClientProcessId".into(), Value::from(pid));
    }
    let rec = WinRecord {
        event_id: 11,
        record_id: None,
        channel: None,
        computer: None,
        provider: Some(WMI_ACTIVITY_PROVIDER),
        time_created: filetime_to_utc(op.filetime),
        logged_by: None,
        event_data: Some(&data),
    };
    let mut ev = map_operation(&rec).ok()?;
    ev.picket.collector = Some(collector.into());
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn a_live_event_maps_like_a_replayed_one() {
        let op = LiveOperation {
            filetime: 134_170_000_000_000_000,
            client_pid: Some(77),
            operation: Some(utf16z(
                r"Start IWbemServices::ExecQuery - root\cimv2 : select * from Win32_ServerSession",
            )),
            user: Some(utf16z(r"CORP\bob")),
            namespace: Some(utf16z(r"\\.\root\cimv2")),
            client_machine: None,
        };
        let ev = map_live(&op, "windows-etw").expect("maps");
        assert_eq!(ev.process.pid, Some(77));
        assert_eq!(ev.picket.collector.as_deref(), Some("windows-etw"));
        assert_eq!(ev.user.name.as_deref(), Some("bob"));
        assert_eq!(
            ev.picket.enumeration.as_ref().map(|e| e.tables.clone()),
            Some(vec!["Win32_ServerSession".to_string()])
        );
        assert!(map_live(&LiveOperation::default(), "windows-etw").is_none());
    }

    #[test]
    fn classes_are_read_from_queries_and_enumerations() {
        assert_eq!(
            classes_in(
                r"Start IWbemServices::ExecQuery - root\cimv2 : select * from Win32_NetworkConnection"
            ),
            vec!["Win32_NetworkConnection"]
        );
        assert_eq!(
            classes_in(
                r"Start IWbemServices::CreateInstanceEnum - root\StandardCimv2 : MSFT_NetTCPConnection"
            ),
            vec!["MSFT_NetTCPConnection"]
        );
        assert_eq!(
            classes_in(
                r"Start IWbemServices::GetObject - root\cimv2 : Win32_ServerSession.UserName='x'"
            ),
            vec!["Win32_ServerSession"]
        );
        // The namespace (root\cimv2) and keywords are not classes.
        assert!(classes_in(
            r"Start IWbemServices::ExecQuery - root\cimv2 : select Name from __NAMESPACE"
        )
        .is_empty());
    }
}
