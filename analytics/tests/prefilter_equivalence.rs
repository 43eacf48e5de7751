//! The prefilters and the rule index change no verdict: the same events through an
//! engine with them on and off give the same alerts (apart from alert ids and creation
//! times), with the built-in rule alone and with every Elastic `process where` rule of
//! `shared/fixtures/rules/elastic-process-eql/`.
//!
//! The events: the bench's mixed corpus; every case of `tests/data/detections/`;
//! real ESXi and network-device log lines from `shared/fixtures/` through the log
//! parser; and, per Elastic rule, events built from the literals in its query (as
//! written, upper-cased, and with every list value), so most rules fire at least once
//! and the index's every way of letting a rule through (or not) is exercised.

#[path = "../benches/corpus/mod.rs"]
#[allow(dead_code)]
mod corpus;

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::{Engine, RuleSource};
use chrono::{DateTime, TimeDelta, Utc};
use regex::Regex;
use sensor_core::alert::Alert;
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn t0() -> DateTime<Utc> {
    corpus::t0()
}

/// Every case of `tests/data/detections/*.ndjson`, its base merged into each event, one
/// case an hour after the last so that cases do not correlate with each other.
fn detection_cases() -> Vec<Event> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/detections");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("missing {dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut case_no = 0i64;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("case file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: Value = serde_json::from_str(line).expect("case json");
            case_no += 1;
            let base = case.get("base").and_then(Value::as_object).cloned();
            let Some(events) = case.get("events").and_then(Value::as_array) else {
                continue;
            };
            for (i, raw) in events.iter().enumerate() {
                let Some(mut obj) = raw.as_object().cloned() else {
                    continue;
                };
                let t = obj.remove("t").and_then(|v| v.as_f64()).unwrap_or(i as f64);
                for (k, v) in base.iter().flatten() {
                    obj.entry(k.clone()).or_insert_with(|| v.clone());
                }
                defaults(&mut obj);
                let at =
                    t0() + TimeDelta::hours(case_no) + TimeDelta::milliseconds((t * 1000.0) as i64);
                obj.insert("@timestamp".into(), Value::from(at.to_rfc3339()));
                if let Ok(ev) = Event::from_json_value(Value::Object(obj)) {
                    out.push(ev);
                }
            }
        }
    }
    out
}

fn defaults(obj: &mut Map<String, Value>) {
    obj.entry("event.type").or_insert_with(|| "start".into());
    obj.entry("event.category")
        .or_insert_with(|| "process".into());
    obj.entry("event.action").or_insert_with(|| "exec".into());
}

/// Real ESXi and network-device lines from the fixtures, through the log parser.
fn device_log_events() -> Vec<Event> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures");
    let files = [
        "esxi/shell.log",
        "esxi/auth.log",
        "esxi/hostd.log",
        "esxi/esxi8-syslog-audit.log",
        "network/tac_plus-ios-accounting.log",
        "network/tac_plus-srlinux-accounting.log",
        "network/arista-eos-accounting.log",
        "network/cisco-ise-tacacs-accounting.log",
    ];
    let ctx = sensor_logs::ParseContext::new(t0()).with_default_host("esxi-lab");
    let mut out = Vec::new();
    for f in files {
        let path = Path::new(root).join(f);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        for line in text.lines() {
            // The recordings hold no network-connection listing: each line is also
            // replayed with its command swapped for one (built).
            let built = line
                .replace(
                    "esxcli system version get",
                    "esxcli network ip connection list",
                )
                .replace("vim-cmd vmsvc/getallvms", "esxcli network ip neighbor list")
                .replace("show interfaces status", "show ip sockets")
                .replace("configure terminal", "show tcp brief")
                .replace("priv-lvl=15", "priv-lvl=1");
            for l in [line, built.as_str()] {
                if let sensor_logs::Parsed::Record(r) = sensor_logs::parse_line(l, &ctx) {
                    out.push(r.into_event());
                }
            }
        }
    }
    assert!(out.len() >= 10, "only {} device-log events", out.len());
    out
}

/// Events built from the literals of each rule's query: for every `field op "value"`
/// or `field op ("a", "b")`, the field gets the first value (or, in the second variant,
/// the last; `process.args` gets every value), wildcards dropped, EQL escapes undone;
/// a third variant upper-cases every value, which `:` matches and `==` does not.
fn rule_derived_events(rules: &[RuleSource]) -> Vec<Event> {
    let cmp = Regex::new(
        r#"(\??[A-Za-z_][A-Za-z0-9_.]*)\s*(?::|==|in~?|like~?)\s*(\([^)]*\)|"(?:[^"\\]|\\.)*")"#,
    )
    .expect("regex");
    let string = Regex::new(r#""((?:[^"\\]|\\.)*)""#).expect("regex");
    let unescape = |s: &str| {
        s.replace("\\\\", "\\")
            .replace("\\\"", "\"")
            .replace(['*', '?'], "")
    };
    let mut out = Vec::new();
    let mut at = t0() + TimeDelta::days(30);
    for rule in rules {
        let Some(query) = rule.text.split("'''").nth(1) else {
            continue;
        };
        let pairs: Vec<(String, Vec<String>)> = cmp
            .captures_iter(query)
            .map(|c| {
                let field = c[1].trim_start_matches('?').to_string();
                let values = string
                    .captures_iter(&c[2])
                    .map(|v| unescape(&v[1]))
                    .collect();
                (field, values)
            })
            .filter(|(_, v): &(String, Vec<String>)| !v.is_empty())
            .collect();
        for variant in 0..3 {
            let mut obj = Map::new();
            let mut args: Vec<Value> = Vec::new();
            for (field, values) in &pairs {
                let pick = |v: &String| {
                    if variant == 2 {
                        v.to_uppercase()
                    } else {
                        v.clone()
                    }
                };
                if field.ends_with(".args") {
                    let take = if variant == 1 { values.len() } else { 1 };
                    let chosen = values.iter().take(take).map(|v| Value::from(pick(v)));
                    if field == "process.args" {
                        args.extend(chosen);
                    } else if let Value::Array(a) = obj
                        .entry(field.clone())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        a.extend(chosen);
                    }
                    continue;
                }
                let v = if variant == 1 {
                    values.last()
                } else {
                    values.first()
                };
                if let Some(v) = v {
                    obj.entry(field.clone()).or_insert_with(|| pick(v).into());
                }
            }
            if !args.is_empty() {
                obj.insert("process.args".into(), Value::Array(args));
            }
            defaults(&mut obj);
            obj.entry("host.name")
                .or_insert_with(|| "rules-host".into());
            obj.entry("user.id").or_insert_with(|| "1000".into());
            at += TimeDelta::minutes(10);
            obj.insert("@timestamp".into(), at.to_rfc3339().into());
            if let Ok(ev) = Event::from_json_value(Value::Object(obj)) {
                out.push(ev);
            }
        }
    }
    out
}

/// The alerts of `events`, ticking as the pipeline does and flushing at the end, with
/// the per-run alert id and creation time blanked.
fn run(pristine: &Engine, prefilters: bool, events: &[Event]) -> (Vec<Value>, Vec<Alert>) {
    let mut engine = pristine.clone();
    engine.set_prefilters(prefilters);
    let mut alerts: Vec<Alert> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        if i % 50 == 0 {
            engine.on_tick(ev.timestamp, false, &mut alerts);
        }
        engine.on_event(ev, &mut alerts);
    }
    let end = events.iter().map(|e| e.timestamp).max().unwrap_or_else(t0);
    engine.on_tick(end + TimeDelta::hours(1), true, &mut alerts);
    let values = alerts
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).expect("alert json");
            strip_run_fields(&mut v);
            v
        })
        .collect();
    (values, alerts)
}

/// Blanks what differs between two runs of the same events: alert ids (random) and
/// alert creation times (the clock).
fn strip_run_fields(v: &mut Value) {
    if let Value::Object(o) = v {
        for key in ["@timestamp", "id", "created", "event.id", "event.created"] {
            if o.contains_key(key) {
                o.insert(key.into(), Value::Null);
            }
        }
        for (_, child) in o.iter_mut() {
            strip_run_fields(child);
        }
    } else if let Value::Array(items) = v {
        items.iter_mut().for_each(strip_run_fields);
    }
}

/// Cloud API calls (built, in the CloudTrail reader's event contract): network
/// enumeration by one principal in a burst, and calls AN0908 does not watch.
fn cloud_events() -> Vec<Event> {
    let calls = [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeRouteTables",
        "DescribeNetworkInterfaces",
        "ListBuckets",
        "GetCallerIdentity",
    ];
    let at = t0() + TimeDelta::days(20);
    (0..40)
        .map(|i| {
            let ts = (at + TimeDelta::seconds(i * 7)).to_rfc3339();
            let v = serde_json::json!({
                "@timestamp": ts, "event.kind": "event", "event.category": ["api"],
                "event.type": ["info"], "event.action": calls[i as usize % calls.len()],
                "event.provider": "ec2.amazonaws.com", "event.dataset": "aws.cloudtrail",
                "event.outcome": "success", "cloud.provider": "aws",
                "cloud.account.id": "123456789012", "cloud.region": "us-east-1",
                "user.id": format!("arn:aws:iam::123456789012:user/u{}", i % 3),
                "user.name": format!("u{}", i % 3), "source.ip": "198.51.100.7",
                "user_agent.original": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"
            });
            Event::from_json_value(v).expect("cloud event")
        })
        .collect()
}

fn all_events(rules: &[RuleSource]) -> Vec<Event> {
    let mut events = corpus::corpus_events();
    events.extend(detection_cases());
    events.extend(device_log_events());
    events.extend(cloud_events());
    events.extend(rule_derived_events(rules));
    events
}

fn rule_ids(alerts: &[Alert]) -> BTreeSet<&str> {
    alerts
        .iter()
        .filter(|a| a.rule.ruleset == "elastic")
        .map(|a| a.rule.id.as_str())
        .collect()
}

fn assert_same(label: &str, on: &[Value], off: &[Value]) {
    assert_eq!(on.len(), off.len(), "{label}: alert counts differ");
    for (i, (a, b)) in on.iter().zip(off).enumerate() {
        assert_eq!(a, b, "{label}: alert {i} differs");
    }
}

#[test]
fn builtin_rule_and_analytics_give_the_same_alerts_with_prefilters_on_and_off() {
    let rules = corpus::elastic_rule_sources();
    let events = all_events(&rules);
    let (engine, errors) = Engine::build(&AnalyticsConfig::default(), &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    let (on, on_alerts) = run(&engine, true, &events);
    let (off, _) = run(&engine, false, &events);
    assert_same("built-in", &on, &off);
    // Every analytic fires somewhere in this stream, so the comparison covers each.
    let analytics: BTreeSet<&str> = on_alerts
        .iter()
        .map(|a| a.picket.analytic.as_str())
        .collect();
    for a in ["AN0903", "AN0904", "AN0905", "AN0906", "AN0907", "AN0908"] {
        assert!(analytics.contains(a), "no {a} alert in {analytics:?}");
    }
    assert_eq!(
        rule_ids(&on_alerts).into_iter().collect::<Vec<_>>(),
        ["c4e9ed3e-55a2-4309-a012-bc3c78dad10a"]
    );
}

#[test]
fn every_elastic_process_rule_gives_the_same_alerts_with_the_index_on_and_off() {
    let rules = corpus::elastic_rule_sources();
    let events = all_events(&rules);
    let (engine, _errors) =
        Engine::build(&AnalyticsConfig::default(), &RulesConfig::default(), &rules);
    assert!(engine.rules().len() > 500, "{} rules", engine.rules().len());
    // The index is in use: only a few rules give it nothing to go on.
    assert!(
        engine.rules_always_evaluated() < 20,
        "{} rules evaluated on every event",
        engine.rules_always_evaluated()
    );
    let (on, on_alerts) = run(&engine, true, &events);
    let (off, _) = run(&engine, false, &events);
    assert_same("all rules", &on, &off);
    // Most rules fire on their own literals, so their index entries are exercised.
    let fired = rule_ids(&on_alerts);
    assert!(
        fired.len() * 2 > engine.rules().len(),
        "only {} of {} rules fired",
        fired.len(),
        engine.rules().len()
    );
}

/// Sigma field names to the paths the fixture rules' values are set on (the common
/// ones; a rule naming others still gets events, its other items just unset).
const SIGMA_PATHS: &[(&str, &str)] = &[
    ("Image", "process.executable"),
    ("CommandLine", "process.command_line"),
    ("ParentImage", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
    ("OriginalFileName", "process.pe.original_file_name"),
    ("Description", "process.pe.description"),
    ("Product", "process.pe.product"),
    ("Company", "process.pe.company"),
    ("CurrentDirectory", "process.working_directory"),
];

/// Per Sigma rule, process starts of its product with each field set to its values
/// (every value of a list in turn, since a value is also its own prefix, suffix and
/// infix): from its `selection*` items alone, and from every item, filters included.
fn sigma_rule_events(rules: &[RuleSource]) -> Vec<Event> {
    let item = Regex::new(r"^\s+(?:- )?([A-Za-z]+)(\|[a-z0-9|]+)?:\s*(.*)$").expect("regex");
    let list = Regex::new(r"^\s+- (.+)$").expect("regex");
    let block = Regex::new(r"^    ([A-Za-z0-9_]+):\s*$").expect("regex");
    let unquote = |s: &str| s.trim().trim_matches('\'').replace(['*'], "");
    let mut out = Vec::new();
    let mut at = t0() + TimeDelta::days(60);
    for rule in rules {
        let os = ["windows", "linux", "macos"]
            .into_iter()
            .find(|p| rule.text.contains(&format!("product: {p}")))
            .unwrap_or("windows");
        let Some(det) = rule.text.split("\ndetection:\n").nth(1) else {
            continue;
        };
        // (block, path, values)
        let mut items: Vec<(String, &str, Vec<String>)> = Vec::new();
        let mut current = String::new();
        for line in det
            .lines()
            .take_while(|l| l.starts_with(' ') || l.is_empty())
        {
            if let Some(c) = block.captures(line) {
                current = c[1].to_string();
            } else if let Some(c) = item.captures(line) {
                let path = SIGMA_PATHS
                    .iter()
                    .find(|(f, _)| *f == &c[1])
                    .map(|(_, p)| *p);
                let v = unquote(&c[3]);
                if let Some(p) = path {
                    items.push((
                        current.clone(),
                        p,
                        if v.is_empty() { vec![] } else { vec![v] },
                    ));
                }
            } else if let Some(c) = list.captures(line) {
                if let Some(last) = items.last_mut() {
                    last.2.push(unquote(&c[1]));
                }
            }
        }
        for selections_only in [true, false] {
            let chosen: Vec<&(String, &str, Vec<String>)> = items
                .iter()
                .filter(|(b, _, v)| !v.is_empty() && (!selections_only || b.starts_with("sel")))
                .collect();
            let widest = chosen.iter().map(|(_, _, v)| v.len()).max().unwrap_or(0);
            for k in 0..widest.min(4) {
                let mut obj = Map::new();
                obj.insert("@timestamp".into(), Value::String(at.to_rfc3339()));
                at += TimeDelta::seconds(1);
                obj.insert("event.category".into(), serde_json::json!(["process"]));
                obj.insert("event.type".into(), serde_json::json!(["start"]));
                obj.insert("event.action".into(), "exec".into());
                obj.insert("host.os.type".into(), os.into());
                obj.insert("host.name".into(), "sigma-host".into());
                obj.insert("process.pid".into(), 4242.into());
                for (_, path, values) in &chosen {
                    // `all` lists want every value at once: join them.
                    let v = if k == 0 {
                        values.join(" ")
                    } else {
                        values[k % values.len()].clone()
                    };
                    obj.insert((*path).into(), v.into());
                }
                if let Some(Value::String(exe)) = obj.get("process.executable") {
                    let name = exe.rsplit(['\\', '/']).next().unwrap_or("").to_string();
                    obj.insert("process.name".into(), name.into());
                }
                if let Ok(ev) = Event::from_json_value(Value::Object(obj)) {
                    out.push(ev);
                }
            }
        }
    }
    out
}

#[test]
fn sigma_and_elastic_rules_give_the_same_alerts_with_the_index_on_and_off() {
    // The Elastic rules' own equivalence is the test above; here they share the index
    // with the Sigma rules, over fewer events (every rule on every event is slow in a
    // debug build).
    let elastic = corpus::elastic_rule_sources();
    let sigma = corpus::sigma_rule_sources();
    let mut rules = elastic.clone();
    rules.extend(sigma.iter().cloned());
    let mut events = detection_cases();
    events.extend(corpus::corpus_events().into_iter().step_by(20));
    events.extend(sigma_rule_events(&sigma));
    let (engine, _errors) =
        Engine::build(&AnalyticsConfig::default(), &RulesConfig::default(), &rules);
    assert!(
        engine.rules().len() > 1900,
        "{} rules",
        engine.rules().len()
    );
    let (on, on_alerts) = run(&engine, true, &events);
    let (off, _) = run(&engine, false, &events);
    assert_same("elastic and sigma rules", &on, &off);
    let fired: BTreeSet<&str> = on_alerts
        .iter()
        .filter(|a| a.rule.ruleset == "sigma")
        .map(|a| a.rule.id.as_str())
        .collect();
    // The events exercise most Sigma rules' index entries, not only their misses.
    assert!(
        fired.len() * 2 > sigma.len(),
        "only {} of {} Sigma rules fired",
        fired.len(),
        sigma.len()
    );
    eprintln!(
        "{} events; {} Sigma rules fired; {} rules always evaluated",
        events.len(),
        fired.len(),
        engine.rules_always_evaluated()
    );
}
