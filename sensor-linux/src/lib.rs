//! # sensor-linux: Picket's Linux room
//!
//! Captures every process start on the host in the kernel, and every read of the
//! system's connection tables, and turns them into ECS
//! [`Event`](sensor_core::Event)s: eBPF programs written in C with CO-RE
//! (`bpf/picket.bpf.c`, compiled by clang in `build.rs`) hook the BTF tracepoints
//! `sched_process_exec`, `sched_process_fork` and `sched_process_exit`, and fentry on
//! the functions that serve `/proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix,packet}`
//! (`tcp_seq_start`, `udp_seq_start`, `raw_seq_start`, `unix_seq_start`,
//! `packet_seq_start`) and NETLINK_SOCK_DIAG requests (`sock_diag_rcv_msg`), and write
//! records — full argv (32 KiB by default, more on request, truncation flagged), creds,
//! login uid and session, tty, cwd, cgroup, executable — to one BPF ring buffer. aya
//! loads and attaches them; user space reads the ring on tokio, converts, and sends
//! with backpressure. Records the kernel could not fit are counted in the kernel and
//! exported as the `kernel_ringbuf` loss counter; nothing is dropped in user space.
//!
//! May touch: the kernel's BPF subsystem (via aya; root or CAP_BPF + CAP_PERFMON),
//! `/sys/kernel/btf/vmlinux`, `/proc/self/status`, a few `/proc` and `/etc` files for
//! host identity, `/proc/PID/exe` of a process that read a connection table (its path
//! and SHA-256), and the user database (through `sensor_core::users`). Nothing else.
//!
//! Entry point: [`LinuxCollector`]. On other OSes the crate builds without aya and the
//! collector's `run` returns `CollectorError::Unsupported`.
#![deny(missing_docs)]

mod collector;
pub mod config;
pub mod convert;
pub mod enumeration;
mod error;
#[cfg(target_os = "linux")]
mod exe;
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
pub use programs::{HookKind, ProgramState, ProgramStatus};
