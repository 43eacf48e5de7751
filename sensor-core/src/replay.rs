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
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
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
    /// Records over the size cap, skipped without being held whole.
    pub oversized: AtomicU64,
}

impl ReplayStats {
    /// Counts one malformed record: the stats, the `malformed_input` loss counter and a
    /// warning naming the place.
    pub fn malformed_at(&self, health: &Health, file: &str, line: u64, reason: &str) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
        health.add_loss("malformed_input", 1);
        tracing::warn!(file, line, reason, "Skipping malformed record");
    }

    /// Counts one record over the size cap: the stats, the `oversized_input` loss
    /// counter and a warning naming the place and the cap.
    pub fn oversized_at(&self, health: &Health, file: &str, line: u64, bytes: usize, max: usize) {
        self.oversized.fetch_add(1, Ordering::Relaxed);
        health.add_loss("oversized_input", 1);
        tracing::warn!(
            file,
            line,
            bytes,
            max_record_bytes = max,
            "Skipping a record longer than [pipeline] max_record_bytes"
        );
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

    /// Another parser for a worker thread, if lines parse independently of each other
    /// (nothing carried from one line to the next). The default, `None`, keeps parsing
    /// on one thread.
    fn worker(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
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

    fn worker(&self) -> Option<Self> {
        Some(EcsParser)
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

/// Longest record a replay reads by default (`[pipeline] max_record_bytes`): an exec
/// with a full `ARG_MAX` of arguments, JSON-escaped, fits; a runaway line does not.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// Files are read in blocks of about this many bytes, cut at line ends: the unit of
/// work a parser thread takes.
const BLOCK_BYTES: usize = 512 * 1024;

/// Events cross to the pipeline in batches of at most this many by default
/// (`[pipeline] replay_batch_events`): one hand-over per batch, and a batch small
/// enough (an event is a few KiB) for the allocator to reuse its memory instead of
/// mapping fresh pages for every block.
pub const DEFAULT_BATCH_EVENTS: usize = 64;

/// Replays files through a [`LineParser`].
///
/// When the parser can work on several threads ([`LineParser::worker`]), blocks of
/// lines are parsed on one thread per core and handed to the pipeline in file order,
/// so the events arrive exactly as a single thread would send them.
#[derive(Debug)]
pub struct LineReplay<P> {
    files: Vec<PathBuf>,
    parser: P,
    stats: Arc<ReplayStats>,
    max_record_bytes: usize,
    threads: usize,
    batch_events: usize,
}

impl<P: LineParser> LineReplay<P> {
    /// A replay of `files`, in order.
    pub fn new(files: Vec<PathBuf>, parser: P) -> Self {
        Self {
            files,
            parser,
            stats: Arc::default(),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_events: DEFAULT_BATCH_EVENTS,
        }
    }

    /// Hands events to the pipeline `n` at a time (1: one by one).
    pub fn with_batch_events(mut self, n: usize) -> Self {
        self.batch_events = n.max(1);
        self
    }

    /// Lines longer than `max` bytes are skipped without being held whole, and counted
    /// in [`ReplayStats::oversized`] and the `oversized_input` loss counter.
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max.max(1);
        self
    }

    /// Parses on at most `threads` threads (1: on the replay's own thread; 0: one per
    /// core).
    pub fn with_threads(mut self, threads: usize) -> Self {
        if threads > 0 {
            self.threads = threads;
        }
        self
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
                max_record_bytes,
                threads,
                batch_events,
            } = *self;
            // Files are read on blocking threads; events cross to the pipeline with
            // backpressure (blocking sends), so a replay never drops.
            tokio::task::spawn_blocking(move || {
                parser.attach_health(out.health());
                let mut workers: Vec<P> = Vec::new();
                if threads > 1 {
                    workers = (0..threads).map_while(|_| parser.worker()).collect();
                }
                for w in workers.iter_mut() {
                    w.attach_health(out.health());
                }
                let job = FileJob {
                    stats: &stats,
                    out: &out,
                    shutdown: &shutdown,
                    max_record_bytes,
                    batch_events,
                };
                for path in &files {
                    if workers.len() > 1 {
                        job.replay_parallel(path, &mut workers)?;
                    } else {
                        job.replay(path, &mut parser)?;
                    }
                }
                let ignored: u64 =
                    parser.ignored() + workers.iter().map(|w| w.ignored()).sum::<u64>();
                stats.ignored.fetch_add(ignored, Ordering::Relaxed);
                Ok(())
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("replay task failed: {e}")))?
        })
    }
}

/// Whole lines of a file, and the number of the first.
struct Block {
    first_line: u64,
    bytes: Vec<u8>,
}

/// Cuts a file into [`Block`]s of whole lines. A line longer than the cap is counted
/// and skipped as it streams past: at most one block and one capped line are held.
struct BlockReader<R> {
    src: R,
    /// The start of a line whose end is not read yet.
    carry: Vec<u8>,
    next_line: u64,
    max_line: usize,
    /// Bytes of an oversized line skipped so far.
    skipping: Option<usize>,
    done: bool,
}

impl<R: Read> BlockReader<R> {
    fn new(src: R, max_line: usize) -> Self {
        Self {
            src,
            carry: Vec::new(),
            next_line: 1,
            max_line,
            skipping: None,
            done: false,
        }
    }

    /// The next block; `oversized(line, bytes)` is told of each line skipped for its
    /// length. `None` at the end of the file.
    fn next_block(&mut self, oversized: &mut dyn FnMut(u64, usize)) -> io::Result<Option<Block>> {
        while !self.done {
            let mut data = std::mem::take(&mut self.carry);
            let kept = data.len();
            data.resize(kept + BLOCK_BYTES, 0);
            let mut filled = kept;
            while filled < data.len() {
                match self.src.read(&mut data[filled..]) {
                    Ok(0) => {
                        self.done = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            data.truncate(filled);
            let mut start = 0;
            if let Some(skipped) = self.skipping {
                // The rest of an oversized line: drop it up to its end.
                match memchr::memchr(b'\n', &data) {
                    Some(end) => {
                        oversized(self.next_line, skipped + end);
                        self.skipping = None;
                        self.next_line += 1;
                        start = end + 1;
                    }
                    None => {
                        self.skipping = Some(skipped + data.len());
                        if self.done {
                            oversized(self.next_line, skipped + data.len());
                            self.skipping = None;
                        }
                        continue;
                    }
                }
            }
            let cut = if self.done {
                data.len()
            } else {
                match memchr::memrchr(b'\n', &data[start..]) {
                    Some(i) => start + i + 1,
                    None => start,
                }
            };
            let tail = &data[cut..];
            if tail.len() > self.max_line {
                self.skipping = Some(tail.len());
            } else {
                self.carry = tail.to_vec();
            }
            data.truncate(cut);
            if start == data.len() {
                continue;
            }
            if start > 0 {
                data.drain(..start);
            }
            let first_line = self.next_line;
            self.next_line += memchr::memchr_iter(b'\n', &data).count() as u64;
            if self.done && data.last() != Some(&b'\n') {
                self.next_line += 1;
            }
            return Ok(Some(Block {
                first_line,
                bytes: data,
            }));
        }
        Ok(None)
    }
}

/// What replaying one file needs besides the parser.
struct FileJob<'a> {
    stats: &'a ReplayStats,
    out: &'a EventSender,
    shutdown: &'a Shutdown,
    max_record_bytes: usize,
    batch_events: usize,
}

impl FileJob<'_> {
    fn open(&self, path: &Path) -> Result<(String, BlockReader<std::fs::File>), CollectorError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| CollectorError::Io {
            what: name.clone(),
            source,
        })?;
        Ok((name, BlockReader::new(file, self.max_record_bytes)))
    }

    fn oversized(&self, name: &str) -> impl FnMut(u64, usize) + '_ {
        let name = name.to_string();
        move |line, bytes| {
            self.stats
                .oversized_at(self.out.health(), &name, line, bytes, self.max_record_bytes)
        }
    }

    fn read_error(name: &str, line: u64, source: io::Error) -> CollectorError {
        CollectorError::Io {
            what: format!("{name} line {line}"),
            source,
        }
    }

    /// Reads and parses on this thread.
    fn replay<P: LineParser>(&self, path: &Path, parser: &mut P) -> Result<(), CollectorError> {
        let (name, mut reader) = self.open(path)?;
        parser.start_file(path);
        let mut oversized = self.oversized(&name);
        let (give_back, given_back) = std::sync::mpsc::channel::<Vec<Event>>();
        loop {
            given_back.try_iter().for_each(drop);
            if self.shutdown.is_triggered() {
                return Ok(());
            }
            let next_line = reader.next_line;
            let Some(block) = reader
                .next_block(&mut oversized)
                .map_err(|e| Self::read_error(&name, next_line, e))?
            else {
                return Ok(());
            };
            for events in self.parse_block(parser, &name, &block) {
                if !self.out.blocking_send_batch_given_back(events, &give_back) {
                    return Ok(());
                }
            }
        }
    }

    /// Reads on one thread, parses blocks on one thread per worker (block `k` on
    /// worker `k % n`), and sends each block's events in file order from this one.
    fn replay_parallel<P: LineParser>(
        &self,
        path: &Path,
        workers: &mut [P],
    ) -> Result<(), CollectorError> {
        let (name, mut reader) = self.open(path)?;
        let n = workers.len();
        std::thread::scope(|scope| {
            let mut inputs = Vec::with_capacity(n);
            let mut outputs = Vec::with_capacity(n);
            for worker in workers.iter_mut() {
                worker.start_file(path);
                let (block_tx, block_rx) = sync_channel::<Block>(1);
                let (events_tx, events_rx) = sync_channel::<Vec<Vec<Event>>>(1);
                // Analysed events come back to the worker that made them, to be freed.
                let (give_back, given_back) = std::sync::mpsc::channel::<Vec<Event>>();
                let name = &name;
                scope.spawn(move || {
                    for block in block_rx {
                        given_back.try_iter().for_each(drop);
                        if events_tx
                            .send(self.parse_block(worker, name, &block))
                            .is_err()
                        {
                            break;
                        }
                    }
                });
                inputs.push(block_tx);
                outputs.push((events_rx, give_back));
            }
            let name = &name;
            let feeder = scope.spawn(move || -> Result<(), CollectorError> {
                let mut oversized = self.oversized(name);
                for k in 0.. {
                    if self.shutdown.is_triggered() {
                        break;
                    }
                    let next_line = reader.next_line;
                    let Some(block) = reader
                        .next_block(&mut oversized)
                        .map_err(|e| Self::read_error(name, next_line, e))?
                    else {
                        break;
                    };
                    if inputs[k % n].send(block).is_err() {
                        break;
                    }
                }
                Ok(())
            });
            for k in 0.. {
                // A worker with no more results means the feeder stopped at block k.
                let (results, give_back) = &outputs[k % n];
                let Ok(batches) = results.recv() else {
                    break;
                };
                let sent = batches
                    .into_iter()
                    .all(|events| self.out.blocking_send_batch_given_back(events, give_back));
                if !sent {
                    break;
                }
            }
            drop(outputs);
            feeder
                .join()
                .unwrap_or_else(|_| Err(CollectorError::Failed("replay reader panicked".into())))
        })
    }

    /// Parses the lines of `block`, counting and skipping malformed ones, into batches
    /// for the pipeline.
    fn parse_block<P: LineParser>(
        &self,
        parser: &mut P,
        name: &str,
        block: &Block,
    ) -> Vec<Vec<Event>> {
        let mut batches = Vec::new();
        let mut events = Vec::with_capacity(self.batch_events);
        let mut line_no = block.first_line;
        let (mut records, mut produced) = (0, 0);
        let bytes = &block.bytes[..];
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            let text = trim_line_end(&bytes[start..end]);
            start = end + 1;
            let number = line_no;
            line_no += 1;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if text.len() > self.max_record_bytes {
                let health = self.out.health();
                let max = self.max_record_bytes;
                self.stats
                    .oversized_at(health, name, number, text.len(), max);
                continue;
            }
            records += 1;
            let before = events.len();
            match parser.parse_line(text, &mut events) {
                Ok(()) => {
                    for event in &mut events[before..] {
                        mark_origin(event, name, number);
                    }
                }
                Err(reason) => {
                    events.truncate(before);
                    self.stats
                        .malformed_at(self.out.health(), name, number, &reason);
                }
            }
            if events.len() >= self.batch_events {
                produced += events.len();
                batches.push(std::mem::replace(
                    &mut events,
                    Vec::with_capacity(self.batch_events),
                ));
            }
        }
        if !events.is_empty() {
            produced += events.len();
            batches.push(events);
        }
        self.stats
            .records_read
            .fetch_add(records, Ordering::Relaxed);
        self.stats
            .events
            .fetch_add(produced as u64, Ordering::Relaxed);
        batches
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ShutdownTrigger;
    use std::io::Write;
    use tokio::sync::mpsc;

    /// Lines of every shape a replay meets: good events, blank lines, CRLF ends,
    /// malformed lines, and one line over the cap, spread over many blocks.
    fn write_input(dir: &Path, lines: usize, oversized_at: usize) -> PathBuf {
        let path = dir.join("input.ndjson");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for i in 1..=lines {
            match i {
                _ if i == oversized_at => {
                    let big = "x".repeat(3 * BLOCK_BYTES);
                    writeln!(f, "{{\"process\":{{\"name\":\"{big}\"}}}}").expect("write");
                }
                _ if i % 97 == 0 => f.write_all(b"{not json\n").expect("write"),
                _ if i % 89 == 0 => f.write_all(b"   \r\n").expect("write"),
                _ => {
                    let end = if i % 2 == 0 { "\r\n" } else { "\n" };
                    write!(f, "{{\"@timestamp\":\"2026-11-20T10:00:00Z\",\"event.type\":\"start\",\"process.pid\":{i},\"process.name\":\"p{i}\",\"pad\":\"{}\"}}{end}", "y".repeat(i % 300)).expect("write");
                }
            }
        }
        // The last line has no newline.
        f.write_all(b"{\"process.pid\":999999}").expect("write");
        f.flush().expect("flush");
        path
    }

    async fn replay(
        path: &Path,
        threads: usize,
        max: usize,
    ) -> (Vec<(u32, u64)>, Arc<ReplayStats>, Arc<Health>) {
        let health = Health::new();
        let (tx, mut rx) = mpsc::channel(100_000);
        let out = EventSender::new(tx, health.clone());
        let replay = LineReplay::new(vec![path.to_path_buf()], EcsParser)
            .with_threads(threads)
            .with_max_record_bytes(max);
        let stats = replay.stats();
        let (_trigger, shutdown): (ShutdownTrigger, Shutdown) = Shutdown::new();
        Box::new(replay).run(out, shutdown).await.expect("replay");
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            seen.push((ev.process.pid.unwrap_or(0), ev.picket.record.unwrap_or(0)));
        }
        (seen, stats, health)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_parsing_sends_what_one_thread_sends_in_the_same_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_input(dir.path(), 20_000, 7_001);
        let (one, one_stats, _) = replay(&path, 1, DEFAULT_MAX_RECORD_BYTES).await;
        let (four, four_stats, health) = replay(&path, 4, DEFAULT_MAX_RECORD_BYTES).await;
        assert!(std::fs::metadata(&path).expect("meta").len() > 4 * BLOCK_BYTES as u64);
        assert_eq!(one, four);
        // Every line's event names its own line: pid i was written on line i.
        assert!(one
            .iter()
            .all(|&(pid, line)| pid == 999_999 || u64::from(pid) == line));
        assert_eq!(one.last(), Some(&(999_999, 20_001)));
        let malformed = (1..=20_000).filter(|i| i % 97 == 0).count() as u64;
        for stats in [&one_stats, &four_stats] {
            assert_eq!(stats.malformed.load(Ordering::Relaxed), malformed);
            assert_eq!(stats.oversized.load(Ordering::Relaxed), 1);
            assert_eq!(stats.events.load(Ordering::Relaxed), one.len() as u64);
        }
        let losses = health.snapshot().losses;
        assert_eq!(losses.get("oversized_input"), Some(&1));
        assert_eq!(losses.get("malformed_input"), Some(&malformed));
    }

    #[tokio::test]
    async fn a_line_over_the_cap_is_skipped_and_the_lines_after_it_keep_their_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_input(dir.path(), 50, 20);
        let (seen, stats, _) = replay(&path, 1, 4096).await;
        assert_eq!(stats.oversized.load(Ordering::Relaxed), 1);
        assert!(seen
            .iter()
            .all(|&(pid, line)| pid == 999_999 || u64::from(pid) == line));
        assert!(!seen.iter().any(|&(pid, _)| pid == 20));
        assert!(seen.iter().any(|&(pid, _)| pid == 21));
    }

    #[test]
    fn a_huge_line_is_never_held_whole() {
        // 64 MiB without a newline, then one short line: the reader holds at most one
        // block and the cap at any moment.
        struct Endless {
            left: usize,
            tail: &'static [u8],
        }
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.left > 0 {
                    let n = buf.len().min(self.left);
                    buf[..n].fill(b'a');
                    self.left -= n;
                    return Ok(n);
                }
                let n = buf.len().min(self.tail.len());
                buf[..n].copy_from_slice(&self.tail[..n]);
                self.tail = &self.tail[n..];
                Ok(n)
            }
        }
        let mut reader = BlockReader::new(
            Endless {
                left: 64 << 20,
                tail: b"\n{\"ok\":1}\n",
            },
            1 << 20,
        );
        let mut skipped = Vec::new();
        let mut blocks = Vec::new();
        while let Some(block) = reader
            .next_block(&mut |line, bytes| skipped.push((line, bytes)))
            .expect("read")
        {
            assert!(block.bytes.capacity() <= BLOCK_BYTES + (1 << 20));
            assert!(reader.carry.capacity() <= BLOCK_BYTES + (1 << 20));
            blocks.push(block);
        }
        assert_eq!(skipped, vec![(1, 64 << 20)]);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].first_line, 2);
        assert_eq!(blocks[0].bytes, b"{\"ok\":1}\n");
    }
}
