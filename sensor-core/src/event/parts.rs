//! The typed parts of an [`Event`](super::Event): `host`, `process`, `user`, `group`,
//! `source`, `cloud`, `user_agent`, `observer`, `log`, `error` and `picket`, each with
//! an `other` map that keeps the fields Picket does not model.

use super::de::ecs_object;
use super::{is_false, Extra};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `host.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    pub(super) fn is_empty(&self) -> bool {
        *self == Host::default()
    }
}

/// `host.os.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pe {
    /// `process.pe.original_file_name` from the VS_VERSIONINFO resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_file_name: Option<String>,
    /// Other `pe.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.code_signature.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tty {
    /// `process.tty.char_device.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub char_device: Option<CharDevice>,
    /// Other `process.tty.*` fields, preserved (Picket adds `name`, e.g. `/dev/pts/3`).
    #[serde(flatten)]
    pub other: Extra,
}

/// `process.tty.char_device.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CharDevice {
    /// Major device number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<u32>,
    /// Minor device number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<u32>,
    /// Other `char_device.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `user.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    pub(super) fn is_empty(&self) -> bool {
        *self == User::default()
    }
}

/// A user reference such as `user.effective`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UserRef {
    /// id (uid or SID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other fields (`user.effective.domain`), preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `group.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// `group.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `group.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other `group.*` fields (`group.Ext.real.id`), preserved.
    #[serde(flatten)]
    pub other: Extra,
}

impl Group {
    pub(super) fn is_empty(&self) -> bool {
        *self == Group::default()
    }
}

/// `source.*` (and the same shape for other network endpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CloudAccount {
    /// `cloud.account.id`: AWS account number, GCP project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Other `cloud.account.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `user_agent.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UserAgent {
    /// `user_agent.original`: the header as sent (`aws-cli/2.15.0 ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Other `user_agent.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `observer.*`: a device that reports events about itself or its users.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogFile {
    /// `log.file.path`: the file the event was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Other `log.file.*` fields, preserved.
    #[serde(flatten)]
    pub other: Extra,
}

/// `error.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    /// The privilege level a device command ran at (TACACS+ `priv-lvl`, 0–15), where
    /// the log records one. None means unknown, which is not admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privilege_level: Option<u8>,
    /// Where a logged command or login came from: `ssh`, `dcui`, `api` (ESXi's
    /// hostd/vpxa), `console`, or `shell` when the log does not say which shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `picket.enumeration.*`: what a connection-table read (`event.action:
    /// connection-table-read`) read, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Enumeration>,
    /// Other `picket.*` fields, preserved (collector specific: `cgroup_id`, `global_seq_num`, ...).
    #[serde(flatten)]
    pub other: Extra,
}

impl PicketFields {
    pub(super) fn is_empty(&self) -> bool {
        *self == PicketFields::default()
    }
}

/// `picket.enumeration.*`: one process's reads of the system's connection tables (or,
/// on Windows, its WMI queries of the network-connection classes) within a short
/// window, folded into one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Enumeration {
    /// How the tables were read: `procfs` (`/proc/net/<table>`), `sock_diag` (a
    /// NETLINK_SOCK_DIAG dump request) or `wmi` (a WMI/CIM query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tables read, each once, in the order first read: `/proc/net` names (`tcp`,
    /// `tcp6`, `udp`, `unix`, `packet`...; sock_diag requests are named the same way
    /// from family and protocol), or WMI class names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// How many reads were folded into this event (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Other `picket.enumeration.*` fields, preserved (`first_seen`, `last_seen`, `query`...).
    #[serde(flatten)]
    pub other: Extra,
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

ecs_object!(Host {
    "name" => leaf(name),
    "id" => leaf(id),
    "os" => optional(os),
});
ecs_object!(HostOs {
    "type" => leaf(os_type),
    "family" => leaf(family),
    "version" => leaf(version),
});
ecs_object!(Process {
    "pid" => leaf(pid),
    "entity_id" => leaf(entity_id),
    "name" => leaf(name),
    "executable" => leaf(executable),
    "args" => leaf(args),
    "args_count" => leaf(args_count),
    "command_line" => leaf(command_line),
    "working_directory" => leaf(working_directory),
    "start" => leaf(start),
    "interactive" => leaf(interactive),
    "pe" => optional(pe),
    "code_signature" => optional(code_signature),
    "parent" => optional(parent),
    "tty" => optional(tty),
    "exit_code" => leaf(exit_code),
});
ecs_object!(ParentProcess {
    "pid" => leaf(pid),
    "entity_id" => leaf(entity_id),
    "name" => leaf(name),
    "executable" => leaf(executable),
    "args" => leaf(args),
    "command_line" => leaf(command_line),
    "start" => leaf(start),
    "pe" => optional(pe),
});
ecs_object!(Pe {
    "original_file_name" => leaf(original_file_name),
});
ecs_object!(CodeSignature {
    "signing_id" => leaf(signing_id),
    "team_id" => leaf(team_id),
});
ecs_object!(Tty {
    "char_device" => optional(char_device),
});
ecs_object!(CharDevice {
    "major" => leaf(major),
    "minor" => leaf(minor),
});
ecs_object!(User {
    "id" => leaf(id),
    "name" => leaf(name),
    "domain" => leaf(domain),
    "effective" => optional(effective),
});
ecs_object!(UserRef {
    "id" => leaf(id),
    "name" => leaf(name),
});
ecs_object!(Group {
    "id" => leaf(id),
    "name" => leaf(name),
});
ecs_object!(Endpoint {
    "ip" => leaf(ip),
    "port" => leaf(port),
    "address" => leaf(address),
});
ecs_object!(Cloud {
    "provider" => leaf(provider),
    "account" => optional(account),
    "region" => leaf(region),
});
ecs_object!(CloudAccount {
    "id" => leaf(id),
});
ecs_object!(UserAgent {
    "original" => leaf(original),
});
ecs_object!(Observer {
    "hostname" => leaf(hostname),
    "ip" => leaf(ip),
    "vendor" => leaf(vendor),
    "product" => leaf(product),
    "type" => leaf(kind),
});
ecs_object!(Log {
    "file" => optional(file),
    "level" => leaf(level),
});
ecs_object!(LogFile {
    "path" => leaf(path),
});
ecs_object!(ErrorInfo {
    "code" => leaf(code),
    "message" => leaf(message),
});
ecs_object!(PicketFields {
    "collector" => leaf(collector),
    "login_uid" => leaf(login_uid),
    "session_id" => leaf(session_id),
    "args_truncated" => leaf(args_truncated),
    "terminal_app" => leaf(terminal_app),
    "user_groups" => leaf(user_groups),
    "user_shell" => leaf(user_shell),
    "record" => leaf(record),
    "ancestors" => leaf(ancestors),
    "privilege_level" => leaf(privilege_level),
    "origin" => leaf(origin),
    "enumeration" => optional(enumeration),
});
ecs_object!(Enumeration {
    "method" => leaf(method),
    "tables" => leaf(tables),
    "count" => leaf(count),
});
