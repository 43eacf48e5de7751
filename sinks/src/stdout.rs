//! Alerts as JSON lines on stdout (`picket replay`, or `[sinks.stdout]`).
//!
//! May touch: stdout.

use sensor_core::alert::Alert;
use sensor_core::sink::AlertSink;
use std::io::{self, Write};

/// Writes each alert as one JSON line on stdout, flushed at once so a pipe sees it.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl AlertSink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}
