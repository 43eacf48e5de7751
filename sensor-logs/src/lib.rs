//! # sensor-logs: the log-input room of Picket
//!
//! Collectors for what cannot run an agent: ESXi hosts and network devices send their
//! logs to Picket on a collector host, as they do to rsyslog or syslog-ng. This crate
//! receives them (a syslog receiver over UDP, TCP and TLS; tails of text log files with
//! saved offsets), parses each vendor's lines into a [`LogRecord`], and hands the
//! pipeline ECS events. Replay of the same formats reads files through the same parsers.
//! Cloud API audit logs (AWS CloudTrail, GCP audit logs) are read from files and
//! directories by [`cloud`].
//!
//! May touch: sockets it listens on, the log files it reads, its offset state file, and
//! `sensor-core`. It produces events, never verdicts: AN0906 and AN0907 live in
//! `analytics`.
#![deny(missing_docs)]

/// A JSON object under construction (vendor fields, `log.syslog.*`), before it becomes
/// part of an event.
pub(crate) type JsonMap = serde_json::Map<String, serde_json::Value>;

pub mod cloud;
pub mod config;
pub mod esxi;
pub mod files;
pub mod lines;
pub mod network;
pub mod parse;
pub mod receiver;
pub mod record;
pub mod replay;
mod state;
pub mod syslog;
pub mod syslog_input;
pub mod tacacs;

pub use cloud::{CloudFormat, CloudReplay, CloudTrailInput, CloudTrailInputConfig};
pub use config::InputsConfig;
pub use lines::LineFormat;
pub use parse::{parse_line, parse_tacacs};
pub use receiver::{Deliver, Message, Receiver, Stop, SyslogInputConfig, Transport};
pub use record::{Action, Device, DeviceKind, LogRecord, Parsed};
pub use replay::LogLineParser;
pub use syslog::{parse_syslog, ParseContext, SyslogMessage};
pub use syslog_input::SyslogInput;
