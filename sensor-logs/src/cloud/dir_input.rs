//! `[inputs.cloudtrail]`: CloudTrail objects as they arrive in a directory, watched
//! recursively: an `aws s3 sync` target, an S3 mount, a drop folder.
//!
//! Each object is read once, whole, in the order documented in [`crate::cloud`] (among
//! the objects found ready together). An object still being written is not read until
//! it is stable: its size and modification time the same at two looks a second apart
//! (a poll interval, if shorter), and never under a partial-download name (see
//! [`super::is_object_name`]). What was read is kept in a state file: the objects read
//! to their end (path, size, modification time), and for an object being read the
//! index of the last record whose event is through the whole pipeline
//! (`sensor_core::collector::Ack`). That is saved at once when the event raised an
//! alert, else at least every second, so a restart, even after SIGKILL in the middle
//! of an object, resumes inside it at the next record: nothing read twice, nothing
//! missed. The alert log's evidence (object + record) covers the last gap: a crash
//! after an alert was written but before its record was saved resumes after that
//! record ([`CloudTrailInputConfig::build`]).
//!
//! An object that changes after it was read is noted in health and not read again. An
//! object that disappears from the directory is forgotten (its entry dropped from the
//! state file) once the directory lists other objects, so the file does not grow
//! without bound under an S3 lifecycle rule. Counts: `cloudtrail.objects`,
//! `cloudtrail.records`, `cloudtrail.events`; losses: `cloudtrail.malformed_records`,
//! `cloudtrail.malformed_objects`, `cloudtrail.read_errors` (an object that could not
//! be read is tried again at the next look).
//!
//! May touch: the directory (read only), notifications for it, and the state file.

use super::{order_objects, read_object, CloudFormat, ObjectError};
use crate::state::StateFile;
use sensor_core::collector::{
    Ack, Collector, CollectorError, CollectorFuture, EventSender, Shutdown,
};
use sensor_core::health::{Counter, Health, RateLimitedWarn};
use sensor_core::replay::mark_origin;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// `picket.collector` of the live input's events.
pub const COLLECTOR: &str = "cloudtrail";

/// Which objects already in the directory at the first start are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudTrailStartAt {
    /// All of them, in order, then the new ones.
    Beginning,
    /// None: only objects that arrive from now on.
    Now,
}

/// `[inputs.cloudtrail]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudTrailInputConfig {
    /// Read the directory in `picket run`.
    pub enabled: bool,
    /// The directory CloudTrail objects arrive in, watched recursively.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// Where what was read is saved; unset = `cloudtrail-objects.json` in
    /// `general.state_dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// How often the directory is listed when no notification came, in seconds.
    pub poll_interval_secs: u64,
    /// At the first start (no state file yet): `beginning` reads the objects already
    /// there, `now` only those that arrive later.
    pub start_at: CloudTrailStartAt,
    /// Longest record read, in bytes; a longer one is counted as malformed and skipped.
    pub max_record_bytes: usize,
}

impl Default for CloudTrailInputConfig {
    fn default() -> Self {
        CloudTrailInputConfig {
            enabled: false,
            directory: None,
            state_file: None,
            poll_interval_secs: 10,
            start_at: CloudTrailStartAt::Beginning,
            max_record_bytes: super::DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl CloudTrailInputConfig {
    /// Semantic checks, each as (field path, message).
    pub fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut check = |ok: bool, field: &str, msg: String| {
            if !ok {
                problems.push((format!("inputs.cloudtrail.{field}"), msg));
            }
        };
        match &self.directory {
            None => check(
                !self.enabled,
                "directory",
                "expected the directory CloudTrail objects arrive in when enabled = true".into(),
            ),
            Some(d) => check(
                !d.as_os_str().is_empty(),
                "directory",
                "expected a directory path, found an empty string".into(),
            ),
        }
        check(
            self.state_file
                .as_deref()
                .is_none_or(|p| !p.as_os_str().is_empty()),
            "state_file",
            "expected a file path, found an empty string (leave the key out for the default)"
                .into(),
        );
        check(
            (1..=3600).contains(&self.poll_interval_secs),
            "poll_interval_secs",
            format!(
                "expected 1 to 3600 seconds, found {}",
                self.poll_interval_secs
            ),
        );
        check(
            (1024..=16 << 20).contains(&self.max_record_bytes),
            "max_record_bytes",
            format!(
                "expected 1024 to 16777216 bytes, found {}",
                self.max_record_bytes
            ),
        );
    }

    /// The input, with what was read loaded from the state file (`state_dir` is
    /// `general.state_dir`, for the default file). A state file that cannot be read is
    /// an error: starting over would read every object again.
    ///
    /// `alerted` is, per object, the highest record index the alert log names as
    /// evidence (`file` + `record`, read by the caller). The record is saved just after
    /// its alert is written, so a crash between the two leaves the state one record
    /// short; the input resumes after the record the alert log names instead, so its
    /// alert is not written twice.
    pub fn build(
        &self,
        state_dir: &Path,
        alerted: &BTreeMap<PathBuf, u64>,
    ) -> Result<CloudTrailInput, String> {
        let directory = self
            .directory
            .clone()
            .ok_or_else(|| "directory is not set".to_string())?;
        let path = self
            .state_file
            .clone()
            .unwrap_or_else(|| state_dir.join("cloudtrail-objects.json"));
        let (state, first_start) = StateFile::load(
            path,
            "CloudTrail state",
            "move it away to read the directory again",
        )?;
        Ok(CloudTrailInput {
            directory,
            config: self.clone(),
            alerted: alerted.clone(),
            first_start,
            state: Arc::new(state),
        })
    }
}

/// An object as it was seen: its size and modification time (ns since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (none where the file system
    /// has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ns: Option<i64>,
}

/// An object being read: as it was seen, and the last record dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// The object when its reading began.
    #[serde(flatten)]
    pub seen: Seen,
    /// Index of the last record whose event is through the pipeline (or that made
    /// none); reading resumes at the next.
    pub record: u64,
}

/// The state file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    /// Objects read to their end.
    pub done: BTreeMap<PathBuf, Seen>,
    /// Objects being read.
    pub partial: BTreeMap<PathBuf, Partial>,
}

impl StateFile<ObjectState> {
    fn set_partial(&self, path: &Path, seen: Seen, record: u64) {
        let p = Partial { seen, record };
        self.update(|s| s.partial.insert(path.to_path_buf(), p) != Some(p));
    }

    fn finish(&self, path: &Path, seen: Seen) {
        self.update(|s| {
            s.partial.remove(path);
            s.done.insert(path.to_path_buf(), seen);
            true
        });
    }
}

/// The `[inputs.cloudtrail]` collector.
#[derive(Debug)]
pub struct CloudTrailInput {
    directory: PathBuf,
    config: CloudTrailInputConfig,
    alerted: BTreeMap<PathBuf, u64>,
    first_start: bool,
    state: Arc<StateFile<ObjectState>>,
}

impl CloudTrailInput {
    /// Where what was read is saved.
    pub fn state_path(&self) -> &Path {
        self.state.path()
    }
}

impl Collector for CloudTrailInput {
    fn name(&self) -> &'static str {
        COLLECTOR
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let state = self.state.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let mut watch = Watch::new(*self, &out);
                out.mark_running();
                watch.run(&out, &shutdown);
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("CloudTrail input failed: {e}")));
            state.save_if_dirty();
            outcome
        })
    }
}

#[derive(Debug, Clone)]
struct Counters {
    health: Arc<Health>,
    objects: Counter,
    records: Counter,
    events: Counter,
    malformed_records: Counter,
    malformed_objects: Counter,
    read_errors: Counter,
    resumed_past_alerted: Counter,
}

impl Counters {
    fn new(health: &Arc<Health>) -> Counters {
        Counters {
            health: health.clone(),
            objects: health.counter("cloudtrail.objects"),
            records: health.counter("cloudtrail.records"),
            events: health.counter("cloudtrail.events"),
            malformed_records: health.loss_counter("cloudtrail.malformed_records"),
            malformed_objects: health.loss_counter("cloudtrail.malformed_objects"),
            read_errors: health.loss_counter("cloudtrail.read_errors"),
            resumed_past_alerted: health.counter("cloudtrail.resumed_past_alerted"),
        }
    }
}

/// What one object's reading and its acks share.
#[derive(Debug, Default)]
struct Progress {
    /// Index of the last record read.
    read: u64,
    /// Its events still in the pipeline.
    in_flight: u64,
    /// Read to its end (or to a fault that ends it).
    finished: bool,
}

fn lock(p: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

static WARN: RateLimitedWarn = RateLimitedWarn::new(Duration::from_secs(10));

/// The reader thread's state.
struct Watch {
    input: CloudTrailInput,
    counters: Counters,
    /// Objects not read yet, as last seen (a second look the same = stable).
    pending: HashMap<PathBuf, Seen>,
    /// Done objects already reported as changed after they were read.
    changed_noted: BTreeSet<PathBuf>,
    /// Objects read to their end whose last events are still in the pipeline: done
    /// once acknowledged, and never to be picked up again meanwhile.
    awaiting_acks: BTreeSet<PathBuf>,
    last_save: Instant,
    missing_dir_warned: bool,
}

impl Watch {
    fn new(input: CloudTrailInput, out: &EventSender) -> Watch {
        Watch {
            input,
            counters: Counters::new(out.health()),
            pending: HashMap::new(),
            changed_noted: BTreeSet::new(),
            awaiting_acks: BTreeSet::new(),
            last_save: Instant::now(),
            missing_dir_warned: false,
        }
    }

    fn save_if_due(&mut self) {
        if self.last_save.elapsed() >= Duration::from_secs(1) {
            self.last_save = Instant::now();
            self.input.state.save_if_dirty();
        }
    }

    fn run(&mut self, out: &EventSender, shutdown: &Shutdown) {
        let poll = Duration::from_secs(self.input.config.poll_interval_secs);
        let settle = poll.min(Duration::from_secs(1));
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher = None;
        let mut first_look = true;
        while !shutdown.is_triggered() {
            if watcher.is_none() {
                watcher = watch_dir(&self.input.directory, tx.clone()).ok();
            }
            let last_look = Instant::now();
            let listing = self.list();
            if first_look && self.input.first_start {
                if let (Some(listing), CloudTrailStartAt::Now) =
                    (&listing, self.input.config.start_at)
                {
                    // start_at = "now": what is there now counts as read.
                    for (path, seen) in listing {
                        self.input.state.finish(path, *seen);
                    }
                    tracing::info!(objects = listing.len(), directory = %self.input.directory.display(), "CloudTrail input starts at now: objects already there are not read");
                }
                // Saved at once, so a restart is not a first start again.
                self.input.state.mark_dirty();
                self.input.state.save_if_dirty();
            }
            first_look = false;
            let ready = listing.map(|l| self.ready(l)).unwrap_or_default();
            let unstable = !self.pending.is_empty();
            for (path, seen) in ready {
                if shutdown.is_triggered() || !self.read_one(&path, seen, out, shutdown) {
                    break;
                }
            }
            self.save_if_due();
            // Wait for the next look: a poll interval, or sooner (but not before the
            // settle time) when something changed or an object waits to be stable.
            let mut next = last_look + if unstable { settle } else { poll };
            let soonest = last_look + settle;
            loop {
                if shutdown.is_triggered() {
                    break;
                }
                self.save_if_due();
                let now = Instant::now();
                if now >= next {
                    break;
                }
                let slice = (next - now).min(Duration::from_millis(200));
                match rx.recv_timeout(slice) {
                    Ok(()) => {
                        while rx.try_recv().is_ok() {}
                        next = next.min(soonest.max(now));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        watcher = None;
                        std::thread::sleep(slice);
                    }
                }
            }
        }
        self.input.state.save_if_dirty();
    }

    /// Every object in the directory with how it looks now; `None` when the directory
    /// cannot be listed (warned about once).
    fn list(&mut self) -> Option<Vec<(PathBuf, Seen)>> {
        match list_seen(&self.input.directory) {
            Ok(l) => {
                self.missing_dir_warned = false;
                Some(l)
            }
            Err(e) => {
                if !self.missing_dir_warned {
                    self.missing_dir_warned = true;
                    let msg = format!(
                        "cannot list {}: {e}; looking again every poll",
                        self.input.directory.display()
                    );
                    tracing::warn!("{msg}");
                    self.counters.health.note("cloudtrail.directory", msg);
                }
                None
            }
        }
    }

    /// The objects stable since the last look and not read yet, in reading order.
    fn ready(&mut self, listing: Vec<(PathBuf, Seen)>) -> Vec<(PathBuf, Seen)> {
        let present: BTreeSet<&PathBuf> = listing.iter().map(|(p, _)| p).collect();
        if !listing.is_empty() {
            // Objects gone from the directory are forgotten (a lifecycle rule).
            self.input.state.update(|s| {
                let before = (s.done.len(), s.partial.len());
                s.done.retain(|p, _| present.contains(p));
                s.partial.retain(|p, _| present.contains(p));
                (s.done.len(), s.partial.len()) != before
            });
            self.pending.retain(|p, _| present.contains(p));
            self.awaiting_acks.retain(|p| present.contains(p));
        }
        let mut ready = Vec::new();
        for (path, seen) in listing {
            let done = self.input.state.with(|s| s.done.get(&path).copied());
            if done.is_some() {
                self.awaiting_acks.remove(&path);
            } else if self.awaiting_acks.contains(&path) {
                continue;
            }
            if let Some(was) = done {
                if was != seen && self.changed_noted.insert(path.clone()) {
                    let msg = format!(
                        "{} changed after it was read (size {} → {}); it is not read again",
                        path.display(),
                        was.size,
                        seen.size
                    );
                    tracing::warn!("{msg}");
                    self.counters
                        .health
                        .note("cloudtrail.changed_after_read", msg);
                }
                continue;
            }
            match self.pending.insert(path.clone(), seen) {
                Some(before) if before == seen => {
                    self.pending.remove(&path);
                    ready.push((path, seen));
                }
                _ => {}
            }
        }
        let seen: HashMap<PathBuf, Seen> = ready.iter().cloned().collect();
        order_objects(
            ready.into_iter().map(|(p, _)| p).collect(),
            CloudFormat::CloudTrail,
        )
        .into_iter()
        .filter_map(|p| seen.get(&p).map(|s| (p, *s)))
        .collect()
    }

    /// Reads one object from where it got to. False when reading must stop (shutdown,
    /// or the pipeline is gone).
    fn read_one(
        &mut self,
        path: &Path,
        seen: Seen,
        out: &EventSender,
        shutdown: &Shutdown,
    ) -> bool {
        let state = self.input.state.clone();
        let file = path.display().to_string();
        let saved = state.with(|s| s.partial.get(path).copied());
        let resume = match saved {
            Some(p) if p.seen == seen => p.record,
            Some(_) => {
                let msg = format!(
                    "{file} changed while it was being read; it is read again from its start"
                );
                tracing::warn!("{msg}");
                self.counters
                    .health
                    .note("cloudtrail.changed_while_read", msg);
                0
            }
            None => 0,
        };
        let skip = match self.input.alerted.get(path) {
            Some(&alerted) if alerted > resume => {
                tracing::info!(object = %file, saved = resume, alerted, "Resuming after the last record the alert log names");
                self.counters
                    .resumed_past_alerted
                    .fetch_add(alerted - resume, Ordering::Relaxed);
                alerted
            }
            _ => resume,
        };
        state.set_partial(path, seen, skip);
        let progress = Arc::new(Mutex::new(Progress {
            read: skip,
            ..Progress::default()
        }));
        let counters = self.counters.clone();
        let mut last_save = self.last_save;
        let max = self.input.config.max_record_bytes;
        let mut gone = false;
        let read = read_object(
            path,
            CloudFormat::CloudTrail,
            COLLECTOR,
            max,
            skip,
            &mut |record, outcome| {
                // Checked before a record, not after: the last one of an object is
                // followed by its end, and the object is finished.
                if shutdown.is_triggered() {
                    return false;
                }
                counters.records.fetch_add(1, Ordering::Relaxed);
                let mut p = lock(&progress);
                p.read = record;
                match outcome {
                    Err(reason) => {
                        counters.malformed_records.fetch_add(1, Ordering::Relaxed);
                        if let Some(suppressed) = WARN.check() {
                            tracing::warn!(object = %file, record, reason, suppressed, "Malformed CloudTrail record; counted and skipped");
                        }
                        if p.in_flight == 0 {
                            state.set_partial(path, seen, record);
                        }
                    }
                    Ok(mut event) => {
                        mark_origin(&mut event, &file, record);
                        counters.events.fetch_add(1, Ordering::Relaxed);
                        p.in_flight += 1;
                        drop(p);
                        let (progress, state, owned) =
                            (progress.clone(), state.clone(), path.to_path_buf());
                        let ack = Ack::new(move |raised_alerts| {
                            let (upto, finished) = {
                                let mut p = lock(&progress);
                                p.in_flight -= 1;
                                // Acks come in order: with none left in flight, the
                                // records read after this one made no event and are
                                // dealt with too.
                                if p.in_flight == 0 {
                                    (p.read, p.finished)
                                } else {
                                    (record, false)
                                }
                            };
                            if finished {
                                state.finish(&owned, seen);
                            } else {
                                state.set_partial(&owned, seen, upto);
                            }
                            if raised_alerts {
                                state.save_if_dirty();
                            }
                        });
                        if !out.blocking_send_acked(event, ack) {
                            gone = true;
                            return false;
                        }
                    }
                }
                if last_save.elapsed() >= Duration::from_secs(1) {
                    last_save = Instant::now();
                    state.save_if_dirty();
                }
                true
            },
        );
        self.last_save = last_save;
        match read.error {
            None => {}
            Some(ObjectError::Io(e)) => {
                self.counters.read_errors.fetch_add(1, Ordering::Relaxed);
                let msg = format!("cannot read {file}: {e}; it is tried again at the next look");
                tracing::warn!("{msg}");
                self.counters.health.note("cloudtrail.read_errors", msg);
                // Looked at again, from where it got to.
                return !gone;
            }
            Some(ObjectError::Malformed(why)) => {
                self.counters
                    .malformed_objects
                    .fetch_add(1, Ordering::Relaxed);
                let msg = format!(
                    "{file} ends early after record {}: {why}; the records before were read",
                    read.records
                );
                tracing::warn!("{msg}");
                self.counters
                    .health
                    .note("cloudtrail.malformed_objects", msg);
            }
        }
        if read.stopped || gone {
            return false;
        }
        self.counters.objects.fetch_add(1, Ordering::Relaxed);
        let mut p = lock(&progress);
        p.finished = true;
        if p.in_flight == 0 {
            drop(p);
            self.input.state.finish(path, seen);
        } else {
            drop(p);
            self.awaiting_acks.insert(path.to_path_buf());
        }
        true
    }
}

/// Every object under `dir` (recursively), with its size and modification time.
fn list_seen(dir: &Path) -> std::io::Result<Vec<(PathBuf, Seen)>> {
    let mut out = Vec::new();
    for path in super::list_objects(dir)? {
        // An object removed between the listing and here is simply not there.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_nanos()).ok());
        out.push((
            path,
            Seen {
                size: meta.len(),
                mtime_ns,
            },
        ));
    }
    Ok(out)
}

/// Wakes the reader on changes under `dir` (recursively); a poll is the fallback.
fn watch_dir(dir: &Path, tx: mpsc::Sender<()>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
            }
        }
    })?;
    watcher.watch(dir, notify::RecursiveMode::Recursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_fields() {
        let mut problems = Vec::new();
        CloudTrailInputConfig {
            enabled: true,
            poll_interval_secs: 0,
            max_record_bytes: 10,
            state_file: Some(PathBuf::new()),
            ..CloudTrailInputConfig::default()
        }
        .validate(&mut problems);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "inputs.cloudtrail.directory",
                "inputs.cloudtrail.state_file",
                "inputs.cloudtrail.poll_interval_secs",
                "inputs.cloudtrail.max_record_bytes",
            ]
        );
        let mut problems = Vec::new();
        CloudTrailInputConfig::default().validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn the_config_reads_from_toml_shape() {
        let c: CloudTrailInputConfig = serde_json::from_str(
            r#"{"enabled":true,"directory":"/var/lib/ct","start_at":"now","poll_interval_secs":5}"#,
        )
        .expect("config");
        assert_eq!(c.start_at, CloudTrailStartAt::Now);
        assert_eq!(c.directory.as_deref(), Some(Path::new("/var/lib/ct")));
        assert!(serde_json::from_str::<CloudTrailInputConfig>(r#"{"nope":1}"#).is_err());
    }
}
