//! Picket's configuration, `picket.toml` (the binary's room): the root struct that names
//! every section, the only place that knows all components.
//!
//! Each section belongs to the crate that uses it: `[general]` and `[pipeline]` to
//! sensor-core, `[collector.*]` to the OS crates, `[inputs.*]` to `sensor-logs`,
//! `[sinks]` to `sinks`, `[rules]` and
//! `[analytics]` to `analytics`. Each checks its own meaning; [`Config`] delegates, and
//! sensor-core's machinery (layering, located errors, the hash, reload) does the rest.
//! Validating builds the analytics once ([`analytics::Analytics`]); the loaded config
//! keeps them for the engine.
//!
//! The embedded default ([`DEFAULT_TOML`], the file the packages install) turns every
//! analytic on; a test proves it equals [`Config::default`] and round-trips.

use analytics::{Analytics, AnalyticsConfig, RuleFile, RulesConfig};
use sensor_core::config::{self as core, ConfigError, ConfigErrors, ConfigRoot, Problems};
use sensor_core::config::{GeneralConfig, PipelineConfig};
use sensor_linux::LinuxCollectorConfig;
use sensor_logs::InputsConfig;
use sensor_macos::MacosCollectorConfig;
use sensor_windows::WindowsCollectorConfig;
use serde::{Deserialize, Serialize};
use sinks::SinksConfig;
use std::path::{Path, PathBuf};

/// The default configuration, embedded in the binary; documented field by field. One
/// copy, `packaging/config/picket.toml`, which the packages install.
pub const DEFAULT_TOML: &str = packaging::DEFAULT_TOML;

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
    /// `[inputs]`: log inputs (syslog, files) for devices that cannot run an agent.
    pub inputs: InputsConfig,
    /// `[sinks]`: where alerts go.
    pub sinks: SinksConfig,
    /// `[rules]`: Elastic detection rules to run.
    pub rules: RulesConfig,
    /// `[analytics]`: DET0320 analytics and their mutable elements.
    pub analytics: AnalyticsConfig,
}

/// `[collector]`: one sub-table per OS collector, each owned by its crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Run this OS's host collector in `picket run`. `false` on a collector host that
    /// only receives device logs (`[inputs]`).
    pub host: bool,
    /// `[collector.linux]`.
    pub linux: LinuxCollectorConfig,
    /// `[collector.macos]`.
    pub macos: MacosCollectorConfig,
    /// `[collector.windows]`.
    pub windows: WindowsCollectorConfig,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            host: true,
            linux: LinuxCollectorConfig::default(),
            macos: MacosCollectorConfig::default(),
            windows: WindowsCollectorConfig::default(),
        }
    }
}

impl ConfigRoot for Config {
    type Built = Analytics;

    fn build(&self) -> Result<Analytics, Problems> {
        let mut problems = Vec::new();
        self.general.validate(&mut problems);
        self.pipeline.validate(&mut problems);
        self.collector.linux.validate(&mut problems);
        self.collector.macos.validate(&mut problems);
        self.collector.windows.validate(&mut problems);
        self.inputs.validate(&mut problems);
        self.sinks.validate(&mut problems);
        self.rules.validate(&mut problems);
        let (analytics, analytics_problems) = Analytics::build(&self.analytics);
        problems.extend(analytics_problems);
        if problems.is_empty() {
            Ok(analytics)
        } else {
            Err(problems)
        }
    }

    fn needs_restart(&self, running: &Self) -> bool {
        self.collector != running.collector
            || self.pipeline != running.pipeline
            || self.inputs != running.inputs
    }

    fn sinks_changed(&self, running: &Self) -> bool {
        self.sinks != running.sinks
    }
}

/// The layered config as loaded: the merged file set and the analytics built from it.
pub type LoadedConfig = core::LoadedConfig<Config>;

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        Config::default()
    }

    /// Parses and validates TOML text; `origin` names it in errors (a path or `<embedded>`).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        core::from_toml_str(text, origin)
    }

    /// Reads, parses and validates a config file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
        core::load_file(path)
    }

    /// Semantic checks: every problem as (field path, message).
    pub fn validate(&self) -> Problems {
        ConfigRoot::validate(self)
    }

    /// Where the alert log goes: the configured path, or the documented default.
    pub fn alert_log_path(&self) -> PathBuf {
        self.sinks.file.log_path()
    }

    /// Where the health status file goes.
    pub fn state_dir(&self) -> PathBuf {
        self.general.state_dir()
    }

    /// A stable hash of the effective configuration (hex SHA-256 of its canonical TOML),
    /// so a fleet tool can tell which config is live and every alert can name it.
    pub fn hash(&self) -> String {
        core::hash_of(self)
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        core::to_toml(self)
    }
}

/// Reads every rule file `rules.paths` names: files as given, directories as their
/// `*.toml`, `*.yml` and `*.yaml` files in name order. A path that cannot be read is an
/// error naming it; the others are still read. (Here, not in `analytics`: that crate
/// does no I/O.)
pub fn read_rule_files(rules: &RulesConfig) -> (Vec<RuleFile>, Vec<ConfigError>) {
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
    for path in rules.paths.iter().map(PathBuf::as_path) {
        let mut candidates = Vec::new();
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    candidates.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(
                        |p| {
                            // Elastic TOML and Sigma YAML, mixed as they come.
                            p.extension()
                                .is_some_and(|x| x == "toml" || x == "yml" || x == "yaml")
                        },
                    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use sinks::config::SyslogProtocol;

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

    #[test]
    fn the_default_picket_toml_builds_without_errors() {
        let config = Config::from_toml_str(DEFAULT_TOML, "<embedded>").expect("default config");
        let (e, errors) = analytics::Engine::build(&config.analytics, &config.rules, &[]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(e.rules().len(), 1);
    }
}
