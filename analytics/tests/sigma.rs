//! Sigma semantics case by case: every modifier and condition form, the field mapping
//! (the Windows `DOMAIN\user` form, Sysmon hashes), log-source gating and refusals, as
//! data: a detection block, events it must match and events it must not. Events are
//! ECS JSON as Picket's collectors produce them.

use analytics::config::{AnalyticsConfig, RulesConfig};
use analytics::{parse_sigma_rule, ElasticRule, Engine, Refusal, RuleErrorKind, RuleSource};
use sensor_core::detect::Detector;
use sensor_core::Event;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn rule_text(product: &str, detection: &str) -> String {
    format!(
        "title: Test rule\nid: 11111111-2222-3333-4444-555555555555\nstatus: test\ntags:\n    - attack.discovery\n    - attack.t1049\nlogsource:\n    category: process_creation\n    product: {product}\ndetection:\n{detection}\nlevel: informational\n"
    )
}

fn compile(
    product: &str,
    detection: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> ElasticRule {
    parse_sigma_rule("case.yml", &rule_text(product, detection), placeholders)
        .unwrap_or_else(|e| panic!("rule does not load: {e}\n{detection}"))
}

/// A process start on `os` with `fields` (dotted ECS keys) added.
fn event(os: &str, fields: &Value) -> Event {
    let mut v = json!({
        "@timestamp": "2026-01-02T03:04:05Z",
        "event.category": ["process"],
        "event.type": ["start"],
        "event.action": "exec",
        "host.os.type": os,
        "process.pid": 10,
        "process.name": "x",
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), fields.as_object()) {
        for (k, x) in extra {
            base.insert(k.clone(), x.clone());
        }
    }
    Event::from_json_value(v).expect("event")
}

/// A case: a detection (indented under `detection:`), events that match, events not.
struct Case {
    name: &'static str,
    detection: &'static str,
    hits: Vec<Value>,
    misses: Vec<Value>,
}

fn case(name: &'static str, detection: &'static str, hits: Vec<Value>, misses: Vec<Value>) -> Case {
    Case {
        name,
        detection,
        hits,
        misses,
    }
}

fn cmd(s: &str) -> Value {
    json!({ "process.command_line": s })
}

fn run(product: &str, cases: Vec<Case>, placeholders: &BTreeMap<String, Vec<String>>) {
    for c in cases {
        let rule = compile(product, c.detection, placeholders);
        for h in &c.hits {
            assert!(
                rule.matches(&event(product, h)),
                "{}: should match {h}",
                c.name
            );
        }
        for m in &c.misses {
            assert!(
                !rule.matches(&event(product, m)),
                "{}: should not match {m}",
                c.name
            );
        }
    }
}

#[test]
fn string_modifiers_and_wildcards() {
    run(
        "windows",
        vec![
            case(
                "plain value: whole value, case-insensitive",
                "    sel:\n        Image: 'C:\\Windows\\System32\\cmd.exe'\n    condition: sel",
                vec![json!({"process.executable": "c:\\windows\\system32\\CMD.EXE"})],
                vec![
                    json!({"process.executable": "C:\\Windows\\System32\\cmd.exe.bak"}),
                    json!({}),
                ],
            ),
            case(
                "contains",
                "    sel:\n        CommandLine|contains: 'net user'\n    condition: sel",
                vec![cmd("cmd /c NET USER x")],
                vec![cmd("netuser"), cmd("net  user")],
            ),
            case(
                "startswith / endswith",
                "    sel:\n        CommandLine|startswith: 'ab'\n        Image|endswith: '\\x.exe'\n    condition: sel",
                vec![json!({"process.command_line": "ABc", "process.executable": "C:\\X.exe"})],
                vec![
                    json!({"process.command_line": "cab", "process.executable": "C:\\X.exe"}),
                    json!({"process.command_line": "abc", "process.executable": "C:\\X.exe2"}),
                ],
            ),
            case(
                "a list is an or",
                "    sel:\n        Image|endswith:\n            - '\\a.exe'\n            - '\\b.exe'\n    condition: sel",
                vec![json!({"process.executable": "C:\\b.exe"})],
                vec![json!({"process.executable": "C:\\c.exe"})],
            ),
            case(
                "all makes the list an and",
                "    sel:\n        CommandLine|contains|all:\n            - '-a'\n            - '-b'\n    condition: sel",
                vec![cmd("x -b -a")],
                vec![cmd("x -a")],
            ),
            case(
                "wildcards * and ?",
                "    sel:\n        CommandLine: 'a*b?c'\n    condition: sel",
                vec![cmd("aXXbYc"), cmd("abyc")],
                vec![cmd("abc"), cmd("aXbYYc")],
            ),
            case(
                "escaped wildcards are literal",
                "    sel:\n        CommandLine: 'a\\*b\\?'\n    condition: sel",
                vec![cmd("a*b?"), cmd("A*B?")],
                vec![cmd("aXbY"), cmd("a*bY")],
            ),
            case(
                "an escaped wildcard inside contains",
                "    sel:\n        CommandLine|contains: 'x\\*y'\n    condition: sel",
                vec![cmd("1 x*y 2")],
                vec![cmd("1 xzy 2")],
            ),
            case(
                "a double backslash is one backslash, then a wildcard",
                "    sel:\n        CommandLine: 'C:\\\\*'\n    condition: sel",
                vec![cmd("C:\\foo")],
                vec![cmd("C:foo")],
            ),
            case(
                "a lone backslash is literal",
                "    sel:\n        CommandLine: 'C:\\Windows\\Temp'\n    condition: sel",
                vec![cmd("c:\\windows\\temp")],
                vec![cmd("C:/Windows/Temp")],
            ),
            case(
                "cased",
                "    sel:\n        CommandLine|contains|cased: 'ABC'\n    condition: sel",
                vec![cmd("xABCx")],
                vec![cmd("xabcx")],
            ),
            case(
                "windash: every dash form at an option's start",
                "    sel:\n        CommandLine|windash|contains: ' -enc '\n    condition: sel",
                vec![
                    cmd("p -enc x"),
                    cmd("p /enc x"),
                    cmd("p \u{2013}enc x"),
                    cmd("p \u{2014}enc x"),
                    cmd("p \u{2015}enc x"),
                ],
                vec![cmd("p +enc x"), cmd("p enc x")],
            ),
            case(
                "null: the field is missing",
                "    sel:\n        OriginalFileName: null\n    condition: sel",
                vec![json!({})],
                vec![json!({"process.pe.original_file_name": "a.exe"})],
            ),
            case(
                "empty: an empty value, which Picket's events leave out",
                "    sel:\n        CommandLine: ''\n    condition: sel",
                vec![json!({}), cmd("")],
                vec![cmd("a")],
            ),
            case(
                "a number compares as its text",
                "    sel:\n        ProcessId: 10\n    condition: sel",
                vec![json!({})],
                vec![json!({"process.pid": 11})],
            ),
        ],
        &BTreeMap::new(),
    );
}

#[test]
fn regex_cidr_exists_fieldref_and_ranges() {
    run(
        "windows",
        vec![
            case(
                "re searches, case-sensitive",
                "    sel:\n        CommandLine|re: 'a[0-9]+b'\n    condition: sel",
                vec![cmd("xx a12b yy")],
                vec![cmd("A12B"), cmd("ab")],
            ),
            case(
                "re|i",
                "    sel:\n        CommandLine|re|i: 'a[0-9]+b'\n    condition: sel",
                vec![cmd("A12B")],
                vec![cmd("AB")],
            ),
            case(
                "re without s: dot stops at a newline",
                "    sel:\n        CommandLine|re: 'a.b'\n    condition: sel",
                vec![cmd("axb")],
                vec![cmd("a\nb")],
            ),
            case(
                "re|s: dot matches a newline",
                "    sel:\n        CommandLine|re|s: 'a.b'\n    condition: sel",
                vec![cmd("a\nb")],
                vec![cmd("ab")],
            ),
            case(
                "re|m: ^ at a line start",
                "    sel:\n        CommandLine|re|m: '^b'\n    condition: sel",
                vec![cmd("a\nb")],
                vec![cmd("ab")],
            ),
            case(
                "re without m: ^ at the start only",
                "    sel:\n        CommandLine|re: '^b'\n    condition: sel",
                vec![cmd("bc")],
                vec![cmd("a\nb")],
            ),
            case(
                "cidr",
                "    sel:\n        CommandLine|cidr:\n            - '10.0.0.0/8'\n            - '192.168.1.0/24'\n    condition: sel",
                vec![cmd("10.1.2.3"), cmd("192.168.1.9")],
                vec![cmd("11.0.0.1"), cmd("192.168.2.1"), cmd("host")],
            ),
            case(
                "exists: true",
                "    sel:\n        OriginalFileName|exists: true\n    condition: sel",
                vec![json!({"process.pe.original_file_name": "a.exe"})],
                vec![json!({})],
            ),
            case(
                "exists: false",
                "    sel:\n        OriginalFileName|exists: false\n    condition: sel",
                vec![json!({})],
                vec![json!({"process.pe.original_file_name": "a.exe"})],
            ),
            case(
                "fieldref: the two fields are equal (case-insensitively)",
                "    sel:\n        Image|fieldref: ParentImage\n    condition: sel",
                vec![json!({"process.executable": "C:\\a.exe", "process.parent.executable": "c:\\A.EXE"})],
                vec![
                    json!({"process.executable": "C:\\a.exe", "process.parent.executable": "C:\\b.exe"}),
                    json!({"process.executable": "C:\\a.exe"}),
                ],
            ),
            case(
                "fieldref|cased",
                "    sel:\n        Image|fieldref|cased: ParentImage\n    condition: sel",
                vec![json!({"process.executable": "C:\\a.exe", "process.parent.executable": "C:\\a.exe"})],
                vec![json!({"process.executable": "C:\\a.exe", "process.parent.executable": "C:\\A.exe"})],
            ),
            case(
                "gt",
                "    sel:\n        ProcessId|gt: 100\n    condition: sel",
                vec![json!({"process.pid": 101})],
                vec![json!({"process.pid": 100})],
            ),
            case(
                "gte",
                "    sel:\n        ProcessId|gte: 100\n    condition: sel",
                vec![json!({"process.pid": 100})],
                vec![json!({"process.pid": 99})],
            ),
            case(
                "lt",
                "    sel:\n        ProcessId|lt: 100\n    condition: sel",
                vec![json!({"process.pid": 99})],
                vec![json!({"process.pid": 100})],
            ),
            case(
                "lte",
                "    sel:\n        ProcessId|lte: 100\n    condition: sel",
                vec![json!({"process.pid": 100})],
                vec![json!({"process.pid": 101})],
            ),
        ],
        &BTreeMap::new(),
    );
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn encodings() {
    let hits_offset: Vec<Value> = ["", "a", "ab"]
        .iter()
        .map(|p| {
            cmd(&format!(
                "sh -c {}",
                b64(format!("{p}curl http://x").as_bytes())
            ))
        })
        .collect();
    let wide_hits: Vec<Value> = ["", "a", "ab"]
        .iter()
        .map(|p| {
            cmd(&format!(
                "powershell -enc {}",
                b64(&utf16le(&format!("{p}IEX (x)")))
            ))
        })
        .collect();
    let cases = vec![
        case(
            "base64: the encoding, whole",
            "    sel:\n        CommandLine|base64: 'hello'\n    condition: sel",
            vec![cmd("aGVsbG8=")],
            vec![cmd("x aGVsbG8=")],
        ),
        case(
            "base64 then contains",
            "    sel:\n        CommandLine|base64|contains: 'hello'\n    condition: sel",
            vec![cmd("x aGVsbG8= y")],
            vec![cmd("hello")],
        ),
        case(
            "base64offset: at every offset",
            "    sel:\n        CommandLine|base64offset|contains: 'http://'\n    condition: sel",
            hits_offset,
            vec![cmd(&format!("sh -c {}", b64(b"curl ftp://x")))],
        ),
        case(
            "wide then base64offset",
            "    sel:\n        CommandLine|wide|base64offset|contains: 'IEX'\n    condition: sel",
            wide_hits,
            vec![cmd(&format!("powershell -enc {}", b64(b"IEX (x)")))],
        ),
        case(
            "utf16le then base64",
            "    sel:\n        CommandLine|utf16le|base64: 'a'\n    condition: sel",
            vec![cmd(&b64(&utf16le("a")))],
            vec![cmd(&b64(b"a"))],
        ),
        case(
            "utf16be then base64",
            "    sel:\n        CommandLine|utf16be|base64: 'a'\n    condition: sel",
            vec![cmd(&b64(&[0, b'a']))],
            vec![cmd(&b64(&utf16le("a")))],
        ),
        case(
            "utf16 (with a byte-order mark) then base64",
            "    sel:\n        CommandLine|utf16|base64: 'a'\n    condition: sel",
            vec![cmd(&b64(&[0xff, 0xfe, b'a', 0]))],
            vec![cmd(&b64(&utf16le("a")))],
        ),
    ];
    run("windows", cases, &BTreeMap::new());
}

#[test]
fn expand_uses_the_configured_placeholders() {
    let mut ph = BTreeMap::new();
    ph.insert(
        "admins".to_string(),
        vec!["root".to_string(), "Administrator".to_string()],
    );
    run(
        "windows",
        vec![case(
            "expand",
            "    sel:\n        CommandLine|expand|contains: 'user %admins% '\n    condition: sel",
            vec![cmd("net user administrator /x"), cmd("net user root /x")],
            vec![cmd("net user bob /x"), cmd("net user %admins% /x")],
        )],
        &ph,
    );
    let e = parse_sigma_rule(
        "case.yml",
        &rule_text(
            "windows",
            "    sel:\n        CommandLine|expand: '%nobody%'\n    condition: sel",
        ),
        &ph,
    )
    .expect_err("unknown placeholder");
    assert!(
        matches!(
            e.kind,
            RuleErrorKind::Refused {
                class: Refusal::Placeholder,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn conditions() {
    let two = "    sel_a:\n        CommandLine|contains: 'a'\n    sel_b:\n        CommandLine|contains: 'b'\n    filter:\n        CommandLine|contains: 'f'\n";
    let with = |cond: &str| -> &'static str {
        Box::leak(format!("{two}    condition: {cond}").into_boxed_str())
    };
    run(
        "windows",
        vec![
            case("and", with("sel_a and sel_b"), vec![cmd("ab")], vec![cmd("a"), cmd("b")]),
            case("or", with("sel_a or sel_b"), vec![cmd("a"), cmd("b")], vec![cmd("c")]),
            case("not", with("sel_a and not filter"), vec![cmd("a")], vec![cmd("af")]),
            case(
                "parentheses",
                with("(sel_a or sel_b) and not filter"),
                vec![cmd("b")],
                vec![cmd("bf"), cmd("c")],
            ),
            case(
                "precedence: not, and, or",
                with("sel_a or sel_b and not filter"),
                vec![cmd("af"), cmd("b")],
                vec![cmd("bf")],
            ),
            case("1 of sel*", with("1 of sel_*"), vec![cmd("a"), cmd("b")], vec![cmd("f")]),
            case("all of sel*", with("all of sel_*"), vec![cmd("ab")], vec![cmd("a")]),
            case("all of them", with("all of them"), vec![cmd("abf")], vec![cmd("ab")]),
            case("1 of them", with("1 of them"), vec![cmd("f")], vec![cmd("c")]),
            case(
                "2 of them",
                with("2 of them"),
                vec![cmd("ab"), cmd("af"), cmd("bf")],
                vec![cmd("a"), cmd("f")],
            ),
            case(
                "not 1 of",
                with("sel_a and not 1 of filter*"),
                vec![cmd("a")],
                vec![cmd("af")],
            ),
            case(
                "a list of maps is an or; a map an and",
                "    sel:\n        - CommandLine|contains: 'a'\n          Image|endswith: '\\x.exe'\n        - CommandLine|contains: 'b'\n    condition: sel",
                vec![
                    json!({"process.command_line": "a", "process.executable": "C:\\x.exe"}),
                    cmd("b"),
                ],
                vec![cmd("a")],
            ),
            case(
                "a list of conditions is an or",
                "    sel_a:\n        CommandLine|contains: 'a'\n    sel_b:\n        CommandLine|contains: 'b'\n    condition:\n        - sel_a\n        - sel_b",
                vec![cmd("a"), cmd("b")],
                vec![cmd("c")],
            ),
        ],
        &BTreeMap::new(),
    );
}

#[test]
fn windows_fields_map_as_documented() {
    let system = json!({"user.domain": "NT AUTHORITY", "user.name": "SYSTEM"});
    let bob = json!({"user.domain": "WORKGROUP", "user.name": "bob"});
    run(
        "windows",
        vec![
            case(
                "User|contains on domain or name",
                "    sel:\n        User|contains:\n            - 'AUTHORI'\n            - 'AUTORI'\n    condition: sel",
                vec![system.clone()],
                vec![bob.clone()],
            ),
            case(
                "User|endswith \\name",
                "    sel:\n        User|endswith: '\\SYSTEM'\n    condition: sel",
                vec![system.clone()],
                vec![bob.clone(), json!({"user.name": "SYSTEM"})],
            ),
            case(
                "User DOMAIN\\name",
                "    sel:\n        User: 'NT AUTHORITY\\SYSTEM'\n    condition: sel",
                vec![system.clone()],
                vec![bob.clone(), json!({"user.domain": "X", "user.name": "SYSTEM"})],
            ),
            case(
                "User|startswith on the domain",
                "    sel:\n        User|startswith: 'NT AUTH'\n    condition: sel",
                vec![system.clone()],
                vec![bob],
            ),
            case(
                "Hashes IMPHASH= on process.pe.imphash",
                "    sel:\n        Hashes|contains: 'IMPHASH=ABC123'\n    condition: sel",
                vec![json!({"process.pe.imphash": "abc123"})],
                vec![json!({"process.pe.imphash": "def"}), json!({"process.hash.md5": "abc123"})],
            ),
            case(
                "Hashes SHA256= on process.hash.sha256",
                "    sel:\n        Hashes|contains: 'SHA256=FF00'\n    condition: sel",
                vec![json!({"process.hash": {"sha256": "ff00"}})],
                vec![json!({"process.hash": {"sha1": "ff00"}})],
            ),
            case(
                "IntegrityLevel: Sysmon's name or 4688's label",
                "    sel:\n        IntegrityLevel:\n            - 'System'\n            - 'S-1-16-16384'\n    condition: sel",
                vec![
                    json!({"winlog": {"event_data": {"IntegrityLevel": "System"}}}),
                    json!({"winlog": {"event_data": {"MandatoryLabel": "S-1-16-16384"}}}),
                ],
                vec![json!({"winlog": {"event_data": {"IntegrityLevel": "Medium"}}})],
            ),
            case(
                "PE fields",
                "    sel:\n        OriginalFileName: 'net.exe'\n        Description|contains: 'Net'\n        Company: 'Microsoft Corporation'\n        Product|contains: 'Windows'\n    condition: sel",
                vec![json!({"process.pe": {"original_file_name": "NET.EXE", "description": "Net Command",
                    "company": "Microsoft Corporation", "product": "Microsoft Windows"}})],
                vec![json!({"process.pe": {"original_file_name": "NET.EXE"}})],
            ),
            case(
                "parent and working directory",
                "    sel:\n        ParentImage|endswith: '\\w3wp.exe'\n        ParentCommandLine|contains: 'pool'\n        CurrentDirectory: 'C:\\'\n    condition: sel",
                vec![json!({"process.parent": {"executable": "C:\\w3wp.exe", "command_line": "w3wp -ap pool"},
                    "process.working_directory": "C:\\"})],
                vec![json!({"process.parent": {"executable": "C:\\w3wp.exe", "command_line": "w3wp -ap pool"}})],
            ),
        ],
        &BTreeMap::new(),
    );
}

#[test]
fn rules_run_on_their_products_process_starts_only() {
    let rule = compile(
        "linux",
        "    sel:\n        Image|endswith: '/netstat'\n        User: 'root'\n    condition: sel",
        &BTreeMap::new(),
    );
    let base = json!({"process.executable": "/usr/bin/netstat", "user.name": "root"});
    assert!(rule.matches(&event("linux", &base)));
    assert!(!rule.matches(&event("windows", &base)), "another product");
    assert!(!rule.matches(&event("macos", &base)), "another product");
    let mut fork = base.clone();
    fork["event.action"] = json!("fork");
    assert!(
        !rule.matches(&event("linux", &fork)),
        "a fork starts no new image"
    );
    let mut end = base.clone();
    end["event.type"] = json!(["end"]);
    assert!(!rule.matches(&event("linux", &end)), "an exit");
    let mac = compile(
        "macos",
        "    sel:\n        Image: '/usr/bin/who'\n    condition: sel",
        &BTreeMap::new(),
    );
    assert!(mac.matches(&event(
        "macos",
        &json!({"process.executable": "/usr/bin/who"})
    )));
}

/// (refusal class or None for invalid, line) of a rule that does not load.
fn refusal(text: &str) -> (Option<Refusal>, usize) {
    let e = parse_sigma_rule("bad.yml", text, &BTreeMap::new()).expect_err("refused");
    assert!(e.to_string().starts_with("bad.yml:"), "{e}");
    match e.kind {
        RuleErrorKind::Refused { class, .. } => (Some(class), e.line),
        RuleErrorKind::Sigma(_) => (None, e.line),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn what_picket_cannot_run_is_refused_with_its_place() {
    let det = |d: &str| rule_text("windows", d);
    // rule_text puts the detection's first line at line 11.
    assert_eq!(
        refusal(&det(
            "    sel:\n        CommandLine|contains|sideways: 'a'\n    condition: sel"
        )),
        (Some(Refusal::UnknownModifier), 12)
    );
    assert_eq!(
        refusal(&det(
            "    sel:\n        CommandLine: 'a'\n    condition: sel | count() > 5"
        )),
        (Some(Refusal::Aggregation), 13)
    );
    assert_eq!(
        refusal(&det(
            "    sel:\n        CommandLine: 'a'\n    timeframe: 5m\n    condition: sel"
        )),
        (Some(Refusal::Aggregation), 13)
    );
    assert_eq!(
        refusal(&det(
            "    sel:\n        TargetFilename: 'a'\n    condition: sel"
        )),
        (Some(Refusal::Field), 12)
    );
    assert_eq!(
        refusal(&det(
            "    keywords:\n        - 'mimikatz'\n    condition: keywords"
        )),
        (Some(Refusal::Keywords), 12)
    );
    assert_eq!(
        refusal(&det(
            "    sel:\n        CommandLine|re: '(?<=a)b'\n    condition: sel"
        )),
        (Some(Refusal::Regex), 12)
    );
    assert_eq!(
        refusal(&rule_text(
            "linux",
            "    sel:\n        OriginalFileName: 'a'\n    condition: sel"
        ))
        .0,
        Some(Refusal::Field)
    );
    let file_event = rule_text(
        "windows",
        "    sel:\n        Image: 'a'\n    condition: sel",
    )
    .replace("process_creation", "file_event");
    assert_eq!(refusal(&file_event).0, Some(Refusal::LogSource));
    let aix = rule_text("aix", "    sel:\n        Image: 'a'\n    condition: sel");
    assert_eq!(refusal(&aix).0, Some(Refusal::LogSource));
    let correlation = "title: c\nid: c1\ncorrelation:\n    type: event_count\n    rules: [a]\n";
    assert_eq!(refusal(correlation), (Some(Refusal::Correlation), 3));
    let multi = format!(
        "{}---\ntitle: b\n",
        det("    sel:\n        Image: 'a'\n    condition: sel")
    );
    assert_eq!(refusal(&multi).0, Some(Refusal::Correlation));
    // Not valid rules at all.
    assert_eq!(
        refusal(&det("    sel:\n        Image: 'a'\n    condition: nosuch")).0,
        None
    );
    assert_eq!(
        refusal(&det("    sel:\n        Image: 'a'\n    condition: (sel")).0,
        None
    );
    assert_eq!(refusal("title: [x\n").0, None);
    assert_eq!(refusal("title: t\n").0, None);
}

#[test]
fn alerts_name_the_sigma_rule_and_its_attack_tags() {
    let src = RuleSource {
        origin: "netstat.yml".into(),
        text: rule_text(
            "linux",
            "    sel:\n        Image|endswith: '/netstat'\n    condition: sel",
        ),
    };
    let rules = RulesConfig {
        builtin: false,
        ..RulesConfig::default()
    };
    let (mut engine, errors) = Engine::build(&AnalyticsConfig::default(), &rules, &[src]);
    assert!(errors.is_empty(), "{errors:?}");
    // `attack.discovery`: its alerts are discoveries to TimeWindow.
    assert!(engine.rules()[0].discovery);
    let evasion = rule_text("linux", "    sel:\n        Image: x\n    condition: sel")
        .replace("attack.discovery", "attack.defense_evasion");
    let no_tags = BTreeMap::new();
    let evasion = parse_sigma_rule("evasion.yml", &evasion, &no_tags).expect("loads");
    assert!(!evasion.discovery);
    let ev = event(
        "linux",
        &json!({"process.executable": "/usr/bin/netstat", "process.name": "netstat",
        "process.command_line": "netstat -tan", "user.name": "root"}),
    );
    let mut unindexed = engine.clone();
    let mut alerts = Vec::new();
    engine.on_event(&ev, &mut alerts);
    let a = alerts
        .iter()
        .find(|a| a.rule.ruleset == "sigma")
        .unwrap_or_else(|| panic!("no Sigma alert in {alerts:#?}"));
    assert_eq!(a.rule.id, "11111111-2222-3333-4444-555555555555");
    assert_eq!(a.rule.name, "Test rule");
    assert_eq!(
        a.picket.severity,
        Some(sensor_core::Severity::Low),
        "informational is low"
    );
    let techniques: Vec<&str> = a.threat.technique.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(techniques, ["T1049"]);
    assert_eq!(
        a.threat.tactic.as_ref().map(|t| t.id.as_str()),
        Some("TA0007")
    );
    assert_eq!(
        a.process.executable.as_deref(),
        Some("/usr/bin/netstat"),
        "the event as evidence"
    );

    // The rule index lets the event through exactly as evaluating every rule does.
    unindexed.set_prefilters(false);
    let mut again = Vec::new();
    unindexed.on_event(&ev, &mut again);
    assert_eq!(
        again.iter().filter(|a| a.rule.ruleset == "sigma").count(),
        1
    );
}
