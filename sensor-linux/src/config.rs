//! `[collector.linux]` (the Linux room): the eBPF tracer's settings, their checks,
//! and [`LinuxCollectorConfig::build`], which makes the collector from them.

use crate::{Error, LinuxCollector};
use sensor_core::config::{checker, Problems};
use serde::{Deserialize, Serialize};

/// `[collector.linux]`: the eBPF exec tracer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinuxCollectorConfig {
    /// Bytes of argv captured per exec (larger argv is flagged `picket.args_truncated`).
    pub max_args_bytes: usize,
    /// Size of the kernel ring buffer in bytes (a power of two, multiple of the page size).
    pub ring_buffer_bytes: usize,
    /// A process's connection-table reads (one method) within this many milliseconds
    /// of its first become one event with a count; the event is sent when the window
    /// closes or the process exits, whichever is first. 0 sends every read at once.
    pub enumeration_window_ms: u64,
}

impl Default for LinuxCollectorConfig {
    fn default() -> Self {
        Self {
            max_args_bytes: 32 * 1024,
            ring_buffer_bytes: 4 * 1024 * 1024,
            enumeration_window_ms: 1000,
        }
    }
}

impl LinuxCollectorConfig {
    /// Semantic checks, appended as (field path, message). The same on every OS, so a
    /// Linux config can be checked anywhere; the loader checks what only this kernel
    /// knows (the page size) when it builds.
    pub fn validate(&self, problems: &mut Problems) {
        let mut check = checker(problems);
        check(
            (256..=1024 * 1024).contains(&self.max_args_bytes),
            "collector.linux.max_args_bytes",
            format!(
                "expected 256 to 1048576 bytes, found {}",
                self.max_args_bytes
            ),
        );
        check(
            self.ring_buffer_bytes.is_power_of_two()
                && (64 * 1024..=1024 * 1024 * 1024).contains(&self.ring_buffer_bytes),
            "collector.linux.ring_buffer_bytes",
            format!(
                "expected a power of two from 65536 to 1073741824 bytes, found {}",
                self.ring_buffer_bytes
            ),
        );
        check(
            self.enumeration_window_ms <= 60_000,
            "collector.linux.enumeration_window_ms",
            format!(
                "expected 0 to 60000 milliseconds, found {}",
                self.enumeration_window_ms
            ),
        );
    }

    /// The collector these settings describe (see [`LinuxCollector::new`]).
    pub fn build(&self) -> Result<LinuxCollector, Error> {
        LinuxCollector::new(self)
    }
}
