use super::*;
use serde_json::json;

/// A process event: `event.category` is `process` unless the test sets it.
fn ev(mut v: serde_json::Value) -> Event {
    if let Some(map) = v.as_object_mut() {
        if !map.contains_key("event.category") && !map.contains_key("event") {
            map.insert("event.category".into(), json!("process"));
        }
    }
    Event::from_json_value(v).expect("test event")
}

fn raw(v: serde_json::Value) -> Event {
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

/// Found by the `eql_differential` fuzz target: `length(f) > n` on an array counted its
/// elements (the leaf test), while the same `length` inside an expression took each
/// element's length, so `length(a) > 6` and `length(a) + 0 > 6` disagreed. Both count
/// the elements now, as the leaf always did.
#[test]
fn fuzz_length_of_an_array_is_its_element_count_on_both_paths() {
    let e = ev(json!({
        "event.type": "start",
        "process.name": "powershell.exe",
        "process.args": ["net", "use"],
        "winlog.event_data.Tags": ["windows", "x*y", "S-1-5-18"],
    }));
    for (text, holds) in [
        ("length(process.args) == 2", true),
        ("length(process.args) == 3", false),
        ("length(process.args) != 2", false),
        ("length(process.args) > 2", false),
        ("length(winlog.event_data.Tags) > 6", false),
        ("length(winlog.event_data.Tags) == 3", true),
        ("length(winlog.event_data.Tags) < 3", false),
        ("length(process.name) == 14", true),
        ("length(user.name) >= 0", false),
    ] {
        let leaf = format!("process where {text}");
        let computed = format!("process where {}", text.replacen(')', ") + 0", 1));
        assert_eq!(q(&leaf).matches(&e), holds, "{leaf}");
        assert_eq!(q(&computed).matches(&e), holds, "{computed}");
    }
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
    assert!(q(r#"process where length(process.args) > 2"#).matches(&e));
    assert!(
        !q(r#"process where length(process.name) == 0"#).matches(&e),
        "the length of a missing field is null"
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
            "process where process.name : process.parent.name",
            "only `==`",
        ),
        ("process where add(1)", "takes 2 arguments"),
        ("process where length~(process.name) > 1", "no `~` form"),
        ("process where process.pid + 1", "not a condition"),
    ] {
        let e = Query::compile(text).expect_err(text);
        assert!(e.message.contains(needle), "{text}: {e}");
        assert!(e.offset <= text.len());
    }
    let text = "process where\n  process.name : \"x\" and\n  ) ";
    let e = Query::compile(text).expect_err("bad");
    assert_eq!(e.line_col(text), (3, 3));
}

// The gaps measured against Elasticsearch's EQL (issue: rule formats).

#[test]
fn every_field_of_a_sub_object_is_readable_by_its_path() {
    let e = ev(json!({
        "event.type": "start",
        "process": {"pid": 1, "code_signature": {"subject_name": "X", "trusted": true,
            "status": "trusted", "exists": true}, "pe": {"company": "Acme"}},
        "user": {"id": "1000", "Ext": {"real": {"id": "0"}}, "effective": {"domain": "D"}},
        "group": {"id": "1000", "Ext": {"real": {"id": "0"}}},
        "host": {"os": {"name": "Windows 11", "type": "windows"}},
    }));
    for (text, want) in [
        (
            r#"any where process.code_signature.subject_name == "X""#,
            true,
        ),
        (r#"any where process.code_signature.trusted == true"#, true),
        (
            r#"any where process.code_signature.status : "TRUSTED""#,
            true,
        ),
        (r#"any where process.code_signature.exists == false"#, false),
        (r#"any where user.Ext.real.id == "0""#, true),
        (r#"any where not user.Ext.real.id == "0""#, false),
        (r#"any where group.Ext.real.id == "0""#, true),
        (r#"any where not group.Ext.real.id == "0""#, false),
        (r#"any where user.effective.domain == "D""#, true),
        (r#"any where host.os.name : "windows 11""#, true),
        (r#"any where process.pe.company == "Acme""#, true),
    ] {
        assert_eq!(q(text).matches(&e), want, "{text}");
    }
    // And they survive the alert's round trip through JSON.
    let back = Event::from_json_slice(e.to_json_line().as_bytes()).expect("round trip");
    assert!(q(r#"any where group.Ext.real.id == "0""#).matches(&back));
}

#[test]
fn process_where_needs_the_category_exactly() {
    let plain = raw(json!({"event.type": "start", "process.name": "ss"}));
    assert!(!q(r#"process where process.name == "ss""#).matches(&plain));
    assert!(q(r#"any where process.name == "ss""#).matches(&plain));
    let upper = raw(json!({"event.category": ["Process"], "process.name": "ss"}));
    assert!(!q(r#"process where true"#).matches(&upper));
    let many = raw(json!({"event.category": ["network", "process"], "process.name": "ss"}));
    assert!(q(r#"process where process.name == "ss""#).matches(&many));
    let file = raw(json!({"event.category": "file"}));
    assert!(q(r#"file where true"#).matches(&file));
    assert!(!q(r#"File where true"#).matches(&file));
}

#[test]
fn a_field_may_be_any_argument_of_a_function() {
    let e = ev(json!({
        "process.executable": "C:\\Windows\\System32\\cmd.exe",
        "process.command_line": "C:\\Windows\\System32\\cmd.exe /c whoami",
        "process.name": "cmd.exe",
        "process.parent.name": "cmd.exe",
    }));
    assert!(q(r#"process where startsWith(process.command_line, process.executable)"#).matches(&e));
    assert!(
        !q(r#"process where startsWith(process.executable, process.command_line)"#).matches(&e)
    );
    assert!(q(r#"process where stringContains(process.command_line, process.name)"#).matches(&e));
    assert!(q(r#"process where endsWith~("X\\CMD.EXE", process.name)"#).matches(&e));
    assert!(q(r#"process where process.name == process.parent.name"#).matches(&e));
    assert!(!q(r#"process where process.name != process.parent.name"#).matches(&e));
    // A missing field on either side is null: nothing compares.
    assert!(!q(r#"process where startsWith(process.command_line, user.name)"#).matches(&e));
    assert!(!q(r#"process where process.name == user.name"#).matches(&e));
    assert!(q(r#"process where not process.name == user.name"#).matches(&e));
}

#[test]
fn functions_of_null_are_null_and_compare_false() {
    let e = ev(json!({"process.name": "a.exe", "process.command_line": "a"}));
    assert!(!q(r#"process where length(user.name) < 3"#).matches(&e));
    assert!(!q(r#"process where length(user.name) == 0"#).matches(&e));
    assert!(q(r#"process where length(process.name) < 6"#).matches(&e));
    assert!(!q(r#"process where stringContains(process.command_line, "")"#).matches(&e));
    assert!(!q(r#"process where stringContains(process.command_line, user.name)"#).matches(&e));
    assert!(q(r#"process where startsWith(process.command_line, "")"#).matches(&e));
    assert!(!q(r#"process where concat(process.name, user.name) : "*""#).matches(&e));
    assert!(q(r#"process where concat(process.name, user.name) == null"#).matches(&e));
    assert!(!q(r#"process where concat(process.name, user.name) != null"#).matches(&e));
    assert!(q(r#"process where concat(process.name, "x") != null"#).matches(&e));
    assert!(!q(r#"process where concat(user.name, "x") != "y""#).matches(&e));
    assert!(q(r#"process where concat(process.name, "x") != "y""#).matches(&e));
}

#[test]
fn regex_classes_are_ascii_only() {
    let arabic = ev(json!({"process.name": "\u{0663}\u{0664}", "process.args": ["caf\u{e9}"]}));
    assert!(!q(r#"process where process.name regex "\\d+""#).matches(&arabic));
    assert!(!q(r#"process where process.args regex "\\w+""#).matches(&arabic));
    assert!(q(r#"process where process.args regex "\\w+\\W""#).matches(&arabic));
    assert!(q(r#"process where process.args regex "[\\w\\W]+""#).matches(&arabic));
    let ascii = ev(json!({"process.name": "a1_ b", "process.args": ["x\\d"]}));
    assert!(q(r#"process where process.name regex "\\w\\d\\w\\s\\S""#).matches(&ascii));
    assert!(q(r#"process where process.name regex~ "[\\w]+ B""#).matches(&ascii));
    assert!(
        q(r#"process where process.args regex "x\\\\d""#).matches(&ascii),
        "an escaped backslash"
    );
}

#[test]
fn the_other_functions_and_operators_of_the_reference() {
    let e = ev(json!({
        "process.name": "regsvr32.exe",
        "process.args_count": 4,
        "process.pid": 1337,
        "process.executable": "C:\\Windows\\System32\\cmd.exe",
        "source.ip": "2001:db8::1",
        "process.args": ["a", "bb", "ccc"],
        "url.domain": "subdomain.example.com",
        "process.env.PID": "0x539",
    }));
    for text in [
        r#"process where between(process.executable, "System32\\", ".exe") == "cmd""#,
        r#"process where between~(process.executable, "system32\\", ".EXE") == "cmd""#,
        r#"process where concat(process.name, " ", process.args_count) == "regsvr32.exe 4""#,
        r#"process where indexOf(url.domain, ".", 10) == 17"#,
        r#"process where indexOf~(process.name, "SVR") == 3"#,
        r#"process where number("1337") == process.pid"#,
        r#"process where number(process.env.PID) == 1337"#,
        r#"process where string(process.pid) == "1337""#,
        r#"process where substring(process.name, -4) == ".exe""#,
        r#"process where substring(process.name, 0, 3) : "REG""#,
        r#"process where cidrMatch(source.ip, "2001:db8::/32")"#,
        r#"process where not cidrMatch(source.ip, "10.0.0.0/8")"#,
        r#"process where add(process.args_count, 1) == 5"#,
        r#"process where subtract(process.pid, 337) == 1000"#,
        r#"process where multiply(process.args_count, 0.5) == 2"#,
        r#"process where divide(4, 3) == 1 and divide(4.0, process.args_count) == 1"#,
        r#"process where modulo(process.pid, 10) == 7"#,
        r#"process where process.pid % 2 == 1 and process.args_count * 2 + 1 == 9"#,
        r#"process where -process.args_count == -4 and process.pid - 1 > 1335"#,
        r#"process where length(process.name) + length(process.args) == 15"#,
        r#"process where length(substring(process.name, 0, 3)) == 3"#,
        r#"process where wildcard(concat(process.name, "!"), "*.exe!")"#,
        r#"process where process.args_count > length(process.args)"#,
    ] {
        assert!(q(text).matches(&e), "{text}");
    }
    for text in [
        r#"process where between(user.name, "a", "b") == """#,
        r#"process where indexOf(url.domain, "z") == 0"#,
        r#"process where divide(process.pid, 0) == 0"#,
        r#"process where add(process.pid, user.id) > 0"#,
    ] {
        assert!(!q(text).matches(&e), "{text}");
    }
}

/// A long `like~` list is gated by an automaton over its globs' literals, built on first
/// use: the gate lets through what a glob matches (ASCII in any case, or not ASCII at
/// all), stops what holds none of the literals, and a query cloned after its first use
/// (as the precheck helpers' copies are) answers the same.
#[test]
fn a_long_wildcard_list_is_gated_alike_before_and_after_its_first_use() {
    let query = q(r#"process where process.executable like~ (
        "*\\tools\\nc*.exe", "*\\psexe?.exe", "c:\\temp\\*.bat", "*mimi*", "*\\rclone.exe")"#);
    let cases = [
        (r"C:\Tools\NC64.EXE", true),
        (r"D:\x\PsExeC.exe", true),
        (r"c:\TEMP\run.bat", true),
        (r"C:\Windows\System32\cmd.exe", false),
        (r"C:\Windows\rclone.exe.bak", false),
        ("C:\\Users\\Zoë\\MIMIKATZ.exe", true),
        ("C:\\Users\\Zoë\\notepad.exe", false),
    ];
    let first: Vec<bool> = cases
        .iter()
        .map(|(exe, _)| query.matches(&ev(json!({"process.executable": exe}))))
        .collect();
    let copy = query.clone();
    for ((exe, want), got) in cases.iter().zip(first) {
        let e = ev(json!({"process.executable": exe}));
        assert_eq!(got, *want, "{exe} on first use");
        assert_eq!(query.matches(&e), *want, "{exe} once built");
        assert_eq!(copy.matches(&e), *want, "{exe} in a clone");
    }
}

#[test]
fn a_conjunction_runs_positive_tests_first_and_exclusions_last() {
    // Elastic's "Masquerading Space After Filename" shape: a regex, then a `not (...)`
    // exclusion list that nearly every event passes.
    let query = q(r#"process where host.os.type == "linux" and
        process.executable regex~ """/[a-z0-9\s_\-\\./]+\s""" and
        not (process.name in ("ls", "find") or process.args == "runc")"#);
    let Node::And(items) = &query.root else {
        panic!("a conjunction: {:?}", query.root)
    };
    let kinds: Vec<&str> = (items.iter())
        .map(|n| match n {
            Node::Not(_) => "not",
            n if eval_cost(n) == 2 => "dear",
            _ => "cheap",
        })
        .collect();
    assert_eq!(kinds.last(), Some(&"not"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "not").count(), 1);
    let dear = kinds.iter().position(|k| *k == "dear").expect("the regex");
    assert!(kinds[..dear].iter().all(|k| *k == "cheap"), "{kinds:?}");
    // The order changes the cost only: an excluded name still does not match.
    let masq = ev(json!({"event.type": "start", "host.os.type": "linux",
        "process.name": "x", "process.executable": "/tmp/x "}));
    let excluded = ev(json!({"event.type": "start", "host.os.type": "linux",
        "process.name": "ls", "process.executable": "/tmp/ls "}));
    assert!(query.matches(&masq));
    assert!(!query.matches(&excluded));
}
