//! The engine as the pipeline uses it: build, rules, alerts, ticks, reload.

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::{
    parse_rule, validate_rule_text, Engine, RuleErrorKind, RuleSource, BUILTIN_RULE_ORIGIN,
    BUILTIN_RULE_TOML,
};
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::Alert;
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::json;

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/000_2d467026c9772266.txt"
);

fn spec_text() -> String {
    std::fs::read_to_string(SPEC)
        .unwrap_or_else(|e| panic!("the Elastic rule spec {SPEC} cannot be read: {e}"))
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(secs)
}

fn ev(secs: i64, v: serde_json::Value) -> Event {
    let mut e = Event::from_json_value(v).expect("event");
    e.timestamp = t(secs);
    if e.event.kind_type.is_empty() {
        e.event.kind_type = vec!["start".into()];
        e.event.category = vec!["process".into()];
        e.event.action = Some("exec".into());
    }
    if e.process.command_line.is_none() && !e.process.args.is_empty() {
        e.process.command_line = Some(e.process.args.join(" "));
    }
    e
}

fn linux(secs: i64, args: &[&str]) -> Event {
    ev(
        secs,
        json!({"host.name": "lnx1", "host.os.type": "linux", "user.id": "1000", "user.name": "alice",
               "process.name": args[0], "process.executable": format!("/usr/bin/{}", args[0]), "process.args": args}),
    )
}

fn engine(config: &AnalyticsConfig) -> Engine {
    let (e, errors) = Engine::build(config, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    e
}

#[test]
fn embedded_query_is_the_spec_query_character_for_character() {
    let spec = spec_text();
    let open = "query = '''\n";
    let start = spec.find(open).expect("the spec has a query") + open.len();
    let end = start + spec[start..].find("\n'''").expect("the query ends");
    let spec_query = &spec[start..end];
    let rule = parse_rule(BUILTIN_RULE_ORIGIN, BUILTIN_RULE_TOML).expect("builtin parses");
    // TOML's ''' string drops the first newline and keeps the rest verbatim.
    assert_eq!(rule.query_text, format!("{spec_query}\n"));
    assert_eq!(rule.query_text.trim_end(), spec_query);
    // The "Stages and Predicates" section repeats the same query.
    assert_eq!(spec.matches(spec_query).count(), 2);
    // And the whole shipped TOML is the spec's rule body, unchanged.
    assert!(spec.contains(BUILTIN_RULE_TOML.trim_end()));
}

#[test]
fn builtin_rule_loads_only_when_enabled_and_bad_rules_are_located() {
    let good = RuleSource {
        origin: "/etc/picket/rules/ss.toml".into(),
        text: "[rule]\nrule_id = \"u1\"\nname = \"ss\"\nlanguage = \"eql\"\nquery = 'process where process.name == \"ss\"'\n".into(),
    };
    let bad = RuleSource {
        origin: "/etc/picket/rules/bad.toml".into(),
        text: "[metadata]\nx = 1\n\n[rule]\nrule_id = \"u2\"\nname = \"bad\"\nlanguage = \"eql\"\nquery = '''\nprocess where\n    process.name : (\"a\", \"b\"\n'''\n".into(),
    };
    let (e, errors) = Engine::build(
        &AnalyticsConfig::default(),
        &RulesConfig::default(),
        &[good.clone(), bad.clone()],
    );
    let ids: Vec<&str> = e.rules().iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(ids, ["c4e9ed3e-55a2-4309-a012-bc3c78dad10a", "u1"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        "/etc/picket/rules/bad.toml:11:1: the query does not parse: expected `,` or `)` in the value list, found the end of the query"
    );
    assert!(matches!(errors[0].kind, RuleErrorKind::Query(_)));
    assert!(validate_rule_text(&bad.origin, &bad.text).is_err());
    assert!(validate_rule_text(&good.origin, &good.text).is_ok());

    let no_builtin = RulesConfig {
        builtin: false,
        ..RulesConfig::default()
    };
    let (e, errors) = Engine::build(&AnalyticsConfig::default(), &no_builtin, &[good]);
    assert!(errors.is_empty());
    assert_eq!(e.rules().len(), 1);
}

#[test]
fn alerts_carry_rule_threat_element_value_and_the_event() {
    let mut e = engine(&AnalyticsConfig::default());
    let mut alerts = Vec::new();
    let event = linux(0, &["ss", "-antp"]);
    e.on_event(&event, &mut alerts);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.rule.id, "picket-AN0904");
    assert_eq!(a.rule.ruleset, "picket");
    assert_eq!(a.threat.technique[0].id, "T1049");
    assert_eq!(
        a.threat.tactic.as_ref().map(|t| t.id.as_str()),
        Some("TA0007")
    );
    assert_eq!(a.picket.analytic, "AN0904");
    assert_eq!(a.picket.mutable_element, "UtilityNameList");
    assert_eq!(a.picket.matched_value, "ss");
    assert_eq!(a.event.kind, "alert");
    assert_eq!(a.event.severity, 1);
    assert_eq!(a.event.risk_score, 21.0);
    assert_eq!(a.event.created, event.timestamp);
    assert_eq!(a.process.args, event.process.args);
    assert!(
        a.message
            .starts_with("alice (uid 1000) ran `ss -antp` on lnx1"),
        "{}",
        a.message
    );
    // The alert is one ECS JSON document.
    let v: serde_json::Value = serde_json::from_str(&a.to_json_line()).expect("json");
    assert_eq!(v["picket"]["analytic"], "AN0904");
    assert_eq!(v["rule"]["id"], "picket-AN0904");
}

fn follow_up_after_reload(config_b: &AnalyticsConfig) -> Vec<Alert> {
    let config_a = AnalyticsConfig::default();
    let mut a = engine(&config_a);
    let mut alerts = Vec::new();
    a.on_event(&linux(0, &["ss", "-tan"]), &mut alerts);
    a.on_event(&linux(1, &["ss", "-tan"]), &mut alerts);
    a.on_event(&linux(2, &["ss", "-tan"]), &mut alerts);
    assert_eq!(alerts.len(), 1, "repeats fold");
    alerts.clear();
    let mut b = engine(config_b);
    b.take_state_from(a.as_any_mut());
    b.on_event(&linux(30, &["ssh", "admin@10.0.0.9"]), &mut alerts);
    b.on_event(&linux(31, &["ss", "-tan"]), &mut alerts);
    b.on_event(&linux(32, &["ss", "-tan"]), &mut alerts);
    b.on_tick(t(40), true, &mut alerts);
    alerts
}

#[test]
fn reload_carries_correlation_fold_and_frequency_state() {
    let alerts = follow_up_after_reload(&AnalyticsConfig::default());
    let got: Vec<(&str, u64)> = alerts
        .iter()
        .map(|a| (a.picket.mutable_element.as_str(), a.picket.count))
        .collect();
    // ssh correlates with the discovery seen before the reload; the two ss after it
    // fold into the window opened before it, and are the 4th and 5th executions: burst.
    assert_eq!(
        got,
        [
            ("TimeWindow", 1),
            ("ExecutionFrequencyThreshold", 1),
            ("UtilityNameList", 5)
        ]
    );
    assert_eq!(alerts[0].picket.related_events.len(), 1);
    assert_eq!(alerts[1].picket.related_events.len(), 4);
}

/// A custom Elastic rule on `process.name == "ls"`, under `tactic`.
fn ls_rule(id: &str, tactic: &str) -> RuleSource {
    RuleSource {
        origin: format!("/etc/picket/rules/{id}.toml"),
        text: format!(
            "[rule]\nrule_id = \"{id}\"\nname = \"{id}\"\nlanguage = \"eql\"\n\
             query = 'process where process.name == \"ls\"'\n\n\
             [[rule.threat]]\nframework = \"MITRE ATT&CK\"\n\
             [rule.threat.tactic]\nid = \"{tactic}\"\nname = \"x\"\nreference = \"\"\n"
        ),
    }
}

/// The TimeWindow alerts of `ls` followed by `ssh`, with `rule` loaded.
fn time_window_after_a_rule_alert(rule: RuleSource) -> Vec<Alert> {
    let (mut e, errors) = Engine::build(
        &AnalyticsConfig::default(),
        &RulesConfig::default(),
        &[rule],
    );
    assert!(errors.is_empty(), "{errors:?}");
    let mut alerts = Vec::new();
    e.on_event(&linux(0, &["ls", "-la"]), &mut alerts);
    assert_eq!(alerts.len(), 1, "the rule fires on ls: {alerts:?}");
    e.on_event(&linux(10, &["ssh", "admin@10.0.0.9"]), &mut alerts);
    e.on_tick(t(20), true, &mut alerts);
    alerts.retain(|a| a.picket.mutable_element == "TimeWindow");
    alerts
}

#[test]
fn only_a_discovery_rules_alert_opens_a_time_window() {
    // Under Discovery: the ssh that follows correlates, naming the rule.
    let after_discovery = time_window_after_a_rule_alert(ls_rule("ls-discovery", "TA0007"));
    assert_eq!(after_discovery.len(), 1, "{after_discovery:?}");
    assert_eq!(
        after_discovery[0].picket.details["discovery"],
        json!("ls-discovery")
    );
    // Under Defense Evasion: an alert, but no discovery for ssh to follow.
    let after_evasion = time_window_after_a_rule_alert(ls_rule("ls-evasion", "TA0005"));
    assert!(after_evasion.is_empty(), "{after_evasion:?}");
}

#[test]
fn reload_drops_state_the_new_config_turns_off() {
    let mut config = AnalyticsConfig::default();
    config.time_window.enabled = false;
    config.an0904.execution_frequency_threshold.count = 0;
    let alerts = follow_up_after_reload(&config);
    let got: Vec<(&str, u64)> = alerts
        .iter()
        .map(|a| (a.picket.mutable_element.as_str(), a.picket.count))
        .collect();
    assert_eq!(got, [("UtilityNameList", 5)]);
}

#[test]
fn take_state_from_something_else_is_ignored() {
    let mut e = engine(&AnalyticsConfig::default());
    let mut other = 5u32;
    e.take_state_from(&mut other);
    let mut alerts = Vec::new();
    e.on_event(&linux(0, &["netstat"]), &mut alerts);
    assert_eq!(alerts.len(), 1);
}

#[test]
fn ticks_close_fold_windows_on_time_and_count_everything() {
    let mut e = engine(&AnalyticsConfig::default());
    let mut alerts = Vec::new();
    for i in 0..4 {
        e.on_event(&linux(i, &["netstat", "-an"]), &mut alerts);
    }
    e.on_tick(t(59), false, &mut alerts);
    assert_eq!(alerts.len(), 1, "window still open at 59 s");
    e.on_tick(t(60), false, &mut alerts);
    assert_eq!(alerts.len(), 2, "summary at 60 s");
    assert_eq!(alerts[1].picket.count, 4);
    assert_eq!(alerts[1].picket.first_seen, Some(t(0)));
    assert_eq!(alerts[1].picket.last_seen, Some(t(3)));
    assert_ne!(alerts[0].event.id, alerts[1].event.id);
    e.on_tick(t(61), true, &mut alerts);
    assert_eq!(alerts.len(), 2, "nothing left to flush");
    let s = e.stats();
    assert_eq!(s.events, 4);
    assert_eq!(s.detections, 4);
    assert_eq!(s.alerts_folded, 3);
    assert_eq!(s.alerts_sent, 2);
    assert_eq!(s.fold_summaries, 1);
}

#[test]
fn malformed_and_empty_events_do_not_panic() {
    let mut e = engine(&AnalyticsConfig::default());
    let mut alerts = Vec::new();
    for v in [
        json!({}),
        json!({"event.type": "start"}),
        json!({"event.type": "start", "host.os.type": "windows", "process.command_line": "powershell -enc ###"}),
        json!({"event.type": "start", "host.os.type": "windows", "process.name": "powershell.exe", "process.args": ["powershell", "-e"]}),
        json!({"event.type": "start", "host.os.type": "macos", "process.name": "osascript", "process.args": ["osascript", "-e", "do shell script \"unterminated"]}),
        json!({"event.type": "start", "host.os.type": "linux", "process.name": "busybox", "process.args": ["busybox"]}),
        json!({"event.type": "start", "host.os.type": "linux", "process.name": "lsof", "picket": {"user_groups": [""], "user_shell": ""}}),
    ] {
        e.on_event(&ev(0, v), &mut alerts);
    }
    e.on_tick(t(0), true, &mut alerts);
    assert!(alerts.is_empty(), "{alerts:?}");
    // The user context travels typed: a wrongly typed value is a malformed event
    // (counted and skipped by the reader), never a silently ignored setting.
    let bad = json!({"picket": {"user_groups": 7, "user_shell": ["x"]}});
    assert!(Event::from_json_value(bad).is_err());
}

#[test]
fn validation_builds_the_analytics_the_engine_then_runs() {
    // One build path: what validating compiled is what the engine runs, and a bad
    // pattern is reported by its field path even when its analytic is off.
    let (built, problems) = analytics::Analytics::build(&AnalyticsConfig::default());
    assert!(problems.is_empty(), "{problems:?}");
    let (mut e, errors) = Engine::with_analytics(built, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    let mut alerts = Vec::new();
    e.on_event(&linux(0, &["ss", "-antp"]), &mut alerts);
    assert_eq!(alerts.len(), 1);

    let mut off = AnalyticsConfig::default();
    off.an0903.enabled = false;
    off.an0903
        .command_pattern_list
        .regexes
        .push("(unclosed".into());
    let (_, problems) = analytics::Analytics::build(&off);
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["analytics.an0903.command_pattern_list.regexes[2]"],
        "{problems:?}"
    );
}

const SEQUENCE_RULE: &str = r#"[rule]
rule_id = "seq-shell-then-netstat"
name = "A shell, then netstat from it"
language = "eql"
severity = "medium"
query = '''
sequence by host.name with maxspan=1m
  [process where process.name == "bash"] by process.entity_id
  [process where process.name == "netstat" and process.args : "-*a*"] by process.parent.entity_id
until [process where event.type == "end"] by process.entity_id
'''
"#;

fn child(secs: i64, name: &str, pid: u32, parent: u32, args: &[&str]) -> Event {
    ev(
        secs,
        json!({"host.name": "lnx1", "host.os.type": "linux", "user.id": "1000", "user.name": "alice",
               "process": {"name": name, "pid": pid, "entity_id": format!("e{pid}"), "args": args,
                           "parent": {"pid": parent, "entity_id": format!("e{parent}")}}}),
    )
}

#[test]
fn a_sequence_rule_alerts_once_per_completed_sequence_with_its_events_as_evidence() {
    let source = RuleSource {
        origin: "seq.toml".into(),
        text: SEQUENCE_RULE.into(),
    };
    let rules = RulesConfig {
        builtin: false,
        ..RulesConfig::default()
    };
    let (mut e, errors) = Engine::build(&AnalyticsConfig::default(), &rules, &[source]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(e.rules()[0].sequence().is_some());
    let mut alerts = Vec::new();
    e.on_event(&child(0, "bash", 10, 1, &["bash"]), &mut alerts);
    e.on_event(
        &child(5, "netstat", 11, 99, &["netstat", "-an"]),
        &mut alerts,
    );
    e.on_event(
        &child(6, "netstat", 12, 10, &["netstat", "-an"]),
        &mut alerts,
    );
    let seq: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.rule.id == "seq-shell-then-netstat")
        .collect();
    assert_eq!(seq.len(), 1, "{alerts:#?}");
    let a = seq[0];
    assert_eq!(a.rule.ruleset, "elastic");
    assert_eq!(a.process.pid, Some(12));
    assert_eq!(a.picket.first_seen, Some(t(0)));
    assert_eq!(a.picket.related_events.len(), 1);
    assert_eq!(a.picket.related_events[0].process.pid, Some(10));
    assert!(a.message.contains("2 events in 6 s"), "{}", a.message);

    // The shell ended before the child ran: `until` closed its sequence.
    let mut alerts = Vec::new();
    e.on_event(&child(10, "bash", 20, 1, &["bash"]), &mut alerts);
    let mut end = child(11, "bash", 20, 1, &["bash"]);
    end.event.kind_type = vec!["end".into()];
    end.event.action = Some("exit".into());
    e.on_event(&end, &mut alerts);
    e.on_event(
        &child(12, "netstat", 21, 20, &["netstat", "-an"]),
        &mut alerts,
    );
    assert!(
        alerts.iter().all(|a| a.rule.id != "seq-shell-then-netstat"),
        "{alerts:#?}"
    );
}
