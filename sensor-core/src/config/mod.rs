//! Picket's configuration: `picket.toml`.
//!
//! (Over 600 lines: the sections that no collector or analytic owns yet, their meaning
//! checks and their tests; the analytics and collector sections move to their owners.)
//!
//! Two stages, as ripgrep and vector do it: the raw serde structs below
//! (`deny_unknown_fields`, every field defaulted) and then [`Config::validate`], which
//! checks meaning (ranges, paths, patterns). Both stages report **every** problem at once,
//! each with file, line, column and field path: see [`ConfigErrors`].
//!
//! The embedded default ([`DEFAULT_TOML`]) turns every analytic on; a test proves it equals
//! [`Config::default`] and round-trips.

pub mod analytics;
mod errors;
pub mod layered;
pub mod syslog;

pub use analytics::AnalyticsConfig;
pub use errors::{ConfigError, ConfigErrors};
pub use layered::{load_layered, ConfigSource, LoadedConfig};
pub use syslog::{Facility, SyslogProtocol, SyslogSinkConfig};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default configuration, embedded in the binary; documented field by field.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[general]`: logging and host identity.
    pub general: GeneralConfig,
    /// `[pipeline]`: channel sizes and the process table.
    pub pipeline: PipelineConfig,
    /// `[collector]`: per-OS collector settings.
    pub collector: CollectorConfig,
    /// `[sinks]`: where alerts go.
    pub sinks: SinksConfig,
    /// `[rules]`: Elastic detection rules to run.
    pub rules: RulesConfig,
    /// `[analytics]`: DET0320 analytics and their mutable elements.
    pub analytics: AnalyticsConfig,
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
    /// (see [`Config::state_dir`]), `./picket-state` otherwise.
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
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 8_192,
            process_table_capacity: 65_536,
            seed_process_table: true,
            alert_queue_capacity: 16_384,
        }
    }
}

/// `[collector]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// `[collector.linux]`.
    pub linux: LinuxCollectorConfig,
    /// `[collector.macos]`.
    pub macos: MacosCollectorConfig,
    /// `[collector.windows]`.
    pub windows: WindowsCollectorConfig,
}

/// `[collector.linux]`: the eBPF exec tracer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinuxCollectorConfig {
    /// Bytes of argv captured per exec (larger argv is flagged `picket.args_truncated`).
    pub max_args_bytes: usize,
    /// Size of the kernel ring buffer in bytes (a power of two, multiple of the page size).
    pub ring_buffer_bytes: usize,
}

impl Default for LinuxCollectorConfig {
    fn default() -> Self {
        Self {
            max_args_bytes: 32 * 1024,
            ring_buffer_bytes: 4 * 1024 * 1024,
        }
    }
}

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

/// `[collector.windows]`: ETW process events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowsCollectorConfig {
    /// ETW session name.
    pub session_name: String,
}

impl Default for WindowsCollectorConfig {
    fn default() -> Self {
        Self {
            session_name: "Picket-Process".into(),
        }
    }
}

/// `[sinks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// `[sinks.file]`: the local JSON-lines alert log.
    pub file: FileSinkConfig,
    /// `[sinks.stdout]`: alerts as JSON lines on stdout.
    pub stdout: StdoutSinkConfig,
    /// `[sinks.syslog]`: alerts forwarded to a syslog collector.
    pub syslog: SyslogSinkConfig,
}

/// When the file sink calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// After every alert: survives power loss, costs a disk flush per alert.
    Always,
    /// Never explicitly: survives a crash of Picket (data is in the page cache) but not
    /// of the machine.
    Never,
}

/// `[sinks.file]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSinkConfig {
    /// Write the alert log.
    pub enabled: bool,
    /// Path; unset means the system's place when root (see [`Config::alert_log_path`]),
    /// `./picket-alerts.jsonl` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Rotate when the file would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files to keep (`alerts.jsonl.1` ... `.N`).
    pub keep_files: u32,
    /// `always` or `never`.
    pub fsync: FsyncPolicy,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            max_bytes: 50 * 1024 * 1024,
            keep_files: 5,
            fsync: FsyncPolicy::Always,
        }
    }
}

/// `[sinks.stdout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutSinkConfig {
    /// Print each alert as one JSON line on stdout.
    pub enabled: bool,
}

/// `[rules]`: Elastic detection rules (TOML files from elastic/detection-rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Run the built-in "Windows System Network Connections Discovery" rule.
    pub builtin: bool,
    /// Extra rule files or directories of `*.toml` rule files.
    pub paths: Vec<PathBuf>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            builtin: true,
            paths: Vec::new(),
        }
    }
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
    /// Reads every rule file named by `paths`: files as given, directories as their
    /// `*.toml` files in name order. A path that cannot be read is an error naming it;
    /// the others are still read.
    pub fn read_files(&self) -> (Vec<RuleFile>, Vec<ConfigError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        let mut fail = |path: &Path, what: String| {
            errors.push(ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                field: "rules.paths".into(),
                message: what,
            })
        };
        for path in self.paths.iter().map(PathBuf::as_path) {
            let mut candidates = Vec::new();
            if path.is_dir() {
                match std::fs::read_dir(path) {
                    Ok(entries) => {
                        candidates.extend(
                            entries
                                .filter_map(|e| e.ok().map(|e| e.path()))
                                .filter(|p| p.extension().is_some_and(|x| x == "toml")),
                        );
                        candidates.sort();
                    }
                    Err(e) => fail(path, format!("cannot list the rule directory: {e}")),
                }
            } else {
                candidates.push(path.to_path_buf());
            }
            for file in candidates {
                match std::fs::read_to_string(&file) {
                    Ok(text) => files.push(RuleFile {
                        origin: file.display().to_string(),
                        text,
                    }),
                    Err(e) => fail(&file, format!("cannot read the rule file: {e}")),
                }
            }
        }
        (files, errors)
    }
}

enum SystemDir {
    Logs,
    State,
}

/// The system-wide place for logs or state: where the service runs as root (Unix) or
/// always on Windows (the service runs as LocalSystem); `None` for an ordinary user.
fn system_dir(which: SystemDir) -> Option<PathBuf> {
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

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        Config::default()
    }

    /// Parses and validates TOML text; `origin` names it in errors (a path or `<embedded>`).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        check_text(text, origin, false)
    }

    /// Reads, parses and validates a config file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
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
        Config::from_toml_str(&text, &origin)
    }

    /// Semantic checks: every problem as (field path, message).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, field: &str, msg: String| {
            if !ok {
                problems.push((field.to_string(), msg));
            }
        };
        let level_ok = tracing_filter_is_valid(&self.general.log_level);
        check(
            level_ok,
            "general.log_level",
            format!(
                "expected a tracing filter such as \"info\" or \"picket=debug\", found {:?}",
                self.general.log_level
            ),
        );
        check_path(
            &mut check,
            "general.state_dir",
            self.general.state_dir.as_deref(),
        );
        check(
            self.general
                .host_name
                .as_deref()
                .is_none_or(|n| !n.trim().is_empty()),
            "general.host_name",
            "expected a host name, found an empty string (leave the key out for the system host name)"
                .into(),
        );
        let p = &self.pipeline;
        check(
            (16..=16_777_216).contains(&p.channel_capacity),
            "pipeline.channel_capacity",
            format!(
                "expected 16 to 16777216 events, found {}",
                p.channel_capacity
            ),
        );
        check(
            (1024..=16_777_216).contains(&p.process_table_capacity),
            "pipeline.process_table_capacity",
            format!(
                "expected 1024 to 16777216 processes, found {}",
                p.process_table_capacity
            ),
        );
        check(
            (16..=16_777_216).contains(&p.alert_queue_capacity),
            "pipeline.alert_queue_capacity",
            format!(
                "expected 16 to 16777216 alerts, found {}",
                p.alert_queue_capacity
            ),
        );
        let l = &self.collector.linux;
        check(
            (256..=1024 * 1024).contains(&l.max_args_bytes),
            "collector.linux.max_args_bytes",
            format!("expected 256 to 1048576 bytes, found {}", l.max_args_bytes),
        );
        check(
            l.ring_buffer_bytes.is_power_of_two()
                && (64 * 1024..=1024 * 1024 * 1024).contains(&l.ring_buffer_bytes),
            "collector.linux.ring_buffer_bytes",
            format!(
                "expected a power of two from 65536 to 1073741824 bytes, found {}",
                l.ring_buffer_bytes
            ),
        );
        let m = &self.collector.macos;
        check(
            m.source != MacosSource::Tail || m.tail_path.is_some(),
            "collector.macos.tail_path",
            "expected a file path when collector.macos.source is \"tail\"".into(),
        );
        check_path(
            &mut check,
            "collector.macos.tail_path",
            m.tail_path.as_deref(),
        );
        check_path(
            &mut check,
            "collector.macos.eslogger_path",
            Some(&m.eslogger_path),
        );
        let f = &self.sinks.file;
        check_path(&mut check, "sinks.file.path", f.path.as_deref());
        check(
            f.max_bytes >= 4096,
            "sinks.file.max_bytes",
            format!("expected at least 4096 bytes, found {}", f.max_bytes),
        );
        check(
            f.keep_files <= 1000,
            "sinks.file.keep_files",
            format!("expected 0 to 1000 files, found {}", f.keep_files),
        );
        for (i, p) in self.rules.paths.iter().enumerate() {
            check(
                !p.to_string_lossy().trim().is_empty(),
                &format!("rules.paths[{i}]"),
                "expected a file or directory path, found an empty string".into(),
            );
        }
        self.sinks.syslog.validate(&mut problems);
        self.analytics.validate(&mut problems);
        problems
    }

    /// Where the alert log goes: the configured path, or the documented default.
    pub fn alert_log_path(&self) -> PathBuf {
        if let Some(path) = &self.sinks.file.path {
            path.clone()
        } else if let Some(dir) = system_dir(SystemDir::Logs) {
            dir.join("alerts.jsonl")
        } else {
            PathBuf::from("./picket-alerts.jsonl")
        }
    }

    /// Where the health status file goes.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.general.state_dir {
            dir.clone()
        } else if let Some(dir) = system_dir(SystemDir::State) {
            dir
        } else {
            PathBuf::from("./picket-state")
        }
    }

    /// A stable hash of the effective configuration (hex SHA-256 of its canonical TOML),
    /// so a fleet tool can tell which config is live and every alert can name it.
    pub fn hash(&self) -> String {
        let canonical = toml::to_string(self).unwrap_or_default();
        hex_sha256(canonical.as_bytes())
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// Parses one file's text and checks its meaning, reporting syntax, type and
/// unknown-field errors and, on what remains, every semantic error, all in one list.
pub(crate) fn check_text(
    text: &str,
    origin: &str,
    strip_append: bool,
) -> Result<Config, ConfigErrors> {
    let (partial, mut errors) =
        errors::deserialize_all_errors::<Config>(text, origin, strip_append);
    let Some(config) = partial else {
        return Err(ConfigErrors(errors));
    };
    let problems = config.validate();
    if errors.is_empty() && problems.is_empty() {
        return Ok(config);
    }
    errors.extend(errors::locate(text, origin, problems).0);
    errors.sort_by_key(|e| (e.line == 0, e.line, e.column));
    Err(ConfigErrors(errors))
}

/// A path that is set must not be empty: leaving the key out is how to get the default.
fn check_path(check: &mut impl FnMut(bool, &str, String), field: &str, path: Option<&Path>) {
    check(
        path.is_none_or(|p| !p.to_string_lossy().trim().is_empty()),
        field,
        "expected a path, found an empty string (leave the key out for the default)".into(),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_equals_code_defaults() {
        let parsed = Config::from_toml_str(DEFAULT_TOML, "<embedded>").expect("default parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn default_round_trips_serialize_parse_equal() {
        let parsed = Config::from_toml_str(DEFAULT_TOML, "<embedded>").expect("default parses");
        let text = parsed.to_toml();
        let again = Config::from_toml_str(&text, "<serialized>").expect("serialized parses");
        assert_eq!(parsed, again);
        assert_eq!(parsed.hash(), again.hash());
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let text = "[general]\nlog_level = \"info\"\nbogus = 1\n\n[pipeline]\nchannel_capacity = \"big\"\n\n[sinks.file]\nmax_bytes = 10\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("three errors");
        let lines: Vec<usize> = errs.0.iter().map(|e| e.line).collect();
        assert!(lines.contains(&3), "unknown field on line 3: {errs}");
        assert!(lines.contains(&6), "wrong type on line 6: {errs}");
        assert!(
            lines.contains(&9),
            "meaning error on line 9 in the same run: {errs}"
        );
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"general.bogus"), "{errs}");
        assert!(fields.contains(&"pipeline.channel_capacity"), "{errs}");
        assert!(errs.0.iter().all(|e| e.file == "t.toml"));
    }

    #[test]
    fn semantic_errors_are_located() {
        let text = "[general]\nlog_format = \"xml\"\n\n[sinks.file]\nmax_bytes = 10\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("two errors");
        assert_eq!(errs.0.len(), 2, "{errs}");
        assert_eq!(
            (errs.0[0].line, errs.0[0].field.as_str()),
            (2, "general.log_format")
        );
        assert_eq!(
            (errs.0[1].line, errs.0[1].field.as_str()),
            (5, "sinks.file.max_bytes")
        );
    }

    #[test]
    fn optional_paths_are_left_out_when_unset_and_round_trip_when_set() {
        let default_text = Config::default().to_toml();
        for key in [
            "state_dir",
            "tail_path",
            "\npath =",
            "tls_ca_file",
            "tls_server_name",
        ] {
            assert!(!default_text.contains(key), "{key} unset is left out");
        }
        let text = concat!(
            "[general]\nstate_dir = \"/srv/picket\"\n",
            "[collector.macos]\nsource = \"tail\"\ntail_path = \"/var/log/es.jsonl\"\n",
            "[sinks.file]\npath = \"/srv/alerts.jsonl\"\n",
            "[sinks.syslog]\nprotocol = \"tls\"\ntls_ca_file = \"/etc/ca.pem\"\n",
        );
        let config = Config::from_toml_str(text, "t.toml").expect("valid");
        assert_eq!(config.state_dir(), Path::new("/srv/picket"));
        assert_eq!(config.alert_log_path(), Path::new("/srv/alerts.jsonl"));
        assert_eq!(
            config.collector.macos.tail_path.as_deref(),
            Some(Path::new("/var/log/es.jsonl"))
        );
        assert_eq!(config.sinks.syslog.protocol, SyslogProtocol::Tls);
        let again = Config::from_toml_str(&config.to_toml(), "<serialized>").expect("parses");
        assert_eq!(config, again);
    }

    #[test]
    fn the_commented_out_paths_of_the_default_name_real_settings() {
        // Uncommenting every documented optional key gives a config that parses; the
        // only complaint is the TLS settings without protocol = "tls".
        let uncommented: String = DEFAULT_TOML
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = \"")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
                {
                    rest
                }
                _ => l,
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        assert_ne!(uncommented, DEFAULT_TOML, "there are commented-out keys");
        let errs = Config::from_toml_str(&uncommented, "<uncommented>").expect_err("tls");
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sinks.syslog.protocol"], "{errs}");
    }

    #[test]
    fn an_empty_path_is_refused_rather_than_meaning_default() {
        let text =
            "[sinks.file]\npath = \"\"\n[rules]\npaths = [\" \"]\n[general]\nhost_name = \"\"\n";
        let errs = Config::from_toml_str(text, "t.toml").expect_err("empty paths");
        let located: Vec<(usize, &str)> =
            errs.0.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            located,
            [
                (2, "sinks.file.path"),
                (4, "rules.paths[0]"),
                (6, "general.host_name")
            ],
            "{errs}"
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        let errs = Config::from_toml_str("[general\nlog_level = 1\n", "t.toml").expect_err("bad");
        assert_eq!(errs.0[0].line, 1, "{errs}");
    }
}
