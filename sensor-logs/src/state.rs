//! The state file of an input: what it has dealt with (file positions, CloudTrail
//! objects), shared by its reading thread and the acks of its events in the pipeline.
//! Changes mark it dirty; it is written by whoever asks (an ack whose event raised an
//! alert, the reader every second) and, last, by whoever lets go of it last.
//!
//! May touch: its one file in the state directory.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// State `T` saved in a JSON file.
#[derive(Debug)]
pub(crate) struct StateFile<T: Serialize> {
    path: PathBuf,
    /// Names the input in the error log (`file positions`, `the CloudTrail input's state`).
    what: &'static str,
    state: Mutex<T>,
    dirty: AtomicBool,
}

impl<T: Serialize + DeserializeOwned + Default> StateFile<T> {
    /// Reads `path`; a missing file is the default state (and the bool says so: a first
    /// start). A file that does not parse is an error naming it and `remedy`.
    pub(crate) fn load(
        path: PathBuf,
        what: &'static str,
        remedy: &str,
    ) -> Result<(StateFile<T>, bool), String> {
        let (state, first) = match std::fs::read(&path) {
            Ok(bytes) => (
                serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "{}: not a Picket {what} file ({e}); {remedy}",
                        path.display()
                    )
                })?,
                false,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (T::default(), true),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok((
            StateFile {
                path,
                what,
                state: Mutex::new(state),
                dirty: AtomicBool::new(false),
            },
            first,
        ))
    }
}

impl<T: Serialize> StateFile<T> {
    /// Where it is saved.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the state; it is marked dirty when `f` returns true (it changed).
    pub(crate) fn update(&self, f: impl FnOnce(&mut T) -> bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if f(&mut s) {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Reads the state.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&s)
    }

    /// Marks it to be saved even though nothing changed (a first start's empty state).
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Saves it if it changed since the last save; a failed save is logged and tried
    /// again next time.
    pub(crate) fn save_if_dirty(&self) {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let saved = self
            .with(|s| serde_json::to_vec_pretty(s).map_err(std::io::Error::other))
            .and_then(|bytes| sensor_core::status::write_state_file(&self.path, &bytes));
        if let Err(e) = saved {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(path = %self.path.display(), error = %e, "Cannot save {}", self.what);
        }
    }
}

impl<T: Serialize> Drop for StateFile<T> {
    fn drop(&mut self) {
        self.save_if_dirty();
    }
}
