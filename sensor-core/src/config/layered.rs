//! Layered configuration as a fleet pushes it: the main file, then `conf.d/*.toml`
//! beside it in lexical order, later files winning.
//!
//! Merge rule: tables merge key by key; any other value, lists included, is *replaced*
//! by the later file. To add to a list instead, write the key with an `_append` suffix:
//! `utility_name_list_append = ["mytool"]` adds to whatever the earlier layers (or the
//! built-in default) set. Every file is checked on its own first, so each error names
//! the file, line and column it is in; semantic errors found on the merged result point
//! at the last file that set the field.
//!
//! On Unix a config file or `conf.d` that is writable by group or others, or owned by a
//! user other than root or the one running Picket, is refused: whoever can write the
//! config can switch detection off.

use super::errors::{self, error_at, find_span};
use super::{hash_of, ConfigError, ConfigErrors, ConfigRoot};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::de::DeTable;

/// Suffix that turns a list setting into an append.
pub const APPEND_SUFFIX: &str = "_append";

/// One file that went into the effective config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigSource {
    /// Its path.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// The effective configuration, what validating it built, and where it came from.
pub struct LoadedConfig<C: ConfigRoot> {
    /// The merged, validated config.
    pub config: C,
    /// What validation built from it ([`ConfigRoot::Built`]), shared by clones.
    pub built: Arc<C::Built>,
    /// Files merged, in order (empty for the embedded default).
    pub sources: Vec<ConfigSource>,
    /// Hash of the effective config.
    pub hash: String,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

// By hand: `C::Built` need not be Clone or Debug.
impl<C: ConfigRoot> Clone for LoadedConfig<C> {
    fn clone(&self) -> Self {
        LoadedConfig {
            config: self.config.clone(),
            built: Arc::clone(&self.built),
            sources: self.sources.clone(),
            hash: self.hash.clone(),
            loaded_at: self.loaded_at,
        }
    }
}

impl<C: ConfigRoot> std::fmt::Debug for LoadedConfig<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("config", &self.config)
            .field("sources", &self.sources)
            .field("hash", &self.hash)
            .field("loaded_at", &self.loaded_at)
            .finish_non_exhaustive()
    }
}

impl<C: ConfigRoot> LoadedConfig<C> {
    /// A config that is not from files (the embedded default), validated and built.
    pub fn from_config(config: C) -> Result<Self, ConfigErrors> {
        let built = config.build().map_err(|problems| {
            ConfigErrors(
                problems
                    .into_iter()
                    .map(|(field, message)| plain_error("<embedded default>", &field, message))
                    .collect(),
            )
        })?;
        Ok(LoadedConfig {
            hash: hash_of(&config),
            config,
            built: Arc::new(built),
            sources: Vec::new(),
            loaded_at: Utc::now(),
        })
    }

    /// The default config ([`Default`]), with no files.
    pub fn embedded_default() -> Result<Self, ConfigErrors> {
        Self::from_config(C::default())
    }
}

/// The main config file's standard place on this OS.
pub fn default_config_path() -> PathBuf {
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Picket/picket.toml")
    } else if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("Picket").join("picket.toml")
    } else {
        PathBuf::from("/etc/picket/picket.toml")
    }
}

/// `conf.d` beside the main file.
pub fn conf_d_dir(main: &Path) -> PathBuf {
    main.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join("conf.d")
}

/// The files that make up the config, in merge order: every `conf.d/*.toml` entry,
/// even one that is not a regular file (loading it is then an error, not a silently
/// smaller config).
pub fn layer_files(main: &Path) -> Vec<PathBuf> {
    let mut files = vec![main.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(conf_d_dir(main)) {
        let mut extra: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        extra.sort();
        files.extend(extra);
    }
    files
}

struct Layer {
    origin: String,
    text: String,
}

fn plain_error(file: &str, field: &str, message: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line: 0,
        column: 0,
        field: field.to_string(),
        message,
    }
}

/// Loads the main file and its `conf.d`, checks each, merges, validates the result.
pub fn load_layered<C: ConfigRoot>(main: &Path) -> Result<LoadedConfig<C>, ConfigErrors> {
    let mut errors = Vec::new();
    let dir = conf_d_dir(main);
    if dir.is_dir() {
        if let Err(e) = check_permissions(&dir) {
            errors.push(e);
        }
    }
    let mut layers = Vec::new();
    for path in layer_files(main) {
        let origin = path.display().to_string();
        if path.is_dir() {
            errors.push(plain_error(
                &origin,
                "",
                "a directory where a config file belongs: remove it or put the file back"
                    .to_string(),
            ));
            continue;
        }
        if let Err(e) = check_permissions(&path) {
            errors.push(e);
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => layers.push(Layer { origin, text }),
            Err(e) => errors.push(plain_error(
                &origin,
                "",
                format!("cannot read the config file: {e}"),
            )),
        }
    }
    for layer in &layers {
        let (partial, file_errors) =
            errors::deserialize_all_errors::<C>(&layer.text, &layer.origin, true);
        if file_errors.is_empty() {
            continue;
        }
        let mut file_errors = file_errors;
        // A broken file's meaning errors are reported in the same run; a clean file's
        // are checked on the merged result (a setting may rely on another file).
        if let Some(partial) = partial {
            file_errors.extend(errors::locate(&layer.text, &layer.origin, partial.validate()).0);
        }
        file_errors.sort_by_key(|e| (e.line == 0, e.line, e.column));
        errors.extend(file_errors);
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let mut merged = match toml::Table::try_from(C::default()) {
        Ok(t) => t,
        Err(e) => {
            return Err(ConfigErrors(vec![plain_error(
                "<default>",
                "",
                e.to_string(),
            )]))
        }
    };
    for layer in &layers {
        let table: toml::Table = match layer.text.parse() {
            Ok(t) => t,
            Err(e) => {
                errors.push(plain_error(&layer.origin, "", e.to_string()));
                continue;
            }
        };
        merge(&mut merged, table, "", layer, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let config: C = match toml::Value::Table(merged).try_into() {
        Ok(c) => c,
        Err(e) => {
            let origin = layers.last().map_or("<merged>", |l| l.origin.as_str());
            return Err(ConfigErrors(vec![plain_error(
                origin,
                "",
                format!("merged config: {e}"),
            )]));
        }
    };
    let built = match config.build() {
        Ok(built) => built,
        Err(problems) => return Err(locate_in_layers(&layers, problems)),
    };
    let sources = layers
        .iter()
        .map(|l| ConfigSource {
            path: l.origin.clone(),
            sha256: super::hex_sha256(l.text.as_bytes()),
        })
        .collect();
    Ok(LoadedConfig {
        hash: hash_of(&config),
        config,
        built: Arc::new(built),
        sources,
        loaded_at: Utc::now(),
    })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn merge(
    base: &mut toml::Table,
    layer_table: toml::Table,
    prefix: &str,
    layer: &Layer,
    errors: &mut Vec<ConfigError>,
) {
    for (key, value) in layer_table {
        if let Some(target_key) = key.strip_suffix(APPEND_SUFFIX) {
            let path = join(prefix, &key);
            match (base.get_mut(target_key), value) {
                (Some(toml::Value::Array(existing)), toml::Value::Array(more)) => {
                    existing.extend(more)
                }
                (Some(toml::Value::Array(_)), _) => {
                    errors.push(located(layer, &path, "expected a list to append".into()))
                }
                _ => errors.push(located(
                    layer,
                    &path,
                    format!(
                        "`{target_key}` is not a list setting here, so `{key}` cannot append to it"
                    ),
                )),
            }
            continue;
        }
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(inner)) => {
                merge(existing, inner, &join(prefix, &key), layer, errors)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn located(layer: &Layer, field: &str, message: String) -> ConfigError {
    let span = DeTable::parse(&layer.text)
        .ok()
        .and_then(|t| find_span(t.get_ref(), field));
    error_at(
        &layer.text,
        &layer.origin,
        span,
        field.to_string(),
        &message,
    )
}

/// Points each semantic problem at the last layer that sets the field (or appends to it).
fn locate_in_layers(layers: &[Layer], problems: Vec<(String, String)>) -> ConfigErrors {
    let trees: Vec<Option<DeTable<'_>>> = layers
        .iter()
        .map(|l| DeTable::parse(&l.text).ok().map(|t| t.into_inner()))
        .collect();
    let errors = problems
        .into_iter()
        .map(|(field, message)| {
            let base = field.split('[').next().unwrap_or(&field);
            let found = layers.iter().zip(&trees).rev().find_map(|(layer, tree)| {
                let tree = tree.as_ref()?;
                let span = exact_span(tree, &field)
                    .or_else(|| exact_span(tree, &format!("{base}{APPEND_SUFFIX}")))?;
                Some(error_at(
                    &layer.text,
                    &layer.origin,
                    Some(span),
                    field.clone(),
                    &message,
                ))
            });
            found.unwrap_or_else(|| {
                let origin = layers
                    .last()
                    .map_or("<embedded default>", |l| l.origin.as_str());
                plain_error(origin, &field, message)
            })
        })
        .collect();
    ConfigErrors(errors)
}

/// Span of `path` only if the table really sets that leaf (not just a parent).
fn exact_span(tree: &DeTable<'_>, path: &str) -> Option<std::ops::Range<usize>> {
    let leaf = path.rsplit('.').next()?.split('[').next()?;
    let parent = path.rsplit_once('.').map(|(p, _)| p);
    let table = match parent {
        Some(p) => find_table(tree, p)?,
        None => tree,
    };
    table.get(leaf)?;
    find_span(tree, path)
}

fn find_table<'a, 'i>(tree: &'a DeTable<'i>, path: &str) -> Option<&'a DeTable<'i>> {
    let mut t = tree;
    for part in path.split('.') {
        t = t.get(part)?.get_ref().as_table()?;
    }
    Some(t)
}

/// Refuses files anyone but root or the running user could have written.
#[cfg(unix)]
pub fn check_permissions(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let origin = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| plain_error(&origin, "", format!("cannot read the config file: {e}")))?;
    let mode = meta.mode() & 0o7777;
    let what = if meta.is_dir() {
        "config directory"
    } else {
        "config file"
    };
    if mode & 0o022 != 0 {
        return Err(plain_error(
            &origin,
            "",
            format!(
                "refusing the {what}: it is writable by group or others (mode {mode:04o}); whoever can write it can switch detection off. Fix with: chmod go-w '{origin}'"
            ),
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(plain_error(
            &origin,
            "",
            format!(
                "refusing the {what}: it is owned by uid {}, not root or the user running picket (uid {euid}). Fix with: chown root '{origin}'",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// Windows relies on the ACLs of %ProgramData%\Picket set by the installer.
#[cfg(not(unix))]
pub fn check_permissions(_path: &Path) -> Result<(), ConfigError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_root::TestConfig;
    use super::*;
    use std::fs;

    fn write(path: &Path, text: &str) {
        fs::write(path, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }

    #[test]
    fn conf_d_layers_merge_in_order_with_replace_and_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("picket.toml");
        write(
            &main,
            "[rules]\npaths = [\"/a\"]\n[sinks.file]\nkeep_files = 3\n",
        );
        fs::create_dir(dir.path().join("conf.d")).expect("mkdir");
        write(
            &dir.path().join("conf.d/20-b.toml"),
            "[sinks.file]\nkeep_files = 9\n[rules]\npaths_append = [\"/c\"]\n",
        );
        write(
            &dir.path().join("conf.d/10-a.toml"),
            "[rules]\npaths = [\"/b\"]\n",
        );
        let loaded = load_layered::<TestConfig>(&main).expect("loads");
        assert_eq!(loaded.config.sinks.file.keep_files, 9, "later file wins");
        assert_eq!(
            loaded.config.rules.paths,
            vec!["/b".to_string(), "/c".to_string()],
            "10-a replaces, 20-b appends"
        );
        assert_eq!(loaded.sources.len(), 3);
        assert!(loaded.sources[1].path.ends_with("10-a.toml"));
    }

    #[test]
    fn errors_name_the_conf_d_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("picket.toml");
        write(&main, "[general]\nlog_level = \"info\"\n");
        fs::create_dir(dir.path().join("conf.d")).expect("mkdir");
        write(
            &dir.path().join("conf.d/50-bad.toml"),
            "\n[general]\nlog_format = \"xml\"\n",
        );
        let errs = load_layered::<TestConfig>(&main).expect_err("bad");
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert!(errs.0[0].file.ends_with("conf.d/50-bad.toml"), "{errs}");
        assert_eq!(
            (errs.0[0].line, errs.0[0].field.as_str()),
            (3, "general.log_format")
        );
    }

    #[test]
    fn a_conf_d_file_replaced_by_a_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("picket.toml");
        write(&main, "");
        fs::create_dir_all(dir.path().join("conf.d/50-x.toml")).expect("mkdir");
        let errs = load_layered::<TestConfig>(&main).expect_err("refused");
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert!(errs.0[0].file.ends_with("conf.d/50-x.toml"), "{errs}");
        assert!(errs.0[0].message.contains("a directory"), "{errs}");
    }

    #[test]
    fn append_to_a_non_list_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("picket.toml");
        write(&main, "[general]\nlog_level_append = [\"x\"]\n");
        let errs = load_layered::<TestConfig>(&main).expect_err("bad");
        assert_eq!(errs.0[0].line, 2, "{errs}");
    }

    #[cfg(unix)]
    #[test]
    fn group_writable_config_is_refused_by_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("picket.toml");
        write(&main, "");
        fs::set_permissions(&main, fs::Permissions::from_mode(0o664)).expect("chmod");
        let errs = load_layered::<TestConfig>(&main).expect_err("refused");
        assert!(errs.0[0].file.ends_with("picket.toml"));
        assert!(
            errs.0[0].message.contains("writable by group or others"),
            "{errs}"
        );
    }
}
