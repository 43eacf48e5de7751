//! Elastic detection-rules TOML files: `[metadata]`, `[rule]` with `query`, `language`,
//! `rule_id`, `name`, `severity`, `risk_score` and `[[rule.threat]]`.
//!
//! Fields Picket does not use (`index`, `from`, `tags`, ...) are accepted and ignored, so
//! files from elastic/detection-rules load unchanged. A file that does not load gives a
//! [`RuleError`] naming the file, line and column (for a query error: the place in the
//! query, mapped back into the file).

use crate::common::{tactic, technique};
use crate::eql::{Query, Sequence};
use sensor_core::alert::{Severity, Technique, Threat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The built-in rule: Elastic's "Windows System Network Connections Discovery"
/// (rule_id c4e9ed3e-55a2-4309-a012-bc3c78dad10a), verbatim.
pub const BUILTIN_RULE_TOML: &str =
    include_str!("../rules/windows_system_network_connections_discovery.toml");

/// The origin the built-in rule reports in errors and alerts.
pub const BUILTIN_RULE_ORIGIN: &str = "<builtin>/windows_system_network_connections_discovery.toml";

/// A rule file's text and where it came from (read by the caller: no I/O here).
pub type RuleSource = crate::config::RuleFile;

/// Why a rule did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleErrorKind {
    /// The file is not valid TOML, or a required key is missing or mistyped.
    #[error("not a valid Elastic rule file: {0}")]
    Toml(String),
    /// `language` is not `eql`.
    #[error("unsupported rule language {0:?}: Picket runs EQL rules (language = \"eql\")")]
    UnsupportedLanguage(String),
    /// The rule has no `query`.
    #[error("the rule has no `query`")]
    MissingQuery,
    /// The EQL query does not parse or compile.
    #[error("the query does not parse: {0}")]
    Query(String),
    /// `severity` is not low/medium/high/critical.
    #[error("invalid severity {0:?}: expected low, medium, high or critical")]
    Severity(String),
    /// Two rules share a `rule_id`.
    #[error("duplicate rule_id {id}: already loaded from {first}")]
    Duplicate {
        /// The rule id.
        id: String,
        /// Where the first one came from.
        first: String,
    },
    /// Not a valid Sigma rule file (YAML syntax, a missing or mistyped key).
    #[error("not a valid Sigma rule: {0}")]
    Sigma(String),
    /// A valid Sigma rule Picket cannot run, with the class of reason.
    #[error("Sigma rule refused ({class}): {detail}")]
    Refused {
        /// The class of reason.
        class: crate::sigma::Refusal,
        /// What exactly.
        detail: String,
    },
    /// An `[analytics]` setting could not be compiled (a regex that escaped validation).
    #[error("setting `{field}`: {message}")]
    Setting {
        /// Dotted field path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// A rule (or setting) that did not load, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {kind}")]
pub struct RuleError {
    /// The file (path, or `<builtin>/…`, or `picket.toml` for settings).
    pub origin: String,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
    /// What went wrong.
    pub kind: RuleErrorKind,
}

/// Which format a rule was loaded from (reported as `rule.ruleset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleFormat {
    /// An Elastic detection-rules TOML file.
    Elastic,
    /// A Sigma YAML rule.
    Sigma,
}

impl RuleFormat {
    /// `elastic` or `sigma`.
    pub fn ruleset(self) -> &'static str {
        match self {
            RuleFormat::Elastic => "elastic",
            RuleFormat::Sigma => "sigma",
        }
    }
}

/// ATT&CK's Discovery tactic.
pub(crate) const DISCOVERY_TACTIC: &str = "TA0007";

/// A loaded, compiled rule: an Elastic rule, or a Sigma rule compiled to the same
/// query tree (`format` says which).
#[derive(Debug, Clone)]
pub struct ElasticRule {
    /// `rule_id`.
    pub rule_id: String,
    /// `name`.
    pub name: String,
    /// `severity`.
    pub severity: Severity,
    /// `risk_score` (the severity's default when absent).
    pub risk_score: f64,
    /// `[[rule.threat]]`, flattened: every technique (and sub-technique), the first tactic.
    pub threat: Threat,
    /// Some `[[rule.threat]]` is under the Discovery tactic (TA0007); for a Sigma rule,
    /// the `attack.discovery` tag. Only such a rule's alerts are discoveries to TimeWindow.
    pub discovery: bool,
    /// The first of `references`, else the detection-rules repository.
    pub reference: String,
    /// A building-block rule (`building_block_type` set).
    pub building_block: bool,
    /// Where it was loaded from.
    pub origin: String,
    /// The EQL text, exactly as in the file (a Sigma rule's `condition`).
    pub query_text: String,
    /// The format the rule came in.
    pub format: RuleFormat,
    pub(crate) query: RuleQuery,
}

/// A rule's compiled query: one event, or a sequence of them.
#[derive(Debug, Clone)]
pub(crate) enum RuleQuery {
    Event(Query),
    Sequence(Box<Sequence>),
}

impl ElasticRule {
    /// Does the rule's single-event query match `event`? (Never, for a sequence rule:
    /// see [`ElasticRule::sequence`].)
    #[inline]
    pub fn matches(&self, event: &sensor_core::Event) -> bool {
        match &self.query {
            RuleQuery::Event(q) => q.matches(event),
            RuleQuery::Sequence(_) => false,
        }
    }

    /// Every field path the rule's query reads.
    pub fn field_paths(&self) -> Vec<String> {
        match &self.query {
            RuleQuery::Event(q) => q.field_paths(),
            RuleQuery::Sequence(s) => s.field_paths(),
        }
    }

    /// The rule's sequence, for a `sequence` query.
    pub fn sequence(&self) -> Option<&Sequence> {
        match &self.query {
            RuleQuery::Event(_) => None,
            RuleQuery::Sequence(s) => Some(s),
        }
    }

    /// Groups of atoms that must each hold for the query to match; a sequence rule
    /// gives an empty group, so the index never offers it (it runs beside the index).
    pub(crate) fn need_groups(&self) -> Option<Vec<Vec<crate::eql::Atom>>> {
        match &self.query {
            RuleQuery::Event(q) => q.need_groups(),
            RuleQuery::Sequence(_) => Some(Vec::new()),
        }
    }

    /// The `host.os.type` values (folded) of which an event must have one to match.
    pub(crate) fn os_types(&self) -> Option<Vec<String>> {
        match &self.query {
            RuleQuery::Event(q) => q.os_types(),
            RuleQuery::Sequence(_) => None,
        }
    }
}

/// Whether an EQL query is a `sequence` (its first word, past blanks and comments).
fn is_sequence(query: &str) -> bool {
    let mut rest = query;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    rest.get(..8)
        .is_some_and(|w| w.eq_ignore_ascii_case("sequence"))
        && !rest[8..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[derive(Deserialize)]
struct FileToml {
    rule: RuleToml,
}

#[derive(Deserialize)]
struct RuleToml {
    rule_id: String,
    name: String,
    #[serde(default)]
    query: Option<Spanned<String>>,
    #[serde(default)]
    language: Option<Spanned<String>>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
    #[serde(default)]
    risk_score: Option<toml::Value>,
    #[serde(default)]
    threat: Vec<ThreatToml>,
    #[serde(default)]
    building_block_type: Option<String>,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Deserialize)]
struct ThreatToml {
    #[serde(default)]
    technique: Vec<TechniqueToml>,
    #[serde(default)]
    tactic: Option<RefToml>,
}

#[derive(Deserialize)]
struct TechniqueToml {
    id: String,
    name: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    subtechnique: Vec<RefToml>,
}

#[derive(Deserialize)]
struct RefToml {
    id: String,
    name: String,
    #[serde(default)]
    reference: String,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn error_at(
    origin: &str,
    text: &str,
    span: Option<Range<usize>>,
    kind: RuleErrorKind,
) -> RuleError {
    let (line, column) = span.map_or((1, 1), |s| line_col(text, s.start));
    RuleError {
        origin: origin.to_string(),
        line,
        column,
        kind,
    }
}

/// Where the query's first character sits in the file, if the string's text maps
/// one-to-one onto the file (literal strings always do; basic strings when they hold
/// no escapes).
fn query_body_offset(text: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    let (open, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else {
        return None;
    };
    let mut start = span.start + open;
    if open == 3 {
        if text[start..].starts_with("\r\n") {
            start += 2;
        } else if text[start..].starts_with('\n') {
            start += 1;
        }
    }
    if literal || text.get(start..start + value.len()) == Some(value) {
        Some(start)
    } else {
        None
    }
}

/// Parses and compiles one rule file.
pub fn parse_rule(origin: &str, text: &str) -> Result<ElasticRule, RuleError> {
    let file: FileToml = toml::from_str(text).map_err(|e| {
        error_at(
            origin,
            text,
            e.span(),
            RuleErrorKind::Toml(e.message().trim().to_string()),
        )
    })?;
    let r = file.rule;
    if let Some(lang) = &r.language {
        if !lang.get_ref().eq_ignore_ascii_case("eql") {
            return Err(error_at(
                origin,
                text,
                Some(lang.span()),
                RuleErrorKind::UnsupportedLanguage(lang.get_ref().clone()),
            ));
        }
    }
    let severity = match &r.severity {
        None => Severity::Low,
        Some(s) => s.get_ref().parse::<Severity>().map_err(|_| {
            error_at(
                origin,
                text,
                Some(s.span()),
                RuleErrorKind::Severity(s.get_ref().clone()),
            )
        })?,
    };
    let Some(query) = &r.query else {
        return Err(error_at(origin, text, None, RuleErrorKind::MissingQuery));
    };
    let query_text = query.get_ref().clone();
    let compiled = if is_sequence(&query_text) {
        Sequence::compile(&query_text).map(|q| RuleQuery::Sequence(Box::new(q)))
    } else {
        Query::compile(&query_text).map(RuleQuery::Event)
    };
    let compiled = compiled.map_err(|e| {
        let span = query.span();
        match query_body_offset(text, &span, &query_text) {
            Some(body) => error_at(
                origin,
                text,
                Some(body + e.offset..body + e.offset),
                RuleErrorKind::Query(e.message.clone()),
            ),
            None => {
                let (ql, qc) = e.line_col(&query_text);
                error_at(
                    origin,
                    text,
                    Some(span),
                    RuleErrorKind::Query(format!("{} (query line {ql}, column {qc})", e.message)),
                )
            }
        }
    })?;
    let risk_score = match &r.risk_score {
        Some(toml::Value::Integer(i)) => *i as f64,
        Some(toml::Value::Float(f)) => *f,
        _ => severity.default_risk_score(),
    };
    let discovery = (r.threat.iter()).any(|t| {
        t.tactic
            .as_ref()
            .is_some_and(|ta| ta.id == DISCOVERY_TACTIC)
    });
    let mut techniques: Vec<Technique> = Vec::new();
    let mut first_tactic = None;
    for t in &r.threat {
        for tech in &t.technique {
            let mut tt = technique(&tech.id, &tech.name);
            if !tech.reference.is_empty() {
                tt.reference = tech.reference.clone();
            }
            techniques.push(tt);
            for sub in &tech.subtechnique {
                let mut st = technique(&sub.id, &sub.name);
                if !sub.reference.is_empty() {
                    st.reference = sub.reference.clone();
                }
                techniques.push(st);
            }
        }
        if first_tactic.is_none() {
            first_tactic = t.tactic.as_ref().map(|ta| {
                let mut x = tactic(&ta.id, &ta.name);
                if !ta.reference.is_empty() {
                    x.reference = ta.reference.clone();
                }
                x
            });
        }
    }
    Ok(ElasticRule {
        rule_id: r.rule_id,
        name: r.name,
        severity,
        risk_score,
        threat: Threat {
            framework: "MITRE ATT&CK".into(),
            technique: techniques,
            tactic: first_tactic,
        },
        discovery,
        reference: r
            .references
            .first()
            .cloned()
            .unwrap_or_else(|| "https://github.com/elastic/detection-rules".into()),
        building_block: r.building_block_type.is_some(),
        origin: origin.to_string(),
        query_text,
        format: RuleFormat::Elastic,
        query: compiled,
    })
}

/// Checks one rule file without keeping it (for `picket check-config`).
pub fn validate_rule_text(origin: &str, text: &str) -> Result<(), RuleError> {
    parse_any(origin, text, &BTreeMap::new()).map(|_| ())
}

/// One rule file of either format: `.yml`/`.yaml` is Sigma, anything else Elastic TOML.
pub fn parse_any(
    origin: &str,
    text: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<ElasticRule, RuleError> {
    if crate::sigma::is_sigma_path(origin) {
        crate::sigma::parse_sigma_rule(origin, text, placeholders)
    } else {
        parse_rule(origin, text)
    }
}

/// Loads the built-in rule (when `builtin`) and every source; bad files give errors and
/// the others still load. A later rule with an already-loaded `rule_id` is an error.
pub fn load_rules(builtin: bool, sources: &[RuleSource]) -> (Vec<ElasticRule>, Vec<RuleError>) {
    load_rules_with(builtin, sources, &BTreeMap::new())
}

/// Fewest rule files worth compiling, and rules worth indexing, on more than one thread.
pub(crate) const PARALLEL_COMPILE_MIN_FILES: usize = 64;

/// [`load_rules`] with the `rules.sigma.placeholders` Sigma's `expand` uses. A large
/// rule set is compiled on one thread per core (SigmaHQ's and Elastic's together take
/// a good part of a second on one); the outcome is the same, in the same order.
pub fn load_rules_with(
    builtin: bool,
    sources: &[RuleSource],
    placeholders: &BTreeMap<String, Vec<String>>,
) -> (Vec<ElasticRule>, Vec<RuleError>) {
    let builtin_source = RuleSource {
        origin: BUILTIN_RULE_ORIGIN.to_string(),
        text: BUILTIN_RULE_TOML.to_string(),
    };
    let all: Vec<&RuleSource> = builtin
        .then_some(&builtin_source)
        .into_iter()
        .chain(sources.iter())
        .collect();
    let compiled = compile_all(&all, placeholders);
    let mut rules: Vec<ElasticRule> = Vec::new();
    let mut errors = Vec::new();
    let mut first_origin: std::collections::HashMap<String, String> = Default::default();
    for (src, outcome) in all.iter().zip(compiled) {
        match outcome {
            Ok(rule) => {
                if let Some(first) = first_origin.get(&rule.rule_id) {
                    errors.push(RuleError {
                        origin: src.origin.clone(),
                        line: 0,
                        column: 0,
                        kind: RuleErrorKind::Duplicate {
                            id: rule.rule_id.clone(),
                            first: first.clone(),
                        },
                    });
                } else {
                    first_origin.insert(rule.rule_id.clone(), rule.origin.clone());
                    rules.push(rule);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (rules, errors)
}

/// Every source parsed and compiled, in order, a large set on every core.
fn compile_all(
    all: &[&RuleSource],
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Vec<Result<ElasticRule, RuleError>> {
    crate::parallel::map_in_order(all, PARALLEL_COMPILE_MIN_FILES, |src| {
        parse_any(&src.origin, &src.text, placeholders)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rule_loads_with_its_threat_mapping() {
        let rule = parse_rule(BUILTIN_RULE_ORIGIN, BUILTIN_RULE_TOML).expect("builtin loads");
        assert_eq!(rule.rule_id, "c4e9ed3e-55a2-4309-a012-bc3c78dad10a");
        assert_eq!(rule.name, "Windows System Network Connections Discovery");
        assert_eq!(rule.severity, Severity::Low);
        assert_eq!(rule.risk_score, 21.0);
        let ids: Vec<&str> = rule
            .threat
            .technique
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(ids, ["T1016", "T1049", "T1082", "T1087"]);
        assert_eq!(
            rule.threat.tactic.as_ref().map(|t| t.id.as_str()),
            Some("TA0007")
        );
        assert!(rule.discovery, "its alerts are discoveries to TimeWindow");
        assert!(rule.building_block);
    }

    #[test]
    fn query_errors_point_into_the_file() {
        let text = "[rule]\nrule_id = \"x\"\nname = \"bad\"\nlanguage = \"eql\"\nquery = '''\nprocess where\n  process.name : \"a\" and\n  process.args ==\n'''\n";
        let e = parse_rule("bad.toml", text).expect_err("bad query");
        assert_eq!((e.line, e.column), (9, 1), "{e}");
        assert!(matches!(e.kind, RuleErrorKind::Query(_)), "{e}");
        assert!(e.to_string().starts_with("bad.toml:9:1: "), "{e}");

        let text = "[rule]\nrule_id = \"x\"\nname = \"bad\"\nquery = \"process where process.name = \\\"a\\\"\"\n";
        let e = parse_rule("esc.toml", text).expect_err("bad query");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.to_string().contains("query line 1, column 28"), "{e}");
    }

    #[test]
    fn other_errors_are_located() {
        let e = parse_rule(
            "k.toml",
            "[rule]\nrule_id = \"x\"\nname = \"k\"\nlanguage = \"kuery\"\nquery = \"a:b\"\n",
        )
        .expect_err("kuery");
        assert_eq!((e.line, e.column), (4, 12), "{e}");
        let e = parse_rule("s.toml", "[rule]\nrule_id = \"x\"\nname = \"k\"\nseverity = \"urgent\"\nquery = \"any where true\"\n")
            .expect_err("severity");
        assert_eq!(e.line, 4, "{e}");
        let e = parse_rule("t.toml", "[rule\nname = 1\n").expect_err("syntax");
        assert_eq!(e.line, 1, "{e}");
        let e = parse_rule(
            "m.toml",
            "[rule]\nname = \"no id\"\nquery = \"any where true\"\n",
        )
        .expect_err("missing rule_id");
        assert!(e.to_string().contains("rule_id"), "{e}");
    }

    #[test]
    fn bad_files_do_not_stop_good_ones() {
        let good = RuleSource {
            origin: "good.toml".into(),
            text: "[rule]\nrule_id = \"g\"\nname = \"g\"\nlanguage = \"eql\"\nquery = 'process where process.name : \"ss\"'\n".into(),
        };
        let bad = RuleSource {
            origin: "bad.toml".into(),
            text: "[rule]\nrule_id = \"b\"\nname = \"b\"\nquery = 'process where ('\n".into(),
        };
        let dup = RuleSource {
            origin: "dup.toml".into(),
            text: BUILTIN_RULE_TOML.into(),
        };
        let (rules, errors) = load_rules(true, &[bad, good, dup]);
        let ids: Vec<&str> = rules.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["c4e9ed3e-55a2-4309-a012-bc3c78dad10a", "g"]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].origin, "bad.toml");
        assert_eq!(errors[0].line, 4);
        assert!(matches!(errors[1].kind, RuleErrorKind::Duplicate { .. }));
    }

    #[test]
    fn a_large_set_compiled_on_several_threads_loads_as_on_one() {
        // Every fifth file does not parse and every seventh repeats an earlier id.
        let sources: Vec<RuleSource> = (0..3 * PARALLEL_COMPILE_MIN_FILES)
            .map(|i| {
                let id = if i % 7 == 6 { i - 3 } else { i };
                let query = if i % 5 == 4 {
                    "process where (".to_string()
                } else {
                    format!("process where process.name : \"tool{i}\"")
                };
                RuleSource {
                    origin: format!("r{i}.toml"),
                    text: format!(
                        "[rule]\nrule_id = \"id{id}\"\nname = \"n{i}\"\nquery = '{query}'\n"
                    ),
                }
            })
            .collect();
        let (rules, errors) = load_rules(false, &sources);
        // What one thread gives, file by file.
        let mut expected_rules = Vec::new();
        let mut expected_errors = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for src in &sources {
            match parse_rule(&src.origin, &src.text) {
                Ok(rule) => match seen.get(&rule.rule_id) {
                    Some(first) => {
                        expected_errors.push(format!("{}: duplicate of {first}", src.origin))
                    }
                    None => {
                        seen.insert(rule.rule_id.clone(), src.origin.clone());
                        expected_rules.push(src.origin.clone());
                    }
                },
                Err(e) => expected_errors.push(e.to_string()),
            }
        }
        let got_rules: Vec<String> = rules.iter().map(|r| r.origin.clone()).collect();
        let got_errors: Vec<String> = errors
            .iter()
            .map(|e| match &e.kind {
                RuleErrorKind::Duplicate { first, .. } => {
                    format!("{}: duplicate of {first}", e.origin)
                }
                _ => e.to_string(),
            })
            .collect();
        assert_eq!(got_rules, expected_rules);
        assert_eq!(got_errors, expected_errors);
        assert!(expected_errors.len() > 40 && expected_rules.len() > 100);
    }
}
