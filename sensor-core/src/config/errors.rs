//! Config errors with file, line, column and field path, collected all at once.

use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (path or `<embedded>`).
    pub file: String,
    /// 1-based line; 0 when the problem has no place in the file.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
    /// Dotted field path (`analytics.an0904.utility_name_list`); empty for syntax errors.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one load, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based (line, column) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Most errors one load reports before giving up (each costs a re-deserialization).
const MAX_ERRORS: usize = 64;

/// Parses `text` into `T`, reporting every syntax error, then every type or
/// unknown-field error: after each serde error the offending entry is removed from the
/// parsed tree and deserialization runs again, so one mistake does not hide the next.
/// Returns the value deserialized without the bad entries (when there is one) so its
/// meaning can be checked too, and the errors.
/// With `strip_append`, keys ending in `_append` (the layering's list-append form) are
/// taken out before deserializing; the merge step checks them.
pub(crate) fn deserialize_all_errors<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    strip_append: bool,
) -> (Option<T>, Vec<ConfigError>) {
    let (tree, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let errors = syntax
            .iter()
            .map(|e| error_at(text, origin, e.span(), String::new(), e.message()))
            .collect();
        return (None, errors);
    }
    let mut tree = tree;
    if strip_append {
        strip_append_keys(tree.get_mut());
    }
    let mut errors = Vec::new();
    let mut partial = None;
    loop {
        let attempt = T::deserialize(toml::de::Deserializer::from(tree.clone()));
        match attempt {
            Ok(value) => {
                partial = Some(value);
                break;
            }
            Err(e) => {
                let removed = e
                    .span()
                    .and_then(|span| remove_entry_at(tree.get_mut(), &span, ""));
                let field = removed.clone().unwrap_or_default();
                errors.push(error_at(text, origin, e.span(), field, e.message()));
                if removed.is_none() || errors.len() >= MAX_ERRORS {
                    break;
                }
            }
        }
    }
    errors.sort_by_key(|e| (e.line, e.column));
    (partial, errors)
}

fn strip_append_keys(table: &mut DeTable<'_>) {
    let appends: Vec<String> = table
        .iter()
        .map(|(k, _)| k.get_ref().to_string())
        .filter(|k| k.ends_with(super::layered::APPEND_SUFFIX))
        .collect();
    for key in appends {
        table.remove(key.as_str());
    }
    for (_, value) in table.iter_mut() {
        match value.get_mut() {
            DeValue::Table(inner) => strip_append_keys(inner),
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    if let DeValue::Table(inner) = item.get_mut() {
                        strip_append_keys(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn error_at(
    text: &str,
    origin: &str,
    span: Option<Range<usize>>,
    field: String,
    message: &str,
) -> ConfigError {
    let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
    ConfigError {
        file: origin.to_string(),
        line,
        column,
        field,
        message: message.trim().to_string(),
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(inner.start)
}

/// Removes the innermost table entry whose key or value covers `span`; returns its path.
/// Table headers' spans do not cover their bodies, so every branch is searched.
fn remove_entry_at(table: &mut DeTable<'_>, span: &Range<usize>, prefix: &str) -> Option<String> {
    let mut hit: Option<String> = None;
    for (key, value) in table.iter_mut() {
        let path = join(prefix, key.get_ref());
        if let Some(found) = remove_in_value(value, span, &path) {
            return Some(found);
        }
        if hit.is_none() && (contains(&key.span(), span) || contains(&value.span(), span)) {
            hit = Some(key.get_ref().to_string());
        }
    }
    let key = hit?;
    table.remove(key.as_str());
    Some(join(prefix, &key))
}

fn remove_in_value(
    value: &mut Spanned<DeValue<'_>>,
    span: &Range<usize>,
    path: &str,
) -> Option<String> {
    match value.get_mut() {
        DeValue::Table(inner) => remove_entry_at(inner, span, path),
        DeValue::Array(items) => items.iter_mut().enumerate().find_map(|(i, item)| {
            if let DeValue::Table(inner) = item.get_mut() {
                remove_entry_at(inner, span, &format!("{path}[{i}]"))
            } else {
                None
            }
        }),
        _ => None,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Turns semantic problems (field path, message) into located errors, finding each
/// field in the parsed text; a field the text does not set points at line 0.
pub(crate) fn locate(text: &str, origin: &str, problems: Vec<(String, String)>) -> ConfigErrors {
    let tree = DeTable::parse(text).ok();
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|(field, message)| {
            let span = tree.as_ref().and_then(|t| find_span(t.get_ref(), &field));
            error_at(text, origin, span, field, &message)
        })
        .collect();
    errors.sort_by_key(|e| (e.line == 0, e.line, e.column));
    ConfigErrors(errors)
}

/// Span of the value at a dotted path such as `rules.paths[2]` or `a.b`. Falls back to
/// the nearest enclosing entry that exists.
pub(crate) fn find_span(table: &DeTable<'_>, path: &str) -> Option<Range<usize>> {
    let mut table = Some(table);
    let mut best = None;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let t = table?;
        let mut current = t.get(key)?;
        best = Some(current.span());
        if let (Some(i), DeValue::Array(items)) = (index, current.get_ref()) {
            if let Some(item) = items.get(i) {
                current = item;
                best = Some(item.span());
            }
        }
        table = current.get_ref().as_table();
    }
    best
}
