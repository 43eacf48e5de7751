//! # sinks: where Picket's alerts go
//!
//! The implementations of [`sensor_core::sink::AlertSink`], split by concern:
//! - [`file`](mod@file): the local JSON-lines alert log, with size-based rotation, an fsync policy,
//!   torn-tail repair after a crash and an in-memory hold while the disk is full;
//! - [`stdout`]: JSON lines on stdout;
//! - [`syslog`]: RFC 5424 to a collector over TCP, TLS or UDP, with a bounded queue,
//!   reconnects and honest delivery accounting;
//! - [`config`]: the `[sinks]` settings, their checks, and [`SinksConfig::build`] (also
//!   [`from_config`]), which opens the sinks they ask for.
//!
//! The pipeline in sensor-core knows only the trait; the binary builds these. Every
//! alert a sink cannot deliver is refused with an error (the pipeline counts it) or
//! counted in the health registry by the sink itself.
//!
//! May touch: the alert log's directory, stdout, sockets to the configured syslog
//! collector, and the sink's own threads (log retry, syslog sender).
#![deny(missing_docs)]

pub mod config;
pub mod file;
pub mod stdout;
pub mod syslog;

#[cfg(test)]
mod test_support;

pub use config::{FileSinkConfig, FsyncPolicy, SinksConfig, SyslogSinkConfig};
pub use file::{JsonlFileSink, TailRepair};
pub use sensor_core::sink::AlertSink;
pub use stdout::StdoutSink;
pub use syslog::{SyslogError, SyslogSink, SyslogStats};

use std::io;

/// The sinks `config` enables, in order (see [`SinksConfig::build`]).
pub fn from_config(config: &SinksConfig) -> io::Result<Vec<Box<dyn AlertSink>>> {
    config.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_picks_the_sinks_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = SinksConfig::default();
        config.file.path = Some(dir.path().join("logs/alerts.jsonl"));
        config.stdout.enabled = true;
        config.syslog.enabled = true;
        // A collector that is down does not stop the start-up.
        config.syslog.address = "127.0.0.1:9".into();
        config.syslog.flush_timeout_secs = 0;
        let sinks = from_config(&config).expect("sinks");
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["file", "stdout", "syslog"]);
        assert!(dir.path().join("logs/alerts.jsonl").exists());

        config.file.enabled = false;
        config.stdout.enabled = false;
        config.syslog.enabled = false;
        assert!(from_config(&config).expect("none").is_empty());
    }

    #[test]
    fn an_alert_log_that_cannot_be_opened_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").expect("write");
        let mut config = SinksConfig::default();
        // A directory cannot be created below a regular file.
        config.file.path = Some(blocker.join("alerts.jsonl"));
        let err = from_config(&config).err().expect("refused");
        assert!(err.to_string().contains("alert log directory"), "{err}");
    }
}
