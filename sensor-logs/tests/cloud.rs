//! The CloudTrail and GCP audit-log readers against every recorded CloudTrail record in
//! `shared/fixtures/cloud/aws` (read in place; a missing directory or file fails the
//! test naming it), against the BUILT GCP LogEntries in `tests/data/gcp-audit-built.json`,
//! and against bad input; then the `[inputs.cloudtrail]` directory input: objects
//! arriving while it runs, and a restart in the middle of an object.
//!
//! Copies (gzip, other shapes) are written to temporary directories only.

use sensor_core::collector::{Collector, EventSender, Shutdown};
use sensor_core::event::{Event, FieldValue};
use sensor_core::health::Health;
use sensor_logs::cloud::{
    self, list_objects, read_object, CloudFormat, CloudReplay, CloudTrailInputConfig,
    CloudTrailStartAt,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures");
const BUILT_GCP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gcp-audit-built.json"
);

fn fixture(rel: &str) -> PathBuf {
    let path = PathBuf::from(FIXTURES).join(rel);
    assert!(
        path.exists(),
        "recorded fixture {} is missing (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

/// Every record of one object: events and malformed reasons, in order.
fn read_all(path: &Path, format: CloudFormat) -> (Vec<Event>, Vec<(u64, String)>) {
    let mut events = Vec::new();
    let mut bad = Vec::new();
    let read = read_object(
        path,
        format,
        "test",
        cloud::DEFAULT_MAX_RECORD_BYTES,
        0,
        &mut |i, o| {
            match o {
                Ok(e) => events.push(e),
                Err(why) => bad.push((i, why)),
            }
            true
        },
    );
    assert!(read.error.is_none(), "{}: {:?}", path.display(), read.error);
    (events, bad)
}

fn one_record(rel: &str) -> Event {
    let (mut events, bad) = read_all(&fixture(rel), CloudFormat::CloudTrail);
    assert!(bad.is_empty(), "{rel}: {bad:?}");
    assert_eq!(events.len(), 1, "{rel}");
    events.remove(0)
}

fn nth_record(rel: &str, n: usize) -> Event {
    let (events, bad) = read_all(&fixture(rel), CloudFormat::CloudTrail);
    assert!(bad.is_empty(), "{rel}: {bad:?}");
    events.into_iter().nth(n - 1).expect("record there")
}

fn s<'a>(e: &'a Event, path: &str) -> Option<&'a str> {
    match e.field(path) {
        FieldValue::Str(v) => Some(v),
        FieldValue::Missing => None,
        other => panic!("{path} is not a string: {other:?}"),
    }
}

/// The files of a fixture directory, LICENSE aside.
fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("fixture directory") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "LICENSE") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_recorded_cloudtrail_record_parses() {
    // (directory, files, records): counted with an independent JSON reader.
    for (dir, files, records) in [
        ("cloud/aws/traildiscover", 336, 315),
        ("cloud/aws/stratus-red-team", 35, 310),
        ("cloud/aws/otrf", 1, 103),
    ] {
        let root = fixture(dir);
        let all = fixture_files(&root);
        assert_eq!(all.len(), files, "{dir}: files");
        let mut listed = list_objects(&root).expect("listing");
        listed.sort();
        assert_eq!(listed, all, "{dir}: every file is taken as an object");
        let mut n = 0;
        for path in &all {
            let (events, bad) = read_all(path, CloudFormat::CloudTrail);
            assert!(bad.is_empty(), "{}: {bad:?}", path.display());
            for e in &events {
                assert_eq!(e.event.category, ["api"]);
                assert_eq!(e.event.kind_type, ["info"]);
                assert_eq!(e.lifecycle(), sensor_core::event::Lifecycle::Other);
                assert!(e.event.id.is_some(), "{}: eventID", path.display());
                assert!(
                    e.event.provider.is_some(),
                    "{}: eventSource",
                    path.display()
                );
                assert_eq!(s(e, "cloud.provider"), Some("aws"));
                assert!(s(e, "cloud.account.id").is_some(), "{}", path.display());
                let outcome = if e.error.as_ref().is_some_and(|x| x.code.is_some()) {
                    "failure"
                } else {
                    "success"
                };
                assert_eq!(s(e, "event.outcome"), Some(outcome));
            }
            n += events.len();
        }
        assert_eq!(n, records, "{dir}: records");
    }
}

#[test]
fn a_traildiscover_describe_vpcs_from_aws_cli_maps_exactly() {
    let e = one_record("cloud/aws/traildiscover/events/EC2/DescribeVpcs.json.cloudtrail");
    assert_eq!(e.timestamp.to_rfc3339(), "2024-08-18T15:17:20+00:00");
    assert_eq!(s(&e, "event.kind"), Some("event"));
    assert_eq!(s(&e, "event.action"), Some("DescribeVpcs"));
    assert_eq!(s(&e, "event.provider"), Some("ec2.amazonaws.com"));
    assert_eq!(s(&e, "event.outcome"), Some("failure"));
    assert_eq!(
        s(&e, "event.id"),
        Some("e67de35c-8503-4323-bd2f-60f009df520f")
    );
    assert_eq!(s(&e, "event.dataset"), Some("aws.cloudtrail"));
    assert_eq!(s(&e, "cloud.account.id"), Some("111111111111"));
    assert_eq!(s(&e, "cloud.region"), Some("us-east-1"));
    assert_eq!(
        s(&e, "user.id"),
        Some("arn:aws:iam::111111111111:user/TrailDiscover")
    );
    assert_eq!(s(&e, "user.name"), Some("TrailDiscover"));
    assert!(s(&e, "user_agent.original").is_some_and(
        |ua| ua.starts_with("aws-cli/2.17.32 ") && ua.ends_with("md/command#ec2.describe-vpcs")
    ));
    assert_eq!(s(&e, "source.ip"), Some("0.0.0.0"));
    assert_eq!(s(&e, "source.address"), None);
    assert_eq!(s(&e, "error.code"), Some("Client.UnauthorizedOperation"));
    assert!(s(&e, "error.message").is_some_and(|m| m.starts_with("You are not authorized")));
    assert_eq!(s(&e, "aws.cloudtrail.user_identity.type"), Some("IAMUser"));
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.arn"),
        Some("arn:aws:iam::111111111111:user/TrailDiscover")
    );
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.account_id"),
        Some("111111111111")
    );
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.access_key_id"),
        Some("AKIA****************")
    );
    assert_eq!(s(&e, "aws.cloudtrail.event_type"), Some("AwsApiCall"));
    assert_eq!(s(&e, "aws.cloudtrail.event_category"), Some("Management"));
    assert_eq!(e.field("aws.cloudtrail.read_only"), FieldValue::Bool(true));
    assert_eq!(
        s(&e, "aws.cloudtrail.request_parameters"),
        Some(r#"{"filterSet":{},"vpcSet":{"items":[{"vpcId":"TrailDiscoverVpcId"}]}}"#)
    );
    assert_eq!(e.picket.collector.as_deref(), Some("test"));
}

#[test]
fn a_failed_unauthorized_describe_maps_its_error() {
    let e = one_record("cloud/aws/traildiscover/events/EC2/DescribeSecurityGroups.json.cloudtrail");
    assert_eq!(s(&e, "event.action"), Some("DescribeSecurityGroups"));
    assert_eq!(s(&e, "event.outcome"), Some("failure"));
    assert_eq!(s(&e, "error.code"), Some("Client.UnauthorizedOperation"));
    assert_eq!(
        s(&e, "error.message"),
        Some("You are not authorized to perform this operation. User: arn:aws:iam::111111111111:user/TrailDiscover is not authorized to perform: ec2:DescribeSecurityGroups because no identity-based policy allows the ec2:DescribeSecurityGroups action")
    );
    // Five of the recorded EC2 network Describe calls failed this way.
    let dir = fixture("cloud/aws/traildiscover/events/EC2");
    let failed: Vec<String> = [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeNetworkInterfaces",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
        "DescribeNetworkAcls",
        "DescribeInstances",
        "DescribeAddresses",
    ]
    .iter()
    .filter_map(|name| {
        let path = dir.join(format!("{name}.json.cloudtrail"));
        if !path.exists() {
            return None;
        }
        let (events, _) = read_all(&path, CloudFormat::CloudTrail);
        events
            .iter()
            .any(|e| s(e, "error.code") == Some("Client.UnauthorizedOperation"))
            .then(|| name.to_string())
    })
    .collect();
    assert!(failed.len() >= 2, "{failed:?}");
}

#[test]
fn an_assumed_role_record_names_the_session_and_its_issuer() {
    let e = nth_record(
        "cloud/aws/stratus-red-team/aws.credential-access.ec2-get-password-data.json",
        1,
    );
    assert_eq!(s(&e, "event.action"), Some("GetPasswordData"));
    assert_eq!(s(&e, "event.outcome"), Some("failure"));
    assert_eq!(
        s(&e, "user.id"),
        Some("arn:aws:sts::457448411975:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000")
    );
    assert_eq!(s(&e, "user.name"), Some("aws-go-sdk-1722375070115152000"));
    assert_eq!(s(&e, "cloud.account.id"), Some("457448411975"));
    assert_eq!(s(&e, "cloud.region"), Some("apiso-northsouth-3r"));
    assert_eq!(s(&e, "source.ip"), Some("200.249.253.51"));
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.type"),
        Some("AssumedRole")
    );
    assert_eq!(
        s(
            &e,
            "aws.cloudtrail.user_identity.session_context.session_issuer.type"
        ),
        Some("Role")
    );
    assert_eq!(
        s(
            &e,
            "aws.cloudtrail.user_identity.session_context.session_issuer.arn"
        ),
        Some("arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role")
    );
    assert_eq!(
        s(
            &e,
            "aws.cloudtrail.user_identity.session_context.session_issuer.account_id"
        ),
        Some("457448411975")
    );
    assert!(s(
        &e,
        "aws.cloudtrail.user_identity.session_context.session_issuer.user_name"
    )
    .is_some_and(|n| n.starts_with("stratus-red-team-ec2-get-passwor")));
    assert_eq!(
        s(&e, "aws.cloudtrail.request_parameters"),
        Some(r#"{"instanceId":"i-i2jnm5swa59p4fxg"}"#)
    );
}

#[test]
fn an_aws_service_record_is_named_by_the_service() {
    let e = nth_record(
        "cloud/aws/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
        40,
    );
    assert_eq!(s(&e, "event.action"), Some("AssumeRole"));
    assert_eq!(s(&e, "event.provider"), Some("sts.amazonaws.com"));
    assert_eq!(
        s(&e, "event.id"),
        Some("0f902c35-794c-4864-b2e0-3c4564b857b0")
    );
    // Logstash-shaped: the time is in @timestamp.
    assert_eq!(e.timestamp.to_rfc3339(), "2020-09-14T00:50:17+00:00");
    assert_eq!(s(&e, "user.name"), Some("ec2.amazonaws.com"));
    assert_eq!(s(&e, "user.id"), None);
    assert_eq!(s(&e, "source.ip"), None);
    assert_eq!(s(&e, "source.address"), Some("ec2.amazonaws.com"));
    assert_eq!(s(&e, "cloud.account.id"), Some("123456789123"));
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.type"),
        Some("AWSService")
    );
    assert_eq!(
        s(&e, "aws.cloudtrail.user_identity.invoked_by"),
        Some("ec2.amazonaws.com")
    );
    assert_eq!(s(&e, "event.outcome"), Some("success"));
}

fn gzip(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).expect("read");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).expect("create"),
        flate2::Compression::fast(),
    );
    enc.write_all(&bytes).expect("write");
    enc.finish().expect("finish");
}

/// Events with the object they came from left out, for comparing copies.
fn placeless(mut events: Vec<Event>) -> Vec<Event> {
    for e in &mut events {
        e.log = None;
    }
    events
}

#[test]
fn gzip_and_plain_give_the_same_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut compared = 0;
    for dir in [
        "cloud/aws/traildiscover",
        "cloud/aws/stratus-red-team",
        "cloud/aws/otrf",
    ] {
        for (i, path) in fixture_files(&fixture(dir)).iter().enumerate() {
            // Named without .gz: gzip is told by its bytes.
            let copy = tmp.path().join(format!("copy-{i}.json"));
            gzip(path, &copy);
            let (plain, _) = read_all(path, CloudFormat::CloudTrail);
            let (gz, _) = read_all(&copy, CloudFormat::CloudTrail);
            compared += plain.len();
            assert_eq!(placeless(plain), placeless(gz), "{}", path.display());
        }
    }
    assert_eq!(compared, 315 + 310 + 103);
}

/// The records of a fixture as JSON values.
fn records_of(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("fixture");
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a,
        Ok(one) => vec![one],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect(),
    }
}

#[test]
fn s3_object_array_ndjson_and_eventbridge_forms_give_the_same_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut records = Vec::new();
    for path in fixture_files(&fixture("cloud/aws/stratus-red-team")) {
        records.extend(records_of(&path));
    }
    records.extend(records_of(&fixture(
        "cloud/aws/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    )));
    assert_eq!(records.len(), 413);
    let write = |name: &str, text: String| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let s3 = write(
        "s3.json",
        serde_json::to_string(&serde_json::json!({ "Records": records })).expect("json"),
    );
    let array = write(
        "array.json",
        serde_json::to_string_pretty(&records).expect("json"),
    );
    let ndjson = write(
        "lines.jsonl",
        records.iter().map(|r| format!("{r}\n")).collect(),
    );
    let eventbridge = write(
        "eventbridge.jsonl",
        records
            .iter()
            .map(|r| {
                format!(
                    "{}\n",
                    serde_json::json!({"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":r})
                )
            })
            .collect(),
    );
    let (first, bad) = read_all(&s3, CloudFormat::CloudTrail);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(first.len(), 413);
    let first = placeless(first);
    for other in [&array, &ndjson, &eventbridge] {
        let (events, bad) = read_all(other, CloudFormat::CloudTrail);
        assert!(bad.is_empty(), "{}: {bad:?}", other.display());
        assert_eq!(placeless(events), first, "{}", other.display());
    }
}

/// Runs a collector to its end on a plain channel: its events and the health.
async fn run_collector(c: Box<dyn Collector>) -> (Vec<Event>, Arc<Health>) {
    let health = Health::new();
    let (tx, mut rx) = mpsc::channel(16);
    let (_trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(c.run(EventSender::new(tx, health.clone()), shutdown));
    let mut out = Vec::new();
    while let Some(e) = rx.recv().await {
        out.push(e);
    }
    task.await.expect("task").expect("collector");
    (out, health)
}

fn record_json(time: &str, name: &str, id: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops","accountId":"111122223333","userName":"ops"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"192.0.2.9","userAgent":"aws-cli/2.15.0","requestParameters":null,"responseElements":null,"eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

fn s3_object(records: &[String]) -> String {
    format!("{{\"Records\":[{}]}}", records.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_replays_in_object_time_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("AWSLogs/111122223333/CloudTrail/eu-west-1");
    let day = |d: &str| {
        let p = base.join(format!("2024/08/{d}"));
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let name =
        |stamp: &str, u: &str| format!("111122223333_CloudTrail_eu-west-1_{stamp}_{u}.json.gz");
    // Path order (z before a, day 19 before 18 within names) differs from time order.
    let objects = [
        (
            day("19").join(name("20240819T0005Z", "aaaa")),
            "2024-08-19T00:01:00Z",
            "C",
        ),
        (
            day("18").join(name("20240818T2355Z", "zzzz")),
            "2024-08-18T23:51:00Z",
            "B",
        ),
        (
            day("18").join(name("20240818T2350Z", "zzzz")),
            "2024-08-18T23:46:00Z",
            "A",
        ),
    ];
    for (path, time, id) in &objects {
        let plain = path.with_extension("plain");
        std::fs::write(&plain, s3_object(&[record_json(time, "DescribeVpcs", id)])).expect("w");
        gzip(&plain, path);
        std::fs::remove_file(&plain).expect("rm");
    }
    // No time in their names: ordered by their first record, after the named ones if
    // they have none.
    let loose = tmp.path().join("loose");
    std::fs::create_dir_all(&loose).expect("mkdir");
    std::fs::write(
        loose.join("b.json"),
        record_json("2024-08-18T12:00:00Z", "DescribeSubnets", "Y"),
    )
    .expect("w");
    std::fs::write(
        loose.join("a.json"),
        record_json("2024-08-18T13:00:00Z", "DescribeSubnets", "Z"),
    )
    .expect("w");
    std::fs::write(loose.join("c.json"), "{}\n").expect("w");
    // Ignored by name: a digest, a partial download, a dot-file.
    std::fs::write(
        base.join("111122223333_CloudTrail-Digest_eu-west-1_x_20240818T2350Z.json.gz"),
        "junk",
    )
    .expect("w");
    std::fs::write(
        base.join("2024/08/18")
            .join(format!("{}.1a2B3c4D", name("20240818T2340Z", "q"))),
        "junk",
    )
    .expect("w");
    std::fs::write(loose.join(".hidden.json"), "junk").expect("w");

    let replay = CloudReplay::cloudtrail(vec![tmp.path().to_path_buf()]);
    let stats = replay.stats();
    let order: Vec<String> = replay
        .objects()
        .expect("objects")
        .iter()
        .map(|p| {
            p.strip_prefix(tmp.path())
                .expect("under")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        order,
        [
            "loose/b.json".to_string(),
            "loose/a.json".into(),
            format!(
                "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/18/{}",
                name("20240818T2350Z", "zzzz")
            ),
            format!(
                "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/18/{}",
                name("20240818T2355Z", "zzzz")
            ),
            format!(
                "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/19/{}",
                name("20240819T0005Z", "aaaa")
            ),
            "loose/c.json".into(),
        ]
    );
    let (events, health) = run_collector(Box::new(replay)).await;
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.event.id.as_deref())
        .collect();
    assert_eq!(ids, ["Y", "Z", "A", "B", "C"]);
    for e in &events {
        assert_eq!(e.picket.collector.as_deref(), Some("replay-cloudtrail"));
        assert_eq!(e.picket.record, Some(1));
        assert!(e
            .log
            .as_ref()
            .and_then(|l| l.file.as_ref())
            .and_then(|f| f.path.as_deref())
            .is_some());
    }
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.records_read.load(Relaxed), 6);
    assert_eq!(stats.events.load(Relaxed), 5);
    assert_eq!(
        stats.malformed.load(Relaxed),
        1,
        "c.json's record has no eventTime"
    );
    assert_eq!(health.snapshot().losses.get("malformed_input"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_and_objects_are_counted_and_the_rest_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = |id: &str| record_json("2024-08-18T10:00:00Z", "DescribeVpcs", id);
    let big = format!(
        r#"{{"eventTime":"2024-08-18T10:00:00Z","eventName":"Big","pad":"{}"}}"#,
        "x".repeat(3000)
    );
    // One object with every kind of bad record between good ones.
    let text = format!(
        "{{\"Records\":[{},{{\"eventTime\":\"2024-08-18T10:00:00Z\"}},{{\"eventName\":\"NoTime\"}},17,{big},{{\"eventTime\":\"soon\",\"eventName\":\"X\"}},{}]}}",
        good("g1"),
        good("g2")
    );
    let a = tmp.path().join("a_20240818T1000Z_x.json");
    std::fs::write(&a, text).expect("w");
    // A gzip object cut short: its first record is read, then it ends early.
    let b_plain = tmp.path().join("b.plain");
    std::fs::write(&b_plain, s3_object(&[good("g3"), good("g4"), good("g5")])).expect("w");
    let b = tmp.path().join("b_20240818T1010Z_x.json.gz");
    gzip(&b_plain, &b);
    std::fs::remove_file(&b_plain).expect("rm");
    let bytes = std::fs::read(&b).expect("r");
    std::fs::write(&b, &bytes[..bytes.len() - 12]).expect("cut");
    // A plain object cut inside its second record.
    let c = tmp.path().join("c_20240818T1020Z_x.json");
    let full = s3_object(&[good("g6"), good("g7")]);
    std::fs::write(&c, &full[..full.len() - 20]).expect("w");

    let replay =
        CloudReplay::cloudtrail(vec![tmp.path().to_path_buf()]).with_max_record_bytes(2048);
    let stats = replay.stats();
    let (events, health) = run_collector(Box::new(replay)).await;
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e.event.id.as_deref())
        .collect();
    assert!(ids.starts_with(&["g1", "g2"]), "{ids:?}");
    assert!(ids.contains(&"g6") && !ids.contains(&"g7"), "{ids:?}");
    // Record indexes count the bad records: g2 is the 7th record of its object.
    assert_eq!(events[1].picket.record, Some(7));
    use std::sync::atomic::Ordering::Relaxed;
    // a: 5 bad records; b: ends early (1); c: ends early (1).
    assert_eq!(stats.malformed.load(Relaxed), 7);
    assert_eq!(health.snapshot().losses.get("malformed_input"), Some(&7));
    assert_eq!(stats.events.load(Relaxed), ids.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_gcp_audit_entries_map_as_documented() {
    let path = PathBuf::from(BUILT_GCP);
    let (events, health) =
        run_collector(Box::new(CloudReplay::gcp_audit(vec![path.clone()]))).await;
    let losses = health.snapshot().losses;
    assert!(losses.values().all(|&n| n == 0), "{losses:?}");
    let actions: Vec<&str> = events
        .iter()
        .filter_map(|e| e.event.action.as_deref())
        .collect();
    assert_eq!(
        actions,
        [
            "v1.compute.networks.list",
            "beta.compute.subnetworks.list",
            "v1.compute.firewalls.list",
            "v1.compute.routes.list",
            "v1.compute.addresses.list",
            "v1.compute.instances.list",
            "v1.compute.networks.list",
        ]
    );
    for e in &events {
        assert_eq!(s(e, "event.kind"), Some("event"));
        assert_eq!(e.event.category, ["api"]);
        assert_eq!(e.event.kind_type, ["info"]);
        assert_eq!(s(e, "event.provider"), Some("compute.googleapis.com"));
        assert_eq!(s(e, "event.dataset"), Some("gcp.audit"));
        assert_eq!(s(e, "cloud.provider"), Some("gcp"));
        assert_eq!(s(e, "cloud.account.id"), Some("picket-lab-4711"));
        assert_eq!(e.picket.collector.as_deref(), Some("replay-gcp-audit"));
    }
    let first = &events[0];
    assert_eq!(
        first.timestamp.to_rfc3339(),
        "2024-05-01T10:00:00.101+00:00"
    );
    assert_eq!(s(first, "event.id"), Some("-x1bq3ae1abc"));
    assert_eq!(s(first, "event.outcome"), Some("success"));
    assert_eq!(s(first, "user.id"), Some("alice@example.com"));
    assert_eq!(s(first, "user.name"), Some("alice@example.com"));
    assert_eq!(s(first, "source.ip"), Some("203.0.113.10"));
    assert!(s(first, "user_agent.original")
        .is_some_and(|u| u.starts_with("google-cloud-sdk gcloud/472.0.0")));
    assert_eq!(s(first, "cloud.region"), None);
    assert_eq!(
        s(first, "gcp.audit.method_name"),
        Some("v1.compute.networks.list")
    );
    assert_eq!(
        s(first, "gcp.audit.service_name"),
        Some("compute.googleapis.com")
    );
    assert_eq!(
        s(first, "gcp.audit.resource_name"),
        Some("projects/picket-lab-4711/global/networks")
    );
    assert_eq!(
        s(first, "gcp.audit.authentication_info.principal_email"),
        Some("alice@example.com")
    );
    assert_eq!(first.error, None);
    assert_eq!(first.picket.record, Some(1));
    assert_eq!(
        s(&events[1], "cloud.region"),
        Some("europe-west1"),
        "location"
    );
    assert_eq!(s(&events[3], "source.ip"), Some("2001:db8::10"));
    assert_eq!(
        s(&events[4], "cloud.region"),
        Some("europe-west1"),
        "region"
    );
    let failed = &events[5];
    assert_eq!(s(failed, "event.outcome"), Some("failure"));
    assert_eq!(s(failed, "error.code"), Some("7"));
    assert_eq!(
        s(failed, "error.message"),
        Some("Required 'compute.instances.list' permission for 'projects/picket-lab-4711'")
    );
    assert_eq!(failed.field("gcp.audit.status.code"), FieldValue::Int(7));
    assert_eq!(s(failed, "cloud.region"), Some("europe-west1-b"), "zone");
    let sa = &events[6];
    assert_eq!(
        s(sa, "event.outcome"),
        Some("success"),
        "an empty status is OK"
    );
    assert_eq!(
        s(sa, "user.name"),
        Some("recon-sa@picket-lab-4711.iam.gserviceaccount.com")
    );
    assert_eq!(s(sa, "source.address"), Some("private"));
    assert_eq!(s(sa, "source.ip"), None);
    match sa.field("gcp.audit.authentication_info.service_account_delegation_info") {
        FieldValue::Json(Value::Array(a)) => {
            assert_eq!(
                a[0]["firstPartyPrincipal"]["principalEmail"],
                "bob@example.com"
            )
        }
        other => panic!("delegation info: {other:?}"),
    }

    // A log sink's NDJSON, gzip'd, gives the same events.
    let tmp = tempfile::tempdir().expect("tempdir");
    let plain = tmp.path().join("sink.plain");
    std::fs::write(
        &plain,
        records_of(&path)
            .iter()
            .map(|r| format!("{r}\n"))
            .collect::<String>(),
    )
    .expect("w");
    let gz = tmp.path().join("sink.json.gz");
    gzip(&plain, &gz);
    let (again, _) = run_collector(Box::new(CloudReplay::gcp_audit(vec![gz]))).await;
    assert_eq!(placeless(again), placeless(events));
}

#[test]
fn a_gcp_entry_without_its_method_is_malformed_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("bad.json");
    std::fs::write(
        &p,
        "{\"timestamp\":\"2024-05-01T10:00:00Z\",\"protoPayload\":{\"serviceName\":\"compute.googleapis.com\"}}\n{\"protoPayload\":{\"methodName\":\"m\"}}\n",
    )
    .expect("w");
    let (events, bad) = read_all(&p, CloudFormat::GcpAudit);
    assert!(events.is_empty());
    assert_eq!(
        bad,
        [
            (1, "protoPayload.methodName missing".to_string()),
            (2, "timestamp missing".into())
        ]
    );
}

// ---- [inputs.cloudtrail] ----

fn input_config(dir: &Path, state: &Path) -> CloudTrailInputConfig {
    CloudTrailInputConfig {
        enabled: true,
        directory: Some(dir.to_path_buf()),
        state_file: Some(state.to_path_buf()),
        poll_interval_secs: 1,
        ..CloudTrailInputConfig::default()
    }
}

/// A running input: its events arrive on `rx`.
struct Running {
    rx: mpsc::Receiver<Event>,
    trigger: sensor_core::collector::ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<(), sensor_core::collector::CollectorError>>,
    health: Arc<Health>,
}

fn start(
    config: &CloudTrailInputConfig,
    state_dir: &Path,
    alerted: &BTreeMap<PathBuf, u64>,
) -> Running {
    let input = config.build(state_dir, alerted).expect("build");
    let health = Health::new();
    // Room for one event: the reader waits for the test, as for a busy pipeline.
    let (tx, rx) = mpsc::channel(1);
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(Box::new(input).run(EventSender::new(tx, health.clone()), shutdown));
    Running {
        rx,
        trigger,
        task,
        health,
    }
}

impl Running {
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(20), self.rx.recv())
            .await
            .expect("an event within 20 s")
            .expect("input still running")
    }

    /// Stops it, and returns the events it had already sent.
    async fn stop(mut self) -> (Vec<Event>, Arc<Health>) {
        self.trigger.trigger();
        let mut rest = Vec::new();
        while let Some(e) = self.rx.recv().await {
            rest.push(e);
        }
        self.task.await.expect("task").expect("input");
        (rest, self.health)
    }
}

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(|e| e.event.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_input_reads_objects_as_they_arrive_and_resumes_mid_object() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("trail");
    let sub = dir.join("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/18");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let state = tmp.path().join("state/cloudtrail-objects.json");
    let config = input_config(&dir, &state);
    let object = |stamp: &str, prefix: &str, n: usize| {
        let records: Vec<String> = (1..=n)
            .map(|i| {
                record_json(
                    "2024-08-18T10:00:00Z",
                    "DescribeRouteTables",
                    &format!("{prefix}{i}"),
                )
            })
            .collect();
        let name = format!("111122223333_CloudTrail_eu-west-1_{stamp}_u.json.gz");
        let plain = tmp.path().join("staging.json");
        std::fs::write(&plain, s3_object(&records)).expect("w");
        // Written under a partial name first, then renamed, as `aws s3 sync` does.
        let part = sub.join(format!("{name}.a1B2c3D4"));
        gzip(&plain, &part);
        std::fs::rename(&part, sub.join(&name)).expect("rename");
        sub.join(name)
    };
    let first = object("20240818T1000Z", "a", 3);

    let mut run = start(&config, tmp.path(), &BTreeMap::new());
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(run.next().await);
    }
    assert_eq!(ids(&got), ["a1", "a2", "a3"]);
    let e = &got[2];
    assert_eq!(e.picket.collector.as_deref(), Some("cloudtrail"));
    assert_eq!(e.picket.record, Some(3));
    assert_eq!(
        e.log
            .as_ref()
            .and_then(|l| l.file.as_ref())
            .and_then(|f| f.path.clone()),
        Some(first.display().to_string())
    );
    // Objects arriving while it runs; the second one is stopped in the middle.
    object("20240818T1005Z", "b", 2);
    object("20240818T1010Z", "c", 40);
    for _ in 0..2 {
        got.push(run.next().await);
    }
    for _ in 0..10 {
        got.push(run.next().await);
    }
    let (rest, health) = run.stop().await;
    got.extend(rest);
    let first_run = ids(&got);
    assert!(
        first_run.len() >= 15 && first_run.len() < 45,
        "{first_run:?}"
    );
    let counts = health.snapshot().counts;
    assert_eq!(counts.get("cloudtrail.objects"), Some(&2), "{counts:?}");

    // A restart with the same state file goes on at the next record.
    let mut run = start(&config, tmp.path(), &BTreeMap::new());
    let mut second = Vec::new();
    while first_run.len() + second.len() < 45 {
        second.push(run.next().await);
    }
    // Time to see the object's end before stopping.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rest, health) = run.stop().await;
    assert!(rest.is_empty(), "nothing more: {:?}", ids(&rest));
    let mut all = first_run.clone();
    all.extend(ids(&second));
    let expected: Vec<String> = (1..=3)
        .map(|i| format!("a{i}"))
        .chain((1..=2).map(|i| format!("b{i}")))
        .chain((1..=40).map(|i| format!("c{i}")))
        .collect();
    assert_eq!(all, expected, "nothing repeated, nothing missed");
    assert_eq!(health.snapshot().counts.get("cloudtrail.objects"), Some(&1));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    assert_eq!(
        saved["done"].as_object().map(|m| m.len()),
        Some(3),
        "{saved}"
    );
    assert_eq!(
        saved["partial"].as_object().map(|m| m.len()),
        Some(0),
        "{saved}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_input_skips_what_the_alert_log_names_and_counts_bad_objects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("drop");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let state = tmp.path().join("ct-state.json");
    let records: Vec<String> = (1..=6)
        .map(|i| record_json("2024-08-18T10:00:00Z", "DescribeSubnets", &format!("r{i}")))
        .collect();
    let mut with_bad = records.clone();
    with_bad.insert(4, r#"{"eventName":"NoTime"}"#.into());
    let obj = dir.join("111122223333_CloudTrail_eu-west-1_20240818T1000Z_u.json");
    std::fs::write(&obj, s3_object(&with_bad)).expect("w");
    // A crash after the alert on record 3 was written, before it was saved.
    let alerted = BTreeMap::from([(obj.clone(), 3u64)]);
    let mut run = start(&input_config(&dir, &state), tmp.path(), &alerted);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(run.next().await);
    }
    assert_eq!(ids(&got), ["r4", "r5", "r6"]);
    assert_eq!(
        got[1].picket.record,
        Some(6),
        "the malformed 5th record counts"
    );
    // A cut object arrives: counted as malformed, its whole records read.
    let cut = s3_object(&records[..2]);
    std::fs::write(
        dir.join("late_20240818T1100Z_u.json"),
        &cut[..cut.len() - 30],
    )
    .expect("w");
    got.push(run.next().await);
    assert_eq!(ids(&got[3..]), ["r1"]);
    // Give the input a moment to finish the cut object before stopping.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rest, health) = run.stop().await;
    assert!(rest.is_empty());
    let snap = health.snapshot();
    assert_eq!(
        snap.losses.get("cloudtrail.malformed_records"),
        Some(&1),
        "{snap:?}"
    );
    assert_eq!(
        snap.losses.get("cloudtrail.malformed_objects"),
        Some(&1),
        "{snap:?}"
    );
    assert_eq!(snap.counts.get("cloudtrail.resumed_past_alerted"), Some(&3));
    assert_eq!(snap.counts.get("cloudtrail.objects"), Some(&2));
    assert_eq!(
        snap.counts.get("cloudtrail.records"),
        Some(&5),
        "4 after the skip, 1 of the cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_now_reads_only_objects_that_arrive_later() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("drop");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("old_20240818T1000Z_u.json"),
        s3_object(&[record_json("2024-08-18T10:00:00Z", "DescribeVpcs", "old")]),
    )
    .expect("w");
    let mut config = input_config(&dir, &tmp.path().join("s.json"));
    config.start_at = CloudTrailStartAt::Now;
    let mut run = start(&config, tmp.path(), &BTreeMap::new());
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        dir.join("new_20240818T1100Z_u.json"),
        s3_object(&[record_json("2024-08-18T11:00:00Z", "DescribeVpcs", "new")]),
    )
    .expect("w");
    let e = run.next().await;
    assert_eq!(e.event.id.as_deref(), Some("new"));
    let (rest, _) = run.stop().await;
    assert!(rest.is_empty());
}

/// Every recorded record's bytes, as the splitter hands them out.
fn recorded_records() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let objects = list_objects(&fixture("cloud/aws")).expect("list");
    assert!(objects.len() > 10, "{objects:?}");
    for path in objects {
        let src = cloud::open_object(&path).expect("open");
        let mut split = cloud::RecordSplitter::new(src, 1 << 20, &[b"Records"]);
        while let Ok(Some(item)) = split.next() {
            if let cloud::Item::Object(bytes) = item {
                out.push(bytes.to_vec());
            }
        }
    }
    out
}

#[test]
fn the_record_reader_agrees_with_serde_json_on_every_recorded_record_and_its_mutations() {
    let records = recorded_records();
    assert!(records.len() > 500, "{}", records.len());
    let check = |bytes: &[u8]| {
        let ours = cloud::cloudtrail_event(bytes, "t");
        let reference = cloud::cloudtrail::reference_event(bytes, "t");
        match (&ours, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(bytes)),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "reader {:?} but serde_json {:?} on {}",
                ours.as_ref().err(),
                reference.as_ref().err(),
                String::from_utf8_lossy(bytes)
            ),
        }
        ours.is_ok()
    };
    let mut accepted = 0;
    for rec in &records {
        assert!(check(rec), "{}", String::from_utf8_lossy(rec));
        accepted += 1;
    }
    // Mutations where JSON's edge cases are: cuts, and each structural or escape byte
    // replaced by another (a deterministic sample, about 60,000 inputs).
    let swaps: &[u8] = b"\"\\{}[],: 0-e.tnu\x01\x7f\xc3\xff";
    let mut rejected = 0;
    let mut mutated = 0;
    for (n, rec) in records.iter().enumerate().step_by(7) {
        for cut in (0..rec.len()).step_by(97) {
            check(&rec[..cut]);
        }
        for at in (n % 13..rec.len()).step_by(13) {
            let mut m = rec.clone();
            m[at] = swaps[(at + n) % swaps.len()];
            if !check(&m) {
                rejected += 1;
            }
            mutated += 1;
        }
    }
    assert!(
        accepted > 500 && rejected > 1000 && mutated > rejected,
        "{accepted} {rejected} {mutated}"
    );
    // The JSON edge cases a record's skipped values can hold.
    for extra in [
        r#""x":[1,-0.5e+3,true,false,null,{"y":"\u00e9\ud83d\ude00\n"}]"#,
        r#""x":01"#,
        r#""x":1."#,
        r#""x":"\ud83d""#,
        r#""x":"a	b""#,
        r#""eventName":"Twice""#,
        r#""readOnly":"true""#,
        r#""readOnly":"maybe""#,
        r#""userIdentity":null"#,
        r#""userIdentity":{"sessionContext":{"sessionIssuer":null}}"#,
        r#""requestParameters":null"#,
        r#""errorCode":7"#,
    ] {
        let text =
            format!(r#"{{"eventTime":"2024-01-02T03:04:05Z","eventName":"DescribeVpcs",{extra}}}"#);
        check(text.as_bytes());
    }
    let deep = |n: usize| {
        format!(
            r#"{{"eventTime":"2024-01-02T03:04:05Z","eventName":"X","x":{}{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    // serde_json's derive steps over skipped values of any depth; the reader stops at
    // 128 levels, the record's own included.
    assert!(check(deep(126).as_bytes()));
    assert!(cloud::cloudtrail_event(deep(127).as_bytes(), "t").is_ok());
    assert!(cloud::cloudtrail_event(deep(128).as_bytes(), "t").is_err());
}

/// Reads at most `step` bytes at a time, so records straddle the splitter's refills.
struct Trickle<R>(R, usize);

impl<R: std::io::Read> std::io::Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn records_read_in_place_are_the_records_the_splitter_finds_whatever_the_reads() {
    let mut objects = list_objects(&fixture("cloud/aws")).expect("list");
    objects.sort();
    let mut seen = 0;
    for path in objects {
        // The splitter alone, then each record's bytes parsed: the way before records
        // were read in place, and still the way of records the in-place read refuses.
        let mut expected = Vec::new();
        let src = cloud::open_object(&path).expect("open");
        let mut split = cloud::RecordSplitter::new(src, 1 << 20, &[b"Records"]);
        while let Some(item) = split.next().expect("split") {
            expected.push(match item {
                cloud::Item::Object(bytes) => cloud::cloudtrail_event(bytes, "t"),
                other => Err(format!("{other:?}")),
            });
        }
        for step in [usize::MAX, 4096, 333] {
            let src = Trickle(cloud::open_object(&path).expect("open"), step);
            let mut got = Vec::new();
            let read = cloud::read_stream(
                src,
                CloudFormat::CloudTrail,
                "t",
                1 << 20,
                0,
                &mut |_, o| {
                    got.push(o);
                    true
                },
            );
            assert!(read.error.is_none(), "{}: {:?}", path.display(), read.error);
            assert_eq!(
                got.len(),
                expected.len(),
                "{} in reads of {step}",
                path.display()
            );
            for (a, b) in got.iter().zip(&expected) {
                match (a, b) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", path.display()),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{}: {a:?} against {b:?}", path.display()),
                }
            }
        }
        seen += expected.len();
    }
    assert!(seen > 500, "{seen}");
}
