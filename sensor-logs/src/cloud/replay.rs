//! `picket replay --format cloudtrail|gcp-audit FILE|DIR...`: recorded cloud audit logs
//! through the pipeline, with the accounting of `sensor_core::replay::LineReplay`:
//! [`ReplayStats`] counts records read, events and malformed records (also the
//! `malformed_input` loss counter, with a warning naming the object and record), and
//! every event is marked with its object and record index.
//!
//! The objects of all arguments (directories recursively) are read in one order, the
//! one documented in [`crate::cloud`]. May touch: the files and directories named
//! (read only).

use super::{list_objects, order_objects, read_object, CloudFormat, ObjectError};
use sensor_core::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use sensor_core::replay::{mark_origin, ReplayStats};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A replay of CloudTrail or GCP audit-log objects.
#[derive(Debug)]
pub struct CloudReplay {
    paths: Vec<PathBuf>,
    format: CloudFormat,
    max_record_bytes: usize,
    stats: Arc<ReplayStats>,
}

impl CloudReplay {
    /// A replay of `paths` (files and directories) in `format`.
    pub fn new(format: CloudFormat, paths: Vec<PathBuf>) -> CloudReplay {
        CloudReplay {
            paths,
            format,
            max_record_bytes: super::DEFAULT_MAX_RECORD_BYTES,
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
                let collector = self.format.replay_collector();
                let stats = &self.stats;
                for path in &objects {
                    let file = path.display().to_string();
                    let mut gone = false;
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
                                    if !out.blocking_send(event) {
                                        gone = true;
                                        return false;
                                    }
                                }
                                Err(reason) => {
                                    stats.malformed_at(out.health(), &file, record, &reason)
                                }
                            }
                            true
                        },
                    );
                    match read.error {
                        None => {}
                        Some(ObjectError::Io(source)) => {
                            return Err(CollectorError::Io { what: file, source })
                        }
                        Some(ObjectError::Malformed(why)) => {
                            // The object ends in a fault: one more malformed record,
                            // at the place it ends.
                            let reason = format!("object ends early: {why}");
                            stats.malformed_at(out.health(), &file, read.records + 1, &reason);
                        }
                    }
                    if read.stopped || gone {
                        break;
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("replay task failed: {e}")))?
        })
    }
}
