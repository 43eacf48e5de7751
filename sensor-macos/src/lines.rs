//! The handler that turns eslogger lines (split by sensor-core's
//! [`LineAssembler`](sensor_core::lines::LineAssembler)) into events for the live
//! collector, counting the ones it has to skip.

use crate::parser::EsloggerParser;
use sensor_core::health::{Counter, Health, RateLimitedWarn};
use sensor_core::lines::{Chunk, MAX_LINE_BYTES};
use sensor_core::replay::LineParser;
use sensor_core::Event;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Parses lines for a live source: events out, unreadable lines counted in the
/// `malformed_input` loss counter with a rate-limited warning naming the source.
pub(crate) struct LineHandler {
    pub(crate) parser: EsloggerParser,
    malformed: Counter,
    warn: RateLimitedWarn,
    source: String,
    line_no: u64,
}

impl std::fmt::Debug for LineHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineHandler")
            .field("source", &self.source)
            .field("line_no", &self.line_no)
            .finish_non_exhaustive()
    }
}

impl LineHandler {
    pub(crate) fn new(mut parser: EsloggerParser, health: &Arc<Health>, source: String) -> Self {
        parser.attach_health(health);
        Self {
            parser,
            malformed: health.loss_counter("malformed_input"),
            warn: RateLimitedWarn::new(Duration::from_secs(30)),
            source,
            line_no: 0,
        }
    }

    /// Parses one chunk, appending events to `events`.
    pub(crate) fn handle(&mut self, chunk: Chunk<'_>, events: &mut Vec<Event>) {
        self.line_no += 1;
        let reason = match chunk {
            Chunk::Line(line) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return;
                }
                match self.parser.parse_line(line, events) {
                    Ok(()) => return,
                    Err(reason) => reason,
                }
            }
            Chunk::TooLong(len) => {
                self.parser.skipped_unreadable_line();
                format!("line of {len} bytes is over the {MAX_LINE_BYTES}-byte limit")
            }
        };
        self.malformed.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.warn.check() {
            tracing::warn!(
                source = %self.source,
                line = self.line_no,
                reason = %reason,
                suppressed,
                "Skipping malformed eslogger line"
            );
        }
    }
}
