//! Property tests for the EQL engine's wildcard and case rules.

use analytics::Query;
use proptest::prelude::*;
use sensor_core::event::Event;

fn ev_name(name: &str) -> Event {
    let mut e = Event::exec(chrono::DateTime::UNIX_EPOCH);
    e.process.name = Some(name.to_string());
    e
}

fn ev_args(args: &[String]) -> Event {
    let mut e = Event::exec(chrono::DateTime::UNIX_EPOCH);
    e.process.args = args.to_vec();
    e
}

/// A string as an EQL double-quoted literal.
fn lit(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn q(text: &str) -> Query {
    Query::compile(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The reference: a wildcard pattern as an anchored regex.
fn reference(pattern: &str, ci: bool) -> regex::Regex {
    let mut re = String::from(if ci { "(?is)^" } else { "(?s)^" });
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).expect("reference regex")
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

// Small alphabets make matches likely; backslash and quote exercise escaping.
const VALUE: &str = "[aAbB.\\\\\"-]{0,8}";
const PATTERN: &str = "[aAbB.\\\\\"*?-]{0,6}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn colon_matches_like_a_case_insensitive_anchored_wildcard(p in PATTERN, v in VALUE) {
        let want = reference(&p, true).is_match(&v);
        let got = q(&format!("process where process.name : {}", lit(&p))).matches(&ev_name(&v));
        prop_assert_eq!(got, want, "pattern {:?} value {:?}", p, v);
    }

    #[test]
    fn like_is_case_sensitive_and_like_tilde_is_not(p in PATTERN, v in VALUE) {
        let cs = q(&format!("process where process.name like {}", lit(&p))).matches(&ev_name(&v));
        prop_assert_eq!(cs, reference(&p, false).is_match(&v));
        let ci = q(&format!("process where process.name like~ {}", lit(&p))).matches(&ev_name(&v));
        prop_assert_eq!(ci, reference(&p, true).is_match(&v));
    }

    #[test]
    fn colon_ignores_case_on_both_sides(p in PATTERN, v in VALUE) {
        let a = q(&format!("process where process.name : {}", lit(&p))).matches(&ev_name(&v));
        let b = q(&format!("process where process.name : {}", lit(&swap_case(&p)))).matches(&ev_name(&swap_case(&v)));
        let c = q(&format!("process where process.name : {}", lit(&p.to_uppercase()))).matches(&ev_name(&v.to_lowercase()));
        prop_assert_eq!(a, b);
        prop_assert_eq!(a, c);
    }

    #[test]
    fn eqeq_is_exact_and_case_sensitive(v in VALUE, w in VALUE) {
        let e = ev_name(&v);
        let same = q(&format!("process where process.name == {}", lit(&v))).matches(&e);
        prop_assert!(same);
        prop_assert_eq!(q(&format!("process where process.name == {}", lit(&w))).matches(&e), v == w);
        prop_assert_eq!(q(&format!("process where process.name != {}", lit(&w))).matches(&e), v != w);
        let swapped = swap_case(&v);
        prop_assert_eq!(q(&format!("process where process.name == {}", lit(&swapped))).matches(&e), swapped == v);
        // `==` never treats * or ? as wildcards.
        prop_assert_eq!(q("process where process.name == \"*\"").matches(&e), v == "*");
    }

    #[test]
    fn in_is_case_sensitive_and_in_tilde_is_not(v in VALUE, others in proptest::collection::vec(VALUE, 0..4)) {
        let list: Vec<String> = others.iter().map(|s| lit(s)).collect();
        let e = ev_name(&v);
        if !list.is_empty() {
            let text = list.join(", ");
            prop_assert_eq!(q(&format!("process where process.name in ({text})")).matches(&e), others.contains(&v));
            prop_assert_eq!(
                q(&format!("process where process.name in~ ({text})")).matches(&e),
                others.iter().any(|o| o.eq_ignore_ascii_case(&v))
            );
        }
    }

    #[test]
    fn an_array_matches_when_any_element_does(p in PATTERN, args in proptest::collection::vec(VALUE, 1..5)) {
        let re = reference(&p, true);
        let got = q(&format!("process where process.args : {}", lit(&p))).matches(&ev_args(&args));
        prop_assert_eq!(got, args.iter().any(|a| re.is_match(a)));
        let not = q(&format!("process where not process.args : {}", lit(&p))).matches(&ev_args(&args));
        prop_assert_eq!(not, !got);
    }

    #[test]
    fn a_value_list_is_an_or(ps in proptest::collection::vec(PATTERN, 1..4), v in VALUE) {
        let list: Vec<String> = ps.iter().map(|p| lit(p)).collect();
        let got = q(&format!("process where process.name : ({})", list.join(", "))).matches(&ev_name(&v));
        prop_assert_eq!(got, ps.iter().any(|p| reference(p, true).is_match(&v)));
    }

    #[test]
    fn a_missing_field_is_false_and_its_negation_true(p in PATTERN) {
        let e = Event::exec(chrono::DateTime::UNIX_EPOCH);
        let colon = q(&format!("process where user.id : {}", lit(&p))).matches(&e);
        let not_colon = q(&format!("process where not user.id : {}", lit(&p))).matches(&e);
        let eq = q(&format!("process where user.id == {}", lit(&p))).matches(&e);
        prop_assert!(!colon);
        prop_assert!(not_colon);
        prop_assert!(!eq);
    }

    #[test]
    fn string_functions_are_case_sensitive_unless_tilde(v in VALUE, s in "[aAbB.-]{0,3}") {
        let e = ev_name(&v);
        let (lv, ls) = (v.to_lowercase(), s.to_lowercase());
        for (f, cs, ci) in [
            ("startsWith", v.starts_with(&s), lv.starts_with(&ls)),
            ("endsWith", v.ends_with(&s), lv.ends_with(&ls)),
            // Elastic's reference: an empty substring is not contained.
            ("stringContains", !s.is_empty() && v.contains(&s), !ls.is_empty() && lv.contains(&ls)),
        ] {
            prop_assert_eq!(q(&format!("process where {f}(process.name, {})", lit(&s))).matches(&e), cs, "{}", f);
            prop_assert_eq!(q(&format!("process where {f}~(process.name, {})", lit(&s))).matches(&e), ci, "{}~", f);
        }
    }
}

#[test]
fn unicode_case_folding() {
    let e = ev_name("ÉCHO.EXE");
    assert!(q("process where process.name : \"écho.exe\"").matches(&e));
    assert!(q("process where process.name : \"é?ho*\"").matches(&e));
    assert!(!q("process where process.name == \"écho.exe\"").matches(&e));
}

#[test]
fn the_seed_rules_escaped_backslashes_mean_two_backslashes() {
    // In the rule file the query reads "\\\\*"; EQL unescapes it to \\* .
    let query = q(r#"process where process.args : "\\\\*""#);
    assert!(query.matches(&ev_args(&[r"\\server\share".to_string()])));
    assert!(!query.matches(&ev_args(&[r"\server".to_string()])));
    assert!(!query.matches(&ev_args(&["server".to_string()])));
}

// Robustness: the parsers are fed attacker-reachable text (rule files from a directory);
// arbitrary input must give an error, never a panic.
const EQL_NOISE: &str =
    "(process|any|where|and|or|not|in~?|like~?|regex~?|process\\.name|:|==|!=|<=?|>=?|\\(|\\)|,|\"[a-z*?\\\\]{0,3}\"?|\"\"\"|[0-9]{1,3}|-|`x|\\?|startsWith~?\\(|length\\(|cidrMatch\\(|[ \\n]|é|\\|){0,24}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn eql_compile_never_panics_on_token_soup(text in EQL_NOISE) {
        let e = ev_name("net.exe");
        match Query::compile(&text) {
            Ok(query) => {
                let _ = query.matches(&e);
            }
            Err(err) => {
                prop_assert!(err.offset <= text.len());
                let _ = err.line_col(&text);
            }
        }
    }

    #[test]
    fn eql_compile_never_panics_on_any_text(text in "\\PC{0,40}") {
        if let Err(err) = Query::compile(&text) {
            prop_assert!(err.offset <= text.len());
            let _ = err.line_col(&text);
        }
    }

    #[test]
    fn rule_files_never_panic(query in EQL_NOISE, junk in "[\\[\\]=\"'a-z\\n ]{0,30}") {
        let text = format!("[rule]\nrule_id = \"x\"\nname = \"n\"\nquery = '''\n{query}\n'''\n{junk}");
        if let Err(e) = analytics::parse_rule("p.toml", &text) {
            prop_assert!(e.line >= 1);
        }
    }
}
