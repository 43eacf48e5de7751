//! `picket replay --format cloudtrail|gcp-audit FILE|DIR...`: recorded cloud audit logs
//! through the pipeline, with the accounting of `sensor_core::replay::LineReplay`:
//! [`ReplayStats`] counts records read, events and malformed records (also the
//! `malformed_input` loss counter, with a warning naming the object and record), and
//! every event is marked with its object and record index.
//!
//! The objects of all arguments (directories recursively) are read in one order, the
//! one documented in [`crate::cloud`]. A trail writes many small objects, so they are
//! read, decompressed and parsed on one thread per core (object `k` on worker
//! `k mod n`), and their events are handed to the pipeline in object order from one
//! thread: the analytics see exactly what a single thread would send. May touch: the
//! files and directories named (read only).

use super::{list_objects, order_objects, read_object, CloudFormat, ObjectError, ObjectRead};
use sensor_core::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use sensor_core::event::Event;
use sensor_core::replay::{mark_origin, ReplayStats, DEFAULT_BATCH_EVENTS};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// How many events a worker may have read ahead of the sending thread: about two
/// CloudTrail objects as a trail writes them (up to about 1,000 records each), so every
/// worker keeps busy while the one before it is drained. 4,096 was no faster, and its
/// peak RSS 10-20 MB higher.
const AHEAD_EVENTS: usize = 2048;

/// A replay of CloudTrail or GCP audit-log objects.
#[derive(Debug)]
pub struct CloudReplay {
    paths: Vec<PathBuf>,
    format: CloudFormat,
    max_record_bytes: usize,
    threads: usize,
    batch_events: usize,
    stats: Arc<ReplayStats>,
}

/// What a worker hands the sending thread, in the order of its objects.
enum Piece {
    /// The next events of the object being read.
    Events(Vec<Event>),
    /// The object is read (how far, and why it ended if it ended early).
    End(ObjectRead),
}

impl CloudReplay {
    /// A replay of `paths` (files and directories) in `format`.
    pub fn new(format: CloudFormat, paths: Vec<PathBuf>) -> CloudReplay {
        CloudReplay {
            paths,
            format,
            max_record_bytes: super::DEFAULT_MAX_RECORD_BYTES,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_events: DEFAULT_BATCH_EVENTS,
            stats: Arc::default(),
        }
    }

    /// `--format cloudtrail`: CloudTrail objects, arrays and NDJSON, plain or gzip.
    pub fn cloudtrail(paths: Vec<PathBuf>) -> CloudReplay {
        CloudReplay::new(CloudFormat::CloudTrail, paths)
    }

    /// `--format gcp-audit`: GCP audit LogEntries, a JSON array or NDJSON, plain or gzip.
    pub fn gcp_audit(paths: Vec<PathBuf>) -> CloudReplay {
        CloudReplay::new(CloudFormat::GcpAudit, paths)
    }

    /// Records longer than `bytes` are counted as malformed and skipped (default 1 MiB).
    pub fn with_max_record_bytes(mut self, bytes: usize) -> CloudReplay {
        self.max_record_bytes = bytes;
        self
    }

    /// Reads objects on at most `threads` threads (0: one per core).
    pub fn with_threads(mut self, threads: usize) -> CloudReplay {
        if threads > 0 {
            self.threads = threads;
        }
        self
    }

    /// Hands events to the pipeline `n` at a time (1: one by one).
    pub fn with_batch_events(mut self, n: usize) -> CloudReplay {
        self.batch_events = n.max(1);
        self
    }

    /// The counters, readable while and after it runs.
    pub fn stats(&self) -> Arc<ReplayStats> {
        self.stats.clone()
    }

    /// The objects it reads, in the order it reads them.
    pub fn objects(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut all = Vec::new();
        for p in &self.paths {
            all.extend(
                list_objects(p)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?,
            );
        }
        Ok(order_objects(all, self.format))
    }

    /// Worker `w` of `n`: reads objects `w`, `w + n`, … and hands over their events in
    /// batches, then an end for each object. Stops when the sending thread is gone.
    fn work(
        &self,
        objects: &[PathBuf],
        (w, n): (usize, usize),
        out: &EventSender,
        shutdown: &Shutdown,
        pieces: SyncSender<Piece>,
        given_back: Receiver<Vec<Event>>,
    ) {
        let collector = self.format.replay_collector();
        let stats = &self.stats;
        for path in objects.iter().skip(w).step_by(n) {
            let file = path.display().to_string();
            let mut batch = Vec::with_capacity(self.batch_events);
            let mut closed = false;
            let read = read_object(
                path,
                self.format,
                collector,
                self.max_record_bytes,
                0,
                &mut |record, outcome| {
                    if shutdown.is_triggered() {
                        return false;
                    }
                    stats.records_read.fetch_add(1, Ordering::Relaxed);
                    match outcome {
                        Ok(mut event) => {
                            mark_origin(&mut event, &file, record);
                            stats.events.fetch_add(1, Ordering::Relaxed);
                            batch.push(event);
                            if batch.len() >= self.batch_events {
                                // Analysed events come back here to be freed where
                                // they were made.
                                given_back.try_iter().for_each(drop);
                                let full = std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(self.batch_events),
                                );
                                if pieces.send(Piece::Events(full)).is_err() {
                                    closed = true;
                                    return false;
                                }
                            }
                        }
                        Err(reason) => stats.malformed_at(out.health(), &file, record, &reason),
                    }
                    true
                },
            );
            if closed
                || (!batch.is_empty() && pieces.send(Piece::Events(batch)).is_err())
                || pieces.send(Piece::End(read)).is_err()
            {
                return;
            }
        }
    }

    /// Hands the workers' events to the pipeline in object order. Returns at the end,
    /// when the pipeline is gone, when an object ends in a read error (that error), or
    /// on shutdown.
    fn send_in_order(
        &self,
        objects: &[PathBuf],
        outputs: &[(Receiver<Piece>, Sender<Vec<Event>>)],
        out: &EventSender,
    ) -> Result<(), CollectorError> {
        for (k, path) in objects.iter().enumerate() {
            let (pieces, give_back) = &outputs[k % outputs.len()];
            let read = loop {
                match pieces.recv() {
                    Ok(Piece::Events(events)) => {
                        if !out.blocking_send_batch_given_back(events, give_back) {
                            return Ok(());
                        }
                    }
                    Ok(Piece::End(read)) => break read,
                    // The worker stopped early: shutdown.
                    Err(_) => return Ok(()),
                }
            };
            match read.error {
                None => {}
                Some(ObjectError::Io(source)) => {
                    let what = path.display().to_string();
                    return Err(CollectorError::Io { what, source });
                }
                Some(ObjectError::Malformed(why)) => {
                    // The object ends in a fault: one more malformed record, at the
                    // place it ends.
                    let reason = format!("object ends early: {why}");
                    let file = path.display().to_string();
                    self.stats
                        .malformed_at(out.health(), &file, read.records + 1, &reason);
                }
            }
            if read.stopped {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl Collector for CloudReplay {
    fn name(&self) -> &'static str {
        self.format.replay_collector()
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let objects = self.objects().map_err(|source| CollectorError::Io {
                    what: "the replay's files".into(),
                    source,
                })?;
                let n = self.threads.clamp(1, objects.len().max(1));
                std::thread::scope(|scope| {
                    let mut outputs = Vec::with_capacity(n);
                    for w in 0..n {
                        // Objects are handed over one after another, so a worker
                        // whose object is not yet wanted must be able to read on
                        // (with room for two batches, the workers took turns).
                        // Bounded in events, so memory is too, whatever the objects.
                        let ahead = (AHEAD_EVENTS / self.batch_events).max(2);
                        let (pieces_tx, pieces_rx) = sync_channel(ahead);
                        let (give_back, given_back) = channel();
                        let (this, objects, out, shutdown) = (&self, &objects, &out, &shutdown);
                        scope.spawn(move || {
                            this.work(objects, (w, n), out, shutdown, pieces_tx, given_back)
                        });
                        outputs.push((pieces_rx, give_back));
                    }
                    // Dropping the receivers on return stops the workers.
                    self.send_in_order(&objects, &outputs, &out)
                })
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("replay task failed: {e}")))?
        })
    }
}
