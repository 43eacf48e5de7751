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
//!   session code is behind `cfg(windows)`.
//!
//! Running as a Windows service (the Service Control Manager) is service glue, and sits
//! with systemd's and launchd's in the binary (`src/service/`).
//!
//! May touch: the files it is asked to replay, PE images named by events (read-only),
//! and on Windows an ETW kernel session, `LookupAccountSid` and process handles
//! (query-only). It depends on `sensor-core` and nothing else of Picket's.
//!
//! [`Event`]: sensor_core::event::Event
#![deny(missing_docs)]

pub mod cmdline;
pub mod config;
pub mod etw;
pub mod mapping;
pub mod pe;
pub mod replay;
pub mod sid;
pub mod wmi;

pub use config::WindowsCollectorConfig;
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
}
