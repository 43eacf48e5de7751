//! Load outcomes of the fixture rule sets, against committed lists: every SigmaHQ
//! `process_creation` rule of `shared/fixtures/rules/sigma-process-creation/` and every
//! Elastic rule of `shared/fixtures/rules/elastic-process-eql/`, one line per file
//! (`<id> loaded` / `<id> refused <class>` / `<file> invalid`).
//!
//! After an intended change (the EQL engine learning a construct, a new field mapping),
//! regenerate the lists and review the diff:
//! `PICKET_BLESS=1 cargo test -p analytics --test sigma_load`.

#[path = "../benches/corpus/mod.rs"]
#[allow(dead_code)]
mod corpus;

use analytics::{parse_any, RuleErrorKind, RuleSource};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One line per file, sorted by file name.
fn outcomes(sources: &[RuleSource], id_of: impl Fn(&RuleSource) -> Option<String>) -> String {
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for src in sources {
        let file = Path::new(&src.origin)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = id_of(src).unwrap_or_else(|| file.clone());
        assert!(seen.insert(id.clone()), "two files with id {id}");
        let outcome = parse_any(&src.origin, &src.text, &BTreeMap::new());
        if let Err(e) = &outcome {
            // Each refusal in full: the reasons behind the counts in docs/sigma.md.
            eprintln!("{e}");
        }
        let line = match outcome {
            Ok(_) => format!("{id} loaded"),
            Err(e) => match e.kind {
                RuleErrorKind::Refused { class, .. } => format!("{id} refused {class}"),
                RuleErrorKind::Query(_) => format!("{id} refused query"),
                _ => format!("{id} invalid"),
            },
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Compares with the committed list, or rewrites it under `PICKET_BLESS=1`.
fn check(name: &str, actual: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/").to_string() + name;
    if std::env::var_os("PICKET_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("write {path}: {e}"));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing {path} ({e}); generate it with PICKET_BLESS=1"));
    if expected != actual {
        let exp: BTreeSet<&str> = expected.lines().collect();
        let act: BTreeSet<&str> = actual.lines().collect();
        let gone: Vec<&&str> = exp.difference(&act).collect();
        let new: Vec<&&str> = act.difference(&exp).collect();
        panic!(
            "{name} differs (regenerate with PICKET_BLESS=1 if intended)\n  expected, not seen: {gone:?}\n  seen, not expected: {new:?}"
        );
    }
}

fn counts(text: &str) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for line in text.lines() {
        let outcome = line.split_once(' ').map_or("", |(_, o)| o);
        *c.entry(outcome.to_string()).or_insert(0) += 1;
    }
    c
}

/// The `id:` line of a Sigma rule (the first, at the top level).
fn sigma_id(src: &RuleSource) -> Option<String> {
    src.text
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|s| {
            let s = s.split(" #").next().unwrap_or(s);
            s.trim().trim_matches(['\'', '"']).to_string()
        })
}

fn elastic_id(src: &RuleSource) -> Option<String> {
    src.text
        .lines()
        .find_map(|l| l.trim().strip_prefix("rule_id = "))
        .map(|s| s.trim().trim_matches('"').to_string())
}

#[test]
fn sigma_process_creation_rules_load_as_listed() {
    let sources = corpus::sigma_rule_sources();
    assert_eq!(sources.len(), 1434, "the fixture folder changed");
    let text = outcomes(&sources, sigma_id);
    let c = counts(&text);
    eprintln!("sigma load outcomes: {c:?}");
    let loaded = c.get("loaded").copied().unwrap_or(0);
    assert!(
        loaded * 100 >= sources.len() * 95,
        "only {loaded} of {} load: {c:?}",
        sources.len()
    );
    assert!(!c.contains_key("invalid"), "SigmaHQ rules are valid: {c:?}");
    check("sigma-load-outcomes.txt", &text);
}

#[test]
fn elastic_process_rules_load_as_listed() {
    let sources = corpus::elastic_rule_sources();
    assert!(sources.len() > 500, "{} Elastic rules", sources.len());
    let text = outcomes(&sources, elastic_id);
    eprintln!("elastic load outcomes: {:?}", counts(&text));
    check("elastic-load-outcomes.txt", &text);
}
