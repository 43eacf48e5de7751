//! One line of a device log, whatever brought it (a syslog frame, a tailed file, a
//! replayed file): the format it is in, the parser for it, and how each outcome is
//! counted. Every input counts under its own name (`syslog`, `files`, `replay`), so a
//! status shows which input received what.

use crate::record::Parsed;
use crate::syslog::ParseContext;
use sensor_core::event::Event;
use sensor_core::health::{Counter, Health};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The format of a log's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineFormat {
    /// Syslog messages (RFC 3164 or 5424, with or without a header), one per line, as
    /// rsyslog writes them and as ESXi writes `shell.log`, `auth.log` and `hostd.log`.
    Syslog,
    /// tac_plus / tac_plus-ng accounting records (tab- or `|!|`-separated).
    Tacacs,
}

impl LineFormat {
    /// Parses one line.
    pub fn parse(self, line: &str, ctx: &ParseContext) -> Parsed {
        match self {
            LineFormat::Syslog => crate::parse::parse_line(line, ctx),
            LineFormat::Tacacs => crate::parse::parse_tacacs(line, ctx),
        }
    }
}

/// The counters of one input: what it could not use, by kind.
#[derive(Debug, Clone)]
pub struct LineCounters {
    health: Arc<Health>,
    input: &'static str,
    /// Lines that are not log lines (loss: never analysed), `<input>.malformed`.
    pub malformed: Counter,
    /// Lines of a known program in an unknown shape (loss), `<input>.drift`.
    pub drift: Counter,
    /// Well-formed lines of kinds no analytic uses (not a loss), `<input>.ignored`.
    pub ignored: Counter,
    /// Lines cut to the size cap (not a loss: the start is analysed), `<input>.oversized`.
    pub oversized: Counter,
    /// Events made, `<input>.events`.
    pub events: Counter,
}

impl LineCounters {
    /// The counters of `input`, registered in `health`.
    pub fn new(health: &Arc<Health>, input: &'static str) -> LineCounters {
        LineCounters {
            health: health.clone(),
            input,
            malformed: health.loss_counter(&format!("{input}.malformed")),
            drift: health.loss_counter(&format!("{input}.drift")),
            ignored: health.counter(&format!("{input}.ignored")),
            oversized: health.counter(&format!("{input}.oversized")),
            events: health.counter(&format!("{input}.events")),
        }
    }

    /// Counts a parse outcome and returns the event it made, if any. `place` names where
    /// the line came from (a file and line, a peer) for the warning and the drift note.
    pub fn account(&self, parsed: Parsed, place: &dyn Fn() -> String) -> Option<Event> {
        static WARN: sensor_core::health::RateLimitedWarn =
            sensor_core::health::RateLimitedWarn::new(std::time::Duration::from_secs(10));
        match parsed {
            Parsed::Record(record) => {
                self.events.fetch_add(1, Ordering::Relaxed);
                Some(record.into_event())
            }
            Parsed::Ignored => {
                self.ignored.fetch_add(1, Ordering::Relaxed);
                None
            }
            Parsed::Drift(reason) => {
                self.drift.fetch_add(1, Ordering::Relaxed);
                self.health.note(
                    &format!("{}.drift", self.input),
                    format!("{}: {reason}", place()),
                );
                if let Some(suppressed) = WARN.check() {
                    tracing::warn!(input = self.input, at = %place(), reason, suppressed, "Log line in an unexpected shape (format drift); counted and skipped");
                }
                None
            }
            Parsed::Malformed(reason) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = WARN.check() {
                    tracing::warn!(input = self.input, at = %place(), reason, suppressed, "Malformed log line; counted and skipped");
                }
                None
            }
        }
    }
}

/// `line` cut to at most `max` bytes, on a character boundary.
pub fn cap(line: &str, max: usize) -> (&str, bool) {
    if line.len() <= max {
        return (line, false);
    }
    let mut end = max;
    while end > 0 && !line.is_char_boundary(end) {
        end -= 1;
    }
    (&line[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_on_a_char_boundary() {
        assert_eq!(cap("abc", 5), ("abc", false));
        assert_eq!(cap("abcdef", 3), ("abc", true));
        // "é" is two bytes: a cut inside it backs off to before it.
        assert_eq!(cap("aé", 2), ("a", true));
    }
}
