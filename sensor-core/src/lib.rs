//! # sensor-core: the spine of Picket
//!
//! The room every other crate walks through: the ECS [`event::Event`] model, the
//! [`alert::Alert`] shape, the [`collector::Collector`] and [`detect::Detector`] traits that
//! the OS crates and `analytics` implement, the config machinery (layering, located
//! errors, hash, reload) generic over the root type the binary defines, the
//! pipeline with its per-host process table, the [`sink::AlertSink`] trait the sinks
//! implement (they live in the `sinks` crate), the health counters, and the one file
//! tailer ([`tail`], over [`lines`]) that every followed file goes through.
//!
//! May touch: files (config, alert log, state, files it is asked to follow, read only),
//! file-system notifications, the user and group databases ([`users`]), the process list (via `sysinfo`, to
//! seed the process table), tokio tasks and channels. It knows no OS collector and no
//! analytic: those depend on it, never the reverse.
#![deny(missing_docs)]

pub mod alert;
mod channel;
pub mod collector;
pub mod config;
pub mod detect;
pub mod event;
pub mod health;
pub mod host;
pub mod lines;
pub mod pipeline;
mod precheck;
pub mod process_table;
pub mod reload;
pub mod replay;
pub mod sink;
pub mod status;
pub mod tail;
pub mod users;

pub use alert::{Alert, Severity};
pub use collector::{Collector, CollectorError, EventSender, Shutdown};
pub use config::ConfigRoot;
pub use detect::Detector;
pub use event::Event;
pub use health::{CollectorState, Health};
pub use host::HostIdentity;
