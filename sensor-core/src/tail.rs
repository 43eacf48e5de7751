//! Following a file the way `tail -F` does: complete lines as they are written, across
//! rotation (the file renamed or removed and a new one created at the path) and
//! truncation (copytruncate), each with the offset just past it so a caller can persist
//! where it got to and resume there after a restart.
//!
//! One tailer for every file Picket follows: the eslogger output file (`sensor-macos`),
//! the alert log (`picket alerts --follow`) and tailed log inputs. [`FileTail`] does the
//! reading; [`follow`] wakes it on `notify` file-system events for the file's
//! directory, with a poll as the fallback for missed events.
//!
//! May touch: the followed file (read only) and notifications for its directory.

use crate::lines::{Chunk, LineAssembler, MAX_LINE_BYTES};
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where to start reading a file that already exists when following begins. A file
/// that appears later (after rotation, or one that did not exist yet) is always read
/// from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailStart {
    /// From its first byte (a replay of what is there, then follow).
    Beginning,
    /// From its current end (only what is written from now on).
    End,
    /// From this byte offset, one a [`TailLine::end_offset`] reported before a restart.
    /// A file now shorter than that was truncated or replaced meanwhile: it is read
    /// from its first byte (and counted as a truncation).
    Offset(u64),
    /// From this offset in this file, as saved before a restart: if the file at the
    /// path is another one now (rotated while Picket was stopped), it is read from its
    /// first byte, and [`TailStats::replaced_while_stopped`] says so.
    Resume {
        /// [`TailLine::end_offset`] of the last line dealt with.
        offset: u64,
        /// [`TailLine::file`] of that line.
        file: Option<FileId>,
    },
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
    /// The saved position of a [`TailStart::Resume`] named another file than the one
    /// now at the path: what was left unread in that one was not read.
    pub replaced_while_stopped: bool,
}

/// One line of the followed file.
#[derive(Debug, PartialEq, Eq)]
pub struct TailLine<'a> {
    /// The line (or the length of one over the limit).
    pub chunk: Chunk<'a>,
    /// The offset just past the line in the file it was read from: where to resume
    /// ([`TailStart::Offset`]) once this line is dealt with. Offsets start again at 0
    /// in a new file after rotation or truncation.
    pub end_offset: u64,
    /// The file it was read from (device and inode on Unix), to save with the offset.
    pub file: Option<FileId>,
}

/// Identity of a file independent of its name (device and inode on Unix).
pub type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(meta: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata) -> Option<FileId> {
    // No stable file identity in std here: a new file at the path is seen when it is
    // shorter than what was read of the old one.
    None
}

/// Reads new complete lines from a file that may be rotated or truncated under it.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    file: Option<File>,
    id: Option<FileId>,
    /// Bytes of the held file read so far.
    offset: u64,
    lines: LineAssembler,
    buf: Vec<u8>,
    stats: TailStats,
}

impl FileTail {
    /// Starts following `path` (which need not exist yet), with lines of up to
    /// [`MAX_LINE_BYTES`].
    pub fn new(path: impl Into<PathBuf>, start: TailStart) -> Self {
        Self::with_max_line(path, start, MAX_LINE_BYTES)
    }

    /// Starts following `path`; lines longer than `max_line` bytes are skipped and
    /// reported as [`Chunk::TooLong`].
    pub fn with_max_line(path: impl Into<PathBuf>, start: TailStart, max_line: usize) -> Self {
        let mut tail = Self {
            path: path.into(),
            file: None,
            id: None,
            offset: 0,
            lines: LineAssembler::new(max_line),
            buf: vec![0; 64 * 1024],
            stats: TailStats::default(),
        };
        // A missing or unreadable file is not an error yet: it is retried at each poll.
        let _ = tail.open(start);
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

    fn open(&mut self, start: TailStart) -> io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        self.offset = match start {
            TailStart::Beginning => 0,
            TailStart::End => meta.len(),
            TailStart::Offset(at) if at <= meta.len() => at,
            TailStart::Offset(_) => {
                self.stats.truncations += 1;
                0
            }
            TailStart::Resume { offset, file } => {
                let same = match (file, file_id(&meta)) {
                    (Some(saved), Some(now)) => saved == now,
                    _ => true,
                };
                if !same {
                    self.stats.replaced_while_stopped = true;
                    0
                } else if offset <= meta.len() {
                    offset
                } else {
                    self.stats.truncations += 1;
                    0
                }
            }
        };
        file.seek(SeekFrom::Start(self.offset))?;
        self.lines.set_position(self.offset);
        self.id = file_id(&meta);
        self.file = Some(file);
        Ok(true)
    }

    /// Reads everything new and hands out complete lines; handles truncation and
    /// rotation. A line cut short by either is handed out too (it will not parse, and
    /// is counted as such), not dropped silently. Returns false if `on` asked to stop.
    pub fn poll(&mut self, on: &mut dyn FnMut(TailLine<'_>) -> bool) -> io::Result<bool> {
        if self.file.is_none() && !self.open(TailStart::Beginning)? {
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
            if !self.flush(on) {
                return Ok(false);
            }
            if let Some(f) = &mut self.file {
                f.seek(SeekFrom::Start(0))?;
            }
            self.offset = 0;
            self.lines.set_position(0);
            if !self.drain(on)? {
                return Ok(false);
            }
        }
        // Rotated: another file now lives at the path. The old one was read to its end
        // above; finish its last partial line, then switch.
        let at_path = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            // Renamed away and not yet recreated: keep reading the old file meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        let replaced = match (file_id(&at_path), self.id) {
            (Some(now), Some(held)) => now != held,
            _ => at_path.len() < self.offset,
        };
        if replaced {
            if !self.drain(on)? || !self.flush(on) {
                return Ok(false);
            }
            self.stats.rotations += 1;
            self.file = None;
            if self.open(TailStart::Beginning)? && !self.drain(on)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn flush(&mut self, on: &mut dyn FnMut(TailLine<'_>) -> bool) -> bool {
        let file = self.id;
        self.lines.flush(&mut |chunk, end_offset| {
            on(TailLine {
                chunk,
                end_offset,
                file,
            })
        })
    }

    fn drain(&mut self, on: &mut dyn FnMut(TailLine<'_>) -> bool) -> io::Result<bool> {
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
            let file = self.id;
            let go_on = self.lines.push(&self.buf[..n], &mut |chunk, end_offset| {
                on(TailLine {
                    chunk,
                    end_offset,
                    file,
                })
            });
            if !go_on {
                return Ok(false);
            }
        }
    }
}

/// Polls `tail` until `stop` says so or `on` returns false. Blocking: run it on a
/// blocking thread. File-system events (via `notify`, on the file's directory) wake it
/// at once; without them it polls every `interval`, which is also how quickly `stop`
/// is noticed.
pub fn follow(
    tail: &mut FileTail,
    interval: Duration,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(TailLine<'_>) -> bool,
) -> io::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _watcher = match watch_dir_of(tail.path(), tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(path = %tail.path().display(), error = %e, "Cannot watch for file changes; polling instead");
            None
        }
    };
    while !stop() {
        if !tail.poll(on)? {
            break;
        }
        match rx.recv_timeout(interval) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // The watcher is gone: carry on polling.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(interval),
        }
        // Several events for one change are one wake-up.
        while rx.try_recv().is_ok() {}
    }
    Ok(())
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
        use notify::event::{AccessKind, AccessMode, EventKind};
        let relevant = match &res {
            // Our own opens and reads of the file are no news.
            Ok(ev) if matches!(ev.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) => {
                false
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open for append");
        f.write_all(text.as_bytes()).expect("append");
    }

    /// (line, end offset) pairs from one poll.
    fn poll(tail: &mut FileTail) -> Vec<(String, u64)> {
        let mut got = Vec::new();
        let go_on = tail
            .poll(&mut |l| {
                let text = match l.chunk {
                    Chunk::Line(b) => String::from_utf8_lossy(b).into_owned(),
                    Chunk::TooLong(n) => format!("<too long {n}>"),
                };
                got.push((text, l.end_offset));
                true
            })
            .expect("poll");
        assert!(go_on);
        got
    }

    fn owned(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn offsets_let_a_restarted_tail_resume_where_it_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("esxi-shell.log");
        append(&path, "one\ntwo\nthr");
        let mut tail = FileTail::new(&path, TailStart::Beginning);
        assert_eq!(poll(&mut tail), owned(&[("one", 4), ("two", 8)]));
        drop(tail);
        // Restarted at the last offset persisted: the partial line is read whole.
        append(&path, "ee\nfour\n");
        let mut tail = FileTail::new(&path, TailStart::Offset(8));
        assert_eq!(poll(&mut tail), owned(&[("three", 14), ("four", 19)]));
        assert_eq!(tail.stats().truncations, 0);
        // The file was replaced by a shorter one while Picket was down: read it whole.
        std::fs::remove_file(&path).expect("remove");
        append(&path, "new\n");
        let mut tail = FileTail::new(&path, TailStart::Offset(19));
        assert_eq!(poll(&mut tail), owned(&[("new", 4)]));
        assert_eq!(tail.stats().truncations, 1);
    }

    #[test]
    fn offsets_restart_from_zero_after_rotation_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tac_plus.acct");
        append(&path, "a\n");
        let mut tail = FileTail::new(&path, TailStart::End);
        append(&path, "bb\n");
        assert_eq!(poll(&mut tail), owned(&[("bb", 5)]));
        std::fs::rename(&path, dir.path().join("tac_plus.acct.1")).expect("rotate");
        append(&path, "ccc\n");
        assert_eq!(poll(&mut tail), owned(&[("ccc", 4)]));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
        append(&path, "d\n");
        assert_eq!(poll(&mut tail), owned(&[("d", 2)]));
        assert_eq!((tail.stats().rotations, tail.stats().truncations), (1, 1));
    }

    #[test]
    fn follow_wakes_on_writes_and_stops_when_asked() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("followed.log");
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let mut tail = FileTail::new(&path, TailStart::End);
        let worker = std::thread::spawn(move || {
            follow(
                &mut tail,
                Duration::from_millis(20),
                &|| stop2.load(Ordering::Relaxed),
                &mut |l| {
                    if let Chunk::Line(b) = l.chunk {
                        seen2
                            .lock()
                            .expect("lock")
                            .push(String::from_utf8_lossy(b).into_owned());
                    }
                    true
                },
            )
        });
        // The file does not exist yet: it is picked up from its start when it appears.
        append(&path, "x\ny\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while seen.lock().expect("lock").len() < 2 {
            assert!(std::time::Instant::now() < deadline, "follow saw nothing");
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        worker.join().expect("join").expect("follow");
        assert_eq!(*seen.lock().expect("lock"), ["x", "y"]);
    }
}
