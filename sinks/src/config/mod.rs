//! `[sinks]` (the sinks room): where alerts go. Each sink's settings with their checks;
//! [`SinksConfig::build`] opens the sinks they describe.

pub mod syslog;

pub use syslog::{split_host_port, Facility, SyslogProtocol, SyslogSinkConfig};

use crate::{AlertSink, JsonlFileSink, StdoutSink, SyslogSink};
use sensor_core::config::{check_path, checker, system_dir, Problems, SystemDir};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::PathBuf;

/// `[sinks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// `[sinks.file]`: the local JSON-lines alert log.
    pub file: FileSinkConfig,
    /// `[sinks.stdout]`: alerts as JSON lines on stdout.
    pub stdout: StdoutSinkConfig,
    /// `[sinks.syslog]`: alerts forwarded to a syslog collector.
    pub syslog: SyslogSinkConfig,
}

/// When the file sink calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// After every alert: survives power loss, costs a disk flush per alert.
    Always,
    /// Never explicitly: survives a crash of Picket (data is in the page cache) but not
    /// of the machine.
    Never,
}

/// `[sinks.file]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSinkConfig {
    /// Write the alert log.
    pub enabled: bool,
    /// Path; unset means the system's place when root (see
    /// [`FileSinkConfig::log_path`]), `./picket-alerts.jsonl` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Rotate when the file would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files to keep (`alerts.jsonl.1` ... `.N`).
    pub keep_files: u32,
    /// `always` or `never`.
    pub fsync: FsyncPolicy,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            max_bytes: 50 * 1024 * 1024,
            keep_files: 5,
            fsync: FsyncPolicy::Always,
        }
    }
}

impl FileSinkConfig {
    /// Where the alert log goes: the configured path, or the documented default.
    pub fn log_path(&self) -> PathBuf {
        if let Some(path) = &self.path {
            path.clone()
        } else if let Some(dir) = system_dir(SystemDir::Logs) {
            dir.join("alerts.jsonl")
        } else {
            PathBuf::from("./picket-alerts.jsonl")
        }
    }

    /// Semantic checks, appended as (field path, message).
    pub fn validate(&self, problems: &mut Problems) {
        let mut check = checker(problems);
        check_path(&mut check, "sinks.file.path", self.path.as_deref());
        check(
            self.max_bytes >= 4096,
            "sinks.file.max_bytes",
            format!("expected at least 4096 bytes, found {}", self.max_bytes),
        );
        check(
            self.keep_files <= 1000,
            "sinks.file.keep_files",
            format!("expected 0 to 1000 files, found {}", self.keep_files),
        );
    }
}

/// `[sinks.stdout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutSinkConfig {
    /// Print each alert as one JSON line on stdout.
    pub enabled: bool,
}

impl SinksConfig {
    /// Semantic checks of every sink, appended as (field path, message).
    pub fn validate(&self, problems: &mut Problems) {
        self.file.validate(problems);
        self.syslog.validate(problems);
    }

    /// The sinks these settings enable, in order: the alert log (at
    /// [`FileSinkConfig::log_path`]), stdout, syslog. Fails if the log cannot be opened
    /// or the syslog sink cannot start (a collector that is merely down is not a
    /// failure: it is retried in the background).
    pub fn build(&self) -> io::Result<Vec<Box<dyn AlertSink>>> {
        let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
        if self.file.enabled {
            let path = self.file.log_path();
            let sink = JsonlFileSink::open(&path, &self.file)?;
            tracing::info!(path = %path.display(), "Writing alerts");
            sinks.push(Box::new(sink));
        }
        if self.stdout.enabled {
            sinks.push(Box::new(StdoutSink));
        }
        if self.syslog.enabled {
            let s = &self.syslog;
            let sink = SyslogSink::start(s).map_err(io::Error::other)?;
            tracing::info!(address = %s.address, protocol = %s.protocol, "Forwarding alerts to syslog");
            sinks.push(Box::new(sink));
        }
        Ok(sinks)
    }
}
