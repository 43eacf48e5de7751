//! Hot reload: watch the config files (notify) and SIGHUP, then validate the whole
//! layered set and swap detector and sinks atomically in the running pipeline.
//!
//! An invalid push never stops Picket: every error is logged with its file and line,
//! recorded in the status file, and the last good config stays in force.

use crate::collector::Shutdown;
use crate::config::layered::conf_d_dir;
use crate::config::{load_layered, ConfigRoot, LoadedConfig};
use crate::detect::Detector;
use crate::pipeline::Control;
use crate::sink::AlertSink;
use crate::status::StatusBoard;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Builds a detector from a loaded config (what its validation built included).
pub type DetectorFactory<C> = Box<dyn Fn(&LoadedConfig<C>) -> Box<dyn Detector> + Send + Sync>;
/// Builds the sinks from a config.
pub type SinkFactory<C> = Box<dyn Fn(&C) -> std::io::Result<Vec<Box<dyn AlertSink>>> + Send + Sync>;

/// Watches the config and pushes reloads into the pipeline.
pub struct Reloader<C: ConfigRoot> {
    /// The main config file (its `conf.d` is watched too).
    pub main: PathBuf,
    /// The config in force.
    pub current: LoadedConfig<C>,
    /// Status to update.
    pub board: Arc<StatusBoard>,
    /// Where the status file goes.
    pub state_dir: PathBuf,
    /// The pipeline's control channel.
    pub controls: mpsc::Sender<Control>,
    /// Detector builder.
    pub build_detector: DetectorFactory<C>,
    /// Sink builder.
    pub build_sinks: SinkFactory<C>,
}

impl<C: ConfigRoot> std::fmt::Debug for Reloader<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("main", &self.main)
            .field("hash", &self.current.hash)
            .finish_non_exhaustive()
    }
}

/// Quiet time after a file event before reloading: config tools write several files.
const DEBOUNCE: Duration = Duration::from_millis(200);

impl<C: ConfigRoot> Reloader<C> {
    /// Runs until shutdown.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let _watcher = match watch_config(&self.main, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, path = %self.main.display(), "Cannot watch the config files; reload with SIGHUP");
                None
            }
        };
        let mut hangup = Hangup::new();
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                Some(()) = rx.recv() => {
                    // Let a burst of writes settle, then reload once.
                    tokio::time::sleep(DEBOUNCE).await;
                    while rx.try_recv().is_ok() {}
                    tracing::info!("Config files changed; reloading");
                }
                () = hangup.next() => tracing::info!("SIGHUP; reloading the config"),
            }
            self.reload().await;
            if let Err(e) = self.board.write(&self.state_dir) {
                tracing::warn!(error = %e, "Cannot write the status file");
            }
        }
    }

    /// Loads, validates and, if valid and changed, swaps in the new config.
    pub async fn reload(&mut self) {
        // A few small files: cheaper to read in place than to hop to a blocking thread.
        let loaded = match load_layered::<C>(&self.main) {
            Ok(l) => l,
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!(file = %e.file, line = e.line, column = e.column, field = %e.field, message = %e.message, "Config error; keeping the last good config");
                }
                self.board
                    .reload_failed(errors.0.iter().map(ToString::to_string).collect());
                return;
            }
        };
        if loaded.hash == self.current.hash {
            tracing::info!(config_hash = %loaded.hash, "Config unchanged");
            self.board.config_loaded(&loaded);
            self.current = loaded;
            return;
        }
        let new = &loaded.config;
        let old = &self.current.config;
        if new.needs_restart(old) {
            tracing::warn!("Changes to [collector] and [pipeline] take effect at the next restart");
        }
        let sinks = if new.sinks_changed(old) {
            match (self.build_sinks)(new) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "Cannot open the new sinks; keeping the last good config");
                    self.board.reload_failed(vec![format!("sinks: {e}")]);
                    return;
                }
            }
        } else {
            None
        };
        let detector = (self.build_detector)(&loaded);
        let control = Control::Reload {
            detector,
            sinks,
            config_hash: loaded.hash.clone(),
        };
        if self.controls.send(control).await.is_err() {
            return;
        }
        tracing::info!(config_hash = %loaded.hash, files = loaded.sources.len(), "Config reloaded");
        self.board.config_loaded(&loaded);
        self.current = loaded;
    }
}

fn watch_config(
    main: &Path,
    tx: mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    // The watcher reports absolute paths, so compare against the absolute directory
    // (a relative `--config picket.toml` would otherwise never match).
    let relative_dir = conf_d_dir(main)
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    let dir = std::fs::canonicalize(&relative_dir).unwrap_or(relative_dir);
    let conf_d = dir.join("conf.d");
    let watch_dir = dir.clone();
    let main_name = main.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            p.file_name() == main_name.as_deref() && p.parent() == Some(&dir)
                || p.starts_with(&conf_d)
        });
        if relevant {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&watch_dir, RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// SIGHUP on Unix; never fires elsewhere.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Self {
        Hangup {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            if signal.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}
