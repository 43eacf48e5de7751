//! Replay: recorded telemetry through the same pipeline as live collection.
//!
//! [`LineReplay`] reads files line by line and hands each line to a [`LineParser`]
//! (ECS NDJSON here; eslogger JSON and Winlogbeat JSON in their OS crates). A line that
//! does not parse is warned about with its file and line number, counted in
//! [`ReplayStats::malformed`] and the `malformed_input` loss counter, and skipped; every
//! other line is still processed. Every event is marked with where it was read
//! ([`mark_origin`]), so an alert can name the file and the record.

use crate::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use crate::event::Event;
use crate::health::Health;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts a replay reports at the end (`picket replay` prints them to stderr).
#[derive(Debug, Default)]
pub struct ReplayStats {
    /// Records read: lines for line formats, records for EVTX.
    pub records_read: AtomicU64,
    /// Events produced.
    pub events: AtomicU64,
    /// Malformed records skipped.
    pub malformed: AtomicU64,
    /// Well-formed records of kinds Picket does not use (other event ids/types), skipped.
    pub ignored: AtomicU64,
}

impl ReplayStats {
    /// Counts one malformed record: the stats, the `malformed_input` loss counter and a
    /// warning naming the place.
    pub fn malformed_at(&self, health: &Health, file: &str, line: u64, reason: &str) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
        health.add_loss("malformed_input", 1);
        tracing::warn!(file, line, reason, "Skipping malformed record");
    }
}

/// Parses one line of a line-oriented telemetry format into events.
pub trait LineParser: Send + 'static {
    /// `picket.collector` for the events (`replay-ecs`, `replay-eslogger`, ...).
    fn collector_name(&self) -> &'static str;

    /// Parses one line (without its newline) into zero or more events. An `Err` is a
    /// malformed line, with the reason; a well-formed line of an unused kind returns
    /// `Ok` with nothing pushed (and may count itself via [`LineParser::ignored`]).
    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String>;

    /// Gives the parser the health registry (loss counters, notes) before the first line.
    fn attach_health(&mut self, health: &Arc<Health>) {
        let _ = health;
    }

    /// Called before the first line of each file (a parser of a format without years
    /// in its timestamps dates lines by the file's modification time).
    fn start_file(&mut self, path: &std::path::Path) {
        let _ = path;
    }

    /// Well-formed lines this parser skipped as unused kinds so far.
    fn ignored(&self) -> u64 {
        0
    }
}

/// ECS NDJSON: one ECS document per line, nested or dotted keys.
#[derive(Debug, Default)]
pub struct EcsParser;

impl LineParser for EcsParser {
    fn collector_name(&self) -> &'static str {
        "replay-ecs"
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        // The error names the field (`field `process.pid`: invalid type …`) or the JSON
        // syntax fault, with its column.
        let mut event =
            Event::from_json_slice(line).map_err(|e| format!("not an ECS JSON object: {e}"))?;
        if event.picket.collector.is_none() {
            event.picket.collector = Some(self.collector_name().into());
        }
        out.push(event);
        Ok(())
    }
}

/// Replays files through a [`LineParser`].
#[derive(Debug)]
pub struct LineReplay<P> {
    files: Vec<PathBuf>,
    parser: P,
    stats: Arc<ReplayStats>,
}

impl<P: LineParser> LineReplay<P> {
    /// A replay of `files`, in order.
    pub fn new(files: Vec<PathBuf>, parser: P) -> Self {
        Self {
            files,
            parser,
            stats: Arc::default(),
        }
    }

    /// The counters, readable while and after it runs.
    pub fn stats(&self) -> Arc<ReplayStats> {
        self.stats.clone()
    }
}

impl<P: LineParser> Collector for LineReplay<P> {
    fn name(&self) -> &'static str {
        self.parser.collector_name()
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let LineReplay {
                files,
                mut parser,
                stats,
            } = *self;
            // Files are read on a blocking thread; events cross to the pipeline with
            // backpressure (blocking_send), so a replay never drops.
            tokio::task::spawn_blocking(move || {
                parser.attach_health(out.health());
                for path in &files {
                    replay_file(path, &mut parser, &stats, &out, &shutdown)?;
                }
                stats.ignored.fetch_add(parser.ignored(), Ordering::Relaxed);
                Ok(())
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("replay task failed: {e}")))?
        })
    }
}

fn replay_file<P: LineParser>(
    path: &PathBuf,
    parser: &mut P,
    stats: &ReplayStats,
    out: &EventSender,
    shutdown: &Shutdown,
) -> Result<(), CollectorError> {
    let file_name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| CollectorError::Io {
        what: file_name.clone(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::with_capacity(4096);
    let mut events = Vec::new();
    let mut line_no = 0u64;
    parser.start_file(path);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| CollectorError::Io {
                what: format!("{file_name} line {}", line_no + 1),
                source,
            })?;
        if n == 0 || shutdown.is_triggered() {
            return Ok(());
        }
        line_no += 1;
        let text = trim_line_end(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        stats.records_read.fetch_add(1, Ordering::Relaxed);
        events.clear();
        match parser.parse_line(text, &mut events) {
            Ok(()) => {
                for mut event in events.drain(..) {
                    mark_origin(&mut event, &file_name, line_no);
                    stats.events.fetch_add(1, Ordering::Relaxed);
                    if !out.blocking_send(event) {
                        return Ok(());
                    }
                }
            }
            Err(reason) => stats.malformed_at(out.health(), &file_name, line_no, &reason),
        }
    }
}

/// Names where a replayed event was read, for its alerts' evidence: `log.file.path`
/// and `picket.record` (the line number), unless the record already names its own
/// source (a Winlogbeat export's file and `winlog.record_id`).
pub fn mark_origin(event: &mut Event, file: &str, record: u64) {
    let log = event.log.get_or_insert_with(Default::default);
    let log_file = log.file.get_or_insert_with(Default::default);
    if log_file.path.is_none() {
        log_file.path = Some(file.to_string());
    }
    if event.picket.record.is_none() {
        event.picket.record = Some(record);
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}
