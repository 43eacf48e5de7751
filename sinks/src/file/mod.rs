//! The local alert log: one ECS alert per JSON line, rotated by size (`rotate.rs`),
//! repaired at open after a crash (`repair.rs`), and kept in memory while the disk is
//! full (here).
//!
//! The sink is synchronous and runs on the pipeline's sink thread (fed by a bounded
//! queue), so a slow disk never stalls the event loop and never reorders alerts. Each
//! alert is written as one `write` of a whole line. With `fsync = "always"`, a burst of
//! queued alerts is written and then synced once (group commit,
//! [`AlertSink::write_deferred`] and [`AlertSink::sync`]): each alert is on disk before
//! anything that waits for it is told so, for one disk flush per burst.
//!
//! May touch: the alert log, its rotated and `.torn-` siblings, and one retry thread.

pub mod read;
mod repair;
mod rotate;

pub use read::{parse_line, LoggedAlert};
pub use repair::{repair_torn_tail, TailRepair};
pub use sensor_core::sink::rotated_path;

use crate::config::{FileSinkConfig, FsyncPolicy};
use sensor_core::alert::Alert;
use sensor_core::sink::AlertSink;
use sensor_core::Health;
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Alerts kept in memory while the log cannot be written (disk full, ...), by default.
pub const DEFAULT_BACKLOG_ALERTS: usize = 10_000;
/// Bytes kept in memory while the log cannot be written, by default.
pub const DEFAULT_BACKLOG_BYTES: usize = 64 * 1024 * 1024;
/// How often kept alerts are retried when no new alert arrives.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The local alert log: one ECS alert per line, size-based rotation keeping N files.
///
/// Crash safety: each alert is one `write` of a whole line, and at open a torn last line
/// (no newline, or not a JSON object) is cut off and saved beside the log
/// ([`repair_torn_tail`]), so the log never holds a corrupt line and every alert written
/// before a crash stays.
///
/// Disk full (or any write error): the failed line is cut back off the file, and alerts
/// are kept in memory, in order, up to a bound ([`DEFAULT_BACKLOG_ALERTS`] /
/// [`DEFAULT_BACKLOG_BYTES`]); a background thread retries every [`RETRY_INTERVAL`] and
/// writes them once space returns. An alert beyond the bound is refused with an error
/// (the pipeline counts it as lost, `sink.file`); alerts still kept at shutdown are
/// counted in the health registry given by [`AlertSink::attach_health`].
#[derive(Debug)]
pub struct JsonlFileSink {
    inner: Arc<Mutex<FileLog>>,
    retry: Option<(StopFlag, JoinHandle<()>)>,
    path: PathBuf,
    repair: Option<TailRepair>,
}

/// Set to stop the retry thread; the condvar wakes it.
type StopFlag = Arc<(Mutex<bool>, Condvar)>;

#[derive(Debug)]
struct FileLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep_files: u32,
    fsync: FsyncPolicy,
    /// Lines written since the last sync (deferred, `fsync = "always"`): kept until they
    /// are synced, so a failed write or sync can keep them for the retry.
    unsynced: Vec<Vec<u8>>,
    /// The file's length at the last sync (under `never`: after the last write).
    synced_size: u64,
    backlog: VecDeque<Vec<u8>>,
    backlog_bytes: usize,
    limit_alerts: usize,
    limit_bytes: usize,
    /// The error that started the current outage.
    failing: Option<String>,
    /// Alerts refused during the current outage.
    refused: u64,
    health: Option<Arc<Health>>,
}

impl JsonlFileSink {
    /// Opens (creating it and its directory if needed) the log at `path`, repairing a torn
    /// last line left by a crash (logged as a warning; see [`JsonlFileSink::repair`]).
    pub fn open(path: &Path, config: &FileSinkConfig) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| annotate(e, "create the alert log directory", dir))?;
        }
        let repair = repair_torn_tail(path)?;
        match &repair {
            Some(TailRepair::NewlineAdded) => tracing::warn!(
                path = %path.display(),
                "Alert log ended without a newline after a crash; added it"
            ),
            Some(TailRepair::MovedAside {
                path: aside,
                bytes,
                kept_bytes,
            }) => tracing::warn!(
                path = %path.display(),
                moved_to = %aside.display(),
                bytes,
                kept_bytes,
                "Alert log had a torn last line after a crash; moved it aside"
            ),
            None => {}
        }
        let file = rotate::open_append(path)?;
        let size = file.metadata()?.len();
        let log = FileLog {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes: config.max_bytes,
            keep_files: config.keep_files,
            fsync: config.fsync,
            unsynced: Vec::new(),
            synced_size: size,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            limit_alerts: DEFAULT_BACKLOG_ALERTS,
            limit_bytes: DEFAULT_BACKLOG_BYTES,
            failing: None,
            refused: 0,
            health: None,
        };
        let inner = Arc::new(Mutex::new(log));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let retry = {
            let inner = inner.clone();
            let thread_stop = stop.clone();
            std::thread::Builder::new()
                .name("picket-log-retry".into())
                .spawn(move || retry_loop(&inner, &thread_stop))
                .map(|handle| (stop, handle))
                .map_err(|e| {
                    io::Error::other(format!("cannot start the alert log retry thread: {e}"))
                })?
        };
        Ok(Self {
            inner,
            retry: Some(retry),
            path: path.to_path_buf(),
            repair,
        })
    }

    /// Sets how many alerts (and bytes) are kept in memory while the log cannot be written.
    pub fn with_backlog_limit(self, alerts: usize, bytes: usize) -> Self {
        {
            let mut log = lock(&self.inner);
            log.limit_alerts = alerts;
            log.limit_bytes = bytes;
        }
        self
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was repaired at open, if anything.
    pub fn repair(&self) -> Option<&TailRepair> {
        self.repair.as_ref()
    }

    /// Alerts kept in memory, waiting for the log to become writable.
    pub fn backlog_len(&self) -> usize {
        lock(&self.inner).backlog.len()
    }
}

fn lock(m: &Mutex<FileLog>) -> MutexGuard<'_, FileLog> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn retry_loop(inner: &Mutex<FileLog>, stop: &(Mutex<bool>, Condvar)) {
    let (flag, cond) = stop;
    let mut stopped = flag.lock().unwrap_or_else(|p| p.into_inner());
    while !*stopped {
        stopped = cond
            .wait_timeout(stopped, RETRY_INTERVAL)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        if *stopped {
            break;
        }
        let mut log = lock(inner);
        if !log.backlog.is_empty() {
            let _ = log.drain_backlog();
        }
    }
}

impl FileLog {
    fn rotate(&mut self) -> io::Result<()> {
        // The rotated file keeps only synced lines.
        self.sync_unsynced()?;
        self.file = rotate::rotate(&self.path, self.keep_files)?;
        self.size = 0;
        self.synced_size = 0;
        Ok(())
    }

    /// Writes one whole line (with its newline), synced now under `fsync = "always"`
    /// unless `defer` (then by the next [`FileLog::sync_unsynced`]). A partial line never
    /// stays in the log: a failed write cuts off only that line (the lines before it were
    /// written whole and wait for their sync), a failed sync cuts the file back to its
    /// last synced length and keeps the unsynced lines for the retry.
    fn write_line(&mut self, buf: &[u8], defer: bool) -> io::Result<()> {
        let len = buf.len() as u64;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(buf) {
            // Out of space in the middle of a burst: the burst's earlier lines stay.
            if let Err(cut) = self.file.set_len(self.size) {
                tracing::error!(path = %self.path.display(), error = %cut, "Cannot cut a partly written line off the alert log");
                self.cut_unsynced();
            }
            return Err(e);
        }
        let always = self.fsync == FsyncPolicy::Always;
        if always && !defer {
            if let Err(e) = self.file.sync_data() {
                self.cut_unsynced();
                return Err(e);
            }
        }
        self.size += len;
        if always && defer {
            self.unsynced.push(buf.to_vec());
        } else {
            self.mark_synced();
        }
        Ok(())
    }

    /// Syncs the lines written with `defer`; on failure they are cut off and kept.
    fn sync_unsynced(&mut self) -> io::Result<()> {
        if self.unsynced.is_empty() {
            return Ok(());
        }
        match self.file.sync_data() {
            Ok(()) => {
                self.mark_synced();
                Ok(())
            }
            Err(e) => {
                self.cut_unsynced();
                Err(e)
            }
        }
    }

    /// Everything written so far is on disk.
    fn mark_synced(&mut self) {
        self.unsynced.clear();
        self.synced_size = self.size;
    }

    /// After a failed write or sync: cuts the file back to its last synced length and
    /// keeps the lines cut off, oldest first, ahead of anything kept after them.
    fn cut_unsynced(&mut self) {
        if let Err(cut) = self.file.set_len(self.synced_size) {
            tracing::error!(path = %self.path.display(), error = %cut, "Cannot cut a partly written line off the alert log");
        }
        self.size = self.synced_size;
        for line in std::mem::take(&mut self.unsynced).into_iter().rev() {
            if self.backlog.len() < self.limit_alerts
                && self.backlog_bytes + line.len() <= self.limit_bytes
            {
                self.backlog_bytes += line.len();
                self.backlog.push_front(line);
            } else {
                // Counted here: the pipeline saw this alert written.
                self.refused += 1;
                if let Some(h) = &self.health {
                    h.add_loss("sink.file", 1);
                }
            }
        }
        self.publish_kept();
    }

    /// Writes kept alerts, oldest first, until one fails.
    fn drain_backlog(&mut self) -> io::Result<()> {
        let mut written = 0u64;
        while let Some(line) = self.backlog.front() {
            let line = line.clone();
            if let Err(e) = self.write_line(&line, false) {
                self.publish_kept();
                if written > 0 {
                    tracing::info!(path = %self.path.display(), written, left = self.backlog.len(), "Wrote part of the kept alerts");
                }
                return Err(e);
            }
            self.backlog_bytes -= line.len();
            self.backlog.pop_front();
            written += 1;
        }
        self.publish_kept();
        if let Some(error) = self.failing.take() {
            tracing::warn!(
                path = %self.path.display(),
                written,
                refused = self.refused,
                first_error = %error,
                "Alert log writable again: wrote every alert kept in memory"
            );
            if let Some(h) = &self.health {
                h.note(
                    "sink.file",
                    format!("recovered: wrote {written} kept alerts; {} refused while failing ({error})", self.refused),
                );
            }
            self.refused = 0;
        }
        Ok(())
    }

    fn enter_failing(&mut self, e: &io::Error) {
        if self.failing.is_none() {
            let what = if e.kind() == io::ErrorKind::StorageFull {
                "the filesystem is full"
            } else {
                "write failed"
            };
            let msg = format!(
                "cannot write the alert log {}: {what}: {e}",
                self.path.display()
            );
            tracing::error!(
                path = %self.path.display(),
                error = %e,
                keep_alerts = self.limit_alerts,
                keep_bytes = self.limit_bytes,
                "Cannot write the alert log ({what}); keeping alerts in memory and retrying"
            );
            if let Some(h) = &self.health {
                h.counter("sink.file.outages")
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                h.note("sink.file", msg.clone());
            }
            self.failing = Some(msg);
        }
    }

    fn keep(&mut self, buf: Vec<u8>) -> io::Result<()> {
        if self.backlog.len() < self.limit_alerts
            && self.backlog_bytes + buf.len() <= self.limit_bytes
        {
            self.backlog_bytes += buf.len();
            self.backlog.push_back(buf);
            self.publish_kept();
            Ok(())
        } else {
            self.refused += 1;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "{}; {} alerts already kept in memory (the bound): alert dropped",
                    self.failing
                        .as_deref()
                        .unwrap_or("cannot write the alert log"),
                    self.backlog.len()
                ),
            ))
        }
    }

    /// Shows how many alerts are kept in memory now (`sink.file.kept`).
    fn publish_kept(&self) {
        if let Some(h) = &self.health {
            h.counter("sink.file.kept").store(
                self.backlog.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

impl JsonlFileSink {
    fn write_or_keep(&mut self, line: &str, defer: bool) -> io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let mut log = lock(&self.inner);
        if !log.backlog.is_empty() && log.drain_backlog().is_err() {
            return log.keep(buf);
        }
        match log.write_line(&buf, defer) {
            Ok(()) => Ok(()),
            Err(e) => {
                log.enter_failing(&e);
                log.keep(buf)
            }
        }
    }
}

/// An I/O error that names what was being done and to which file.
fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

impl AlertSink for JsonlFileSink {
    fn name(&self) -> &str {
        "file"
    }

    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        self.write_or_keep(line, false)
    }

    fn write_deferred(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        self.write_or_keep(line, true)
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut log = lock(&self.inner);
        log.sync_unsynced().inspect_err(|e| log.enter_failing(e))
    }

    /// Writes kept alerts if it can, then syncs; an error if some are still kept.
    fn flush(&mut self) -> io::Result<()> {
        let mut log = lock(&self.inner);
        if !log.backlog.is_empty() {
            log.drain_backlog().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} alerts kept in memory still cannot be written to {}: {e}",
                        log.backlog.len(),
                        log.path.display()
                    ),
                )
            })?;
        }
        log.file.flush()?;
        log.file.sync_data()?;
        log.mark_synced();
        Ok(())
    }

    fn attach_health(&mut self, health: &Arc<Health>) {
        health.loss_counter("sink.file");
        health.counter("sink.file.outages");
        let mut log = lock(&self.inner);
        log.health = Some(health.clone());
        log.publish_kept();
    }
}

impl Drop for JsonlFileSink {
    /// Stops the retry thread, tries the kept alerts one last time and counts what is
    /// still kept as lost (`sink.file`).
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.retry.take() {
            *stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
            stop.1.notify_all();
            let _ = handle.join();
        }
        let mut log = lock(&self.inner);
        if !log.backlog.is_empty() {
            let _ = log.drain_backlog();
        }
        let left = log.backlog.len() as u64;
        if left > 0 {
            tracing::error!(path = %log.path.display(), alerts = left, "Alerts kept in memory were lost: the alert log still cannot be written at shutdown");
            if let Some(h) = &log.health {
                h.add_loss("sink.file", left);
                h.note(
                    "sink.file",
                    format!("{left} alerts kept in memory were lost at shutdown: the log could not be written"),
                );
            }
            log.backlog.clear();
            log.publish_kept();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::alert;
    use std::io::BufRead;

    #[test]
    fn ten_thousand_alerts_survive_rotation_exactly_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let config = FileSinkConfig {
            max_bytes: 256 * 1024,
            keep_files: 100,
            fsync: FsyncPolicy::Never,
            ..FileSinkConfig::default()
        };
        let mut sink = JsonlFileSink::open(&path, &config).expect("open");
        for i in 0..10_000 {
            let a = alert(i);
            sink.write(&a, &a.to_json_line()).expect("write");
        }
        sink.flush().expect("flush");
        let mut files = vec![path.clone()];
        files.extend(
            (1..=100)
                .map(|n| rotated_path(&path, n))
                .filter(|p| p.exists()),
        );
        assert!(files.len() > 5, "rotation happened: {} files", files.len());
        let mut seen = std::collections::HashSet::new();
        for f in &files {
            assert!(fs::metadata(f).expect("meta").len() <= config.max_bytes);
            for line in io::BufReader::new(File::open(f).expect("open")).lines() {
                let line = line.expect("line");
                let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON line");
                let marker = v["process"]["args"][2]
                    .as_str()
                    .expect("marker")
                    .to_string();
                assert!(seen.insert(marker), "duplicate alert");
            }
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn rotation_keeps_only_n_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let config = FileSinkConfig {
            max_bytes: 4096,
            keep_files: 2,
            fsync: FsyncPolicy::Never,
            ..FileSinkConfig::default()
        };
        let mut sink = JsonlFileSink::open(&path, &config).expect("open");
        for i in 0..200 {
            let a = alert(i);
            sink.write(&a, &a.to_json_line()).expect("write");
        }
        assert!(rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists());
    }

    #[test]
    fn torn_last_line_is_moved_aside_and_earlier_lines_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alerts.jsonl");
        let good = format!("{}\n{}\n", alert(1).to_json_line(), alert(2).to_json_line());
        let torn = &alert(3).to_json_line()[..40];
        fs::write(&path, format!("{good}{torn}")).expect("write");
        let sink = JsonlFileSink::open(&path, &FileSinkConfig::default()).expect("open");
        let Some(TailRepair::MovedAside {
            path: aside,
            bytes,
            kept_bytes,
        }) = sink.repair().cloned()
        else {
            panic!("expected a repair, got {:?}", sink.repair());
        };
        assert_eq!(bytes, 40);
        assert_eq!(kept_bytes, good.len() as u64);
        assert_eq!(fs::read_to_string(&aside).expect("aside"), torn);
        assert!(aside.display().to_string().contains("alerts.jsonl.torn-"));
        drop(sink);
        assert_eq!(fs::read_to_string(&path).expect("log"), good);
    }

    #[cfg(unix)]
    #[test]
    fn alert_log_is_created_0640() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/alerts.jsonl");
        JsonlFileSink::open(&path, &FileSinkConfig::default()).expect("open");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o} grants no more than 0640");
    }
}
