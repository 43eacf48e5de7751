//! Following a file that eslogger writes (`eslogger exec fork exit > file`), the way
//! `tail -F` does: new lines as they arrive, across rotation (the file renamed or
//! removed and a new one created at the path) and truncation (copytruncate).
//!
//! Portable by design, so it is exercised for real on Linux: [`FileTail`] does the
//! reading; [`follow`] wakes it on `notify` file-system events, with a short poll as a
//! fallback for missed events.

use crate::lines::{Chunk, LineAssembler, MAX_LINE_BYTES};
use sensor_core::Shutdown;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the file is checked when no file-system event arrives (and how quickly
/// shutdown is noticed).
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where to start reading a file that already exists when following begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailStart {
    /// From its first byte (a replay of what is there, then follow).
    Beginning,
    /// From its current end (only what is written from now on). Files that appear
    /// later (after rotation) are always read from their first byte.
    End,
}

/// What a tail went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailStats {
    /// Bytes read.
    pub bytes: u64,
    /// Times a new file replaced the followed one at the path.
    pub rotations: u64,
    /// Times the followed file got shorter than what had been read (truncation).
    pub truncations: u64,
}

/// Identity of a file independent of its name (device and inode on Unix).
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(meta: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata) -> Option<FileId> {
    // No stable file identity in std here: rotation is seen only as truncation.
    None
}

/// Reads new complete lines from a file that may be rotated or truncated under it.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    file: Option<File>,
    id: Option<FileId>,
    offset: u64,
    lines: LineAssembler,
    buf: Vec<u8>,
    stats: TailStats,
}

impl FileTail {
    /// Starts following `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>, start: TailStart) -> Self {
        let mut tail = Self {
            path: path.into(),
            file: None,
            id: None,
            offset: 0,
            lines: LineAssembler::new(MAX_LINE_BYTES),
            buf: vec![0; 64 * 1024],
            stats: TailStats::default(),
        };
        // A missing file is not an error: it is picked up when it appears.
        let _ = tail.open(start == TailStart::End);
        tail
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What happened so far.
    pub fn stats(&self) -> &TailStats {
        &self.stats
    }

    fn open(&mut self, at_end: bool) -> io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        self.offset = if at_end { meta.len() } else { 0 };
        file.seek(SeekFrom::Start(self.offset))?;
        self.id = file_id(&meta);
        self.file = Some(file);
        Ok(true)
    }

    /// Reads everything new and hands out complete lines; handles truncation and
    /// rotation. Returns false if `on` asked to stop.
    pub fn poll(&mut self, on: &mut dyn FnMut(Chunk<'_>) -> bool) -> io::Result<bool> {
        if self.file.is_none() && !self.open(false)? {
            return Ok(true);
        }
        if !self.drain(on)? {
            return Ok(false);
        }
        // Truncated in place (copytruncate): start over from the top of the same file.
        let len = match &self.file {
            Some(f) => f.metadata()?.len(),
            None => return Ok(true),
        };
        if len < self.offset {
            self.stats.truncations += 1;
            if !self.lines.flush(on) {
                return Ok(false);
            }
            if let Some(f) = &mut self.file {
                f.seek(SeekFrom::Start(0))?;
            }
            self.offset = 0;
            if !self.drain(on)? {
                return Ok(false);
            }
        }
        // Rotated: another file now lives at the path. The old one was read to its end
        // above; finish its last partial line, then switch.
        let now_at_path = match std::fs::metadata(&self.path) {
            Ok(meta) => file_id(&meta),
            // Renamed away and not yet recreated: keep reading the old file meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        if now_at_path.is_some() && self.id.is_some() && now_at_path != self.id {
            if !self.drain(on)? || !self.lines.flush(on) {
                return Ok(false);
            }
            self.stats.rotations += 1;
            self.file = None;
            if self.open(false)? && !self.drain(on)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn drain(&mut self, on: &mut dyn FnMut(Chunk<'_>) -> bool) -> io::Result<bool> {
        let Some(file) = self.file.as_mut() else {
            return Ok(true);
        };
        loop {
            let n = match file.read(&mut self.buf) {
                Ok(0) => return Ok(true),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.offset += n as u64;
            self.stats.bytes += n as u64;
            if !self.lines.push(&self.buf[..n], on) {
                return Ok(false);
            }
        }
    }
}

/// Follows `path` until `shutdown` fires or `on` returns false, calling `on` for every
/// line. Blocking: run it on a blocking thread. File-system events (via `notify`, on
/// the file's directory) wake it at once; without them it polls every
/// [`POLL_INTERVAL`].
pub fn follow(
    path: &Path,
    start: TailStart,
    shutdown: &Shutdown,
    on: &mut dyn FnMut(Chunk<'_>) -> bool,
) -> io::Result<TailStats> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _watcher = match watch_dir_of(path, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "Cannot watch for file changes; polling instead");
            None
        }
    };
    let mut tail = FileTail::new(path, start);
    while !shutdown.is_triggered() {
        if !tail.poll(on)? {
            break;
        }
        match rx.recv_timeout(POLL_INTERVAL) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // The watcher is gone: carry on polling.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(POLL_INTERVAL)
            }
        }
        // Several events for one change are one wake-up.
        while rx.try_recv().is_ok() {}
    }
    Ok(tail.stats.clone())
}

fn watch_dir_of(
    path: &Path,
    tx: std::sync::mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let relevant = match &res {
            Ok(ev) => {
                ev.paths.is_empty() || ev.paths.iter().any(|p| p.file_name() == name.as_deref())
            }
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
