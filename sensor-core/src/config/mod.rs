//! Config machinery (sensor-core's room): loading, layering, locating errors, hashing,
//! over any root type that implements [`ConfigRoot`]; plus the two sections the core
//! itself reads, `[general]` and `[pipeline]`.
//!
//! The core knows no collector, analytic or sink: each component crate owns its section
//! (serde types with `deny_unknown_fields`, defaults, docs, and meaning checks that build
//! the real thing), and the binary's root struct names every section and delegates.
//!
//! Two stages, as ripgrep and vector do it: the raw serde structs (every field defaulted)
//! and then [`ConfigRoot::build`], which checks meaning (ranges, paths, patterns). Both
//! stages report **every** problem at once, each with file, line, column and field path:
//! see [`ConfigErrors`].

mod errors;
pub mod layered;

pub use errors::{ConfigError, ConfigErrors};
pub use layered::{load_layered, ConfigSource, LoadedConfig};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Meaning problems, each as (dotted field path, message); the loader finds the field's
/// file, line and column.
pub type Problems = Vec<(String, String)>;

/// A whole configuration file's type: what the loader, the reloader, the status file and
/// the config hash work on. The binary implements it for the struct naming every section.
pub trait ConfigRoot:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// What checking the meaning builds on the way (compiled matchers, say), kept in
    /// [`LoadedConfig::built`] so the daemon does not build it a second time; `()` if
    /// nothing is worth keeping.
    type Built: Send + Sync + 'static;

    /// Checks the meaning of every section by building what it describes: the built
    /// part, or every problem found (not just the first).
    fn build(&self) -> Result<Self::Built, Problems>;

    /// Every meaning problem; empty when the config is valid.
    fn validate(&self) -> Problems {
        self.build().err().unwrap_or_default()
    }

    /// True when going from `running` to `self` changes settings read only at start-up;
    /// the reloader then warns that they wait for a restart.
    fn needs_restart(&self, running: &Self) -> bool {
        let _ = running;
        false
    }

    /// True when the sinks must be rebuilt to go from `running` to `self`.
    fn sinks_changed(&self, running: &Self) -> bool {
        let _ = running;
        true
    }
}

/// A stable hash of a configuration (hex SHA-256 of its canonical TOML), so a fleet tool
/// can tell which config is live and every alert can name it.
pub fn hash_of<C: Serialize>(config: &C) -> String {
    hex_sha256(to_toml(config).as_bytes())
}

/// A configuration as TOML (empty if it cannot be written, which serde types here never
/// cause).
pub fn to_toml<C: Serialize>(config: &C) -> String {
    toml::to_string(config).unwrap_or_default()
}

/// Parses and validates TOML text; `origin` names it in errors (a path or `<embedded>`).
pub fn from_toml_str<C: ConfigRoot>(text: &str, origin: &str) -> Result<C, ConfigErrors> {
    check_text(text, origin).map(|(config, _)| config)
}

/// Reads, parses and validates one config file (no `conf.d`).
pub fn load_file<C: ConfigRoot>(path: &Path) -> Result<C, ConfigErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: origin.clone(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])
    })?;
    from_toml_str(&text, &origin)
}

/// Parses one file's text and checks its meaning, reporting syntax, type and
/// unknown-field errors and, on what remains, every semantic error, all in one list.
pub(crate) fn check_text<C: ConfigRoot>(
    text: &str,
    origin: &str,
) -> Result<(C, C::Built), ConfigErrors> {
    let (partial, mut errors) = errors::deserialize_all_errors::<C>(text, origin, false);
    let Some(config) = partial else {
        return Err(ConfigErrors(errors));
    };
    let problems = match config.build() {
        Ok(built) if errors.is_empty() => return Ok((config, built)),
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    errors.extend(errors::locate(text, origin, problems).0);
    errors.sort_by_key(|e| (e.line == 0, e.line, e.column));
    Err(ConfigErrors(errors))
}

/// `[general]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneralConfig {
    /// tracing filter (`info`, `picket=debug`, ...); `RUST_LOG` wins when set.
    pub log_level: String,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Overrides `host.name` on the live collector's events; unset means the system
    /// host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// Directory for the health status file; unset means the system's place when root
    /// (see [`GeneralConfig::state_dir`]), `./picket-state` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
}

/// How Picket's own log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (journald-friendly).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        Self {
            log_level: "info".into(),
            log_format: LogFormat::Text,
            host_name: None,
            state_dir: None,
        }
    }
}

impl GeneralConfig {
    /// Semantic checks, appended as (field path, message).
    pub fn validate(&self, problems: &mut Problems) {
        let mut check = checker(problems);
        check(
            tracing_filter_is_valid(&self.log_level),
            "general.log_level",
            format!(
                "expected a tracing filter such as \"info\" or \"picket=debug\", found {:?}",
                self.log_level
            ),
        );
        check_path(&mut check, "general.state_dir", self.state_dir.as_deref());
        check(
            self.host_name
                .as_deref()
                .is_none_or(|n| !n.trim().is_empty()),
            "general.host_name",
            "expected a host name, found an empty string (leave the key out for the system host name)"
                .into(),
        );
    }

    /// Where the health status file goes: the configured directory, or the documented
    /// default.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            dir.clone()
        } else if let Some(dir) = system_dir(SystemDir::State) {
            dir
        } else {
            PathBuf::from("./picket-state")
        }
    }
}

/// `[pipeline]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Capacity of the bounded channel between collector and analytics, in events.
    pub channel_capacity: usize,
    /// Most processes the process table keeps (oldest exited ones are evicted first).
    pub process_table_capacity: usize,
    /// Seed the process table from the processes already running at start-up.
    pub seed_process_table: bool,
    /// Capacity of the bounded alert queue in front of the sinks, in alerts.
    pub alert_queue_capacity: usize,
    /// Longest record a replay reads (an NDJSON line, a CloudTrail record), in bytes. A
    /// longer one is skipped as it streams past, never held whole, and counted in the
    /// `oversized_input` loss counter with its file and line.
    pub max_record_bytes: usize,
    /// Threads a replay parses on, for formats whose records parse independently
    /// (ECS NDJSON, device logs, EVTX chunks, CloudTrail and GCP objects); events still
    /// reach the analytics in file order. Also the threads a batch of events' stateless
    /// rules are checked on when many rules are loaded. 0: one per core.
    pub replay_threads: usize,
    /// Events a replay hands to the pipeline at once (1: one by one).
    pub replay_batch_events: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 8_192,
            process_table_capacity: 65_536,
            seed_process_table: true,
            alert_queue_capacity: 16_384,
            max_record_bytes: crate::replay::DEFAULT_MAX_RECORD_BYTES,
            replay_threads: 0,
            replay_batch_events: crate::replay::DEFAULT_BATCH_EVENTS,
        }
    }
}

impl PipelineConfig {
    /// `replay_threads`, with 0 read as one per core.
    pub fn threads(&self) -> usize {
        match self.replay_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Semantic checks, appended as (field path, message).
    pub fn validate(&self, problems: &mut Problems) {
        let mut check = checker(problems);
        check(
            (16..=16_777_216).contains(&self.channel_capacity),
            "pipeline.channel_capacity",
            format!(
                "expected 16 to 16777216 events, found {}",
                self.channel_capacity
            ),
        );
        check(
            (1024..=16_777_216).contains(&self.process_table_capacity),
            "pipeline.process_table_capacity",
            format!(
                "expected 1024 to 16777216 processes, found {}",
                self.process_table_capacity
            ),
        );
        check(
            (1024..=268_435_456).contains(&self.max_record_bytes),
            "pipeline.max_record_bytes",
            format!(
                "expected 1024 to 268435456 bytes, found {}",
                self.max_record_bytes
            ),
        );
        check(
            self.replay_threads <= 256,
            "pipeline.replay_threads",
            format!(
                "expected 0 (one per core) to 256 threads, found {}",
                self.replay_threads
            ),
        );
        check(
            (1..=4096).contains(&self.replay_batch_events),
            "pipeline.replay_batch_events",
            format!(
                "expected 1 to 4096 events, found {}",
                self.replay_batch_events
            ),
        );
        check(
            (16..=16_777_216).contains(&self.alert_queue_capacity),
            "pipeline.alert_queue_capacity",
            format!(
                "expected 16 to 16777216 alerts, found {}",
                self.alert_queue_capacity
            ),
        );
    }
}

/// A `check(ok, field, message)` closure that records the message when `ok` is false:
/// how every section writes its range checks.
pub fn checker(problems: &mut Problems) -> impl FnMut(bool, &str, String) + '_ {
    move |ok, field, msg| {
        if !ok {
            problems.push((field.to_string(), msg));
        }
    }
}

/// A path that is set must not be empty: leaving the key out is how to get the default.
pub fn check_path(check: &mut impl FnMut(bool, &str, String), field: &str, path: Option<&Path>) {
    check(
        path.is_none_or(|p| !p.to_string_lossy().trim().is_empty()),
        field,
        "expected a path, found an empty string (leave the key out for the default)".into(),
    );
}

/// Which system-wide place [`system_dir`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemDir {
    /// Logs (the alert log).
    Logs,
    /// State (the status file).
    State,
}

/// The system-wide place for logs or state: where the service runs as root (Unix) or
/// always on Windows (the service runs as LocalSystem); `None` for an ordinary user.
pub fn system_dir(which: SystemDir) -> Option<PathBuf> {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        let picket = PathBuf::from(base).join("Picket");
        return Some(match which {
            SystemDir::Logs => picket,
            SystemDir::State => picket.join("state"),
        });
    }
    if !running_as_root() {
        return None;
    }
    Some(PathBuf::from(match (cfg!(target_os = "macos"), which) {
        (true, SystemDir::Logs) => "/Library/Logs/Picket",
        (true, SystemDir::State) => "/Library/Application Support/Picket/state",
        (false, SystemDir::Logs) => "/var/log/picket",
        (false, SystemDir::State) => "/var/lib/picket",
    }))
}

/// Running as root (Unix) — decides default paths.
pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Lower-case hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Accepts the subset of `EnvFilter` syntax Picket documents: comma-separated
/// `level` or `target=level` directives.
fn tracing_filter_is_valid(filter: &str) -> bool {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    !filter.trim().is_empty()
        && filter.split(',').all(|directive| {
            let level = directive.rsplit('=').next().unwrap_or("").trim();
            LEVELS.contains(&level.to_ascii_lowercase().as_str())
        })
}

/// A small root with the core's own sections and look-alikes of a list and a numbered
/// setting, for the machinery's tests.
#[cfg(test)]
pub(crate) mod test_root {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    pub struct TestConfig {
        pub general: GeneralConfig,
        pub pipeline: PipelineConfig,
        pub rules: TestRules,
        pub sinks: TestSinks,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    pub struct TestRules {
        pub paths: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    pub struct TestSinks {
        pub file: TestFile,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct TestFile {
        pub keep_files: u32,
    }

    impl Default for TestFile {
        fn default() -> Self {
            TestFile { keep_files: 5 }
        }
    }

    impl ConfigRoot for TestConfig {
        type Built = ();
        fn build(&self) -> Result<(), Problems> {
            let mut problems = Vec::new();
            self.general.validate(&mut problems);
            self.pipeline.validate(&mut problems);
            checker(&mut problems)(
                self.sinks.file.keep_files <= 1000,
                "sinks.file.keep_files",
                "expected 0 to 1000 files".into(),
            );
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_root::TestConfig;
    use super::*;

    #[test]
    fn every_error_of_one_file_is_reported_with_its_line() {
        let text = "[general]\nlog_level = \"info\"\nbogus = 1\n\n[pipeline]\nchannel_capacity = \"big\"\n\n[sinks.file]\nkeep_files = 1001\n";
        let errs = from_toml_str::<TestConfig>(text, "t.toml").expect_err("three errors");
        let located: Vec<(usize, &str)> =
            errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            located,
            [
                (3, "general.bogus"),
                (6, "pipeline.channel_capacity"),
                (9, "sinks.file.keep_files")
            ],
            "{errs}"
        );
    }

    #[test]
    fn the_hash_follows_the_canonical_text() {
        let a = TestConfig::default();
        let mut b = a.clone();
        assert_eq!(hash_of(&a), hash_of(&b));
        b.pipeline.channel_capacity += 1;
        assert_ne!(hash_of(&a), hash_of(&b));
    }
}
