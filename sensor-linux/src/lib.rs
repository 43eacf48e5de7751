//! # sensor-linux: Picket's Linux room
//!
//! Captures every process start on the host in the kernel and turns it into ECS
//! [`Event`](sensor_core::Event)s: eBPF programs written in C with CO-RE
//! (`bpf/picket.bpf.c`, compiled by clang in `build.rs`) hook the BTF tracepoints
//! `sched_process_exec`, `sched_process_fork` and `sched_process_exit`, and write
//! records — full argv (32 KiB by default, more on request, truncation flagged), creds,
//! login uid and session, tty, cwd, cgroup, executable — to one BPF ring buffer. aya
//! loads and attaches them; user space reads the ring on tokio, converts, and sends
//! with backpressure. Records the kernel could not fit are counted in the kernel and
//! exported as the `kernel_ringbuf` loss counter; nothing is dropped in user space.
//!
//! May touch: the kernel's BPF subsystem (via aya; root or CAP_BPF + CAP_PERFMON),
//! `/sys/kernel/btf/vmlinux`, `/proc/self/status`, a few `/proc` and `/etc` files for
//! host identity, and the user database (through `sensor_core::users`). Nothing else.
//!
//! Entry point: [`LinuxCollector`]. On other OSes the crate builds without aya and the
//! collector's `run` returns `CollectorError::Unsupported`.
#![deny(missing_docs)]

mod collector;
pub mod config;
pub mod convert;
mod error;
#[cfg(target_os = "linux")]
mod kernel_errors;
#[cfg(target_os = "linux")]
mod loader;
mod programs;
#[cfg(target_os = "linux")]
mod reader;
pub mod record;

pub use collector::LinuxCollector;
pub use config::LinuxCollectorConfig;
pub use convert::COLLECTOR_NAME;
pub use error::Error;
pub use programs::{ProgramState, ProgramStatus};
