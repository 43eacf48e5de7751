//! `[rules]` (the analytics room): which Elastic detection rules run. The binary reads
//! the files `paths` names (this crate does no I/O) and hands them in as [`RuleFile`]s.

use sensor_core::config::Problems;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[rules]`: Elastic detection rules (TOML files from elastic/detection-rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Run the built-in "Windows System Network Connections Discovery" rule.
    pub builtin: bool,
    /// Extra rule files or directories of rule files: Elastic `*.toml` and Sigma
    /// `*.yml`/`*.yaml`, mixed as they come.
    pub paths: Vec<PathBuf>,
    /// `[rules.sigma]`: settings for Sigma rules.
    pub sigma: SigmaConfig,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            builtin: true,
            paths: Vec::new(),
            sigma: SigmaConfig::default(),
        }
    }
}

/// `[rules.sigma]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmaConfig {
    /// `[rules.sigma.placeholders]`: the values Sigma's `expand` modifier puts in for
    /// `%name%` (`admins = ["Administrator", "admin"]`). A rule naming one not here is
    /// refused.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// One Elastic rule file's text, read from `rules.paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// The file's path, for error messages.
    pub origin: String,
    /// Its TOML text.
    pub text: String,
}

impl RulesConfig {
    /// Semantic checks, appended as (field path, message). The files themselves are
    /// checked when the binary reads them: they may change under a config.
    pub fn validate(&self, problems: &mut Problems) {
        for (i, p) in self.paths.iter().enumerate() {
            if p.to_string_lossy().trim().is_empty() {
                problems.push((
                    format!("rules.paths[{i}]"),
                    "expected a file or directory path, found an empty string".into(),
                ));
            }
        }
    }
}
