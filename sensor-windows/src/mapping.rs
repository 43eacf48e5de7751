//! Sysmon event 1, Security event 4688 and WMI-Activity event 11 ([`crate::wmi`]) → [`Event`], Winlogbeat's way.
//!
//! (Over 600 lines: a third of it is the unit tests of the Sysmon/4688 field table.)
//!
//! Both inputs, a record of a binary EVTX file (rendered to JSON by the `evtx` crate, the
//! same shape `evtx_dump -o jsonl` writes) and a Winlogbeat JSON document, are first
//! reduced to a [`WinRecord`]: the event id, the header fields and the `EventData`
//! name/value pairs. One mapping then turns a `WinRecord` into an ECS event, so the two
//! inputs cannot drift apart.
//!
//! Field conventions follow Winlogbeat's Sysmon and Security modules:
//! - `process.args` is the command line split with `CommandLineToArgvW` rules
//!   ([`crate::cmdline`]); an empty command line (4688 with command-line auditing off)
//!   gives no `process.command_line` and no `process.args`, rather than invented ones.
//! - `user.id` is the SID when the record has one (4688 `SubjectUserSid`); Sysmon only
//!   names the user, and the id is filled for the built-in service accounts only
//!   ([`crate::sid::well_known_sid`]). The SID in the record header (`Security/@UserID`) is
//!   the account that *logged* the event (Sysmon runs as SYSTEM) and is kept as
//!   `winlog.user.identifier`, never as `user.id`.
//! - 4688 version 2's target account (`TargetUserSid`, when not the null SID) becomes
//!   `user.effective.*`.
//! - Process ids written in hex (`0x1a2b`, as 4688 does) and decimal are both read.
//! - The record itself is kept in the top-level `other` map as `winlog.{record_id,
//!   event_id, channel, computer_name, provider_name, user.identifier, event_data}` and
//!   `log.file.path`, with ECS `event.code`, `event.provider` and `event.module`.

use crate::cmdline::split_command_line;
use crate::sid::{split_account, well_known_sid};
use chrono::{DateTime, NaiveDateTime, Utc};
use sensor_core::event::{Event, HostOs, ParentProcess, Pe, UserRef};
use serde_json::{Map, Value};

/// `picket.collector` for replayed Windows events.
pub const REPLAY_COLLECTOR: &str = "replay-evtx";

/// The Sysmon provider name.
pub const SYSMON_PROVIDER: &str = "Microsoft-Windows-Sysmon";
/// The Security auditing provider name.
pub const SECURITY_PROVIDER: &str = "Microsoft-Windows-Security-Auditing";

/// One Windows event record, borrowed from its JSON form.
#[derive(Debug, Clone)]
pub struct WinRecord<'a> {
    /// `System/EventID`.
    pub event_id: u32,
    /// `System/EventRecordID`.
    pub record_id: Option<u64>,
    /// `System/Channel`.
    pub channel: Option<&'a str>,
    /// `System/Computer`.
    pub computer: Option<&'a str>,
    /// `System/Provider/@Name`.
    pub provider: Option<&'a str>,
    /// `System/TimeCreated/@SystemTime`.
    pub time_created: Option<DateTime<Utc>>,
    /// `System/Security/@UserID`: the account that logged the event.
    pub logged_by: Option<&'a str>,
    /// `EventData`: name → value.
    pub event_data: Option<&'a Map<String, Value>>,
}

/// The fields of a record's `UserData` (WMI-Activity and other providers write their
/// data there, inside one element named for the template, `Operation_New`): that
/// element's fields, or the object itself when it holds them directly (Winlogbeat's
/// `winlog.user_data`).
fn user_data(v: Option<&Value>) -> Option<&Map<String, Value>> {
    let obj = v?.as_object()?;
    let inner: Vec<&Map<String, Value>> = obj
        .iter()
        .filter(|(k, _)| !k.starts_with('#'))
        .filter_map(|(_, v)| v.as_object())
        .collect();
    match inner.as_slice() {
        [one] if obj.len() <= 2 => Some(one),
        _ => Some(obj),
    }
}

/// What a record became.
#[derive(Debug)]
pub enum Mapped {
    /// A process event.
    Event(Box<Event>),
    /// A well-formed record of a kind Picket does not use (another event id or provider).
    Ignored,
}

impl<'a> WinRecord<'a> {
    /// Reads the JSON the `evtx` crate renders for a record (`{"Event": {"System": ...,
    /// "EventData": ...}}`), as `evtx_dump -o json/jsonl` also writes it.
    pub fn from_evtx_json(value: &'a Value) -> Result<Self, String> {
        let event = value
            .get("Event")
            .ok_or("no \"Event\" element (not an evtx_dump JSON record)")?;
        let system = event.get("System").ok_or("no Event/System element")?;
        let event_id = system
            .get("EventID")
            .map(|v| v.get("#text").unwrap_or(v))
            .and_then(as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("no numeric Event/System/EventID")?;
        let attr = |elem: &str, name: &str| -> Option<&'a Value> {
            system.get(elem)?.get("#attributes")?.get(name)
        };
        Ok(WinRecord {
            event_id,
            record_id: system.get("EventRecordID").and_then(as_u64),
            channel: system.get("Channel").and_then(Value::as_str),
            computer: system.get("Computer").and_then(Value::as_str),
            provider: attr("Provider", "Name").and_then(Value::as_str),
            time_created: attr("TimeCreated", "SystemTime")
                .and_then(Value::as_str)
                .and_then(parse_time),
            logged_by: attr("Security", "UserID").and_then(Value::as_str),
            event_data: event
                .get("EventData")
                .and_then(Value::as_object)
                .or_else(|| user_data(event.get("UserData"))),
        })
    }

    /// Reads a Winlogbeat document (`winlog.*` with `@timestamp`), after dotted keys were
    /// expanded.
    pub fn from_winlogbeat(value: &'a Value) -> Result<Self, String> {
        let winlog = value
            .get("winlog")
            .ok_or("no \"winlog\" object (not a Winlogbeat document)")?;
        let event_id = winlog
            .get("event_id")
            .and_then(as_u64)
            .or_else(|| value.get("event")?.get("code").and_then(as_u64))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("no numeric winlog.event_id")?;
        Ok(WinRecord {
            event_id,
            record_id: winlog.get("record_id").and_then(as_u64),
            channel: winlog
                .get("channel")
                .or_else(|| winlog.get("log_name"))
                .and_then(Value::as_str),
            computer: winlog.get("computer_name").and_then(Value::as_str),
            provider: winlog.get("provider_name").and_then(Value::as_str),
            time_created: value
                .get("@timestamp")
                .and_then(Value::as_str)
                .and_then(parse_time),
            logged_by: winlog
                .get("user")
                .and_then(|u| u.get("identifier"))
                .and_then(Value::as_str),
            event_data: winlog
                .get("event_data")
                .and_then(Value::as_object)
                .or_else(|| user_data(winlog.get("user_data"))),
        })
    }

    fn is_sysmon(&self) -> bool {
        self.provider
            .map(|p| p.eq_ignore_ascii_case(SYSMON_PROVIDER))
            .or_else(|| {
                self.channel
                    .map(|c| c.to_ascii_lowercase().contains("sysmon"))
            })
            .unwrap_or(false)
    }

    fn is_security(&self) -> bool {
        self.provider
            .map(|p| p.eq_ignore_ascii_case(SECURITY_PROVIDER))
            .or_else(|| self.channel.map(|c| c.eq_ignore_ascii_case("Security")))
            .unwrap_or(false)
    }

    /// An `EventData` value as text; `None` when absent, empty or a placeholder (`-`, `?`).
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        let v = self.event_data?.get(name)?;
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        let t = s.trim();
        if t.is_empty() || t == "-" || t == "?" {
            None
        } else if t.len() == s.len() {
            Some(s)
        } else {
            Some(t.to_string())
        }
    }

    /// An `EventData` process id, decimal or `0x` hex.
    pub(crate) fn pid(&self, name: &str) -> Result<Option<u32>, String> {
        match self.event_data.and_then(|d| d.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => parse_pid(v)
                .map(Some)
                .ok_or_else(|| format!("{name} {v} is not a process id")),
        }
    }

    /// A process GUID, unless it is the null GUID Sysmon writes for unknown parents.
    fn guid(&self, name: &str) -> Option<String> {
        self.text(name).filter(|g| {
            g.trim_matches(|c| c == '{' || c == '}')
                .chars()
                .any(|c| c != '0' && c != '-')
        })
    }
}

/// Maps one record: Sysmon event 1 and Security 4688 become process start events, every
/// other record is [`Mapped::Ignored`]. An `Err` is a malformed record of a kind Picket
/// uses (no image, a process id that is not a number, no time), with the reason.
pub fn map_record(rec: &WinRecord<'_>, file: Option<&str>) -> Result<Mapped, String> {
    let event = match rec.event_id {
        1 if rec.is_sysmon() => map_sysmon_1(rec)?,
        4688 if rec.is_security() => map_security_4688(rec)?,
        11 if crate::wmi::is_wmi_activity(rec) => crate::wmi::map_operation(rec)?,
        _ => return Ok(Mapped::Ignored),
    };
    let mut event = event;
    finish(&mut event, rec, file);
    Ok(Mapped::Event(Box::new(event)))
}

fn timestamp(
    rec: &WinRecord<'_>,
    fallback: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, String> {
    rec.time_created
        .or(fallback)
        .ok_or_else(|| "no event time (TimeCreated / @timestamp)".to_string())
}

fn map_sysmon_1(rec: &WinRecord<'_>) -> Result<Event, String> {
    if rec.event_data.is_none() {
        return Err("Sysmon event 1 without EventData".into());
    }
    let utc_time = rec.text("UtcTime").as_deref().and_then(parse_time);
    let mut ev = Event::exec(timestamp(rec, utc_time)?);
    let image = rec.text("Image").ok_or("Sysmon event 1 without Image")?;
    ev.set_executable(&image);
    ev.process.pid = rec.pid("ProcessId")?;
    ev.process.entity_id = rec.guid("ProcessGuid");
    ev.process.start = utc_time;
    set_command_line(&mut ev, rec.text("CommandLine"));
    ev.process.working_directory = rec.text("CurrentDirectory");

    let mut pe = Pe {
        original_file_name: rec.text("OriginalFileName"),
        ..Pe::default()
    };
    for (field, ecs) in [
        ("FileVersion", "file_version"),
        ("Description", "description"),
        ("Product", "product"),
        ("Company", "company"),
    ] {
        if let Some(v) = rec.text(field) {
            pe.other.insert(ecs.into(), Value::String(v));
        }
    }
    if let Some(hashes) = rec.text("Hashes") {
        let mut hash = Map::new();
        for part in hashes.split(',') {
            if let Some((algo, value)) = part.split_once('=') {
                let algo = algo.trim().to_ascii_lowercase();
                let value = Value::String(value.trim().to_ascii_lowercase());
                if algo == "imphash" {
                    pe.other.insert("imphash".into(), value);
                } else {
                    hash.insert(algo, value);
                }
            }
        }
        if !hash.is_empty() {
            ev.process.other.insert("hash".into(), Value::Object(hash));
        }
    }
    if pe != Pe::default() {
        ev.process.pe = Some(pe);
    }

    let mut parent = ParentProcess {
        pid: rec.pid("ParentProcessId")?,
        entity_id: rec.guid("ParentProcessGuid"),
        command_line: rec.text("ParentCommandLine"),
        ..ParentProcess::default()
    };
    if let Some(image) = rec.text("ParentImage") {
        parent.name = Some(sensor_core::event::file_name(&image).to_string());
        parent.executable = Some(image);
    }
    if let Some(cmd) = &parent.command_line {
        parent.args = split_command_line(cmd);
    }
    if parent != ParentProcess::default() {
        ev.process.parent = Some(Box::new(parent));
    }

    if let Some(account) = rec.text("User") {
        let (domain, name) = split_account(&account);
        ev.user.id = well_known_sid(domain, name).map(str::to_string);
        ev.user.name = Some(name.to_string());
        ev.user.domain = domain.map(str::to_string);
    }
    Ok(ev)
}

fn map_security_4688(rec: &WinRecord<'_>) -> Result<Event, String> {
    if rec.event_data.is_none() {
        return Err("Security event 4688 without EventData".into());
    }
    let mut ev = Event::exec(timestamp(rec, None)?);
    let image = rec
        .text("NewProcessName")
        .ok_or("Security event 4688 without NewProcessName")?;
    ev.set_executable(&image);
    ev.process.pid = rec.pid("NewProcessId")?;
    ev.process.start = Some(ev.timestamp);
    set_command_line(&mut ev, rec.text("CommandLine"));

    let mut parent = ParentProcess {
        pid: rec.pid("ProcessId")?,
        ..ParentProcess::default()
    };
    if let Some(image) = rec.text("ParentProcessName") {
        parent.name = Some(sensor_core::event::file_name(&image).to_string());
        parent.executable = Some(image);
    }
    if parent != ParentProcess::default() {
        ev.process.parent = Some(Box::new(parent));
    }

    let name = rec.text("SubjectUserName");
    let domain = rec.text("SubjectDomainName");
    ev.user.id = rec.text("SubjectUserSid").or_else(|| {
        name.as_deref()
            .and_then(|n| well_known_sid(domain.as_deref(), n))
            .map(str::to_string)
    });
    ev.user.name = name;
    ev.user.domain = domain;
    if let Some(target) = rec.text("TargetUserSid").filter(|s| s != "S-1-0-0") {
        ev.user.effective = Some(UserRef {
            id: Some(target),
            name: rec.text("TargetUserName"),
            ..UserRef::default()
        });
    }
    Ok(ev)
}

fn set_command_line(ev: &mut Event, line: Option<String>) {
    if let Some(line) = line {
        let args = split_command_line(&line);
        ev.process.command_line = Some(line);
        if !args.is_empty() {
            ev.set_argv(args);
        }
    }
}

/// The fields every mapped record gets: host, collector, ECS `event.*` and the
/// Winlogbeat-style `winlog.*` and `log.file.path`.
fn finish(ev: &mut Event, rec: &WinRecord<'_>, file: Option<&str>) {
    ev.host.name = rec.computer.map(str::to_string);
    ev.host.os = Some(HostOs {
        os_type: Some("windows".into()),
        family: Some("windows".into()),
        ..HostOs::default()
    });
    ev.picket.collector = Some(REPLAY_COLLECTOR.into());
    let module = if crate::wmi::is_wmi_activity(rec) {
        "wmi"
    } else if rec.event_id == 1 {
        "sysmon"
    } else {
        "security"
    };
    ev.event
        .other
        .insert("code".into(), Value::String(rec.event_id.to_string()));
    if let Some(p) = rec.provider {
        ev.event
            .other
            .insert("provider".into(), Value::String(p.into()));
    }
    ev.event
        .other
        .insert("module".into(), Value::String(module.into()));

    let mut winlog = Map::new();
    if let Some(id) = rec.record_id {
        ev.picket.record = Some(id);
        winlog.insert("record_id".into(), Value::from(id));
    }
    winlog.insert("event_id".into(), Value::from(rec.event_id));
    if let Some(c) = rec.channel {
        winlog.insert("channel".into(), Value::String(c.into()));
    }
    if let Some(c) = rec.computer {
        winlog.insert("computer_name".into(), Value::String(c.into()));
    }
    if let Some(p) = rec.provider {
        winlog.insert("provider_name".into(), Value::String(p.into()));
    }
    if let Some(u) = rec.logged_by {
        let mut user = Map::new();
        user.insert("identifier".into(), Value::String(u.into()));
        winlog.insert("user".into(), Value::Object(user));
    }
    if let Some(data) = rec.event_data {
        winlog.insert("event_data".into(), Value::Object(data.clone()));
    }
    ev.other.insert("winlog".into(), Value::Object(winlog));
    if let Some(path) = file {
        let log = ev.log.get_or_insert_with(Default::default);
        log.file.get_or_insert_with(Default::default).path = Some(path.into());
    }
}

/// A JSON number, or a string holding a decimal or `0x` hex number.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

fn parse_number(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A process id: a JSON number, or a decimal or `0x` hex string, within `u32`.
pub fn parse_pid(v: &Value) -> Option<u32> {
    as_u64(v).and_then(|n| u32::try_from(n).ok())
}

/// An event time: RFC 3339 (`2019-05-24T01:33:53.1124866Z`) or Sysmon's `UtcTime`
/// (`2019-05-24 01:33:53.112`, UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sysmon_1() -> Value {
        // Record 1046 of LM_typical_IIS_webshell_sysmon_1_10_traces.evtx, as the evtx
        // crate renders it (the Hashes value shortened).
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1, "TimeCreated": {"#attributes": {"SystemTime": "2019-05-24T01:33:53.1825874Z"}},
            "EventRecordID": 1046, "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "IEWIN7", "Security": {"#attributes": {"UserID": "S-1-5-18"}}},
          "EventData": {"RuleName": "", "UtcTime": "2019-05-24 01:33:53.182",
            "ProcessGuid": "{365abb72-4a01-5ce7-0000-0010d5a1ac00}", "ProcessId": 788,
            "Image": "C:\\Windows\\System32\\net.exe", "CommandLine": "net  user",
            "CurrentDirectory": "c:\\windows\\system32\\inetsrv\\",
            "User": "IIS APPPOOL\\DefaultAppPool",
            "Hashes": "SHA1=AB,MD5=CD,IMPHASH=EF",
            "ParentProcessGuid": "{365abb72-4a01-5ce7-0000-0010ee9dac00}", "ParentProcessId": 2404,
            "ParentImage": "C:\\Windows\\System32\\cmd.exe",
            "ParentCommandLine": "\"c:\\windows\\system32\\cmd.exe\" /c net user"}}})
    }

    fn mapped(value: &Value) -> Event {
        let rec = WinRecord::from_evtx_json(value).expect("record");
        match map_record(&rec, Some("x.evtx")).expect("maps") {
            Mapped::Event(ev) => *ev,
            Mapped::Ignored => panic!("ignored"),
        }
    }

    #[test]
    fn sysmon_1_maps_to_ecs() {
        let ev = mapped(&sysmon_1());
        assert_eq!(ev.process.name.as_deref(), Some("net.exe"));
        assert_eq!(
            ev.process.executable.as_deref(),
            Some(r"C:\Windows\System32\net.exe")
        );
        assert_eq!(ev.process.args, vec!["net", "user"]);
        assert_eq!(ev.process.args_count, Some(2));
        assert_eq!(ev.process.command_line.as_deref(), Some("net  user"));
        assert_eq!(ev.process.pid, Some(788));
        let parent = ev.process.parent.as_deref().expect("parent");
        assert_eq!(parent.name.as_deref(), Some("cmd.exe"));
        assert_eq!(parent.pid, Some(2404));
        assert_eq!(
            parent.args,
            vec![r"c:\windows\system32\cmd.exe", "/c", "net", "user"]
        );
        assert_eq!(ev.user.name.as_deref(), Some("DefaultAppPool"));
        assert_eq!(ev.user.domain.as_deref(), Some("IIS APPPOOL"));
        assert_eq!(
            ev.user.id, None,
            "the header's S-1-5-18 is Sysmon's own account"
        );
        let pe = ev.process.pe.as_ref().expect("pe");
        assert_eq!(pe.other.get("imphash"), Some(&json!("ef")));
        assert_eq!(ev.process.other["hash"], json!({"sha1": "ab", "md5": "cd"}));
        assert_eq!(ev.other["winlog"]["user"]["identifier"], json!("S-1-5-18"));
        assert_eq!(
            ev.field("log.file.path"),
            sensor_core::event::FieldValue::Str("x.evtx")
        );
        assert_eq!(
            ev.process.start.map(|t| t.to_rfc3339()),
            Some("2019-05-24T01:33:53.182+00:00".to_string())
        );
    }

    #[test]
    fn sysmon_system_user_gets_well_known_sid() {
        let mut v = sysmon_1();
        v["Event"]["EventData"]["User"] = json!("NT AUTHORITY\\SYSTEM");
        assert_eq!(mapped(&v).user.id.as_deref(), Some("S-1-5-18"));
        v["Event"]["EventData"]["User"] = json!("NT AUTHORITY\\NETWORK SERVICE");
        assert_eq!(mapped(&v).user.id.as_deref(), Some("S-1-5-20"));
    }

    #[test]
    fn placeholders_and_null_guids_are_missing() {
        let mut v = sysmon_1();
        v["Event"]["EventData"]["ParentImage"] = json!("?");
        v["Event"]["EventData"]["ParentCommandLine"] = json!("");
        v["Event"]["EventData"]["ParentProcessGuid"] =
            json!("{00000000-0000-0000-0000-000000000000}");
        v["Event"]["EventData"]["OriginalFileName"] = json!("-");
        let ev = mapped(&v);
        let parent = ev.process.parent.as_deref().expect("parent pid stays");
        assert_eq!(parent.pid, Some(2404));
        assert_eq!(parent.name, None);
        assert_eq!(parent.entity_id, None);
        assert_eq!(
            ev.process
                .pe
                .as_ref()
                .and_then(|p| p.original_file_name.clone()),
            None
        );
    }

    #[test]
    fn malformed_and_ignored_records() {
        let mut v = sysmon_1();
        v["Event"]["EventData"]["ProcessId"] = json!("twelve");
        let rec = WinRecord::from_evtx_json(&v).expect("record");
        let err = map_record(&rec, None).expect_err("bad pid");
        assert!(err.contains("ProcessId"), "{err}");

        let mut v = sysmon_1();
        v["Event"]["EventData"]
            .as_object_mut()
            .expect("obj")
            .remove("Image");
        let rec = WinRecord::from_evtx_json(&v).expect("record");
        assert!(map_record(&rec, None).is_err());

        let mut v = sysmon_1();
        v["Event"]["System"]["EventID"] = json!(10);
        let rec = WinRecord::from_evtx_json(&v).expect("record");
        assert!(matches!(map_record(&rec, None), Ok(Mapped::Ignored)));

        // Event 1 of another provider is not a Sysmon process creation.
        let mut v = sysmon_1();
        v["Event"]["System"]["Provider"]["#attributes"]["Name"] =
            json!("Microsoft-Windows-Eventlog");
        let rec = WinRecord::from_evtx_json(&v).expect("record");
        assert!(matches!(map_record(&rec, None), Ok(Mapped::Ignored)));

        assert!(WinRecord::from_evtx_json(&json!({"x": 1})).is_err());
        assert!(WinRecord::from_evtx_json(&json!({"Event": {"System": {}}})).is_err());
    }

    #[test]
    fn security_4688_v2_with_hex_pids_and_target_user() {
        let v = json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4688, "Version": 2,
            "TimeCreated": {"#attributes": {"SystemTime": "2020-01-01T10:00:00.5Z"}},
            "EventRecordID": 77, "Channel": "Security", "Computer": "PC01.example.local"},
          "EventData": {"SubjectUserSid": "S-1-5-21-1-2-3-1106", "SubjectUserName": "user01",
            "SubjectDomainName": "EXAMPLE", "SubjectLogonId": "0x2ed80",
            "NewProcessId": "0x1a2b", "NewProcessName": "C:\\Windows\\System32\\net.exe",
            "TokenElevationType": "%%1938", "ProcessId": "0xe60",
            "CommandLine": "net use \\\\server\\share /persistent:no",
            "TargetUserSid": "S-1-0-0", "TargetUserName": "-", "TargetDomainName": "-",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
            "MandatoryLabel": "S-1-16-8192"}}});
        let ev = mapped(&v);
        assert_eq!(ev.process.pid, Some(0x1a2b));
        assert_eq!(
            ev.process.args,
            vec!["net", "use", r"\\server\share", "/persistent:no"]
        );
        let parent = ev.process.parent.as_deref().expect("parent");
        assert_eq!(parent.pid, Some(0xe60));
        assert_eq!(parent.name.as_deref(), Some("cmd.exe"));
        assert_eq!(ev.user.id.as_deref(), Some("S-1-5-21-1-2-3-1106"));
        assert_eq!(ev.user.effective, None, "null target SID");
        assert_eq!(ev.other["winlog"]["event_id"], json!(4688));

        let mut v2 = v.clone();
        v2["Event"]["EventData"]["TargetUserSid"] = json!("S-1-5-21-1-2-3-500");
        v2["Event"]["EventData"]["TargetUserName"] = json!("admin");
        let ev = mapped(&v2);
        let eff = ev.user.effective.expect("effective user");
        assert_eq!(eff.id.as_deref(), Some("S-1-5-21-1-2-3-500"));
        assert_eq!(eff.name.as_deref(), Some("admin"));
    }

    #[test]
    fn winlogbeat_documents_map_the_same_way() {
        let doc = json!({"@timestamp": "2019-05-24T01:33:53.182Z",
            "winlog": {"event_id": "1", "record_id": "1046", "channel": "Microsoft-Windows-Sysmon/Operational",
              "computer_name": "IEWIN7", "provider_name": "Microsoft-Windows-Sysmon",
              "event_data": {"ProcessId": "788", "Image": "C:\\Windows\\System32\\net.exe",
                "CommandLine": "net  user", "User": "IIS APPPOOL\\DefaultAppPool",
                "ParentProcessId": "2404", "ParentImage": "C:\\Windows\\System32\\cmd.exe",
                "OriginalFileName": "net.exe"}}});
        let rec = WinRecord::from_winlogbeat(&doc).expect("record");
        assert_eq!(rec.record_id, Some(1046));
        let Ok(Mapped::Event(ev)) = map_record(&rec, None) else {
            panic!("not mapped")
        };
        assert_eq!(ev.process.pid, Some(788));
        assert_eq!(ev.process.args, vec!["net", "user"]);
        assert_eq!(
            ev.process
                .pe
                .as_ref()
                .and_then(|p| p.original_file_name.as_deref()),
            Some("net.exe")
        );
        assert_eq!(ev.host.name.as_deref(), Some("IEWIN7"));
    }

    #[test]
    fn pids_and_times() {
        assert_eq!(parse_pid(&json!("0x1fc")), Some(0x1fc));
        assert_eq!(parse_pid(&json!("0X1FC")), Some(0x1fc));
        assert_eq!(parse_pid(&json!(2404)), Some(2404));
        assert_eq!(parse_pid(&json!("2404")), Some(2404));
        assert_eq!(parse_pid(&json!("0x100000000")), None, "beyond u32");
        assert_eq!(parse_pid(&json!("x")), None);
        assert_eq!(parse_pid(&json!(-1)), None);
        assert!(parse_time("2019-05-24T01:33:53.1124866Z").is_some());
        assert!(parse_time("2019-05-24 01:33:53.112").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}
