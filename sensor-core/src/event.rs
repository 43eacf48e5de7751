//! `Event`: one event from any DET0320 source, in Elastic Common Schema (ECS) shape.
//!
//! The same type carries process lifecycle events from the host collectors (exec, fork,
//! exit) and command or API events from log sources (an ESXi shell command, a router's
//! accounted command, a cloud API call). The parts the analytics read are typed
//! (`event`, `host`, `user`, `process`, `source`, `cloud`, `user_agent`, `observer`,
//! `log`, `error`); everything else is preserved.
//!
//! Serialized, an event is one ECS JSON document (nested objects, ECS field names), so
//! the Elastic rule runs on it verbatim and it loads into Elastic/OpenSearch/Splunk
//! unmapped.
//!
//! Unknown-field rule (documented for `picket replay --format ecs`): input may use nested
//! objects or dotted keys (`"process.name": "ss"`); dotted keys are expanded first (see
//! [`expand_dotted_keys`]). Fields Picket does not model are *preserved*: they land in the
//! `other` map of the object they appear in (top level, `process`, `process.parent`,
//! `user`, `host`, `event`) and are written back unchanged, so a replayed document
//! round-trips losslessly. EQL queries can read them by path as well.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// JSON object holding fields Picket does not model; kept so events round-trip.
pub type Extra = Map<String, Value>;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One event in ECS shape: a process start, fork or end, or a command or API call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When the event happened (`@timestamp`).
    #[serde(rename = "@timestamp", default = "epoch")]
    pub timestamp: DateTime<Utc>,
    /// `event.*`: what kind of event this is.
    #[serde(default)]
    pub event: EventMeta,
    /// `host.*`: the host the event happened on.
    #[serde(default, skip_serializing_if = "Host::is_empty")]
    pub host: Host,
    /// `process.*`: the process.
    #[serde(default)]
    pub process: Process,
    /// `user.*`: the (real) user the process runs as.
    #[serde(default, skip_serializing_if = "User::is_empty")]
    pub user: User,
    /// `group.*`: the process's primary group.
    #[serde(default, skip_serializing_if = "Group::is_empty")]
    pub group: Group,
    /// `source.*`: where a command or API call came from (client address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Endpoint>,
    /// `cloud.*`: the cloud account and region of an API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Cloud>,
    /// `user_agent.*`: the client software of an API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<UserAgent>,
    /// `observer.*`: the device that reported the event (a router, a switch, ESXi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer: Option<Observer>,
    /// `log.*`: where the event was read from (file, syslog facility and severity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Log>,
    /// `error.*`: the error an API call or command returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// `picket.*`: Picket-specific facts (collector, login uid, terminal app, ...).
    #[serde(default, skip_serializing_if = "PicketFields::is_empty")]
    pub picket: PicketFields,
    /// Every other top-level field, preserved as-is (for example `winlog.*`).
    #[serde(flatten)]
    pub other: Extra,
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// `event.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMeta {
    /// `event.kind`: `event` for telemetry, `alert` for alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `event.category`, normally `["process"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "one_or_many")]
    pub category: Vec<String>,
    /// `event.type`: `["start"]`, `["end"]`, `["change"]` (fork is `start` with action `fork`).
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "one_or_many"
    )]
    pub kind_type: Vec<String>,
    /// `event.action`: `exec`, `fork`, `exit`, or the source's own word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `event.id`: unique id of this event (the source's own id where it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `event.provider`: the service or subsystem that produced the event
    /// (`ec2.amazonaws.com`, `Microsoft-Windows-Sysmon`, `shell`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `event.outcome`: `success`, `failure` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// `event.dataset`: the source format (`esxi.shell`, `aws.cloudtrail`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Other `event.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `host.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// `host.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `host.id` (machine id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `host.os.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<HostOs>,
    /// Other `host.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

impl Host {
    fn is_empty(&self) -> bool {
        *self == Host::default()
    }
}

/// `host.os.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostOs {
    /// `host.os.type`: `linux`, `macos`, `windows`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// `host.os.family`: `debian`, `darwin`, `windows`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `host.os.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Other `host.os.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// `process.pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `process.entity_id`: unique across pid reuse (see [`entity_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// `process.name`: file name of the executable (`ss`, `net.exe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `process.executable`: full path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// `process.args`: argv, including argv\[0\].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// `process.args_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_count: Option<u64>,
    /// `process.command_line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// `process.working_directory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// `process.start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// `process.interactive`: attached to a controlling terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    /// `process.pe.*` (Windows PE metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe: Option<Pe>,
    /// `process.code_signature.*` (macOS / Windows signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_signature: Option<CodeSignature>,
    /// `process.parent.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Box<ParentProcess>>,
    /// `process.tty.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<Tty>,
    /// `process.exit_code` (end events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Other `process.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.parent.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParentProcess {
    /// `process.parent.pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `process.parent.entity_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// `process.parent.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `process.parent.executable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// `process.parent.args`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// `process.parent.command_line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// `process.parent.start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// `process.parent.pe.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe: Option<Pe>,
    /// Other `process.parent.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.pe.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pe {
    /// `process.pe.original_file_name` from the VS_VERSIONINFO resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_file_name: Option<String>,
    /// Other `pe.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.code_signature.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeSignature {
    /// `process.code_signature.signing_id` (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_id: Option<String>,
    /// `process.code_signature.team_id` (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Other `code_signature.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.tty.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tty {
    /// `process.tty.char_device.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub char_device: Option<CharDevice>,
    /// Other `process.tty.*` fields, preserved (Picket adds `name`, e.g. `/dev/pts/3`).
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.tty.char_device.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CharDevice {
    /// Major device number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u32>,
    /// Minor device number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<u32>,
}

/// `user.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `user.id`: uid on Unix, SID string on Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `user.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `user.domain` (Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `user.effective.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<UserRef>,
    /// Other `user.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

impl User {
    fn is_empty(&self) -> bool {
        *self == User::default()
    }
}

/// A user reference such as `user.effective`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRef {
    /// id (uid or SID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `group.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// `group.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `group.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Group {
    fn is_empty(&self) -> bool {
        *self == Group::default()
    }
}

/// `source.*` (and the same shape for other network endpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `source.ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `source.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `source.address`: the address as the source wrote it (an IP or a host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Other `source.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `cloud.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cloud {
    /// `cloud.provider`: `aws`, `gcp`, `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `cloud.account.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<CloudAccount>,
    /// `cloud.region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Other `cloud.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `cloud.account.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudAccount {
    /// `cloud.account.id`: AWS account number, GCP project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Other `cloud.account.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `user_agent.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserAgent {
    /// `user_agent.original`: the header as sent (`aws-cli/2.15.0 ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Other `user_agent.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `observer.*`: a device that reports events about itself or its users.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observer {
    /// `observer.hostname`: the device's own name (from the syslog header or the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `observer.ip`: the address it sent from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `observer.vendor`: `Cisco`, `Juniper`, `VMware`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// `observer.product`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `observer.type`: `router`, `switch`, `firewall`, `hypervisor`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Other `observer.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `log.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// `log.file.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<LogFile>,
    /// `log.level`: the source's own level word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Other `log.*` fields (for example `log.syslog.*`), preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `log.file.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFile {
    /// `log.file.path`: the file the event was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Other `log.file.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `error.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// `error.code` (`AccessDenied`, `UnauthorizedOperation`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `error.message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Other `error.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `picket.*`: facts Picket records that ECS has no field for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PicketFields {
    /// Which collector saw the event: `linux-ebpf`, `macos-eslogger`, `windows-etw`,
    /// `replay-ecs`, `replay-eslogger`, `replay-evtx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
    /// Login (audit) uid: who logged in, whatever `su`/`sudo` did since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_uid: Option<u32>,
    /// Kernel session id (Linux) or audit session id (macOS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u32>,
    /// The argument list was cut short by the collector's capacity.
    #[serde(default, skip_serializing_if = "is_false")]
    pub args_truncated: bool,
    /// Terminal application the process descends from (macOS: `Terminal.app`, `iTerm2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_app: Option<String>,
    /// Groups of the effective user (Linux: from the group database), for
    /// UserContextScope's admin test.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_groups: Vec<String>,
    /// Login shell of the effective user, for UserContextScope's service-account test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_shell: Option<String>,
    /// Where in its source the event was read: the EVTX record id, or the 1-based line
    /// number of a line format. With `log.file.path` it names the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// Names of the ancestors, nearest first (parent, grandparent, ...), from the process table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<Ancestor>,
    /// Other `picket.*` fields, preserved (collector specific: `cgroup_id`, `global_seq_num`, ...).
    #[serde(flatten)]
    pub other: Extra,
}

impl PicketFields {
    fn is_empty(&self) -> bool {
        *self == PicketFields::default()
    }
}

/// One ancestor of a process, as the process table knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ancestor {
    /// pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// process name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// executable path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
}

/// The lifecycle step an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// A new program image started (exec / process creation).
    Start,
    /// A process was forked (same image as its parent).
    Fork,
    /// A process ended.
    End,
    /// Anything else.
    Other,
}

impl Event {
    /// A new `start` (exec) event at `timestamp`, with ECS `event.*` filled in.
    pub fn exec(timestamp: DateTime<Utc>) -> Self {
        Self::with_action(timestamp, "start", "exec")
    }

    /// A new fork event (`event.type: start`, `event.action: fork`).
    pub fn fork(timestamp: DateTime<Utc>) -> Self {
        Self::with_action(timestamp, "start", "fork")
    }

    /// A new `end` (exit) event.
    pub fn exit(timestamp: DateTime<Utc>) -> Self {
        Self::with_action(timestamp, "end", "exit")
    }

    fn with_action(timestamp: DateTime<Utc>, kind_type: &str, action: &str) -> Self {
        Event {
            timestamp,
            event: EventMeta {
                kind: Some("event".into()),
                category: vec!["process".into()],
                kind_type: vec![kind_type.into()],
                action: Some(action.into()),
                ..EventMeta::default()
            },
            ..Event::default()
        }
    }

    /// Which lifecycle step this is, from `event.type` and `event.action`.
    pub fn lifecycle(&self) -> Lifecycle {
        let action = self.event.action.as_deref().unwrap_or("");
        if action.eq_ignore_ascii_case("fork") {
            return Lifecycle::Fork;
        }
        if self.event.kind_type.iter().any(|t| t == "start") {
            Lifecycle::Start
        } else if self.event.kind_type.iter().any(|t| t == "end") {
            Lifecycle::End
        } else {
            Lifecycle::Other
        }
    }

    /// Sets `process.args`, `args_count`, `command_line` (if unset) and `name` (if unset)
    /// from argv and the executable path.
    pub fn set_argv(&mut self, args: Vec<String>) {
        self.process.args_count = Some(args.len() as u64);
        if self.process.command_line.is_none() {
            self.process.command_line = Some(join_command_line(&args));
        }
        self.process.args = args;
    }

    /// Sets `process.executable` and derives `process.name` from its file name.
    pub fn set_executable(&mut self, path: &str) {
        self.process.name = Some(file_name(path).to_string());
        self.process.executable = Some(path.to_string());
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serializing plain structs and JSON maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one ECS JSON document (nested or dotted keys).
    pub fn from_json_value(mut value: Value) -> Result<Self, serde_json::Error> {
        expand_dotted_keys(&mut value);
        serde_json::from_value(value)
    }
}

/// Last path component, for both `/` and `\` separators.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Joins argv into a shell-readable command line: arguments with spaces or quotes are
/// quoted, so the line reads back the way it was run.
pub fn join_command_line(args: &[String]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let needs_quotes = arg.is_empty()
            || arg
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'');
        if needs_quotes {
            out.push('\'');
            out.push_str(&arg.replace('\'', "'\\''"));
            out.push('\'');
        } else {
            out.push_str(arg);
        }
    }
    out
}

/// A stable, pid-reuse-proof process id: host id, pid and start time in ns.
pub fn entity_id(host_id: &str, pid: u32, start: DateTime<Utc>) -> String {
    format!(
        "{host_id}-{pid}-{}",
        start.timestamp_nanos_opt().unwrap_or_default()
    )
}

/// Expands dotted keys (`{"process.name": "x"}`) into nested objects, recursively,
/// merging with objects that already exist. A dotted key that collides with a
/// non-object value keeps the existing value (first writer wins).
pub fn expand_dotted_keys(value: &mut Value) {
    let Value::Object(map) = value else { return };
    if map.keys().any(|k| k.contains('.') && k != "@timestamp") {
        let old = std::mem::take(map);
        for (key, v) in old {
            insert_path(map, &key, v);
        }
    }
    for v in map.values_mut() {
        expand_dotted_keys(v);
    }
}

fn insert_path(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        Some((head, rest)) if !head.is_empty() && !rest.is_empty() => {
            let slot = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = slot {
                insert_path(inner, rest, value);
            }
        }
        _ => match (map.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                for (k, v) in incoming {
                    insert_path(existing, &k, v);
                }
            }
            (Some(_), _) => {}
            (None, value) => {
                map.insert(key.to_string(), value);
            }
        },
    }
}

/// Accepts `"start"` or `["start"]` for ECS fields that are arrays.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        })
    }
}

/// A value read from an event by ECS path, for the analytics and the EQL engine.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// The field is absent (EQL `null`).
    Missing,
    /// A string.
    Str(&'a str),
    /// An array of strings (`process.args`, `event.type`).
    Strs(&'a [String]),
    /// A number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Any other JSON value (preserved unknown fields).
    Json(&'a Value),
}

impl Event {
    /// Reads a field by its ECS path (`process.parent.name`, `user.id`, ...). Modelled
    /// fields are read directly; others are looked up in the preserved `other` maps.
    pub fn field<'a>(&'a self, path: &str) -> FieldValue<'a> {
        use FieldValue::*;
        let s = |o: &'a Option<String>| o.as_deref().map_or(Missing, Str);
        let n = |o: Option<u32>| o.map_or(Missing, |v| Int(i64::from(v)));
        let strs = |v: &'a Vec<String>| if v.is_empty() { Missing } else { Strs(v) };
        let p = &self.process;
        let parent = p.parent.as_deref();
        match path {
            "event.kind" => s(&self.event.kind),
            "event.type" => strs(&self.event.kind_type),
            "event.category" => strs(&self.event.category),
            "event.action" => s(&self.event.action),
            "event.id" => s(&self.event.id),
            "event.provider" => s(&self.event.provider),
            "event.outcome" => s(&self.event.outcome),
            "event.dataset" => s(&self.event.dataset),
            "source.ip" => self.source.as_ref().map_or(Missing, |x| s(&x.ip)),
            "source.port" => self
                .source
                .as_ref()
                .and_then(|x| x.port)
                .map_or(Missing, |p| Int(i64::from(p))),
            "source.address" => self.source.as_ref().map_or(Missing, |x| s(&x.address)),
            "cloud.provider" => self.cloud.as_ref().map_or(Missing, |c| s(&c.provider)),
            "cloud.region" => self.cloud.as_ref().map_or(Missing, |c| s(&c.region)),
            "cloud.account.id" => self
                .cloud
                .as_ref()
                .and_then(|c| c.account.as_ref())
                .map_or(Missing, |a| s(&a.id)),
            "user_agent.original" => self.user_agent.as_ref().map_or(Missing, |u| s(&u.original)),
            "observer.hostname" => self.observer.as_ref().map_or(Missing, |o| s(&o.hostname)),
            "observer.ip" => self.observer.as_ref().map_or(Missing, |o| s(&o.ip)),
            "observer.vendor" => self.observer.as_ref().map_or(Missing, |o| s(&o.vendor)),
            "observer.product" => self.observer.as_ref().map_or(Missing, |o| s(&o.product)),
            "observer.type" => self.observer.as_ref().map_or(Missing, |o| s(&o.kind)),
            "log.level" => self.log.as_ref().map_or(Missing, |l| s(&l.level)),
            "log.file.path" => self
                .log
                .as_ref()
                .and_then(|l| l.file.as_ref())
                .map_or(Missing, |f| s(&f.path)),
            "error.code" => self.error.as_ref().map_or(Missing, |e| s(&e.code)),
            "error.message" => self.error.as_ref().map_or(Missing, |e| s(&e.message)),
            "host.name" => s(&self.host.name),
            "host.id" => s(&self.host.id),
            "host.os.type" => self.host.os.as_ref().map_or(Missing, |o| s(&o.os_type)),
            "host.os.family" => self.host.os.as_ref().map_or(Missing, |o| s(&o.family)),
            "process.pid" => n(p.pid),
            "process.entity_id" => s(&p.entity_id),
            "process.name" => s(&p.name),
            "process.executable" => s(&p.executable),
            "process.args" => strs(&p.args),
            "process.args_count" => p.args_count.map_or(Missing, |c| Int(c as i64)),
            "process.command_line" => s(&p.command_line),
            "process.working_directory" => s(&p.working_directory),
            "process.interactive" => p.interactive.map_or(Missing, Bool),
            "process.tty.name" => match p.tty.as_ref().and_then(|t| t.other.get("name")) {
                Some(Value::String(name)) => Str(name),
                _ => Missing,
            },
            "process.tty.char_device.major" => p
                .tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map_or(Missing, |c| n(c.major)),
            "process.tty.char_device.minor" => p
                .tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map_or(Missing, |c| n(c.minor)),
            "process.pe.original_file_name" => {
                p.pe.as_ref()
                    .map_or(Missing, |pe| s(&pe.original_file_name))
            }
            "process.code_signature.signing_id" => p
                .code_signature
                .as_ref()
                .map_or(Missing, |c| s(&c.signing_id)),
            "process.code_signature.team_id" => {
                p.code_signature.as_ref().map_or(Missing, |c| s(&c.team_id))
            }
            "process.parent.pid" => parent.map_or(Missing, |pp| n(pp.pid)),
            "process.parent.entity_id" => parent.map_or(Missing, |pp| s(&pp.entity_id)),
            "process.parent.name" => parent.map_or(Missing, |pp| s(&pp.name)),
            "process.parent.executable" => parent.map_or(Missing, |pp| s(&pp.executable)),
            "process.parent.args" => parent.map_or(Missing, |pp| strs(&pp.args)),
            "process.parent.command_line" => parent.map_or(Missing, |pp| s(&pp.command_line)),
            "process.parent.pe.original_file_name" => parent
                .and_then(|pp| pp.pe.as_ref())
                .map_or(Missing, |pe| s(&pe.original_file_name)),
            "user.id" => s(&self.user.id),
            "user.name" => s(&self.user.name),
            "user.domain" => s(&self.user.domain),
            "user.effective.id" => self.user.effective.as_ref().map_or(Missing, |u| s(&u.id)),
            "user.effective.name" => self.user.effective.as_ref().map_or(Missing, |u| s(&u.name)),
            "group.id" => s(&self.group.id),
            "group.name" => s(&self.group.name),
            "picket.collector" => s(&self.picket.collector),
            "picket.login_uid" => n(self.picket.login_uid),
            "picket.terminal_app" => s(&self.picket.terminal_app),
            "picket.args_truncated" => Bool(self.picket.args_truncated),
            "picket.user_groups" => strs(&self.picket.user_groups),
            "picket.user_shell" => s(&self.picket.user_shell),
            "picket.record" => self
                .picket
                .record
                .map_or(Missing, |r| i64::try_from(r).map_or(Missing, Int)),
            _ => self.extra_field(path),
        }
    }

    /// Slow path for fields outside the model: finds the typed object deepest along
    /// `path` and walks the rest in its preserved `other` map.
    fn extra_field<'a>(&'a self, path: &str) -> FieldValue<'a> {
        let parts: Vec<&str> = path.split('.').collect();
        let (extra, rest): (Option<&'a Extra>, &[&str]) = match parts.as_slice() {
            ["process", "parent", "pe", rest @ ..] => (
                self.process
                    .parent
                    .as_deref()
                    .and_then(|p| p.pe.as_ref())
                    .map(|pe| &pe.other),
                rest,
            ),
            ["process", "parent", rest @ ..] => {
                (self.process.parent.as_deref().map(|p| &p.other), rest)
            }
            ["process", "pe", rest @ ..] => (self.process.pe.as_ref().map(|pe| &pe.other), rest),
            ["process", "code_signature", rest @ ..] => {
                (self.process.code_signature.as_ref().map(|c| &c.other), rest)
            }
            ["process", "tty", rest @ ..] => (self.process.tty.as_ref().map(|t| &t.other), rest),
            ["process", rest @ ..] => (Some(&self.process.other), rest),
            ["event", rest @ ..] => (Some(&self.event.other), rest),
            ["host", "os", rest @ ..] => (self.host.os.as_ref().map(|o| &o.other), rest),
            ["host", rest @ ..] => (Some(&self.host.other), rest),
            ["user", rest @ ..] => (Some(&self.user.other), rest),
            ["source", rest @ ..] => (self.source.as_ref().map(|x| &x.other), rest),
            ["cloud", "account", rest @ ..] => (
                self.cloud
                    .as_ref()
                    .and_then(|c| c.account.as_ref())
                    .map(|a| &a.other),
                rest,
            ),
            ["cloud", rest @ ..] => (self.cloud.as_ref().map(|x| &x.other), rest),
            ["user_agent", rest @ ..] => (self.user_agent.as_ref().map(|x| &x.other), rest),
            ["observer", rest @ ..] => (self.observer.as_ref().map(|x| &x.other), rest),
            ["log", "file", rest @ ..] => (
                self.log
                    .as_ref()
                    .and_then(|l| l.file.as_ref())
                    .map(|f| &f.other),
                rest,
            ),
            ["log", rest @ ..] => (self.log.as_ref().map(|x| &x.other), rest),
            ["error", rest @ ..] => (self.error.as_ref().map(|x| &x.other), rest),
            ["picket", rest @ ..] => (Some(&self.picket.other), rest),
            rest => (Some(&self.other), rest),
        };
        let Some((first, rest)) = rest.split_first() else {
            return FieldValue::Missing;
        };
        let mut cur = extra.and_then(|m| m.get(*first));
        for part in rest {
            cur = cur.and_then(|v| v.get(part));
        }
        match cur {
            None | Some(Value::Null) => FieldValue::Missing,
            Some(Value::String(s)) => FieldValue::Str(s),
            Some(Value::Bool(b)) => FieldValue::Bool(*b),
            Some(v @ Value::Number(n)) => n.as_i64().map_or(FieldValue::Json(v), FieldValue::Int),
            Some(v) => FieldValue::Json(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_expand_and_unknown_fields_round_trip() {
        let line = r#"{"@timestamp":"2024-01-02T03:04:05.123Z","event.type":"start","process.name":"ss","process.args":["ss","-tan"],"process.parent":{"name":"bash","x_custom":1},"winlog":{"record_id":7},"user.id":"1000"}"#;
        let ev = Event::from_json_value(serde_json::from_str(line).expect("json")).expect("ecs");
        assert_eq!(ev.process.name.as_deref(), Some("ss"));
        assert_eq!(ev.field("process.args"), FieldValue::Strs(&ev.process.args));
        assert_eq!(ev.field("process.parent.name"), FieldValue::Str("bash"));
        assert_eq!(ev.field("winlog.record_id"), FieldValue::Int(7));
        assert_eq!(ev.field("process.parent.x_custom"), FieldValue::Int(1));
        assert_eq!(ev.lifecycle(), Lifecycle::Start);
        let again = Event::from_json_value(serde_json::from_str(&ev.to_json_line()).expect("json"))
            .expect("ecs");
        assert_eq!(ev, again);
    }

    #[test]
    fn tty_fields_are_readable_by_path() {
        let line =
            r#"{"process":{"tty":{"name":"/dev/pts/3","char_device":{"major":136,"minor":3}}}}"#;
        let ev = Event::from_json_value(serde_json::from_str(line).expect("json")).expect("ecs");
        assert_eq!(ev.field("process.tty.name"), FieldValue::Str("/dev/pts/3"));
        assert_eq!(
            ev.field("process.tty.char_device.major"),
            FieldValue::Int(136)
        );
    }

    #[test]
    fn missing_fields_are_missing() {
        let ev = Event::exec(Utc::now());
        assert_eq!(ev.field("user.id"), FieldValue::Missing);
        assert_eq!(ev.field("process.parent.name"), FieldValue::Missing);
        assert_eq!(ev.field("no.such.field"), FieldValue::Missing);
    }

    #[test]
    fn command_line_quotes_arguments_with_spaces() {
        let args = vec!["sh".to_string(), "-c".into(), "cat /proc/net/tcp".into()];
        assert_eq!(join_command_line(&args), "sh -c 'cat /proc/net/tcp'");
    }
}
