//! `[inputs.files]`: tailing device logs written to files: ESXi `shell.log`, `auth.log`
//! and `hostd.log` (copied or mounted from the host), tac_plus accounting files, and
//! anything rsyslog writes one message per line.
//!
//! Each file is followed like `tail -F` (`sensor_core::tail`): across rotation and
//! truncation. Where each file got to is kept in a state file, and saved only once the
//! events before it are through the whole pipeline (`sensor_core::collector::Ack`): a
//! restart, even after SIGKILL, resumes after the last line dealt with. A line whose
//! event raised an alert saves the position at once, so its alert is never written
//! twice; other positions are saved every second. A file rotated while Picket was
//! stopped is read from its start, and the unread end of the old one is reported.

use crate::lines::{cap, LineCounters, LineFormat};
use crate::state::StateFile;
use crate::syslog::ParseContext;
use sensor_core::collector::{
    Ack, Collector, CollectorError, CollectorFuture, EventSender, Shutdown,
};
use sensor_core::lines::Chunk;
use sensor_core::tail::{self, FileId, FileTail, TailStart};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where to start a file Picket has no saved position for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// From its first line (what is there is read, then what is written).
    Beginning,
    /// From its end (only what is written from now on).
    End,
}

/// One followed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// The file. It need not exist yet.
    pub path: PathBuf,
    /// `syslog` (also ESXi's own log files) or `tacacs` (tac_plus accounting).
    pub format: LineFormat,
    /// The device the lines are from, when they do not name it (ESXi's `shell.log` has
    /// no host name in its lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Where to start when there is no saved position: `beginning` or `end`.
    #[serde(default = "default_start_at")]
    pub start_at: StartAt,
}

fn default_start_at() -> StartAt {
    StartAt::Beginning
}

/// `[inputs.files]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesInputConfig {
    /// Follow the files in `sources` in `picket run`.
    pub enabled: bool,
    /// The files, each a `[[inputs.files.sources]]` table.
    pub sources: Vec<FileSource>,
    /// Where read positions are saved; unset = `files-positions.json` in
    /// `general.state_dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// Longest line analysed, in bytes; a longer one is cut to this and counted
    /// (`files.oversized`).
    pub max_line_bytes: usize,
    /// How often a file is looked at when no change notification came, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for FilesInputConfig {
    fn default() -> Self {
        FilesInputConfig {
            enabled: false,
            sources: Vec::new(),
            state_file: None,
            max_line_bytes: 65_536,
            poll_interval_ms: 500,
        }
    }
}

impl FilesInputConfig {
    /// Semantic checks, each as (field path, message).
    pub fn validate(&self, problems: &mut Vec<(String, String)>) {
        let mut check = |ok: bool, field: String, msg: String| {
            if !ok {
                problems.push((format!("inputs.files.{field}"), msg));
            }
        };
        check(
            !self.enabled || !self.sources.is_empty(),
            "sources".into(),
            "expected at least one [[inputs.files.sources]] table when enabled = true".into(),
        );
        let mut seen = BTreeMap::new();
        for (i, s) in self.sources.iter().enumerate() {
            check(
                !s.path.as_os_str().is_empty(),
                format!("sources[{i}].path"),
                "expected a file path, found an empty string".into(),
            );
            if let Some(first) = seen.insert(s.path.clone(), i) {
                check(
                    false,
                    format!("sources[{i}].path"),
                    format!(
                        "{} is already followed by sources[{first}]; list each file once",
                        s.path.display()
                    ),
                );
            }
            check(
                s.host.as_deref().is_none_or(|h| !h.trim().is_empty()),
                format!("sources[{i}].host"),
                "expected a device name, found an empty string (leave the key out)".into(),
            );
        }
        check(
            self.state_file
                .as_deref()
                .is_none_or(|p| !p.as_os_str().is_empty()),
            "state_file".into(),
            "expected a file path, found an empty string (leave the key out for the default)"
                .into(),
        );
        check(
            (256..=16 << 20).contains(&self.max_line_bytes),
            "max_line_bytes".into(),
            format!(
                "expected 256 to 16777216 bytes, found {}",
                self.max_line_bytes
            ),
        );
        check(
            (10..=60_000).contains(&self.poll_interval_ms),
            "poll_interval_ms".into(),
            format!(
                "expected 10 to 60000 milliseconds, found {}",
                self.poll_interval_ms
            ),
        );
    }

    /// The input, with its positions read from the state file (`state_dir` is
    /// `general.state_dir`, for the default file). A state file that cannot be read is
    /// an error: starting over would read every file again.
    ///
    /// `alerted` is, per file, the highest line number the alert log names as evidence
    /// (read by the caller). The position is saved just after an alert is written, so a
    /// crash between the two leaves the saved position one line short of the alert log;
    /// the input resumes after that line instead, so its alert is not written twice.
    pub fn build(
        &self,
        state_dir: &Path,
        alerted: &BTreeMap<PathBuf, u64>,
    ) -> Result<FilesInput, String> {
        let state_path = self
            .state_file
            .clone()
            .unwrap_or_else(|| state_dir.join("files-positions.json"));
        let (state, _) = StateFile::load(
            state_path,
            "file positions",
            "move it away to read every file from its start",
        )?;
        Ok(FilesInput {
            alerted: alerted.clone(),
            config: self.clone(),
            state: Arc::new(state),
        })
    }
}

/// Where one file got to: the position just past the last line dealt with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Byte offset.
    pub offset: u64,
    /// Lines read up to there (the next line's number is this plus one).
    pub line: u64,
    /// Device and inode of the file the offset is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileId>,
}

/// The state file's contents: a position per followed path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    /// Position per path.
    pub files: BTreeMap<PathBuf, Position>,
}

impl StateFile<Positions> {
    fn set(&self, path: &Path, position: Position) {
        self.update(|p| p.files.insert(path.to_path_buf(), position) != Some(position));
    }
}

/// The `[inputs.files]` collector.
#[derive(Debug)]
pub struct FilesInput {
    config: FilesInputConfig,
    alerted: BTreeMap<PathBuf, u64>,
    state: Arc<StateFile<Positions>>,
}

impl FilesInput {
    /// Where positions are saved.
    pub fn state_path(&self) -> &Path {
        self.state.path()
    }
}

/// What one file's thread and its acks share: the last position read, and how many
/// of its events are still in the pipeline.
#[derive(Debug, Default)]
struct Progress {
    read: Position,
    in_flight: u64,
}

impl Collector for FilesInput {
    fn name(&self) -> &'static str {
        "files"
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let FilesInput {
                config,
                alerted,
                state,
            } = *self;
            let counters = LineCounters::new(out.health(), "files");
            let mut threads = Vec::new();
            for source in config.sources.clone() {
                let (out, shutdown, state, counters) = (
                    out.clone(),
                    shutdown.clone(),
                    state.clone(),
                    counters.clone(),
                );
                let config = config.clone();
                let alerted = alerted.get(&source.path).copied();
                threads.push(tokio::task::spawn_blocking(move || {
                    let input = FileInput {
                        source: &source,
                        config: &config,
                        alerted,
                        state: &state,
                        counters: &counters,
                    };
                    input.follow(&out, &shutdown)
                }));
            }
            out.mark_running();
            let mut first_error = None;
            for t in threads {
                let outcome = t
                    .await
                    .map_err(|e| CollectorError::Failed(format!("file thread failed: {e}")))
                    .and_then(|r| r);
                if let Err(e) = outcome {
                    first_error.get_or_insert(e);
                }
            }
            state.save_if_dirty();
            first_error.map_or(Ok(()), Err)
        })
    }
}

/// One followed file and what it needs.
struct FileInput<'a> {
    source: &'a FileSource,
    config: &'a FilesInputConfig,
    alerted: Option<u64>,
    state: &'a Arc<StateFile<Positions>>,
    counters: &'a LineCounters,
}

impl FileInput<'_> {
    fn follow(&self, out: &EventSender, shutdown: &Shutdown) -> Result<(), CollectorError> {
        follow_file(self, out, shutdown)
    }
}

fn follow_file(
    input: &FileInput<'_>,
    out: &EventSender,
    shutdown: &Shutdown,
) -> Result<(), CollectorError> {
    let FileInput {
        source,
        config,
        alerted,
        state,
        counters,
    } = *input;
    let saved = state.with(|p| p.files.get(&source.path).copied());
    let start = match (saved, source.start_at) {
        (Some(pos), _) => TailStart::Resume {
            offset: pos.offset,
            file: pos.file,
        },
        (None, StartAt::Beginning) => TailStart::Beginning,
        (None, StartAt::End) => TailStart::End,
    };
    // Lines over the cap are cut, not skipped, so the tail hands them over whole up to
    // a far larger bound (beyond which they are counted as oversized and skipped).
    let mut tail = FileTail::with_max_line(&source.path, start, 16 << 20);
    let progress = Arc::new(Mutex::new(Progress::default()));
    {
        let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
        let resumed = saved.filter(|_| matches!(start, TailStart::Resume { .. }));
        let at = match resumed {
            Some(pos) if !tail.stats().replaced_while_stopped && tail.stats().truncations == 0 => {
                pos
            }
            _ => Position::default(),
        };
        p.read = at;
    }
    // Lines the alert log shows were dealt with, past the saved position, in the same file.
    let same_file = !tail.stats().replaced_while_stopped && tail.stats().truncations == 0;
    let read_from = progress.lock().unwrap_or_else(|p| p.into_inner()).read.line;
    let skip_through = alerted.filter(|&m| same_file && m > read_from);
    if let Some(m) = skip_through {
        tracing::info!(file = %source.path.display(), saved = read_from, alerted = m, "Resuming after the last line the alert log names");
    }
    let resumed_past = out.health().counter("files.resumed_past_alerted");
    if tail.stats().replaced_while_stopped {
        let msg = format!(
            "{} was replaced while Picket was stopped; the new file is read from its start, and what was left unread in the old one was not read",
            source.path.display()
        );
        tracing::warn!("{msg}");
        out.health().note("files.rotated_while_stopped", msg);
    }
    let file_name = source.path.display().to_string();
    let mut ctx = ParseContext {
        reference: chrono::Utc::now(),
        default_host: source.host.clone(),
    };
    let last_save = std::cell::Cell::new(Instant::now());
    let interval = Duration::from_millis(config.poll_interval_ms);
    let path = source.path.clone();
    let mut on = |line: tail::TailLine<'_>| -> bool {
        let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
        // A new file (rotation, truncation) starts its offsets and line numbers again.
        if line.file != p.read.file || line.end_offset <= p.read.offset {
            p.read = Position {
                offset: 0,
                line: 0,
                file: line.file,
            };
        }
        p.read = Position {
            offset: line.end_offset,
            line: p.read.line + 1,
            file: line.file,
        };
        let here = p.read;
        if skip_through.is_some_and(|m| here.line <= m) {
            resumed_past.fetch_add(1, Ordering::Relaxed);
            if p.in_flight == 0 {
                state.set(&path, here);
            }
            return true;
        }
        let event = match line.chunk {
            Chunk::Line(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let (text, cut) = cap(&text, config.max_line_bytes);
                if cut {
                    counters.oversized.fetch_add(1, Ordering::Relaxed);
                }
                ctx.reference = chrono::Utc::now();
                let place = || format!("{file_name} line {}", here.line);
                counters.account(source.format.parse(text, &ctx), &place)
            }
            Chunk::TooLong(n) => {
                out.health().add_loss("files.too_long", 1);
                tracing::warn!(file = %file_name, line = here.line, bytes = n, "Line longer than 16 MiB skipped");
                None
            }
        };
        let Some(mut event) = event else {
            // Nothing of this file in flight before it: the line is dealt with now.
            if p.in_flight == 0 {
                state.set(&path, here);
            }
            return true;
        };
        sensor_core::replay::mark_origin(&mut event, &file_name, here.line);
        event.picket.collector = Some("files".into());
        p.in_flight += 1;
        drop(p);
        let (progress, state, path) = (progress.clone(), state.clone(), path.clone());
        let ack = Ack::new(move |raised_alerts| {
            let done = {
                let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
                p.in_flight -= 1;
                // Events are acknowledged in order; with none left in flight, the lines
                // read after this one made no event and are dealt with too.
                if p.in_flight == 0 {
                    p.read
                } else {
                    here
                }
            };
            state.set(&path, done);
            if raised_alerts {
                state.save_if_dirty();
            }
        });
        out.blocking_send_acked(event, ack)
    };
    let stop = || {
        if last_save.get().elapsed() >= Duration::from_secs(1) {
            last_save.set(Instant::now());
            state.save_if_dirty();
        }
        shutdown.is_triggered()
    };
    let result = tail::follow(&mut tail, interval, &stop, &mut on);
    result.map_err(|e| CollectorError::Io {
        what: file_name.clone(),
        source: e,
    })
}
