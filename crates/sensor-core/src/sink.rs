//! Alert sinks: the JSON-lines alert log (rotated by size) and stdout.
//!
//! Sinks are synchronous and run on one dedicated thread fed by a bounded queue (see
//! [`crate::pipeline`]), so a slow disk never stalls the event loop and never reorders
//! alerts. Each alert is serialized once and written as one `write` of a whole line.

use crate::alert::Alert;
use crate::config::{FileSinkConfig, FsyncPolicy};
use crate::health::Health;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Somewhere alerts go.
pub trait AlertSink: Send + 'static {
    /// Name used in loss counters (`sink.<name>`) and logs.
    fn name(&self) -> &str;
    /// Writes one alert; `line` is its JSON serialization without newline.
    fn write(&mut self, alert: &Alert, line: &str) -> io::Result<()>;
    /// Flushes anything buffered (called at shutdown).
    fn flush(&mut self) -> io::Result<()>;
    /// Gives the sink the run's health registry, for losses it finds on its own (on a
    /// background thread, or at shutdown) rather than as a failed [`AlertSink::write`],
    /// which the pipeline counts itself. Call it before the first write; the default
    /// ignores it.
    fn attach_health(&mut self, _health: &Arc<Health>) {}
}

/// Mode of newly created alert logs: analysts in the owning group may read them.
#[cfg(unix)]
const ALERT_LOG_MODE: u32 = 0o640;

/// The local alert log: one ECS alert per line, size-based rotation keeping N files.
#[derive(Debug)]
pub struct JsonlFileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep_files: u32,
    fsync: FsyncPolicy,
}

impl JsonlFileSink {
    /// Opens (creating it and its directory if needed) the log at `path`.
    pub fn open(path: &Path, config: &FileSinkConfig) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| annotate(e, "create the alert log directory", dir))?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes: config.max_bytes,
            keep_files: config.keep_files,
            fsync: config.fsync,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rotate(&mut self) -> io::Result<()> {
        let rotated = |n: u32| rotated_path(&self.path, n);
        if self.keep_files == 0 {
            fs::remove_file(&self.path).or_else(ignore_not_found)?;
        } else {
            fs::remove_file(rotated(self.keep_files)).or_else(ignore_not_found)?;
            for n in (1..self.keep_files).rev() {
                fs::rename(rotated(n), rotated(n + 1)).or_else(ignore_not_found)?;
            }
            fs::rename(&self.path, rotated(1))?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// `alerts.jsonl.N`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(ALERT_LOG_MODE);
    }
    options
        .open(path)
        .map_err(|e| annotate(e, "open the alert log", path))
}

impl AlertSink for JsonlFileSink {
    fn name(&self) -> &str {
        "file"
    }

    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file.write_all(&buf)?;
        self.size += len;
        if self.fsync == FsyncPolicy::Always {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

/// Alerts as JSON lines on stdout (`picket replay`, or `[sinks.stdout]`).
#[derive(Debug, Default)]
pub struct StdoutSink;

impl AlertSink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn write(&mut self, _alert: &Alert, line: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Rule, Severity, Threat};
    use crate::event::ProcessEvent;
    use chrono::Utc;
    use std::io::BufRead;

    fn alert(i: usize) -> Alert {
        let mut ev = ProcessEvent::exec(Utc::now());
        ev.set_executable("/usr/bin/ss");
        ev.set_argv(vec!["ss".into(), "-tan".into(), format!("marker-{i}")]);
        Alert::for_event(
            &ev,
            Rule {
                id: "picket-AN0904".into(),
                name: "test".into(),
                ..Rule::default()
            },
            Threat::default(),
            Severity::Low,
        )
    }

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
