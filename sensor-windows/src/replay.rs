//! `picket replay --format evtx`: recorded Windows event logs through the pipeline.
//!
//! Each file is recognised by its content, not its name:
//! - a binary EVTX log (it starts with the magic `ElfFile\0`) is read with the `evtx`
//!   crate, chunk by chunk: a chunk whose header is damaged is reported (file and chunk
//!   number) and skipped, a record that does not parse is reported (file and record id or
//!   offset) and skipped, and the rest of the file is still read. A chunk whose checksum
//!   does not match is read anyway (logs copied from a live system often have one) and
//!   noted in the health status. Chunks are independent, so they are parsed on one
//!   thread per core (chunk `k` on worker `k mod n`) and their events emitted in file
//!   order from one thread: the analytics see what a single thread would send;
//! - anything else starting with `{` is JSON lines, one record per line, as Winlogbeat
//!   writes it or as `evtx_dump -o jsonl` does. Those files go through
//!   [`sensor_core::replay::LineReplay`] with [`WinlogJsonParser`].
//!
//! Both end in the same mapping ([`crate::mapping`]). Counts go to one [`ReplayStats`]:
//! `records_read` (every record or line), `events`, `malformed` (also the
//! `malformed_input` loss counter) and `ignored` (other event ids).

use crate::mapping::{map_record, Mapped, WinRecord, REPLAY_COLLECTOR};
use sensor_core::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use sensor_core::event::{expand_dotted_keys, Event};
use sensor_core::health::Health;
use sensor_core::replay::{LineParser, LineReplay, ReplayStats};
use serde_json::Value;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// The 8 bytes a binary EVTX file starts with.
pub const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";

/// The replay collector for `picket replay --format evtx FILE...`, and its counters
/// (readable while it runs and after).
pub fn evtx_replay(files: Vec<PathBuf>, threads: usize) -> (Box<dyn Collector>, Arc<ReplayStats>) {
    let replay = EvtxReplay::new(files).with_threads(threads);
    let stats = replay.stats();
    (Box::new(replay), stats)
}

/// Replays EVTX and Windows JSON-lines files, in the order given.
#[derive(Debug)]
pub struct EvtxReplay {
    files: Vec<PathBuf>,
    stats: Arc<ReplayStats>,
    threads: usize,
}

impl EvtxReplay {
    /// A replay of `files`, parsing chunks on one thread per core.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            stats: Arc::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Parses EVTX chunks on at most `threads` threads (1: on the replay's own thread;
    /// 0: one per core).
    pub fn with_threads(mut self, threads: usize) -> Self {
        if threads > 0 {
            self.threads = threads;
        }
        self
    }

    /// The counters.
    pub fn stats(&self) -> Arc<ReplayStats> {
        self.stats.clone()
    }
}

/// What a file holds, judged by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// A binary EVTX log.
    Evtx,
    /// JSON lines (Winlogbeat or `evtx_dump -o jsonl`); also an empty file.
    JsonLines,
    /// Neither.
    Unknown,
}

/// Looks at the start of `path` to tell EVTX from JSON lines.
pub fn detect_format(path: &Path) -> std::io::Result<InputFormat> {
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(4096)
        .read_to_end(&mut head)?;
    Ok(detect_format_of(&head))
}

/// [`detect_format`] on the first bytes of a file.
pub fn detect_format_of(head: &[u8]) -> InputFormat {
    if head.starts_with(EVTX_MAGIC) {
        return InputFormat::Evtx;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') => InputFormat::JsonLines,
        Some(_) => InputFormat::Unknown,
    }
}

impl Collector for EvtxReplay {
    fn name(&self) -> &'static str {
        REPLAY_COLLECTOR
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let EvtxReplay {
                files,
                stats,
                threads,
            } = *self;
            for path in files {
                if shutdown.is_triggered() {
                    break;
                }
                let name = path.display().to_string();
                let format = detect_format(&path).map_err(|source| CollectorError::Io {
                    what: name.clone(),
                    source,
                })?;
                match format {
                    InputFormat::Evtx => {
                        let (stats, out, shutdown) = (stats.clone(), out.clone(), shutdown.clone());
                        tokio::task::spawn_blocking(move || {
                            replay_evtx_file_on(
                                threads,
                                &path,
                                &stats,
                                &mut |ev| out.blocking_send(ev),
                                out.health(),
                                &shutdown,
                            )
                        })
                        .await
                        .map_err(|e| {
                            CollectorError::Failed(format!("replay task failed: {e}"))
                        })??;
                    }
                    InputFormat::JsonLines => {
                        let replay = LineReplay::new(vec![path], WinlogJsonParser::new(&name));
                        let part = replay.stats();
                        let result = Box::new(replay).run(out.clone(), shutdown.clone()).await;
                        add_stats(&stats, &part);
                        result?;
                    }
                    InputFormat::Unknown => stats.malformed_at(
                        out.health(),
                        &name,
                        0,
                        "neither a binary EVTX log (no ElfFile magic) nor JSON lines",
                    ),
                }
            }
            Ok(())
        })
    }
}

fn add_stats(total: &ReplayStats, part: &ReplayStats) {
    for (t, p) in [
        (&total.records_read, &part.records_read),
        (&total.events, &part.events),
        (&total.malformed, &part.malformed),
        (&total.ignored, &part.ignored),
    ] {
        t.fetch_add(p.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// An error with its chain of causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// Reads one binary EVTX file, handing each mapped event to `emit` (which returns false
/// when the pipeline is gone), chunks parsed on one thread per core. Counts everything
/// in `stats`. Only failing to open the file is an `Err`; damage inside it is counted and
/// skipped.
pub fn replay_evtx_file(
    path: &Path,
    stats: &ReplayStats,
    emit: &mut dyn FnMut(Event) -> bool,
    health: &Health,
    shutdown: &Shutdown,
) -> Result<(), CollectorError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    replay_evtx_file_on(threads, path, stats, emit, health, shutdown)
}

/// [`replay_evtx_file`] with chunks parsed on `threads` threads (1: this one). The events
/// reach `emit` in file order whatever the number.
pub fn replay_evtx_file_on(
    threads: usize,
    path: &Path,
    stats: &ReplayStats,
    emit: &mut dyn FnMut(Event) -> bool,
    health: &Health,
    shutdown: &Shutdown,
) -> Result<(), CollectorError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| CollectorError::Io {
        what: name.clone(),
        source,
    })?;
    // A log of one chunk (many recorded samples) is not worth the threads.
    let chunks = file
        .metadata()
        .map_or(0, |m| m.len().saturating_sub(4096) / 65536);
    let threads = if chunks < 2 { 1 } else { threads };
    replay_evtx_reader_on(
        threads,
        std::io::BufReader::new(file),
        &name,
        stats,
        emit,
        health,
        shutdown,
    );
    Ok(())
}

/// Reads one binary EVTX log from `reader` (named `name` in reports), as
/// [`replay_evtx_file`] does once the file is open, on this thread: every mapped event
/// goes to `emit`, damage is counted in `stats` and skipped. The fuzz target `evtx_file`
/// feeds it arbitrary bytes.
pub fn replay_evtx_reader<R: Read + Seek + Send + 'static>(
    reader: R,
    name: &str,
    stats: &ReplayStats,
    emit: &mut dyn FnMut(Event) -> bool,
    health: &Health,
    shutdown: &Shutdown,
) {
    replay_evtx_reader_on(1, reader, name, stats, emit, health, shutdown)
}

/// [`replay_evtx_reader`] with chunks parsed on `threads` threads.
fn replay_evtx_reader_on<R: Read + Seek + Send + 'static>(
    threads: usize,
    reader: R,
    name: &str,
    stats: &ReplayStats,
    emit: &mut dyn FnMut(Event) -> bool,
    health: &Health,
    shutdown: &Shutdown,
) {
    let settings = evtx::ParserSettings::new()
        .indent(false)
        .validate_checksums(false);
    let settings = Arc::new(settings);
    let mut parser = match evtx::EvtxParser::from_read_seek(reader) {
        Ok(p) => p.with_configuration((*settings).clone()),
        Err(e) => {
            stats.malformed_at(
                health,
                name,
                0,
                &format!("not a readable EVTX file: {}", error_chain(&e)),
            );
            return;
        }
    };
    let file = ChunkFile {
        name,
        settings,
        stats,
        health,
    };
    // The chunks that read, in order; a damaged header is counted and skipped.
    let chunks = parser.chunks().filter_map(|chunk| match chunk {
        Ok(data) => Some(data),
        Err(e) => {
            let n = match &e {
                evtx::err::EvtxError::FailedToParseChunk { chunk_id, .. } => *chunk_id,
                _ => 0,
            };
            stats.malformed_at(
                health,
                name,
                n,
                &format!("corrupt chunk {n}, skipped: {}", error_chain(&e)),
            );
            None
        }
    });
    if threads <= 1 {
        for data in chunks {
            if shutdown.is_triggered() || !file.events_of(data).into_iter().all(&mut *emit) {
                return;
            }
        }
        return;
    }
    std::thread::scope(|scope| {
        let mut inputs = Vec::with_capacity(threads);
        let mut outputs = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (chunk_tx, chunk_rx) = sync_channel::<evtx::EvtxChunkData>(1);
            let (events_tx, events_rx) = sync_channel::<Vec<Event>>(1);
            let file = &file;
            scope.spawn(move || {
                for data in chunk_rx {
                    if events_tx.send(file.events_of(data)).is_err() {
                        break;
                    }
                }
            });
            inputs.push(chunk_tx);
            outputs.push(events_rx);
        }
        // The reader deals chunks round-robin; this thread takes their events back in
        // the same rotation, so they reach `emit` in file order.
        scope.spawn(move || {
            for (k, data) in chunks.enumerate() {
                if shutdown.is_triggered() || inputs[k % inputs.len()].send(data).is_err() {
                    break;
                }
            }
        });
        for k in 0.. {
            let Ok(events) = outputs[k % threads].recv() else {
                break;
            };
            if !events.into_iter().all(&mut *emit) {
                break;
            }
        }
        // Dropping the receivers stops the workers, and then the reader.
        drop(outputs);
    });
}

/// What parsing one chunk of a file needs.
struct ChunkFile<'a> {
    name: &'a str,
    settings: Arc<evtx::ParserSettings>,
    stats: &'a ReplayStats,
    health: &'a Health,
}

impl ChunkFile<'_> {
    /// The mapped events of one chunk, in record order; everything counted.
    fn events_of(&self, mut data: evtx::EvtxChunkData) -> Vec<Event> {
        let (name, stats, health) = (self.name, self.stats, self.health);
        let mut events = Vec::new();
        let number = data.number.unwrap_or_default();
        if !data.validate_checksum() {
            tracing::warn!(file = %name, chunk = number, "EVTX chunk checksum does not match; reading its records anyway");
            health.note(
                "evtx_checksum",
                format!("{name}: chunk {number} checksum mismatch"),
            );
        }
        let mut chunk = match data.parse(self.settings.clone()) {
            Ok(c) => c,
            Err(e) => {
                stats.malformed_at(
                    health,
                    name,
                    number,
                    &format!("corrupt chunk {number}, skipped: {e}"),
                );
                return events;
            }
        };
        for record in chunk.iter() {
            stats.records_read.fetch_add(1, Ordering::Relaxed);
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let id = match &e {
                        evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => *record_id,
                        _ => 0,
                    };
                    stats.malformed_at(
                        health,
                        name,
                        id,
                        &format!("chunk {number}: {}", error_chain(&e)),
                    );
                    continue;
                }
            };
            let record_id = record.event_record_id;
            let outcome = match record.into_json_bytes() {
                Ok(r) => map_json_record(&r.data, name),
                Err(e) => Err(error_chain(&e)),
            };
            match outcome {
                Ok(Mapped::Event(ev)) => {
                    stats.events.fetch_add(1, Ordering::Relaxed);
                    events.push(*ev);
                }
                Ok(Mapped::Ignored) => {
                    stats.ignored.fetch_add(1, Ordering::Relaxed);
                }
                Err(reason) => stats.malformed_at(
                    health,
                    name,
                    record_id,
                    &format!("record {record_id} in chunk {number}: {reason}"),
                ),
            }
        }
        events
    }
}

fn map_json_record(json: &[u8], file: &str) -> Result<Mapped, String> {
    // Most records of a log are other events: read just the event id first (no
    // allocation), and build the full JSON tree only for the ids that are mapped.
    match serde_json::from_slice::<Peek>(json) {
        Ok(peek) if !MAPPED_EVENT_IDS.contains(&peek.event.system.event_id.number()) => {
            return Ok(Mapped::Ignored)
        }
        _ => {}
    }
    let value: Value =
        serde_json::from_slice(json).map_err(|e| format!("rendered JSON does not parse: {e}"))?;
    let rec = WinRecord::from_evtx_json(&value)?;
    map_record(&rec, Some(file))
}

/// The event ids [`map_record`] maps (it also checks the provider).
const MAPPED_EVENT_IDS: [u64; 2] = [1, 4688];

/// `{"Event": {"System": {"EventID": ...}}}`, everything else skipped.
#[derive(serde::Deserialize)]
struct Peek {
    #[serde(rename = "Event")]
    event: PeekEvent,
}

#[derive(serde::Deserialize)]
struct PeekEvent {
    #[serde(rename = "System")]
    system: PeekSystem,
}

#[derive(serde::Deserialize)]
struct PeekSystem {
    #[serde(rename = "EventID")]
    event_id: PeekEventId,
}

/// `EventID` is a number, or an object with `#text` when it has attributes.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PeekEventId {
    Number(u64),
    WithAttributes {
        #[serde(rename = "#text")]
        text: u64,
    },
}

impl PeekEventId {
    fn number(&self) -> u64 {
        match self {
            PeekEventId::Number(n) | PeekEventId::WithAttributes { text: n } => *n,
        }
    }
}

/// JSON lines of Windows events: Winlogbeat documents (`winlog.*`, nested or dotted keys)
/// or `evtx_dump -o jsonl` records (`{"Event": ...}`), mixed freely.
#[derive(Debug)]
pub struct WinlogJsonParser {
    file: String,
    ignored: u64,
}

impl WinlogJsonParser {
    /// A parser for lines of `file` (recorded as `log.file.path` unless a Winlogbeat
    /// document carries its own).
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_string(),
            ignored: 0,
        }
    }
}

impl LineParser for WinlogJsonParser {
    fn collector_name(&self) -> &'static str {
        REPLAY_COLLECTOR
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        let mut value: Value =
            serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
        if !value.is_object() {
            return Err("expected a JSON object per line".into());
        }
        let mapped = if value.get("Event").is_some() {
            map_record(&WinRecord::from_evtx_json(&value)?, Some(&self.file))?
        } else {
            expand_dotted_keys(&mut value);
            let own_path = value
                .get("log")
                .and_then(|l| l.get("file"))
                .and_then(|f| f.get("path"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let rec = WinRecord::from_winlogbeat(&value)?;
            map_record(&rec, Some(own_path.as_deref().unwrap_or(&self.file)))?
        };
        match mapped {
            Mapped::Event(ev) => out.push(*ev),
            Mapped::Ignored => self.ignored += 1,
        }
        Ok(())
    }

    fn ignored(&self) -> u64 {
        self.ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(detect_format_of(b"ElfFile\0\0\0"), InputFormat::Evtx);
        assert_eq!(
            detect_format_of(b"\n  {\"winlog\":{}}"),
            InputFormat::JsonLines
        );
        assert_eq!(detect_format_of(b"\xEF\xBB\xBF{}"), InputFormat::JsonLines);
        assert_eq!(detect_format_of(b""), InputFormat::JsonLines);
        assert_eq!(detect_format_of(b"MZ\x90\0"), InputFormat::Unknown);
        assert_eq!(detect_format_of(b"ElfFile"), InputFormat::Unknown);
    }

    #[test]
    fn json_lines_parser_counts_other_events_as_ignored() {
        let mut p = WinlogJsonParser::new("w.jsonl");
        let mut out = Vec::new();
        p.parse_line(
            br#"{"@timestamp":"2020-01-01T00:00:00Z","winlog.event_id":4624,"winlog.channel":"Security","winlog.provider_name":"Microsoft-Windows-Security-Auditing"}"#,
            &mut out,
        )
        .expect("well-formed");
        assert!(out.is_empty());
        assert_eq!(p.ignored(), 1);
        assert!(p.parse_line(b"[1,2]", &mut out).is_err());
        assert!(p.parse_line(b"{\"x\":1}", &mut out).is_err());
        assert!(p.parse_line(b"{not json", &mut out).is_err());
    }
}
