use super::*;
use serde_json::json;

fn ev(v: serde_json::Value) -> Event {
    Event::from_json_value(v).expect("test event")
}

fn q(text: &str) -> Query {
    Query::compile(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn colon_is_case_insensitive_and_eqeq_is_not() {
    let e = ev(json!({"event.type": "start", "process.name": "NET.EXE"}));
    assert!(q(r#"process where process.name : "net.exe""#).matches(&e));
    assert!(!q(r#"process where process.name == "net.exe""#).matches(&e));
    assert!(q(r#"process where process.name == "NET.EXE""#).matches(&e));
    assert!(q(r#"process where process.name != "net.exe""#).matches(&e));
    assert!(q(r#"process where process.name in~ ("x", "net.exe")"#).matches(&e));
    assert!(!q(r#"process where process.name in ("x", "net.exe")"#).matches(&e));
    assert!(q(r#"process where process.name not in ("x", "net.exe")"#).matches(&e));
    assert!(q(r#"process where process.name like~ "n?t.*""#).matches(&e));
    assert!(!q(r#"process where process.name like "n?t.*""#).matches(&e));
    assert!(q(r#"process where process.name regex~ "ne[t]\\.exe""#).matches(&e));
    assert!(!q(r#"process where process.name regex "ne[t]\\.exe""#).matches(&e));
    assert!(
        !q(r#"process where process.name regex~ "ne[t]""#).matches(&e),
        "anchored"
    );
}

#[test]
fn arrays_match_when_any_element_does() {
    let e = ev(json!({"event.type": "start", "process.args": ["net", "USE", "\\\\srv\\c$"]}));
    assert!(q(r#"process where process.args : ("use", "user")"#).matches(&e));
    assert!(q(r#"process where process.args : "\\\\*""#).matches(&e));
    assert!(!q(r#"process where not process.args : "\\\\*""#).matches(&e));
    assert!(q(r#"process where startsWith~(process.args, "\\\\SRV")"#).matches(&e));
    assert!(!q(r#"process where startsWith(process.args, "\\\\SRV")"#).matches(&e));
    assert!(q(r#"process where length(process.args) == 3"#).matches(&e));
    assert!(
        q(r#"process where length(process.args) > 2 and length(process.name) == 0"#).matches(&e)
    );
}

#[test]
fn missing_fields_are_false_and_not_is_true() {
    let e = ev(json!({"event.type": "start", "process.name": "net1.exe"}));
    assert!(!q(r#"process where user.id : "S-1-5-18""#).matches(&e));
    assert!(q(r#"process where not user.id : "S-1-5-18""#).matches(&e));
    assert!(q(r#"process where not process.parent.name : "net.exe""#).matches(&e));
    assert!(q(r#"process where user.id == null"#).matches(&e));
    assert!(!q(r#"process where user.id != null"#).matches(&e));
    assert!(q(r#"process where user.id != "x""#).matches(&e));
}

#[test]
fn functions_numbers_and_cidr() {
    let e = ev(json!({
        "event.type": "start",
        "process.pid": 4242,
        "process.command_line": "ssh -p 22 admin@10.1.2.3",
        "process.executable": "/usr/bin/ssh",
        "source": {"ip": "10.1.2.3"},
        "process.interactive": true
    }));
    assert!(q(r#"process where process.pid > 4000 and process.pid <= 4242"#).matches(&e));
    assert!(q(r#"process where process.pid : 4242"#).matches(&e));
    assert!(q(r#"process where process.pid == 4242"#).matches(&e));
    assert!(q(r#"process where endsWith(process.executable, "/ssh")"#).matches(&e));
    assert!(q(r#"process where stringContains(process.command_line, "admin@")"#).matches(&e));
    assert!(q(r#"process where wildcard(process.command_line, "*-p ?? *")"#).matches(&e));
    assert!(q(r#"process where cidrMatch(source.ip, "10.0.0.0/8", "192.168.0.0/16")"#).matches(&e));
    assert!(!q(r#"process where cidrMatch(source.ip, "172.16.0.0/12")"#).matches(&e));
    assert!(q(r#"process where process.interactive"#).matches(&e));
    assert!(q(r#"process where process.interactive == true"#).matches(&e));
    assert!(q(r#"any where true"#).matches(&e));
    assert!(!q(r#"network where true"#).matches(&e));
}

#[test]
fn bad_queries_are_errors_with_positions() {
    for (text, needle) in [
        ("process where process.name : ", "expected a value"),
        (
            "process where process.name = \"x\"",
            "`=` is not an EQL operator",
        ),
        (
            "process where foo(process.name, \"x\")",
            "unsupported function",
        ),
        ("process where process.name : \"x\" |", "pipes"),
        ("process where process.name regex \"(\"", "invalid regex"),
        ("process where process.name : 'x'", "double quotes"),
        ("process process.name : \"x\"", "`where`"),
        ("sequence [process where true]", "single-event"),
        (
            "process where process.name == process.parent.name",
            "two fields",
        ),
    ] {
        let e = Query::compile(text).expect_err(text);
        assert!(e.message.contains(needle), "{text}: {e}");
        assert!(e.offset <= text.len());
    }
    let text = "process where\n  process.name : \"x\" and\n  ) ";
    let e = Query::compile(text).expect_err("bad");
    assert_eq!(e.line_col(text), (3, 3));
}
