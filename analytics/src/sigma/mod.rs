//! Sigma rules (SigmaHQ `process_creation`), compiled into the EQL engine's tree.
//!
//! A rule file's text (read by the binary: this crate does no I/O) is parsed with
//! positions ([`yaml`]), its log source checked, its detection compiled to an EQL AST
//! ([`detection`], [`modifiers`], [`fields`], [`condition`]) and that compiled like an
//! EQL query, so Sigma and Elastic rules share the evaluator and the rule index. A rule
//! Picket cannot run is refused with its line, column and a [`Refusal`] class; see
//! docs/sigma.md for the spec coverage and the field mapping.

mod condition;
mod detection;
mod fields;
mod modifiers;
mod yaml;

use crate::common::{tactic, technique};
use crate::eql::{Ast, Expr, Lit, Op, Operand, Query};
use crate::rules::{ElasticRule, RuleError, RuleErrorKind, RuleFormat};
use fields::Product;
use sensor_core::alert::{Severity, Technique, Threat};
use std::collections::BTreeMap;
use yaml::{Node, Pos, Yaml};

/// Why a valid Sigma rule is not run: the class reported in errors and load outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// A modifier Sigma v2 does not define.
    UnknownModifier,
    /// A correlation rule, or a multi-document file.
    Correlation,
    /// An aggregation (`| count()`, `timeframe`).
    Aggregation,
    /// A log source other than `process_creation` on windows, linux or macos.
    LogSource,
    /// A field Picket's events of that product never carry.
    Field,
    /// A regex the engine's syntax does not have (look-around, back-references).
    Regex,
    /// Keyword search (values without a field).
    Keywords,
    /// An `expand` placeholder not configured in `rules.sigma.placeholders`.
    Placeholder,
    /// Anything else Picket does not run (reason in the message).
    Other,
}

impl Refusal {
    /// The short class name (`unknown-modifier`, `field`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownModifier => "unknown-modifier",
            Refusal::Correlation => "correlation",
            Refusal::Aggregation => "aggregation",
            Refusal::LogSource => "logsource",
            Refusal::Field => "field",
            Refusal::Regex => "regex",
            Refusal::Keywords => "keywords",
            Refusal::Placeholder => "placeholder",
            Refusal::Other => "other",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pos: Pos,
    /// `None`: the file is not a valid rule.
    refusal: Option<Refusal>,
    message: String,
}

impl Problem {
    pub(crate) fn invalid(pos: Pos, message: impl Into<String>) -> Problem {
        Problem {
            pos,
            refusal: None,
            message: message.into(),
        }
    }

    pub(crate) fn refused(pos: Pos, class: Refusal, message: impl Into<String>) -> Problem {
        Problem {
            pos,
            refusal: Some(class),
            message: message.into(),
        }
    }

    fn into_error(self, origin: &str) -> RuleError {
        RuleError {
            origin: origin.to_string(),
            line: self.pos.line,
            column: self.pos.column,
            kind: match self.refusal {
                Some(class) => RuleErrorKind::Refused {
                    class,
                    detail: self.message,
                },
                None => RuleErrorKind::Sigma(self.message),
            },
        }
    }
}

/// Whether a rule file is a Sigma rule, by its name.
pub fn is_sigma_path(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    lower.ends_with(".yml") || lower.ends_with(".yaml")
}

/// Parses and compiles one Sigma rule file. `placeholders` are the values `expand`
/// puts in for `%name%`.
pub fn parse_sigma_rule(
    origin: &str,
    text: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<ElasticRule, RuleError> {
    parse(text, placeholders)
        .map_err(|p| p.into_error(origin))
        .map(|mut r| {
            r.origin = origin.to_string();
            r
        })
}

fn str_of<'a>(doc: &'a Node, key: &str) -> Result<Option<&'a str>, Problem> {
    match doc.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => n
            .as_str()
            .map(Some)
            .ok_or_else(|| Problem::invalid(n.pos, format!("`{key}` is not a string"))),
    }
}

fn parse(text: &str, placeholders: &BTreeMap<String, Vec<String>>) -> Result<ElasticRule, Problem> {
    let docs =
        yaml::parse(text).map_err(|e| Problem::invalid(e.pos, format!("YAML: {}", e.message)))?;
    let doc = match docs.as_slice() {
        [doc] => doc,
        [] => {
            return Err(Problem::invalid(
                Pos { line: 1, column: 1 },
                "an empty file",
            ))
        }
        [_, second, ..] => {
            return Err(Problem::refused(
                second.pos,
                Refusal::Correlation,
                "a multi-document file (a correlation or a rule collection)",
            ))
        }
    };
    if !matches!(doc.value, Yaml::Map(_)) {
        return Err(Problem::invalid(doc.pos, "a rule is a mapping"));
    }
    if let Some(at) = doc.key_pos("correlation") {
        return Err(Problem::refused(
            at,
            Refusal::Correlation,
            "a correlation rule",
        ));
    }
    let at_top = Pos { line: 1, column: 1 };
    let id = str_of(doc, "id")?.ok_or_else(|| Problem::invalid(at_top, "the rule has no `id`"))?;
    let title =
        str_of(doc, "title")?.ok_or_else(|| Problem::invalid(at_top, "the rule has no `title`"))?;

    let logsource = doc
        .get("logsource")
        .ok_or_else(|| Problem::invalid(at_top, "the rule has no `logsource`"))?;
    let category = str_of(logsource, "category")?;
    let product = str_of(logsource, "product")?;
    let service = str_of(logsource, "service")?;
    let product = match (category, product, service) {
        (Some("process_creation"), Some(p), None) => Product::parse(p),
        _ => None,
    }
    .ok_or_else(|| {
        Problem::refused(
            logsource.pos,
            Refusal::LogSource,
            format!(
                "log source category={} product={}{}: Picket has process_creation events for windows, linux and macos",
                category.unwrap_or("-"),
                product.unwrap_or("-"),
                service.map(|s| format!(" service={s}")).unwrap_or_default()
            ),
        )
    })?;

    let severity = match str_of(doc, "level")? {
        None => Severity::Low,
        Some(l) => match l {
            "informational" | "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            other => {
                let pos = doc.get("level").map_or(at_top, |n| n.pos);
                return Err(Problem::invalid(
                    pos,
                    format!("invalid level {other:?}: expected informational, low, medium, high or critical"),
                ));
            }
        },
    };

    let detection = doc
        .get("detection")
        .ok_or_else(|| Problem::invalid(at_top, "the rule has no `detection`"))?;
    let ctx = detection::Ctx {
        product,
        placeholders,
    };
    let cond = detection::compile(detection, &ctx)?;
    let condition_text = detection
        .get("condition")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string();
    let field = |p: &str| Operand::Field(p.to_string());
    // `process where`: the same category test as an EQL rule's.
    let root = Expr::And(vec![
        Expr::Cmp {
            lhs: field("event.type"),
            op: Op::In { ci: false },
            rhs: vec![Lit::Str("start".into())],
            at: 0,
        },
        Expr::Cmp {
            lhs: field("host.os.type"),
            op: Op::Eq,
            rhs: vec![Lit::Str(product.os_type().into())],
            at: 0,
        },
        // A fork runs its parent's image: no new process in Sigma's sense.
        Expr::Not(Box::new(Expr::Cmp {
            lhs: field("event.action"),
            op: Op::Eq,
            rhs: vec![Lit::Str("fork".into())],
            at: 0,
        })),
        cond,
    ]);
    let query = Query::from_ast(&Ast {
        category: "process".into(),
        condition: root,
    })
    .map_err(|e| Problem::invalid(detection.pos, format!("does not compile: {}", e.message)))?;

    let mut references = Vec::new();
    if let Some(Node {
        value: Yaml::Seq(items),
        ..
    }) = doc.get("references")
    {
        references.extend(items.iter().filter_map(Node::as_str).map(str::to_string));
    }
    let tags: Vec<&str> = match doc.get("tags") {
        Some(Node {
            value: Yaml::Seq(items),
            ..
        }) => items.iter().filter_map(Node::as_str).collect(),
        _ => Vec::new(),
    };
    Ok(ElasticRule {
        rule_id: id.to_string(),
        name: title.to_string(),
        severity,
        risk_score: severity.default_risk_score(),
        threat: threat_of(&tags),
        discovery: tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case("attack.discovery")),
        reference: references
            .first()
            .cloned()
            .unwrap_or_else(|| "https://github.com/SigmaHQ/sigma".into()),
        building_block: false,
        origin: String::new(),
        query_text: condition_text,
        format: RuleFormat::Sigma,
        query: crate::rules::RuleQuery::Event(query),
    })
}

/// ATT&CK tactics by the names Sigma tags use (`attack.defense_evasion`).
const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource_development", "TA0042", "Resource Development"),
    ("initial_access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege_escalation", "TA0004", "Privilege Escalation"),
    ("defense_evasion", "TA0005", "Defense Evasion"),
    ("credential_access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral_movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command_and_control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// Techniques (`attack.t1059.001`) and the first tactic (`attack.execution`) of the
/// tags; Sigma tags carry no technique names, so the names are left empty.
pub(crate) fn threat_of(tags: &[&str]) -> Threat {
    let mut techniques: Vec<Technique> = Vec::new();
    let mut first_tactic = None;
    for tag in tags {
        let Some(rest) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        let is_technique = rest.len() >= 5
            && rest.starts_with('t')
            && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
        if is_technique {
            let id = rest.to_ascii_uppercase();
            if !techniques.iter().any(|t| t.id == id) {
                techniques.push(technique(&id, ""));
            }
            continue;
        }
        let name = rest.replace('-', "_");
        if first_tactic.is_none() {
            if let Some((_, id, full)) = TACTICS.iter().find(|(n, _, _)| *n == name) {
                first_tactic = Some(tactic(id, full));
            }
        }
    }
    Threat {
        framework: "MITRE ATT&CK".into(),
        technique: techniques,
        tactic: first_tactic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_give_techniques_and_the_first_tactic() {
        let t = threat_of(&[
            "attack.discovery",
            "attack.t1049",
            "attack.T1059.001",
            "attack.g0016",
            "attack.execution",
        ]);
        let ids: Vec<&str> = t.technique.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["T1049", "T1059.001"]);
        assert_eq!(t.tactic.map(|t| t.id), Some("TA0007".into()));
    }
}
