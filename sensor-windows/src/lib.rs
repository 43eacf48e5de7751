//! # sensor-windows: Picket's Windows room
//!
//! Everything Windows-shaped in Picket lives here:
//! - [`replay`]: `picket replay --format evtx`, recorded Windows event logs (binary EVTX,
//!   Winlogbeat or `evtx_dump` JSON lines) read on any OS;
//! - [`mapping`]: Sysmon event 1 and Security 4688 → ECS [`Event`], with
//!   [`cmdline`] (the `CommandLineToArgvW` split) and [`sid`] (well-known and binary SIDs);
//! - [`pe`]: `OriginalFilename` from a PE image's version resource, on any OS;
//! - [`etw`]: the live collector, [`WindowsCollector`] (`windows-etw`), reading the NT
//!   Kernel Logger's process events; its decoding is plain code tested everywhere, its
//!   session code is behind `cfg(windows)`;
//! - [`service`]: running under the Service Control Manager and
//!   `picket service install|uninstall|start|stop` (Windows only).
//!
//! May touch: the files it is asked to replay, PE images named by events (read-only),
//! and on Windows an ETW kernel session, the SCM, `LookupAccountSid`, process handles
//! (query-only) and a log directory under `%ProgramData%\Picket`. It depends on
//! `sensor-core` and nothing else of Picket's.
//!
//! [`Event`]: sensor_core::event::Event
#![deny(missing_docs)]

pub mod cmdline;
pub mod etw;
pub mod mapping;
pub mod pe;
pub mod replay;
pub mod service;
pub mod sid;

pub use etw::WindowsCollector;
pub use replay::evtx_replay;

use std::path::PathBuf;

/// Errors of the Windows room.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The bytes are not a PE image (no `MZ`/`PE` headers, or another format).
    #[error("not a PE image: {0}")]
    NotPe(String),
    /// A PE image whose resources are damaged.
    #[error("malformed PE resources: {0}")]
    MalformedPe(String),
    /// A setting the Windows collector cannot use.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A Windows-only operation was asked for on another OS.
    #[error("{what} is only available on Windows (this is {os})")]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// This OS.
        os: &'static str,
    },
    /// The Service Control Manager refused or failed an operation.
    #[error("service {action} failed: {message}")]
    Service {
        /// What was being done (`install`, `start`, ...).
        action: &'static str,
        /// What Windows said.
        message: String,
    },
}

impl Error {
    /// The error for a Windows-only `what` on this OS.
    pub fn unsupported(what: &'static str) -> Self {
        Error::Unsupported {
            what,
            os: std::env::consts::OS,
        }
    }
}
