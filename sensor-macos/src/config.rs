//! `[collector.macos]` (the macOS room): where eslogger's JSON comes from, the checks,
//! and [`MacosCollectorConfig::build`], which makes the collector from them.

use crate::{MacosCollector, MacosError};
use sensor_core::config::{check_path, checker, Problems};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[collector.macos]`: Endpoint Security through `eslogger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MacosCollectorConfig {
    /// `spawn` runs eslogger and reads its output; `tail` follows a file eslogger writes.
    pub source: MacosSource,
    /// Path of the eslogger binary (`spawn`).
    pub eslogger_path: PathBuf,
    /// File to follow (`tail`; required there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_path: Option<PathBuf>,
}

/// Where the macOS collector reads eslogger's JSON from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacosSource {
    /// Run `eslogger` and read its stdout.
    Spawn,
    /// Follow `tail_path`, a file eslogger writes.
    Tail,
}

impl Default for MacosCollectorConfig {
    fn default() -> Self {
        Self {
            source: MacosSource::Spawn,
            eslogger_path: PathBuf::from("/usr/bin/eslogger"),
            tail_path: None,
        }
    }
}

impl MacosCollectorConfig {
    /// Semantic checks, appended as (field path, message).
    pub fn validate(&self, problems: &mut Problems) {
        let mut check = checker(problems);
        check(
            self.source != MacosSource::Tail || self.tail_path.is_some(),
            "collector.macos.tail_path",
            "expected a file path when collector.macos.source is \"tail\"".into(),
        );
        check_path(
            &mut check,
            "collector.macos.tail_path",
            self.tail_path.as_deref(),
        );
        check_path(
            &mut check,
            "collector.macos.eslogger_path",
            Some(&self.eslogger_path),
        );
    }

    /// The collector these settings describe (see [`MacosCollector::new`]).
    pub fn build(&self) -> Result<MacosCollector, MacosError> {
        MacosCollector::new(self)
    }
}
