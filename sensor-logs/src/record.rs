//! The contract between the device parsers and the rest of Picket: a [`LogRecord`] is
//! what one log line said a person did on a device (ran a command, logged in), and
//! [`LogRecord::into_event`] is the one place it becomes an ECS [`Event`].
//!
//! The shape the analytics rely on (see `docs/ARCHITECTURE.md`, "Log events"):
//! - `observer.type` says what kind of device: `hypervisor` (ESXi, AN0906) or one of
//!   `router`, `switch`, `firewall`, `network` (a network device, AN0907);
//! - a command is `event.category: process`, `event.type: info`, `event.action:
//!   command`, with `process.command_line` (and `process.name`, `process.args` split
//!   from it); a login is `event.category: authentication`, `event.action: login`; a
//!   session start or end is `event.category: session`, `event.action:
//!   session-start` / `session-end`;
//! - `host.name` is the device (its own name, else its address), so per-host state is
//!   per device; `observer.*` names it too;
//! - `user.name`, `picket.privilege_level`, `picket.origin`, `source.*` (the client the
//!   person came from) where the log records them.

use crate::JsonMap;
use chrono::{DateTime, Utc};
use sensor_core::event::{Endpoint, Event, EventMeta, Host, Observer, Process, User, UserAgent};

/// What a log line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A command was run (a shell command, an accounted CLI command).
    Command,
    /// A login (SSH, the management API, the DCUI), successful or not.
    Login,
    /// An interactive session started.
    SessionStart,
    /// A session ended.
    SessionEnd,
}

impl Action {
    /// `event.action`.
    pub fn word(self) -> &'static str {
        match self {
            Action::Command => "command",
            Action::Login => "login",
            Action::SessionStart => "session-start",
            Action::SessionEnd => "session-end",
        }
    }
}

/// What kind of device logged the line (`observer.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// VMware ESXi.
    Hypervisor,
    /// A router.
    Router,
    /// A switch.
    Switch,
    /// A firewall (Cisco ASA).
    Firewall,
    /// A network device of unknown kind (an AAA server's record of some device).
    Network,
}

impl DeviceKind {
    /// `observer.type`.
    pub fn word(self) -> &'static str {
        match self {
            DeviceKind::Hypervisor => "hypervisor",
            DeviceKind::Router => "router",
            DeviceKind::Switch => "switch",
            DeviceKind::Firewall => "firewall",
            DeviceKind::Network => "network",
        }
    }
}

/// The device a line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its own name (syslog HOSTNAME, `logging origin-id hostname`, ISE's
    /// `NetworkDeviceName`).
    pub hostname: Option<String>,
    /// Its address (the NAS address of a TACACS+ record, ISE's `Device IP Address`).
    pub ip: Option<String>,
    /// `observer.vendor`: `VMware`, `Cisco`, `Juniper`, `Arista`.
    pub vendor: Option<&'static str>,
    /// `observer.product`: `ESXi`, `IOS`, `NX-OS`, `ASA`, `Junos`, `EOS`, `ISE`.
    pub product: Option<&'static str>,
    /// `observer.type`.
    pub kind: DeviceKind,
}

impl Device {
    /// A device of `kind` with nothing else known yet.
    pub fn new(kind: DeviceKind) -> Device {
        Device {
            hostname: None,
            ip: None,
            vendor: None,
            product: None,
            kind,
        }
    }
}

/// One parsed log line: who did what on which device, from where.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When it happened (the line's own time).
    pub timestamp: DateTime<Utc>,
    /// `event.dataset`: `esxi.shell`, `esxi.audit`, `esxi.auth`, `esxi.hostd`,
    /// `tacacs.accounting`, `cisco_ise.tacacs`, `cisco_ios.log`, `cisco_nxos.log`,
    /// `cisco_asa.log`, `juniper_junos.log`, `arista_eos.accounting`.
    pub dataset: &'static str,
    /// What happened.
    pub action: Action,
    /// Where.
    pub device: Device,
    /// Who (`user.name`).
    pub user: Option<String>,
    /// The privilege level, where the format has one (`picket.privilege_level`).
    pub privilege_level: Option<u8>,
    /// The client the person came from (`source.*`).
    pub source: Option<Endpoint>,
    /// The command, as typed or as accounted (`process.command_line`).
    pub command: Option<String>,
    /// Where the command or login came from, if the line says (`picket.origin`):
    /// `ssh`, `dcui`, `api`, `console`, `shell`.
    pub origin: Option<&'static str>,
    /// The pid the device logged (the ESXi shell's), as `process.pid`.
    pub pid: Option<u32>,
    /// The terminal line (`tty0`, `vty6`), as `process.tty.name`.
    pub terminal: Option<String>,
    /// `event.outcome`: `success`, `failure`.
    pub outcome: Option<&'static str>,
    /// The client software of a management-API login (`user_agent.original`: hostd's
    /// `logged in as PowerCLI/13.2.1…`).
    pub user_agent: Option<String>,
    /// Format-specific fields kept under their vendor's key (`tacacs.task_id`, ...),
    /// merged into the event's top level.
    pub extra: JsonMap,
    /// The syslog header as ECS `log.syslog.*` (`priority`, `facility.code`,
    /// `severity.code`, `hostname`, `appname`, `procid`, `msgid`, `sequence`), when the
    /// line came with one.
    pub syslog: JsonMap,
}

impl LogRecord {
    /// A record of `action` at `timestamp` on `device`, everything else unknown.
    pub fn new(
        timestamp: DateTime<Utc>,
        dataset: &'static str,
        action: Action,
        device: Device,
    ) -> LogRecord {
        LogRecord {
            timestamp,
            dataset,
            action,
            device,
            user: None,
            privilege_level: None,
            source: None,
            command: None,
            origin: None,
            pid: None,
            terminal: None,
            outcome: None,
            user_agent: None,
            extra: JsonMap::new(),
            syslog: JsonMap::new(),
        }
    }

    /// The record as an ECS event (the shape is in the module docs).
    pub fn into_event(self) -> Event {
        let (category, kind_type) = match self.action {
            Action::Command => ("process", "info"),
            Action::Login => ("authentication", "info"),
            Action::SessionStart => ("session", "start"),
            Action::SessionEnd => ("session", "end"),
        };
        let mut process = Process::default();
        if let Some(cmd) = self.command {
            let args: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            process.name = args.first().cloned();
            process.args_count = Some(args.len() as u64);
            process.args = args;
            process.command_line = Some(cmd);
        }
        process.pid = self.pid;
        if let Some(t) = self.terminal {
            let mut tty = sensor_core::event::Tty::default();
            tty.other.insert("name".into(), t.into());
            process.tty = Some(tty);
        }
        let host_name = self.device.hostname.clone().or(self.device.ip.clone());
        let mut event = Event {
            timestamp: self.timestamp,
            event: EventMeta {
                kind: Some("event".into()),
                category: vec![category.into()],
                kind_type: vec![kind_type.into()],
                action: Some(self.action.word().into()),
                outcome: self.outcome.map(Into::into),
                dataset: Some(self.dataset.into()),
                ..EventMeta::default()
            },
            host: Host {
                name: host_name,
                ..Host::default()
            },
            process,
            user: User {
                name: self.user,
                ..User::default()
            },
            source: self.source,
            user_agent: self.user_agent.map(|ua| UserAgent {
                original: Some(ua),
                ..UserAgent::default()
            }),
            observer: Some(Observer {
                hostname: self.device.hostname,
                ip: self.device.ip,
                vendor: self.device.vendor.map(Into::into),
                product: self.device.product.map(Into::into),
                kind: Some(self.device.kind.word().into()),
                ..Observer::default()
            }),
            other: self.extra.into(),
            ..Event::default()
        };
        if !self.syslog.is_empty() {
            let mut log = sensor_core::event::Log::default();
            log.other.insert("syslog".into(), self.syslog.into());
            event.log = Some(log);
        }
        event.picket.privilege_level = self.privilege_level;
        event.picket.origin = self.origin.map(Into::into);
        event
    }
}

/// What a parser made of one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A command, login or session the analytics use.
    Record(Box<LogRecord>),
    /// A well-formed line of a kind Picket does not use (a hostd event, a config
    /// change notice): counted as ignored, not an error.
    Ignored,
    /// A line from a program Picket parses (an ESXi `shell[pid]:`, `%ACCOUNTING-6-CMD`)
    /// whose body is not in the shape documented: counted as format drift and noted in
    /// health, with the reason.
    Drift(String),
    /// Not a log line at all (no recognisable header, binary junk): counted as malformed,
    /// with the reason.
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::event::Lifecycle;

    #[test]
    fn a_command_becomes_an_info_process_event_on_the_device() {
        let mut device = Device::new(DeviceKind::Router);
        device.ip = Some("192.0.2.1".into());
        device.vendor = Some("Cisco");
        let mut r = LogRecord::new(
            DateTime::UNIX_EPOCH,
            "tacacs.accounting",
            Action::Command,
            device,
        );
        r.user = Some("alice".into());
        r.privilege_level = Some(1);
        r.command = Some("show  tcp brief".into());
        r.terminal = Some("vty0".into());
        let ev = r.into_event();
        assert_eq!(ev.event.action.as_deref(), Some("command"));
        assert_eq!(ev.event.kind_type, ["info"]);
        assert_eq!(ev.lifecycle(), Lifecycle::Other, "not a process start");
        assert_eq!(ev.host.name.as_deref(), Some("192.0.2.1"));
        assert_eq!(ev.process.args, ["show", "tcp", "brief"]);
        assert_eq!(ev.process.name.as_deref(), Some("show"));
        assert_eq!(ev.picket.privilege_level, Some(1));
        let json = serde_json::to_value(&ev).expect("serializes");
        assert_eq!(json["observer"]["type"], "router");
        assert_eq!(json["process"]["tty"]["name"], "vty0");
        assert_eq!(json["event"]["dataset"], "tacacs.accounting");
    }
}
