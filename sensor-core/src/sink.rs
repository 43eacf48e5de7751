//! The [`AlertSink`] trait the pipeline writes alerts through. The sinks themselves
//! (alert log, stdout, syslog) live in the `sinks` crate; this module keeps only the
//! contract and the rotated-log naming that readers of the alert log share with it.
//!
//! May touch: nothing; it defines types.

use crate::alert::Alert;
use crate::health::Health;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Somewhere alerts go.
pub trait AlertSink: Send + 'static {
    /// Name used in loss counters (`sink.<name>`) and logs.
    fn name(&self) -> &str;
    /// Writes one alert; `line` is its JSON serialization without newline.
    fn write(&mut self, alert: &Alert, line: &str) -> io::Result<()>;
    /// Writes one alert of a burst: it may become durable only at the next
    /// [`AlertSink::sync`], which the sink loop calls at the end of the burst and before
    /// acknowledging anything (group commit). The default writes it at once.
    fn write_deferred(&mut self, alert: &Alert, line: &str) -> io::Result<()> {
        self.write(alert, line)
    }
    /// Makes every deferred write durable. A sink that cannot keeps those alerts for its
    /// retry, or counts them as lost itself; the error is for the log.
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Flushes anything buffered (called at shutdown).
    fn flush(&mut self) -> io::Result<()>;
    /// Gives the sink the run's health registry, for losses it finds on its own (on a
    /// background thread, or at shutdown) rather than as a failed [`AlertSink::write`],
    /// which the pipeline counts itself. Call it before the first write; the default
    /// ignores it.
    fn attach_health(&mut self, _health: &Arc<Health>) {}
}

/// `alerts.jsonl.N`: the name of the N-th rotated alert log (1 is the newest). The file
/// sink rotates by it and `picket alerts` reads the rotated files by it.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
