//! # sensor-macos: Picket's macOS room
//!
//! Endpoint Security process events (exec, fork, exit) from Apple's `eslogger` tool,
//! turned into ECS [`Event`](sensor_core::Event)s:
//!
//! - [`EsloggerParser`]: one eslogger JSON line → one event, for every message version
//!   seen so far (9, 10, 11), with `global_seq_num` gap (loss) and schema-drift
//!   accounting. It implements [`sensor_core::replay::LineParser`], so
//!   `picket replay --format eslogger` runs it on any OS.
//! - [`MacosCollector`]: the live collector. It spawns and supervises
//!   `eslogger exec fork exit --format json` (restart with backoff; a clear error when
//!   Full Disk Access or root is missing), or follows a file eslogger writes across
//!   rotation and truncation (with sensor-core's [`tail`](sensor_core::tail)). It runs
//!   on macOS only; elsewhere it reports "unsupported".
//!
//! The process tree (parents, ancestors such as Terminal.app or iTerm2) is not built
//! here: events carry pid and ppid, and sensor-core's process table does the rest.
//!
//! May touch: the eslogger binary (spawned as a child, macOS only), the file named in
//! `collector.macos.tail_path` (read only, through sensor-core's tailer), sensor-core
//! types. No analytics, no sinks, no other OS crate.
#![deny(missing_docs)]

pub mod collector;
pub mod config;
pub mod error;
mod eslogger;
mod lines;
pub mod parser;
pub mod spawn;

pub use collector::{tail_eslogger_file, MacosCollector};
pub use config::{MacosCollectorConfig, MacosSource};
pub use error::{classify_eslogger_failure, EsloggerFailure, MacosError};
pub use eslogger::{EVENT_TYPE_EXEC, EVENT_TYPE_EXIT, EVENT_TYPE_FORK};
pub use parser::{EsloggerParser, ParserStats};
