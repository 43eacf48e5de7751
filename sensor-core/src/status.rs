//! The health status file: how a fleet tool (or `picket status`) checks which config is
//! live on a host, whether the collector runs, and what was lost.
//!
//! Written as `status.json` in the state directory (created 0700) every few seconds and
//! on every config change, atomically (write to a temporary file, then rename), so a
//! reader never sees half a file.

use crate::config::{ConfigRoot, ConfigSource, LoadedConfig};
use crate::health::{Health, HealthSnapshot};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// File name inside the state directory.
pub const STATUS_FILE: &str = "status.json";

/// What the status file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Picket version.
    pub version: String,
    /// Process id of the daemon.
    pub pid: u32,
    /// When the daemon started.
    pub started_at: DateTime<Utc>,
    /// When this status was written.
    pub updated_at: DateTime<Utc>,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// The config in force.
    pub config: ConfigStatus,
    /// The last reload that failed (cleared by a successful one).
    pub last_reload_error: Option<ReloadError>,
    /// The collector.
    pub collector: CollectorStatus,
    /// Events, alerts, losses per stage (0 where a stage lost nothing) and notes.
    #[serde(flatten)]
    pub counters: HealthSnapshot,
}

/// The config part of the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigStatus {
    /// Hash of the effective config (also stamped on every alert).
    pub hash: String,
    /// Files merged, in order; empty for the embedded default.
    pub sources: Vec<SourceStatus>,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// One config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Path.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// A failed reload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadError {
    /// When it failed.
    pub at: DateTime<Utc>,
    /// Every error, `file:line:column: field ...: message`.
    pub errors: Vec<String>,
}

/// The collector part of the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectorStatus {
    /// `linux-ebpf`, `macos-eslogger`, `windows-etw`.
    pub name: String,
    /// `starting`, `running`, `stopped`, `failed: ...`.
    pub state: crate::health::CollectorState,
}

fn sources(list: &[ConfigSource]) -> Vec<SourceStatus> {
    list.iter()
        .map(|s| SourceStatus {
            path: s.path.clone(),
            sha256: s.sha256.clone(),
        })
        .collect()
}

/// Live status, shared by the pipeline, the reloader and the writer task.
#[derive(Debug)]
pub struct StatusBoard {
    health: Arc<Health>,
    started_at: DateTime<Utc>,
    collector: String,
    inner: Mutex<(ConfigStatus, Option<ReloadError>)>,
}

impl StatusBoard {
    /// A board for a daemon that just started with `config`.
    pub fn new<C: ConfigRoot>(
        health: Arc<Health>,
        collector: &str,
        config: &LoadedConfig<C>,
    ) -> Arc<Self> {
        // Shown as 0 from the start.
        for name in [
            "config.reloaded",
            "config.reload_failed",
            "state_dir.recreated",
        ] {
            health.counter(name);
        }
        Arc::new(StatusBoard {
            health,
            started_at: Utc::now(),
            collector: collector.to_string(),
            inner: Mutex::new((Self::config_status(config), None)),
        })
    }

    fn config_status<C: ConfigRoot>(config: &LoadedConfig<C>) -> ConfigStatus {
        ConfigStatus {
            hash: config.hash.clone(),
            sources: sources(&config.sources),
            loaded_at: config.loaded_at,
        }
    }

    /// Records a successful reload (and clears the last error).
    pub fn config_loaded<C: ConfigRoot>(&self, config: &LoadedConfig<C>) {
        self.health
            .counter("config.reloaded")
            .fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner = (Self::config_status(config), None);
    }

    /// Records a failed reload (counted in `config.reload_failed`).
    pub fn reload_failed(&self, errors: Vec<String>) {
        self.health
            .counter("config.reload_failed")
            .fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.1 = Some(ReloadError {
            at: Utc::now(),
            errors,
        });
    }

    /// The status now.
    pub fn status(&self) -> Status {
        let now = Utc::now();
        let (config, last_reload_error) =
            self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started_at: self.started_at,
            updated_at: now,
            uptime_secs: (now - self.started_at).num_seconds().max(0) as u64,
            config,
            last_reload_error,
            collector: CollectorStatus {
                name: self.collector.clone(),
                state: self.health.collector_state(),
            },
            counters: self.health.snapshot(),
        }
    }

    /// Writes the status file into `dir` atomically, making the directory again if it
    /// was removed since the last write (counted in `state_dir.recreated`).
    pub fn write(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join(STATUS_FILE);
        let text = serde_json::to_string_pretty(&self.status()).map_err(io::Error::other)?;
        write_state_file(&path, (text + "\n").as_bytes())?;
        // Removals since the last write, whichever writer made the directory again.
        let counter = self.health.counter("state_dir.recreated");
        let total = times_recreated(dir);
        let before = counter.swap(total, Ordering::Relaxed);
        if total > before {
            let msg = format!(
                "the state directory {} was removed while Picket ran; made it again",
                dir.display()
            );
            tracing::warn!("{msg}");
            self.health.note("state_dir", msg);
            // This write's status still showed the old count: write again with it.
            let text = serde_json::to_string_pretty(&self.status()).map_err(io::Error::other)?;
            write_state_file(&path, (text + "\n").as_bytes())?;
        }
        Ok(path)
    }
}

/// Writes a file of the state directory (its directory created 0700 if missing) so a
/// crash leaves the old or the new contents, never half of them: into a temporary file
/// beside it, synced, then renamed over it.
pub fn write_state_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_state_dir(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Creates the state directory, 0700 on Unix (it says what Picket watches and lost).
pub fn create_state_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        remember_state_dir(dir);
        return Ok(());
    }
    // Whoever writes first after a removal (the status file, an input's position)
    // makes it again: counted here, so no writer can hide a removal from the count.
    if let Ok(mut seen) = STATE_DIRS.lock() {
        if let Some((_, recreated)) = seen.iter_mut().find(|(d, _)| d == dir) {
            *recreated += 1;
        }
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    remember_state_dir(dir);
    Ok(())
}

/// The state directories this process has had, each with how many times it was made
/// again after a removal (a directory first made is no removal).
static STATE_DIRS: std::sync::Mutex<Vec<(PathBuf, u64)>> = std::sync::Mutex::new(Vec::new());

fn remember_state_dir(dir: &Path) {
    if let Ok(mut seen) = STATE_DIRS.lock() {
        if !seen.iter().any(|(d, _)| d == dir) {
            seen.push((dir.to_path_buf(), 0));
        }
    }
}

/// How many times `dir` was made again after a removal, by any writer.
fn times_recreated(dir: &Path) -> u64 {
    STATE_DIRS.lock().map_or(0, |seen| {
        seen.iter().find(|(d, _)| d == dir).map_or(0, |(_, n)| *n)
    })
}

/// Reads a status file.
pub fn read_status(dir: &Path) -> io::Result<Status> {
    let path = dir.join(STATUS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a Picket status file: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_root::TestConfig;

    #[test]
    fn status_round_trips_and_dir_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let health = Health::new();
        health.add_loss("kernel_ringbuf", 0);
        let board = StatusBoard::new(
            health.clone(),
            "linux-ebpf",
            &LoadedConfig::<TestConfig>::embedded_default().expect("default"),
        );
        board.reload_failed(vec!["/etc/picket/conf.d/x.toml:3:1: bad".into()]);
        board.write(&state).expect("write");
        let read = read_status(&state).expect("read");
        assert_eq!(read.counters.counts.get("state_dir.recreated"), Some(&0));
        assert_eq!(read.counters.counts.get("config.reload_failed"), Some(&1));
        assert_eq!(read.collector.name, "linux-ebpf");
        assert_eq!(read.counters.losses.get("kernel_ringbuf"), Some(&0));
        assert_eq!(read.last_reload_error.map(|e| e.errors.len()), Some(1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&state)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700);
        }
        // Removed under the daemon: made again, counted, noted.
        std::fs::remove_dir_all(&state).expect("rm state");
        board.write(&state).expect("write again");
        let read = read_status(&state).expect("read");
        assert_eq!(read.counters.counts.get("state_dir.recreated"), Some(&1));
        assert!(read.counters.notes.contains_key("state_dir"));
        // Removed again, and another writer (an input saving its position) makes it
        // again before the status is written: still counted.
        std::fs::remove_dir_all(&state).expect("rm state");
        write_state_file(&state.join("files.json"), b"{}").expect("position");
        board.write(&state).expect("write after the position");
        let read = read_status(&state).expect("read");
        assert_eq!(read.counters.counts.get("state_dir.recreated"), Some(&2));
    }
}
