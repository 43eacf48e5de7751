//! `picket replay --format syslog|tacacs`: device log files through the same parsers as
//! the live inputs. A line without a year in its time (RFC 3164) is dated by its file's
//! modification time, the way the file was when it was written.

use crate::lines::LineFormat;
use crate::syslog::ParseContext;
use sensor_core::event::Event;
use sensor_core::health::Health;
use sensor_core::replay::LineParser;
use std::path::Path;
use std::sync::Arc;

/// A [`LineParser`] for device log lines.
#[derive(Debug)]
pub struct LogLineParser {
    format: LineFormat,
    ctx: ParseContext,
    health: Option<Arc<Health>>,
    ignored: u64,
}

impl LogLineParser {
    /// A parser for `format`; `host` names the device for lines that do not.
    pub fn new(format: LineFormat, host: Option<String>) -> LogLineParser {
        LogLineParser {
            format,
            ctx: ParseContext {
                reference: chrono::Utc::now(),
                default_host: host,
            },
            health: None,
            ignored: 0,
        }
    }
}

impl LineParser for LogLineParser {
    fn collector_name(&self) -> &'static str {
        match self.format {
            LineFormat::Syslog => "replay-syslog",
            LineFormat::Tacacs => "replay-tacacs",
        }
    }

    fn attach_health(&mut self, health: &Arc<Health>) {
        self.health = Some(health.clone());
    }

    // A line is parsed on its own (the file's date is set per file, on every worker).
    fn worker(&self) -> Option<Self> {
        Some(LogLineParser {
            format: self.format,
            ctx: self.ctx.clone(),
            health: self.health.clone(),
            ignored: 0,
        })
    }

    fn start_file(&mut self, path: &Path) {
        if let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) {
            self.ctx.reference = modified.into();
        }
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        let text = String::from_utf8_lossy(line);
        match self.format.parse(&text, &self.ctx) {
            crate::Parsed::Record(record) => {
                let mut event = record.into_event();
                event.picket.collector = Some(self.collector_name().into());
                out.push(event);
                Ok(())
            }
            crate::Parsed::Ignored => {
                self.ignored += 1;
                Ok(())
            }
            // Counted once, as malformed, by the replay (with file and line); drift is
            // noted in health too, as the live inputs note it.
            crate::Parsed::Drift(reason) => {
                let reason = format!("format drift: {reason}");
                if let Some(h) = &self.health {
                    h.note("replay.drift", reason.clone());
                }
                Err(reason)
            }
            crate::Parsed::Malformed(reason) => Err(reason),
        }
    }

    fn ignored(&self) -> u64 {
        self.ignored
    }
}
