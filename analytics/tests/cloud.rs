//! AN0908 (IaaS) through the engine: real CloudTrail records from
//! `shared/fixtures/cloud/aws/` (TrailDiscover, Stratus Red Team, OTRF), mapped to the
//! cloud event contract the CloudTrail reader produces (`cloudtrail_event` below), built
//! CloudTrail and GCP audit calls (marked built), and host process starts running the
//! cloud CLIs on Linux, macOS and Windows.

use analytics::config::{AnalyticsConfig, ApiOrigin, RulesConfig};
use analytics::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::{Alert, Severity};
use sensor_core::detect::Detector;
use sensor_core::event::Event;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

// ------------------------------------------------------------- fixtures ----------

fn fixture(rel: &str) -> PathBuf {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/cloud/aws/"
    ))
    .join(rel);
    assert!(
        path.exists(),
        "missing fixture {} (see shared/fixtures/README.md)",
        path.display()
    );
    path
}

/// The records of a fixture file: a JSON array, one record object, or NDJSON.
fn records(rel: &str) -> Vec<Value> {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(o)) => match o.get("Records") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![Value::Object(o)],
        },
        Ok(other) => panic!("fixture {}: unexpected {other}", path.display()),
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("fixture {}: {e}: {l}", path.display()))
            })
            .collect(),
    }
}

/// Every TrailDiscover record file, by `Service/EventName`.
fn traildiscover_files() -> Vec<String> {
    let dir = fixture("traildiscover/events");
    let mut out = Vec::new();
    for service in std::fs::read_dir(&dir).expect("traildiscover/events") {
        let service = service.expect("dir entry").path();
        for f in std::fs::read_dir(&service).expect("service dir") {
            let f = f.expect("file").path();
            let rel = f.strip_prefix(fixture("")).expect("under fixtures");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A CloudTrail record as the cloud event contract maps it: one API call = one event.
fn cloudtrail_event(r: &Value) -> Event {
    let ui = r.get("userIdentity").filter(|u| u.is_object());
    let issuer = ui
        .and_then(|u| u.get("sessionContext"))
        .and_then(|c| c.get("sessionIssuer"))
        .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()));
    let kind = ui.and_then(|u| s(u, "type"));
    let arn = ui.and_then(|u| s(u, "arn"));
    let name = match kind {
        Some("AssumedRole") => arn.and_then(|a| a.rsplit('/').next()),
        _ => ui.and_then(|u| s(u, "userName")),
    };
    let mut ev = Map::new();
    let time = s(r, "eventTime").or(s(r, "@timestamp")).expect("time");
    ev.insert("@timestamp".into(), json!(time));
    ev.insert("event.kind".into(), json!("event"));
    ev.insert("event.category".into(), json!(["api"]));
    ev.insert("event.type".into(), json!(["info"]));
    ev.insert("event.action".into(), json!(s(r, "eventName")));
    ev.insert("event.provider".into(), json!(s(r, "eventSource")));
    ev.insert("event.id".into(), json!(s(r, "eventID")));
    ev.insert("event.dataset".into(), json!("aws.cloudtrail"));
    ev.insert(
        "event.outcome".into(),
        json!(if r.get("errorCode").is_some_and(|c| !c.is_null()) {
            "failure"
        } else {
            "success"
        }),
    );
    ev.insert("cloud.provider".into(), json!("aws"));
    if let Some(a) = s(r, "recipientAccountId").or(ui.and_then(|u| s(u, "accountId"))) {
        ev.insert("cloud.account.id".into(), json!(a));
    }
    if let Some(region) = s(r, "awsRegion") {
        ev.insert("cloud.region".into(), json!(region));
    }
    if let Some(a) = arn {
        ev.insert("user.id".into(), json!(a));
    }
    if let Some(n) = name {
        ev.insert("user.name".into(), json!(n));
    }
    if let Some(ua) = s(r, "userAgent") {
        ev.insert("user_agent.original".into(), json!(ua));
    }
    if let Some(src) = s(r, "sourceIPAddress") {
        let key = if src.parse::<std::net::IpAddr>().is_ok() {
            "source.ip"
        } else {
            "source.address"
        };
        ev.insert(key.into(), json!(src));
    }
    if let Some(code) = s(r, "errorCode") {
        ev.insert("error.code".into(), json!(code));
    }
    if let Some(m) = s(r, "errorMessage") {
        ev.insert("error.message".into(), json!(m));
    }
    let mut identity = Map::new();
    for (from, to) in [
        ("type", "type"),
        ("arn", "arn"),
        ("accountId", "account_id"),
        ("invokedBy", "invoked_by"),
    ] {
        if let Some(v) = ui.and_then(|u| s(u, from)) {
            identity.insert(to.into(), json!(v));
        }
    }
    if let Some(i) = issuer {
        let mut si = Map::new();
        for (from, to) in [
            ("type", "type"),
            ("arn", "arn"),
            ("userName", "user_name"),
            ("accountId", "account_id"),
        ] {
            if let Some(v) = s(i, from) {
                si.insert(to.into(), json!(v));
            }
        }
        identity.insert("session_context".into(), json!({ "session_issuer": si }));
    }
    let mut trail = Map::new();
    trail.insert("user_identity".into(), Value::Object(identity));
    if let Some(c) = s(r, "sessionCredentialFromConsole") {
        trail.insert("session_credential_from_console".into(), json!(c));
    }
    ev.insert("aws".into(), json!({ "cloudtrail": trail }));
    Event::from_json_value(Value::Object(ev)).expect("contract event")
}

fn trail(rel: &str) -> Vec<Event> {
    let mut evs: Vec<Event> = records(rel)
        .iter()
        .filter(|r| r.is_object() && s(r, "eventName").is_some())
        .map(cloudtrail_event)
        .collect();
    evs.sort_by_key(|e| e.timestamp);
    evs
}

// ------------------------------------------------------------- engine ----------

fn config() -> AnalyticsConfig {
    AnalyticsConfig {
        fold_window_secs: 0,
        ..AnalyticsConfig::default()
    }
}

fn engine(config: &AnalyticsConfig) -> Engine {
    let (e, errors) = Engine::build(config, &RulesConfig::default(), &[]);
    assert!(errors.is_empty(), "{errors:?}");
    e
}

fn feed(e: &mut Engine, events: &[Event]) -> Vec<Alert> {
    let mut out = Vec::new();
    for ev in events {
        e.on_event(ev, &mut out);
    }
    out
}

fn an0908(alerts: &[Alert]) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.picket.analytic == "AN0908")
        .cloned()
        .collect()
}

fn detail<'a>(a: &'a Alert, key: &str) -> &'a Value {
    a.picket.details.get(key).unwrap_or(&Value::Null)
}

// ------------------------------------------------------------- built calls ----------

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-02T09:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(secs)
}

const CLI_UA: &str = "aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe";
const BOTO3_UA: &str = "Boto3/1.34.100 md/Botocore#1.34.100 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.100";
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.11.0 (+https://www.terraform.io) terraform-provider-aws/5.89.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.1 ua/2.1 os/linux lang/go#1.23.6 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.200.0";

/// A built CloudTrail call by an IAM user (contract shape).
fn call(secs: i64, user: &str, api: &str, ua: &str, ip: &str) -> Event {
    let service = if api.starts_with("DescribeLoadBalancers") || api.starts_with("DescribeTarget") {
        "elasticloadbalancing.amazonaws.com"
    } else {
        "ec2.amazonaws.com"
    };
    let arn = format!("arn:aws:iam::111122223333:user/{user}");
    Event::from_json_value(json!({
        "@timestamp": at(secs).to_rfc3339(),
        "event.kind": "event", "event.category": ["api"], "event.type": ["info"],
        "event.action": api, "event.provider": service, "event.outcome": "success",
        "event.dataset": "aws.cloudtrail", "event.id": format!("built-{user}-{api}-{secs}"),
        "cloud.provider": "aws", "cloud.account.id": "111122223333", "cloud.region": "eu-west-1",
        "user.id": arn, "user.name": user,
        "user_agent.original": ua,
        "source.ip": ip,
        "aws": {"cloudtrail": {"user_identity": {
            "type": "IAMUser", "arn": arn, "account_id": "111122223333"}}},
    }))
    .expect("event")
}

/// A built call by an assumed role's session.
fn role_call(secs: i64, account: &str, role: &str, session: &str, api: &str, ua: &str) -> Event {
    let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{session}");
    let role_arn = format!("arn:aws:iam::{account}:role/{role}");
    Event::from_json_value(json!({
        "@timestamp": at(secs).to_rfc3339(),
        "event.kind": "event", "event.category": ["api"], "event.type": ["info"],
        "event.action": api, "event.provider": "ec2.amazonaws.com", "event.outcome": "success",
        "event.dataset": "aws.cloudtrail", "event.id": format!("built-{session}-{api}-{secs}"),
        "cloud.provider": "aws", "cloud.account.id": account, "cloud.region": "us-east-1",
        "user.id": arn, "user.name": session,
        "user_agent.original": ua,
        "source.ip": "198.51.100.20",
        "aws": {"cloudtrail": {"user_identity": {
            "type": "AssumedRole", "arn": arn, "account_id": account,
            "session_context": {"session_issuer": {
                "type": "Role", "arn": role_arn, "user_name": role, "account_id": account}}}}},
    }))
    .expect("event")
}

fn denied(mut ev: Event, code: &str) -> Event {
    ev.event.outcome = Some("failure".into());
    ev.error = Some(sensor_core::event::ErrorInfo {
        code: Some(code.into()),
        message: Some("You are not authorized to perform this operation.".into()),
        ..Default::default()
    });
    ev
}

const SIX: [&str; 6] = [
    "DescribeVpcs",
    "DescribeSubnets",
    "DescribeRouteTables",
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "DescribeVpcPeeringConnections",
];

/// Built GCP audit call (contract shape).
fn gcp_call(secs: i64, email: &str, method: &str, ua: &str, code: Option<&str>) -> Event {
    let mut v = json!({
        "@timestamp": at(secs).to_rfc3339(),
        "event.kind": "event", "event.category": ["api"], "event.type": ["info"],
        "event.action": method, "event.provider": "compute.googleapis.com",
        "event.outcome": if code.is_some() { "failure" } else { "success" },
        "event.dataset": "gcp.audit", "event.id": format!("gcp-{method}-{secs}"),
        "cloud.provider": "gcp", "cloud.account.id": "acme-prod", "cloud.region": "europe-west1",
        "user.id": email, "user.name": email,
        "user_agent.original": ua,
        "source.ip": "203.0.113.9",
        "gcp": {"audit": {"authentication_info": {"principal_email": email}}},
    });
    if let Some(c) = code {
        v["error.code"] = json!(c);
    }
    Event::from_json_value(v).expect("event")
}

const GCLOUD_UA: &str = "google-cloud-sdk gcloud/467.0.0 command/gcloud.compute.networks.list invocation-id/5f1c environment/None environment-version/None client-os/LINUX client-os-ver/6.8.0 client-pltf-arch/x86_64 interactive/True from-script/False python/3.11.8 term/xterm-256color (Linux 6.8.0),gzip(gfe)";

// ------------------------------------------------------------- TrailDiscover ----------

/// The TrailDiscover records that are network enumeration by the default API list.
const TRAILDISCOVER_NETWORK: [(&str, Option<&str>); 15] = [
    (
        "EC2/DescribeCarrierGateways",
        Some("Client.UnauthorizedOperation"),
    ),
    (
        "EC2/DescribeClientVpnRoutes",
        Some("Client.UnauthorizedOperation"),
    ),
    (
        "EC2/DescribeDhcpOptions",
        Some("Client.UnauthorizedOperation"),
    ),
    ("EC2/DescribeFlowLogs", Some("Client.UnauthorizedOperation")),
    ("EC2/DescribeInternetGateways", None),
    ("EC2/DescribeNetworkInterfaces", None),
    ("EC2/DescribeRouteTables", None),
    (
        "EC2/DescribeSecurityGroups",
        Some("Client.UnauthorizedOperation"),
    ),
    ("EC2/DescribeSubnets", None),
    (
        "EC2/DescribeTransitGatewayMulticastDomains",
        Some("Client.UnauthorizedOperation"),
    ),
    (
        "EC2/DescribeVpcEndpointConnectionNotifications",
        Some("Client.UnauthorizedOperation"),
    ),
    ("EC2/DescribeVpcs", Some("Client.UnauthorizedOperation")),
    (
        "EC2/GetTransitGatewayRouteTableAssociations",
        Some("Client.UnauthorizedOperation"),
    ),
    ("ELB/DescribeListeners", Some("AccessDenied")),
    ("ELB/DescribeLoadBalancers", Some("AccessDenied")),
];

#[test]
fn the_contract_helper_fills_the_fields_an0908_reads() {
    let evs = trail("traildiscover/events/EC2/DescribeRouteTables.json.cloudtrail");
    let ev = &evs[0];
    assert_eq!(ev.event.action.as_deref(), Some("DescribeRouteTables"));
    assert_eq!(
        ev.field("aws.cloudtrail.user_identity.type"),
        sensor_core::event::FieldValue::Str("AssumedRole")
    );
    assert_eq!(
        ev.field("aws.cloudtrail.user_identity.session_context.session_issuer.user_name"),
        sensor_core::event::FieldValue::Str("AWSReservedSSO_AdministratorAccess_1b74cd717d47002b")
    );
    assert_eq!(ev.user.name.as_deref(), Some("AdanAlvarez"));
}

#[test]
fn traildiscover_single_cli_calls_alert_low_and_denied_ones_medium() {
    for (name, code) in TRAILDISCOVER_NETWORK {
        let rel = format!("traildiscover/events/{name}.json.cloudtrail");
        let evs = trail(&rel);
        assert_eq!(evs.len(), 1, "{rel}");
        let mut e = engine(&config());
        let a = an0908(&feed(&mut e, &evs));
        assert_eq!(a.len(), 1, "{rel}: {a:#?}");
        let a = &a[0];
        let api = name.rsplit('/').next().unwrap_or_default();
        assert_eq!(a.rule.id, "picket-AN0908");
        assert_eq!(a.picket.mutable_element, "ApiList", "{rel}");
        assert_eq!(a.picket.matched_value, api);
        assert_eq!(detail(a, "origin"), "cli", "{rel}");
        assert_eq!(detail(a, "origin_pattern"), "aws-cli/*");
        assert_eq!(detail(a, "cloud_account_id"), "111111111111");
        // Evidence: the record's own eventID.
        assert_eq!(
            a.picket.evidence[0].event_id,
            evs[0].event.id.clone().unwrap_or_default()
        );
        assert!(a.message.contains(api), "{}", a.message);
        assert!(a.message.contains("111111111111"), "{}", a.message);
        assert!(a.message.contains("with aws-cli/2."), "{}", a.message);
        assert!(a.message.contains("command line (cli)"), "{}", a.message);
        match code {
            Some(c) => {
                assert_eq!(a.severity(), Severity::Medium, "{rel}");
                assert_eq!(detail(a, "denied"), true);
                assert_eq!(detail(a, "error_code"), c);
                assert!(
                    a.message.contains(&format!("denied ({c})")),
                    "{}",
                    a.message
                );
            }
            None => {
                assert_eq!(a.severity(), Severity::Low, "{rel}");
                assert_eq!(detail(a, "denied"), false);
            }
        }
        if a.message.contains("assumed-role") {
            assert!(
                a.message.contains(
                    "role AWSReservedSSO_AdministratorAccess_1b74cd717d47002b session AdanAlvarez"
                ),
                "{}",
                a.message
            );
        } else {
            assert!(
                a.message.contains("IAM user TrailDiscover"),
                "{}",
                a.message
            );
        }
    }
}

#[test]
fn traildiscover_everything_else_is_silent() {
    let network: Vec<String> = TRAILDISCOVER_NETWORK
        .iter()
        .map(|(n, _)| format!("traildiscover/events/{n}.json.cloudtrail"))
        .collect();
    let mut seen = 0;
    for rel in traildiscover_files() {
        if network.contains(&rel) {
            continue;
        }
        let evs = trail(&rel);
        seen += evs.len();
        let mut e = engine(&config());
        let a = an0908(&feed(&mut e, &evs));
        assert!(a.is_empty(), "{rel}: {a:#?}");
    }
    // DescribeInstances, DescribeRegions, DescribeImages, S3, IAM, ...
    assert!(seen > 250, "{seen}");
    for name in [
        "DescribeInstances",
        "DescribeRegions",
        "DescribeAvailabilityZones",
    ] {
        let rel = format!("traildiscover/events/EC2/{name}.json.cloudtrail");
        assert!(!trail(&rel).is_empty(), "{rel}");
    }
}

#[test]
fn traildiscover_calls_in_one_stream_are_single_calls_by_their_own_times() {
    // Every network record into one engine, in time order, with the default folding.
    let mut evs: Vec<Event> = TRAILDISCOVER_NETWORK
        .iter()
        .flat_map(|(n, _)| trail(&format!("traildiscover/events/{n}.json.cloudtrail")))
        .collect();
    evs.sort_by_key(|e| e.timestamp);
    let mut e = engine(&AnalyticsConfig::default());
    let a = an0908(&feed(&mut e, &evs));
    // Eleven calls by the IAM user within three hours on 2024-08-18 (a slow walk, under
    // both burst forms), four by the SSO session: fifteen single alerts, none folded
    // (each is a different API).
    assert_eq!(a.len(), 15, "{a:#?}");
    assert!(a.iter().all(|a| a.picket.mutable_element == "ApiList"));
    assert_eq!(e.stats().an0908_burst_calls_folded, 0);
    assert_eq!(e.stats().alerts_folded, 0);
    let on_0818 = a
        .iter()
        .filter(|a| a.event.created.to_rfc3339().starts_with("2024-08-18"))
        .count();
    assert_eq!(on_0818, 11);
}

#[test]
fn repeated_single_calls_fold_and_different_apis_do_not() {
    // The default 60 s fold window: the same call again folds into the first alert;
    // another API by the same principal is its own alert (alerts of API calls have no
    // command line, so the matched API keeps them apart).
    let mut e = engine(&AnalyticsConfig::default());
    let evs = [
        call(0, "dev", "DescribeVpcs", CLI_UA, "192.0.2.60"),
        call(20, "dev", "DescribeVpcs", CLI_UA, "192.0.2.60"),
        call(40, "dev", "DescribeSubnets", CLI_UA, "192.0.2.60"),
    ];
    let a = an0908(&feed(&mut e, &evs));
    let names: Vec<&str> = a.iter().map(|a| a.picket.matched_value.as_str()).collect();
    assert_eq!(names, ["DescribeVpcs", "DescribeSubnets"]);
    assert_eq!(e.stats().alerts_folded, 1);
    let mut out = Vec::new();
    e.on_tick(at(200), false, &mut out);
    let summary = an0908(&out);
    assert_eq!(summary.len(), 1, "{summary:#?}");
    assert_eq!(summary[0].picket.count, 2);
    assert_eq!(summary[0].picket.evidence.len(), 2);
}

// ------------------------------------------------------------- negatives ----------

#[test]
fn stratus_red_team_detonations_raise_no_an0908() {
    let dir = fixture("stratus-red-team");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("stratus-red-team")
        .map(|f| f.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "{}", files.len());
    let mut events = 0;
    for f in files {
        let rel = format!(
            "stratus-red-team/{}",
            f.file_name().unwrap_or_default().to_string_lossy()
        );
        let evs = trail(&rel);
        events += evs.len();
        let mut e = engine(&config());
        let a = an0908(&feed(&mut e, &evs));
        assert!(a.is_empty(), "{rel}: {a:#?}");
        assert_eq!(e.stats().an0908_out_of_scope, 0, "{rel}");
    }
    // Including 32 DescribeInstances by one user in ec2-user-data: instances are T1580.
    assert!(events > 300, "{events}");
}

#[test]
fn otrf_console_calls_are_out_of_scope_by_default() {
    let evs = trail("otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json");
    assert_eq!(evs.len(), 103);
    let mut e = engine(&config());
    let a = an0908(&feed(&mut e, &evs));
    assert!(a.is_empty(), "{a:#?}");
    // DescribeAddresses ×8, DescribeLoadBalancers ×3, DescribeClassicLinkInstances ×3,
    // DescribeSecurityGroups ×1, all from console.ec2.amazonaws.com.
    assert_eq!(e.stats().an0908_out_of_scope, 15);
    // The S3 calls through aws-cli/1.18 are not network enumeration.
    assert_eq!(e.stats().an0908_allowlisted, 0);
}

#[test]
fn otrf_console_calls_burst_when_the_console_is_in_scope() {
    let evs = trail("otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json");
    let mut cfg = config();
    cfg.an0908.origin.in_scope.push(ApiOrigin::Console);
    cfg.an0908.burst_query_threshold.distinct_apis = 3;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &evs));
    // 00:53:58: DescribeAddresses, DescribeLoadBalancers ×2, DescribeSecurityGroups.
    assert_eq!(a.len(), 1, "{a:#?}");
    let b = &a[0];
    assert_eq!(b.picket.mutable_element, "BurstQueryThreshold");
    assert_eq!(b.picket.matched_value, "3 distinct APIs in 10 s");
    assert_eq!(detail(b, "burst_by"), "principal");
    assert_eq!(detail(b, "burst_origins"), &json!(["console"]));
    assert_eq!(
        detail(b, "burst_distinct_apis"),
        &json!([
            "DescribeAddresses",
            "DescribeLoadBalancers",
            "DescribeSecurityGroups"
        ])
    );
    assert!(b.message.contains("IAM user pedro"), "{}", b.message);
    let calls = detail(b, "burst_calls").as_u64().unwrap_or(0);
    // The 4 calls at 00:44 made no burst; the rest after the burst folded into it (the
    // 00:57 calls are within 300 s of the last).
    assert_eq!(e.stats().an0908_burst_calls_folded, 15 - 4 - calls);
    assert_eq!(e.stats().an0908_out_of_scope, 0);
    // No source-address burst: one principal from 1.2.3.4.
}

// ------------------------------------------------------------- bursts ----------

fn bursts(a: &[Alert]) -> Vec<Alert> {
    a.iter()
        .filter(|a| a.picket.mutable_element == "BurstQueryThreshold")
        .cloned()
        .collect()
}

#[test]
fn six_distinct_cli_calls_in_ten_seconds_make_one_burst_that_folds() {
    let mut e = engine(&config());
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| call(i as i64, "mallory", api, CLI_UA, "198.51.100.7"))
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    // Five single low alerts, then the burst instead of a sixth.
    assert_eq!(a.len(), 6, "{a:#?}");
    assert!(a[..5]
        .iter()
        .all(|a| a.picket.mutable_element == "ApiList" && a.severity() == Severity::Low));
    let b = &a[5];
    assert_eq!(b.picket.mutable_element, "BurstQueryThreshold");
    assert_eq!(b.severity(), Severity::Medium);
    assert_eq!(b.picket.matched_value, "6 distinct APIs in 10 s");
    assert_eq!(detail(b, "burst_calls"), 6);
    assert_eq!(detail(b, "burst_span_secs"), 5);
    assert_eq!(detail(b, "threshold_count"), 6);
    assert_eq!(detail(b, "threshold_window_secs"), 10);
    assert_eq!(detail(b, "burst_quiet_secs"), 300);
    assert_eq!(
        detail(b, "burst_distinct_apis").as_array().map(Vec::len),
        Some(6)
    );
    assert!(
        b.message.contains("IAM user mallory (arn:aws:iam::111122223333:user/mallory) made 6 network-enumeration API calls (6 distinct: DescribeNetworkInterfaces, DescribeRouteTables,"),
        "{}",
        b.message
    );
    assert!(
        b.message
            .contains("from 198.51.100.7 within 5 s in AWS account 111122223333 (eu-west-1)"),
        "{}",
        b.message
    );
    assert!(
        b.message
            .contains("BurstQueryThreshold: 6 distinct APIs in 10 s"),
        "{}",
        b.message
    );
    assert!(b.message.contains("origins cli"), "{}", b.message);
    // Evidence: the sixth call first, then the five before it.
    assert_eq!(b.picket.related_events.len(), 5);
    assert_eq!(b.picket.evidence.len(), 6);
    assert_eq!(
        b.picket.evidence[0].event_id,
        "built-mallory-DescribeVpcPeeringConnections-5"
    );
    // While the burst goes on, calls fold: counted, no alert.
    let more: Vec<Event> = (0..20)
        .map(|i| {
            call(
                10 + i * 20,
                "mallory",
                SIX[(i % 6) as usize],
                CLI_UA,
                "198.51.100.7",
            )
        })
        .collect();
    let a = an0908(&feed(&mut e, &more));
    assert!(a.is_empty(), "{a:#?}");
    assert_eq!(e.stats().an0908_burst_calls_folded, 20);
    // Quiet for the longest window (300 s) after the last: a new burst may open.
    let last = 10 + 19 * 20;
    let again: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| {
            call(
                last + 300 + i as i64,
                "mallory",
                api,
                CLI_UA,
                "198.51.100.7",
            )
        })
        .collect();
    let a = an0908(&feed(&mut e, &again));
    assert_eq!(bursts(&a).len(), 1, "{a:#?}");
    assert_eq!(a.len(), 6);
}

#[test]
fn fifty_sdk_calls_in_five_minutes_make_a_count_burst_and_sdk_singles_are_silent() {
    let mut e = engine(&config());
    let evs: Vec<Event> = (0..60)
        .map(|i| {
            call(
                i * 5,
                "inventory-bot",
                "DescribeVpcs",
                BOTO3_UA,
                "192.0.2.44",
            )
        })
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    let b = &a[0];
    assert_eq!(b.picket.matched_value, "50 calls in 300 s");
    assert_eq!(detail(b, "burst_form"), "calls");
    assert_eq!(detail(b, "burst_calls"), 50);
    assert_eq!(detail(b, "burst_span_secs"), 245);
    assert_eq!(detail(b, "origin"), "sdk");
    assert!(
        b.message.contains("(1 distinct: DescribeVpcs)"),
        "{}",
        b.message
    );
    // Related events capped at 20, evidence at 16 with the rest counted.
    assert_eq!(b.picket.related_events.len(), 20);
    assert_eq!(b.picket.evidence.len(), 16);
    assert_eq!(b.picket.evidence_omitted, 5);
    assert_eq!(e.stats().an0908_burst_calls_folded, 10);
}

#[test]
fn terraform_calls_count_toward_bursts_but_alert_not_alone() {
    let mut e = engine(&config());
    let a = an0908(&feed(
        &mut e,
        &[call(0, "ci", "DescribeVpcs", TERRAFORM_UA, "192.0.2.45")],
    ));
    assert!(a.is_empty(), "{a:#?}");
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| call(100 + i as i64, "ci", api, TERRAFORM_UA, "192.0.2.45"))
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "origin"), "iac");
    assert_eq!(detail(&a[0], "origin_pattern"), "*Terraform/*");
}

#[test]
fn a_source_address_burst_needs_several_principals() {
    // Three principals from one address, two distinct APIs each: no principal bursts,
    // one source-address burst.
    let mut e = engine(&config());
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| {
            call(
                i as i64,
                ["k1", "k2", "k3"][i / 2],
                api,
                BOTO3_UA,
                "203.0.113.50",
            )
        })
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    let b = &a[0];
    assert_eq!(detail(b, "burst_by"), "source_address");
    assert_eq!(detail(b, "burst_key"), "203.0.113.50");
    assert_eq!(
        detail(b, "burst_principals").as_array().map(Vec::len),
        Some(3)
    );
    assert!(
        b.message
            .starts_with("6 network-enumeration API calls (6 distinct: DescribeNetworkInterfaces, DescribeRouteTables, DescribeSecurityGroups, DescribeSubnets, DescribeVpcPeeringConnections, DescribeVpcs) came from 203.0.113.50, by 3 principals (arn:aws:iam::111122223333:user/k1, arn:aws:iam::111122223333:user/k2, arn:aws:iam::111122223333:user/k3) within 5 s in AWS account 111122223333 (eu-west-1)"),
        "{}",
        b.message
    );
    // One principal bursting from one address is one alert, not two.
    let mut e = engine(&config());
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| call(i as i64, "solo", api, BOTO3_UA, "203.0.113.51"))
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "burst_by"), "principal");
    // Counting by address alone: the source burst alerts for one principal too.
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.by_principal = false;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "burst_by"), "source_address");
    // Not counting by address: the three principals make nothing.
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.by_source_address = false;
    let mut e = engine(&cfg);
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| {
            call(
                i as i64,
                ["k1", "k2", "k3"][i / 2],
                api,
                BOTO3_UA,
                "203.0.113.50",
            )
        })
        .collect();
    assert!(an0908(&feed(&mut e, &evs)).is_empty());
    // An anonymised 0.0.0.0 is no address: TrailDiscover-like principals never join.
    let mut e = engine(&config());
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| {
            call(
                i as i64,
                ["k1", "k2", "k3"][i / 2],
                api,
                BOTO3_UA,
                "0.0.0.0",
            )
        })
        .collect();
    assert!(an0908(&feed(&mut e, &evs)).is_empty());
    // Calls naming no principal at all can only burst by their address.
    let mut e = engine(&config());
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| {
            let mut ev = call(i as i64, "x", api, BOTO3_UA, "203.0.113.52");
            ev.user = Default::default();
            ev.other.remove("aws");
            ev
        })
        .collect();
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "burst_by"), "source_address");
}

#[test]
fn denied_calls_raise_a_burst_to_high() {
    let build = |denials: usize| -> Vec<Event> {
        SIX.iter()
            .enumerate()
            .map(|(i, api)| {
                let ev = call(i as i64, "probe", api, BOTO3_UA, "198.51.100.9");
                if i < denials {
                    denied(ev, "Client.UnauthorizedOperation")
                } else {
                    ev
                }
            })
            .collect()
    };
    let mut e = engine(&config());
    let a = an0908(&feed(&mut e, &build(3)));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity(), Severity::High);
    assert_eq!(detail(&a[0], "burst_failed_calls"), 3);
    assert!(
        a[0].message
            .contains("3 of them denied (at least 3: severity raised)"),
        "{}",
        a[0].message
    );
    let mut e = engine(&config());
    let a = an0908(&feed(&mut e, &build(2)));
    assert_eq!(a[0].severity(), Severity::Medium);
    assert!(
        a[0].message.contains("; 2 of them denied;"),
        "{}",
        a[0].message
    );
    // burst_min_failures = 0: no raise; a different burst severity.
    let mut cfg = config();
    cfg.an0908.failed_calls.burst_min_failures = 0;
    cfg.an0908.burst_query_threshold.severity = Severity::Low;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &build(6)));
    assert_eq!(a[0].severity(), Severity::Low);
    // GCP's permission denied (status 7) and AccessDenied count; other errors do not.
    let mut e = engine(&config());
    let mut evs = build(0);
    evs[0] = denied(evs[0].clone(), "AccessDenied");
    evs[1] = denied(evs[1].clone(), "7");
    evs[2] = denied(evs[2].clone(), "Client.InvalidParameterValue");
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(detail(&a[0], "burst_failed_calls"), 2);
    // Custom codes.
    let mut cfg = config();
    cfg.an0908.failed_calls.error_codes = vec!["Client.InvalidParameterValue".into()];
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(detail(&a[0], "burst_failed_calls"), 1);
}

// ------------------------------------------------------------- allowlist ----------

fn sdk_burst(account: &str, role: &str, session: &str) -> Vec<Event> {
    SIX.iter()
        .enumerate()
        .map(|(i, api)| role_call(i as i64, account, role, session, api, BOTO3_UA))
        .collect()
}

#[test]
fn allowlisted_principals_raise_nothing_each_list_kind() {
    let evs = sdk_burst("444455556666", "terraform-ci", "GitLabRunner-991");
    // Not allowlisted: a burst.
    let mut e = engine(&config());
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "role_name"), "terraform-ci");
    assert_eq!(detail(&a[0], "session_name"), "GitLabRunner-991");
    assert!(
        a[0].message.starts_with("role terraform-ci session GitLabRunner-991 (arn:aws:sts::444455556666:assumed-role/terraform-ci/GitLabRunner-991) made 6"),
        "{}",
        a[0].message
    );
    type Set = fn(&mut AnalyticsConfig);
    let kinds: [(&str, Set); 6] = [
        ("arns (role ARN)", |c| {
            c.an0908.service_principal_allowlist.arns =
                vec!["arn:aws:iam::444455556666:role/terraform-ci".into()]
        }),
        ("arns (session glob)", |c| {
            c.an0908.service_principal_allowlist.arns =
                vec!["arn:aws:sts::*:assumed-role/terraform-*/*".into()]
        }),
        ("role_names", |c| {
            c.an0908.service_principal_allowlist.role_names = vec!["Terraform-CI".into()]
        }),
        ("session_names", |c| {
            c.an0908.service_principal_allowlist.session_names = vec!["GitLabRunner-*".into()]
        }),
        ("account_ids", |c| {
            c.an0908.service_principal_allowlist.account_ids = vec!["444455556666".into()]
        }),
        ("gcp_service_accounts (no effect on AWS)", |c| {
            c.an0908.service_principal_allowlist.gcp_service_accounts = vec!["*".into()]
        }),
    ];
    for (kind, set) in kinds {
        let mut cfg = config();
        set(&mut cfg);
        let mut e = engine(&cfg);
        let a = an0908(&feed(&mut e, &evs));
        if kind.starts_with("gcp") {
            assert_eq!(a.len(), 1, "{kind}");
            continue;
        }
        assert!(a.is_empty(), "{kind}: {a:#?}");
        assert_eq!(e.stats().an0908_allowlisted, 6, "{kind}");
    }
    // An allowlisted IAM user's single CLI calls are silent too.
    let mut cfg = config();
    cfg.an0908.service_principal_allowlist.arns =
        vec!["arn:aws:iam::111122223333:user/scanner".into()];
    let mut e = engine(&cfg);
    let a = an0908(&feed(
        &mut e,
        &[call(0, "scanner", "DescribeVpcs", CLI_UA, "192.0.2.1")],
    ));
    assert!(a.is_empty());
    let a = an0908(&feed(
        &mut e,
        &[call(1, "other", "DescribeVpcs", CLI_UA, "192.0.2.1")],
    ));
    assert_eq!(a.len(), 1);
}

#[test]
fn service_linked_roles_and_aws_service_calls_are_allowed_by_default() {
    let linked = |i: i64, api: &str| {
        let mut ev = role_call(
            i,
            "111122223333",
            "AWSServiceRoleForElasticLoadBalancing",
            "ElasticLoadBalancing",
            api,
            "elasticloadbalancing.amazonaws.com",
        );
        // The session issuer of a service-linked role sits under aws-service-role/.
        ev.other["aws"]["cloudtrail"]["user_identity"]["session_context"]["session_issuer"]
            ["arn"] = json!("arn:aws:iam::111122223333:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing");
        ev
    };
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, a)| linked(i as i64, a))
        .collect();
    let mut e = engine(&config());
    assert!(an0908(&feed(&mut e, &evs)).is_empty());
    assert_eq!(e.stats().an0908_allowlisted, 6);
    // Switched off: analysed; its agent (a service host) is out of scope.
    let mut cfg = config();
    cfg.an0908.service_principal_allowlist.service_linked_roles = false;
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &evs)).is_empty());
    assert_eq!(e.stats().an0908_out_of_scope, 6);
    // ... and with service in scope, a burst (never a single-call alert: a service).
    cfg.an0908.origin.in_scope.push(ApiOrigin::Service);
    cfg.an0908.single_call_origins.push(ApiOrigin::Service);
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].picket.mutable_element, "BurstQueryThreshold");

    // AWS's own calls: identity type AWSService, invoked_by, AWS Internal.
    let mut svc = call(0, "x", "DescribeSubnets", "AWS Internal", "192.0.2.9");
    svc.other["aws"]["cloudtrail"]["user_identity"] =
        json!({"type": "AWSService", "invoked_by": "autoscaling.amazonaws.com"});
    let mut by = call(1, "alice", "DescribeVpcs", CLI_UA, "192.0.2.9");
    by.other["aws"]["cloudtrail"]["user_identity"]["invoked_by"] =
        json!("cloudformation.amazonaws.com");
    let mut internal = call(2, "alice", "DescribeRouteTables", CLI_UA, "192.0.2.9");
    internal.source = Some(sensor_core::event::Endpoint {
        address: Some("AWS Internal".into()),
        ..Default::default()
    });
    let mut e = engine(&config());
    assert!(an0908(&feed(&mut e, &[svc.clone(), by.clone(), internal.clone()])).is_empty());
    assert_eq!(e.stats().an0908_allowlisted, 3);
    let mut cfg = config();
    cfg.an0908.service_principal_allowlist.aws_service_calls = false;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &[svc, by, internal]));
    // The AWSService call's agent is out of scope; the invoked-by call is a service
    // acting (no single-call alert); the AWS Internal-sourced CLI call alerts.
    assert_eq!(e.stats().an0908_out_of_scope, 1);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].picket.matched_value, "DescribeRouteTables");
}

// ------------------------------------------------------------- settings ----------

#[test]
fn default_settings_are_the_documented_ones() {
    let c = AnalyticsConfig::default().an0908;
    assert!(c.enabled);
    assert_eq!(c.severity, Severity::Low);
    assert_eq!(c.single_call_origins, [ApiOrigin::Cli]);
    assert_eq!(
        c.origin.in_scope,
        [
            ApiOrigin::Cli,
            ApiOrigin::Sdk,
            ApiOrigin::Iac,
            ApiOrigin::Unknown
        ]
    );
    let b = &c.burst_query_threshold;
    assert_eq!((b.distinct_apis, b.distinct_window_secs), (6, 10));
    assert_eq!((b.calls, b.calls_window_secs), (50, 300));
    assert!(b.by_principal && b.by_source_address);
    assert_eq!(b.severity, Severity::Medium);
    let f = &c.failed_calls;
    assert_eq!(f.single_call_severity, Severity::Medium);
    assert_eq!(
        (f.burst_min_failures, f.burst_severity),
        (3, Severity::High)
    );
    let s = &c.service_principal_allowlist;
    assert!(s.service_linked_roles && s.aws_service_calls);
    assert!(s.arns.is_empty() && s.role_names.is_empty() && s.session_names.is_empty());
    assert!(s.account_ids.is_empty() && s.gcp_service_accounts.is_empty());
    assert!(c.api_list.route53.is_empty() && c.api_list.other.is_empty());
    assert!(c.cli.enabled && c.cli.aws_from_api_list);
    assert_eq!(c.cli.severity, Severity::Low);
}

#[test]
fn origin_classes_of_real_and_built_agents() {
    let cases = [
        (CLI_UA, Some("cli")),
        ("[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]", Some("cli")),
        ("aws-cli/2.31.1 md/awscrt#0.27.6 ua/2.1 os/linux#6.1.147 exec-env/CloudShell", Some("cli")),
        ("AWSPowerShell.Common/4.1.532.0 .NET_Core/6.0.25 OS/Microsoft_Windows_10.0.19045 PowerShellCore/7.4", Some("cli")),
        (BOTO3_UA, Some("sdk")),
        ("aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1 md/GOOS#linux", Some("sdk")),
        ("aws-sdk-java/1.12.600 Linux/5.10 OpenJDK_64-Bit_Server_VM/17", Some("sdk")),
        (TERRAFORM_UA, Some("iac")),
        ("aws-cdk/2.130.0 aws-sdk-js/3.504.0", Some("iac")),
        ("pulumi-aws/6.20.0 aws-sdk-go/1.50.0", Some("iac")),
        ("cloudformation.amazonaws.com", Some("iac")),
        ("console.ec2.amazonaws.com", None),
        ("EC2ConsoleFrontend, aws-internal/3 aws-sdk-java/1.11.848 Linux/4.9.217", None),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0", None),
        ("signin.amazonaws.com", None),
        ("ec2.amazonaws.com", None),
        ("stratus-red-team_5c59eb79-6dac-405c-a4c4-e19aec03c666", Some("unknown")),
        ("", Some("unknown")),
    ];
    for (ua, origin) in cases {
        let mut e = engine(&config());
        let evs: Vec<Event> = SIX
            .iter()
            .enumerate()
            .map(|(i, api)| call(i as i64, "u", api, ua, "192.0.2.77"))
            .collect();
        let a = an0908(&feed(&mut e, &evs));
        match origin {
            Some(o) => {
                let last = a.last().unwrap_or_else(|| panic!("{ua}: no alert"));
                assert_eq!(detail(last, "origin"), o, "{ua}");
                assert_eq!(detail(last, "burst_form"), "distinct_apis", "{ua}");
                // Only the CLI's single calls alert.
                assert_eq!(a.len(), if o == "cli" { 6 } else { 1 }, "{ua}");
            }
            None => {
                assert!(a.is_empty(), "{ua}: {a:#?}");
                assert_eq!(e.stats().an0908_out_of_scope, 6, "{ua}");
            }
        }
    }
    // "AWS Internal" is AWS's own (allowlisted); with console credentials and the
    // allowlist switch off it is the console.
    let mut cfg = config();
    cfg.an0908.service_principal_allowlist.aws_service_calls = false;
    cfg.an0908.origin.in_scope.push(ApiOrigin::Service);
    let mut ev = call(0, "u", "DescribeVpcs", "AWS Internal", "192.0.2.77");
    let mut e = engine(&cfg);
    feed(&mut e, std::slice::from_ref(&ev));
    assert_eq!(e.stats().an0908_out_of_scope, 0);
    ev.other["aws"]["cloudtrail"]["session_credential_from_console"] = json!("true");
    let mut e = engine(&cfg);
    feed(&mut e, &[ev]);
    assert_eq!(e.stats().an0908_out_of_scope, 1);
}

#[test]
fn scope_single_calls_thresholds_and_windows_are_settings() {
    let trail_vpcs = trail("traildiscover/events/EC2/DescribeSubnets.json.cloudtrail");
    // cli out of scope: the recorded single call is counted, not alerted.
    let mut cfg = config();
    cfg.an0908.origin.in_scope = vec![ApiOrigin::Sdk];
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &trail_vpcs)).is_empty());
    assert_eq!(e.stats().an0908_out_of_scope, 1);
    // No single-call origins: nothing alone, bursts still.
    let mut cfg = config();
    cfg.an0908.single_call_origins.clear();
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &trail_vpcs)).is_empty());
    // SDK single calls alert when listed, at the chosen severity.
    let mut cfg = config();
    cfg.an0908.single_call_origins.push(ApiOrigin::Sdk);
    cfg.an0908.severity = Severity::Medium;
    let mut e = engine(&cfg);
    let a = an0908(&feed(
        &mut e,
        &[call(0, "b", "DescribeVpcs", BOTO3_UA, "192.0.2.3")],
    ));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity(), Severity::Medium);
    assert!(
        a[0].message.contains("a single call from an SDK (sdk)"),
        "{}",
        a[0].message
    );
    // A denied single call is at least failed_calls.single_call_severity.
    let mut cfg = config();
    cfg.an0908.failed_calls.single_call_severity = Severity::High;
    let mut e = engine(&cfg);
    let a = an0908(&feed(
        &mut e,
        &trail("traildiscover/events/EC2/DescribeVpcs.json.cloudtrail"),
    ));
    assert_eq!(a[0].severity(), Severity::High);

    // Distinct threshold and window.
    let spaced: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| call(i as i64 * 4, "w", api, BOTO3_UA, "192.0.2.4"))
        .collect();
    let mut e = engine(&config());
    assert!(an0908(&feed(&mut e, &spaced)).is_empty(), "20 s > 10 s");
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.distinct_window_secs = 30;
    let mut e = engine(&cfg);
    assert_eq!(an0908(&feed(&mut e, &spaced)).len(), 1);
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.distinct_apis = 3;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &spaced));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].picket.matched_value, "3 distinct APIs in 10 s");
    // Distinct off, count on with its own numbers.
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.distinct_apis = 0;
    cfg.an0908.burst_query_threshold.calls = 5;
    cfg.an0908.burst_query_threshold.calls_window_secs = 20;
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &spaced));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].picket.matched_value, "5 calls in 20 s");
    assert_eq!(detail(&a[0], "burst_quiet_secs"), 20);
    // Both off: no bursts at all.
    let mut cfg = config();
    cfg.an0908.burst_query_threshold.distinct_apis = 0;
    cfg.an0908.burst_query_threshold.calls = 0;
    let mut e = engine(&cfg);
    let many: Vec<Event> = (0..100)
        .map(|i| call(i, "w", SIX[(i % 6) as usize], BOTO3_UA, "192.0.2.4"))
        .collect();
    assert!(an0908(&feed(&mut e, &many)).is_empty());
    // Disabled.
    let mut cfg = config();
    cfg.an0908.enabled = false;
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &trail_vpcs)).is_empty());
    assert_eq!(e.stats().an0908_out_of_scope, 0);
}

#[test]
fn api_list_and_origin_patterns_are_settings() {
    let mut cfg = config();
    cfg.an0908.api_list.ec2 = vec!["DescribeInstances".into(), "DescribeNat*".into()];
    cfg.an0908.api_list.route53 = vec!["ListHostedZones".into()];
    cfg.an0908.api_list.other.insert(
        "globalaccelerator.amazonaws.com".into(),
        vec!["ListAccelerators".into()],
    );
    cfg.an0908.origin.cli.push("my-shell/*".into());
    let mut e = engine(&cfg);
    let mut evs = vec![
        call(0, "u", "DescribeVpcs", CLI_UA, "192.0.2.8"),
        call(100, "u", "DescribeInstances", CLI_UA, "192.0.2.8"),
        call(200, "u", "DescribeNatGateways", "my-shell/1.0", "192.0.2.8"),
    ];
    let mut r53 = call(300, "u", "ListHostedZones", CLI_UA, "192.0.2.8");
    r53.event.provider = Some("route53.amazonaws.com".into());
    let mut ga = call(400, "u", "ListAccelerators", CLI_UA, "192.0.2.8");
    ga.event.provider = Some("GlobalAccelerator.amazonaws.com".into());
    evs.push(r53);
    evs.push(ga);
    // ELB kept its default list.
    evs.push(call(500, "u", "DescribeLoadBalancers", CLI_UA, "192.0.2.8"));
    let a = an0908(&feed(&mut e, &evs));
    let names: Vec<&str> = a.iter().map(|a| a.picket.matched_value.as_str()).collect();
    assert_eq!(
        names,
        [
            "DescribeInstances",
            "DescribeNatGateways",
            "ListHostedZones",
            "ListAccelerators",
            "DescribeLoadBalancers"
        ]
    );
    assert_eq!(detail(&a[1], "origin_pattern"), "my-shell/*");
}

// ------------------------------------------------------------- GCP ----------

#[test]
fn gcp_compute_calls_with_their_version_prefixes() {
    let mut e = engine(&config());
    let evs = [
        gcp_call(
            0,
            "alice@acme.com",
            "v1.compute.networks.list",
            GCLOUD_UA,
            None,
        ),
        gcp_call(
            100,
            "alice@acme.com",
            "beta.compute.subnetworks.aggregatedList",
            GCLOUD_UA,
            None,
        ),
        gcp_call(
            200,
            "alice@acme.com",
            "v1.compute.firewalls.list",
            GCLOUD_UA,
            Some("7"),
        ),
        gcp_call(
            300,
            "alice@acme.com",
            "v1.compute.instances.list",
            GCLOUD_UA,
            None,
        ),
    ];
    let a = an0908(&feed(&mut e, &evs));
    assert_eq!(a.len(), 3, "{a:#?}");
    assert_eq!(a[0].picket.matched_value, "v1.compute.networks.list");
    assert_eq!(a[0].severity(), Severity::Low);
    assert!(a[0].message.starts_with("alice@acme.com called compute.googleapis.com v1.compute.networks.list in GCP project acme-prod (europe-west1) from 203.0.113.9 with google-cloud-sdk"), "{}", a[0].message);
    assert_eq!(a[2].severity(), Severity::Medium);
    // Service agents are allowed by default; listed service accounts too.
    let mut e = engine(&config());
    let agent = "service-123456789@compute-system.iam.gserviceaccount.com";
    let sa = "deployer@acme-prod.iam.gserviceaccount.com";
    let py = "google-api-python-client/2.120.0 gdcl/2.120.0 gl-python/3.11.8";
    let mk = |who: &str| -> Vec<Event> {
        [
            "networks.list",
            "subnetworks.list",
            "firewalls.list",
            "routes.list",
            "addresses.list",
            "routers.list",
        ]
        .iter()
        .enumerate()
        .map(|(i, m)| gcp_call(i as i64, who, &format!("v1.compute.{m}"), py, None))
        .collect()
    };
    assert!(an0908(&feed(&mut e, &mk(agent))).is_empty());
    assert_eq!(e.stats().an0908_allowlisted, 6);
    let a = an0908(&feed(&mut e, &mk(sa)));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(detail(&a[0], "origin"), "sdk");
    let mut cfg = config();
    cfg.an0908.service_principal_allowlist.gcp_service_accounts =
        vec!["*@acme-prod.iam.gserviceaccount.com".into()];
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &mk(sa))).is_empty());
    assert_eq!(e.stats().an0908_allowlisted, 6);
    // The GCP console (a browser) is out of scope.
    let mut e = engine(&config());
    let console = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36,gzip(gfe)";
    feed(
        &mut e,
        &[gcp_call(
            0,
            "alice@acme.com",
            "v1.compute.networks.list",
            console,
            None,
        )],
    );
    assert_eq!(e.stats().an0908_out_of_scope, 1);
}

// ------------------------------------------------------------- state ----------

#[test]
fn burst_state_carries_over_a_reload_and_expires_on_ticks() {
    let evs: Vec<Event> = SIX
        .iter()
        .enumerate()
        .map(|(i, api)| call(i as i64, "r", api, BOTO3_UA, "192.0.2.5"))
        .collect();
    let mut old = engine(&config());
    assert!(an0908(&feed(&mut old, &evs[..5])).is_empty());
    let mut new = engine(&config());
    new.take_state_from(old.as_any_mut());
    let a = an0908(&feed(&mut new, &evs[5..]));
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].picket.related_events.len(), 5);
    // The open burst carries over too: the next call folds.
    let mut newer = engine(&config());
    newer.take_state_from(new.as_any_mut());
    let a = an0908(&feed(
        &mut newer,
        &[call(30, "r", "DescribeVpcs", BOTO3_UA, "192.0.2.5")],
    ));
    assert!(a.is_empty());
    assert_eq!(newer.stats().an0908_burst_calls_folded, 1);

    // A trail read 20 minutes late: a tick on the wall clock keeps the calls' window.
    let mut e = engine(&config());
    feed(&mut e, &evs[..5]);
    let mut out = Vec::new();
    e.on_tick(at(20 * 60), false, &mut out);
    assert_eq!(an0908(&feed(&mut e, &evs[5..])).len(), 1);
    // Quiet past the window (by the calls' clock): forgotten.
    let mut e = engine(&config());
    feed(&mut e, &evs[..5]);
    e.on_tick(at(5 + 300), false, &mut out);
    assert!(an0908(&feed(
        &mut e,
        &[call(306, "r", "DescribeVpcs", BOTO3_UA, "192.0.2.5")]
    ))
    .is_empty());
    let later: Vec<Event> = SIX[1..]
        .iter()
        .enumerate()
        .map(|(i, api)| call(307 + i as i64, "r", api, BOTO3_UA, "192.0.2.5"))
        .collect();
    // Five more distinct within 10 s of the 306 call: a fresh burst of six.
    let a = an0908(&feed(&mut e, &later));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].picket.related_events.len(), 5);
}

#[test]
fn burst_state_is_bounded_with_evictions_counted() {
    let mut e = engine(&config());
    let n = 16_384 + 3;
    let evs: Vec<Event> = (0..n)
        .map(|i| {
            let mut ev = call(
                i as i64 / 100,
                &format!("u{i}"),
                "DescribeVpcs",
                BOTO3_UA,
                "0.0.0.0",
            );
            ev.source = None;
            ev
        })
        .collect();
    feed(&mut e, &evs);
    assert_eq!(e.stats().state_evictions, 3);
}

// ------------------------------------------------------------- hosts ----------

fn exec(os: &str, exe: &str, args: &[&str]) -> Event {
    let name = exe.rsplit(['/', '\\']).next().unwrap_or(exe);
    Event::from_json_value(json!({
        "@timestamp": at(0).to_rfc3339(),
        "event.type": "start", "event.category": "process", "event.action": "exec",
        "host.name": "ops1", "host.os.type": os,
        "user.id": "1000", "user.name": "alice",
        "process.name": name, "process.executable": exe, "process.args": args,
        "process.command_line": args.join(" "),
    }))
    .expect("event")
}

/// A Windows process start as Sysmon/4688 give it: a command line, no argv.
fn win_exec(exe: &str, line: &str) -> Event {
    let name = exe.rsplit('\\').next().unwrap_or(exe);
    Event::from_json_value(json!({
        "@timestamp": at(0).to_rfc3339(),
        "event.type": "start", "event.category": "process", "event.action": "start",
        "host.name": "WS01", "host.os.type": "windows",
        "user.id": "S-1-5-21-1-2-3-1104", "user.name": "alice", "user.domain": "ACME",
        "process.name": name, "process.executable": exe, "process.command_line": line,
    }))
    .expect("event")
}

fn host_match(ev: &Event) -> Option<String> {
    let mut e = engine(&config());
    let a = an0908(&feed(&mut e, std::slice::from_ref(ev)));
    assert!(a.len() <= 1, "{a:#?}");
    a.first().map(|a| {
        assert_eq!(a.picket.mutable_element, "Cli");
        assert_eq!(a.severity(), Severity::Low);
        a.picket.matched_value.clone()
    })
}

#[test]
fn aws_cli_on_linux_and_macos_with_global_options_anywhere() {
    for (os, exe, args, want) in [
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "ec2", "describe-vpcs"],
            "aws ec2 describe-vpcs",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec![
                "aws",
                "ec2",
                "describe-subnets",
                "--region",
                "us-east-1",
                "--output",
                "json",
            ],
            "aws ec2 describe-subnets",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec![
                "aws",
                "--profile",
                "prod",
                "--region",
                "eu-west-1",
                "ec2",
                "describe-network-interfaces",
            ],
            "aws ec2 describe-network-interfaces",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "ec2", "--region=us-east-2", "describe-route-tables"],
            "aws ec2 describe-route-tables",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec![
                "aws",
                "--output",
                "text",
                "--query",
                "SecurityGroups[].GroupId",
                "ec2",
                "describe-security-groups",
            ],
            "aws ec2 describe-security-groups",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "ec2", "describe-vpc-peering-connections", "--debug"],
            "aws ec2 describe-vpc-peering-connections",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "elbv2", "describe-load-balancers"],
            "aws elbv2 describe-load-balancers",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "elb", "describe-load-balancers"],
            "aws elb describe-load-balancers",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "directconnect", "describe-connections"],
            "aws directconnect describe-connections",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "ec2", "describe-transit-gateway-attachments"],
            "aws ec2 describe-transit-gateway-attachments",
        ),
        (
            "linux",
            "/usr/local/bin/aws",
            vec!["aws", "EC2", "Describe-Vpcs"],
            "aws ec2 describe-vpcs",
        ),
        (
            "macos",
            "/opt/homebrew/bin/aws",
            vec![
                "/opt/homebrew/bin/aws",
                "ec2",
                "describe-nat-gateways",
                "--profile",
                "x",
            ],
            "aws ec2 describe-nat-gateways",
        ),
        // AWS CLI v1: a Python script, run by the interpreter its #! names.
        (
            "linux",
            "/usr/local/bin/aws",
            vec![
                "/usr/bin/python3",
                "/usr/local/bin/aws",
                "ec2",
                "describe-vpcs",
            ],
            "aws ec2 describe-vpcs",
        ),
        (
            "linux",
            "/usr/bin/python3",
            vec![
                "python3",
                "/home/alice/.local/bin/aws",
                "ec2",
                "describe-internet-gateways",
            ],
            "aws ec2 describe-internet-gateways",
        ),
        (
            "macos",
            "/usr/local/bin/aws",
            vec![
                "/usr/bin/env",
                "python3",
                "/usr/local/bin/aws",
                "ec2",
                "describe-subnets",
            ],
            "aws ec2 describe-subnets",
        ),
        (
            "linux",
            "/usr/bin/python3.11",
            vec!["python3.11", "-m", "awscli", "ec2", "describe-vpcs"],
            "aws ec2 describe-vpcs",
        ),
    ] {
        let ev = exec(os, exe, &args);
        assert_eq!(host_match(&ev).as_deref(), Some(want), "{args:?}");
    }
}

#[test]
fn azure_cli_and_gcloud_through_their_python_wrappers() {
    for (os, exe, args, want) in [
        (
            "linux",
            "/opt/az/bin/python3",
            vec![
                "/opt/az/bin/python3",
                "-Im",
                "azure.cli",
                "network",
                "vnet",
                "list",
            ],
            "az network vnet list",
        ),
        (
            "linux",
            "/opt/az/bin/python3",
            vec![
                "/opt/az/bin/python3",
                "-Im",
                "azure.cli",
                "network",
                "vnet",
                "subnet",
                "list",
                "-g",
                "rg1",
                "--vnet-name",
                "v1",
            ],
            "az network vnet subnet list",
        ),
        (
            "linux",
            "/opt/az/bin/python3",
            vec![
                "/opt/az/bin/python3",
                "-Im",
                "azure.cli",
                "network",
                "nsg",
                "rule",
                "list",
                "--nsg-name",
                "n",
                "-g",
                "rg",
            ],
            "az network nsg rule list",
        ),
        (
            "linux",
            "/opt/az/bin/python3",
            vec![
                "/opt/az/bin/python3",
                "-Im",
                "azure.cli",
                "-o",
                "table",
                "network",
                "nic",
                "list",
            ],
            "az network nic list",
        ),
        (
            "macos",
            "/opt/homebrew/Cellar/azure-cli/2.61.0/libexec/bin/python",
            vec![
                "/opt/homebrew/Cellar/azure-cli/2.61.0/libexec/bin/python",
                "-Im",
                "azure.cli",
                "network",
                "public-ip",
                "list",
            ],
            "az network public-ip list",
        ),
        (
            "linux",
            "/usr/bin/az",
            vec!["az", "network", "lb", "list"],
            "az network lb list",
        ),
        (
            "linux",
            "/usr/bin/python3",
            vec![
                "python3",
                "/usr/lib/google-cloud-sdk/lib/gcloud.py",
                "compute",
                "networks",
                "list",
            ],
            "gcloud compute networks list",
        ),
        (
            "linux",
            "/usr/bin/python3",
            vec![
                "/usr/bin/python3",
                "-S",
                "-W",
                "ignore",
                "/usr/lib/google-cloud-sdk/lib/gcloud.py",
                "compute",
                "networks",
                "subnets",
                "list",
                "--project",
                "acme",
            ],
            "gcloud compute networks subnets list",
        ),
        (
            "linux",
            "/usr/bin/python3",
            vec![
                "python3",
                "/usr/lib/google-cloud-sdk/lib/gcloud.py",
                "--project",
                "acme",
                "beta",
                "compute",
                "firewall-rules",
                "list",
                "--format",
                "json",
            ],
            "gcloud compute firewall-rules list",
        ),
        (
            "macos",
            "/usr/local/bin/python3.12",
            vec![
                "python3.12",
                "/Users/alice/google-cloud-sdk/lib/gcloud.py",
                "compute",
                "routes",
                "list",
            ],
            "gcloud compute routes list",
        ),
        (
            "macos",
            "/usr/local/bin/python3.12",
            vec![
                "python3.12",
                "/Users/alice/google-cloud-sdk/lib/gcloud.py",
                "compute",
                "addresses",
                "list",
                "--filter",
                "region:us-east1",
            ],
            "gcloud compute addresses list",
        ),
    ] {
        let ev = exec(os, exe, &args);
        assert_eq!(host_match(&ev).as_deref(), Some(want), "{args:?}");
    }
    // The shell wrappers' own exec events are left to the Python they start.
    for (exe, args) in [
        (
            "/usr/bin/az",
            vec![
                "/usr/bin/env",
                "bash",
                "/usr/bin/az",
                "network",
                "vnet",
                "list",
            ],
        ),
        (
            "/usr/bin/gcloud",
            vec!["/bin/sh", "/usr/bin/gcloud", "compute", "networks", "list"],
        ),
        (
            "/bin/bash",
            vec!["bash", "/usr/bin/az", "network", "vnet", "list"],
        ),
    ] {
        assert_eq!(host_match(&exec("linux", exe, &args)), None, "{args:?}");
    }
}

#[test]
fn windows_cli_and_powershell_command_lines() {
    let enc = analytics::common::encode_utf16le_base64(
        "Get-AzVirtualNetwork | Select-Object Name,AddressSpace",
    );
    for (exe, line, want) in [
        (
            r"C:\Program Files\Amazon\AWSCLIV2\aws.exe",
            r#""C:\Program Files\Amazon\AWSCLIV2\aws.exe" ec2 describe-vpcs --region us-east-1"#,
            "aws ec2 describe-vpcs",
        ),
        (
            r"C:\Program Files\Amazon\AWSCLIV2\aws.exe",
            r"aws  --profile prod ec2 describe-security-groups",
            "aws ec2 describe-security-groups",
        ),
        (
            r"C:\Program Files\Microsoft SDKs\Azure\CLI2\python.exe",
            r#""C:\Program Files\Microsoft SDKs\Azure\CLI2\python.exe" -IBm azure.cli network vnet list --output table"#,
            "az network vnet list",
        ),
        (
            r"C:\Program Files\Microsoft SDKs\Azure\CLI2\python.exe",
            r#""C:\Program Files\Microsoft SDKs\Azure\CLI2\python.exe" -IBm azure.cli network route-table list"#,
            "az network route-table list",
        ),
        (
            r"C:\Users\alice\AppData\Local\Google\Cloud SDK\google-cloud-sdk\platform\bundledpython\python.exe",
            r#""C:\Users\alice\AppData\Local\Google\Cloud SDK\google-cloud-sdk\platform\bundledpython\python.exe" "C:\Users\alice\AppData\Local\Google\Cloud SDK\google-cloud-sdk\lib\gcloud.py" compute routers list"#,
            "gcloud compute routers list",
        ),
        (
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            r#"powershell.exe -NoProfile -Command "Get-EC2Vpc -Region us-east-1 | Format-Table""#,
            "Get-EC2Vpc",
        ),
        (
            r"C:\Program Files\PowerShell\7\pwsh.exe",
            r#"pwsh -c "Get-EC2SecurityGroup -ProfileName prod""#,
            "Get-EC2SecurityGroup",
        ),
        (
            r"C:\Program Files\PowerShell\7\pwsh.exe",
            &format!("pwsh -NoP -EncodedCommand {enc}"),
            "Get-AzVirtualNetwork",
        ),
        (
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "powershell -c \"Get-GceNetwork -Project acme\"",
            "Get-GceNetwork",
        ),
    ] {
        let ev = win_exec(exe, line);
        assert_eq!(host_match(&ev).as_deref(), Some(want), "{line}");
    }
    // PowerShell on Linux and macOS too.
    let ev = exec(
        "linux",
        "/usr/bin/pwsh",
        &["pwsh", "-c", "Get-AzNetworkSecurityGroup"],
    );
    assert_eq!(
        host_match(&ev).as_deref(),
        Some("Get-AzNetworkSecurityGroup")
    );
    // The alert names the host user and host.
    let mut e = engine(&config());
    let a = an0908(&feed(
        &mut e,
        &[win_exec(
            r"C:\Program Files\Amazon\AWSCLIV2\aws.exe",
            "aws ec2 describe-vpcs",
        )],
    ));
    assert!(a[0].message.starts_with(r"ACME\alice (S-1-5-21-1-2-3-1104) ran `aws ec2 describe-vpcs` on WS01: `aws ec2 describe-vpcs` lists cloud networks"), "{}", a[0].message);
    assert_eq!(a[0].rule.id, "picket-AN0908");
}

#[test]
fn host_lookalikes_stay_silent() {
    for args in [
        vec!["aws", "s3", "ls"],
        vec!["aws", "ec2", "describe-instances"],
        vec!["aws", "ec2", "describe-regions"],
        vec!["aws", "sts", "get-caller-identity"],
        vec!["aws", "ec2"],
        vec!["aws", "--version"],
        vec!["aws", "configure", "list"],
    ] {
        assert_eq!(
            host_match(&exec("linux", "/usr/local/bin/aws", &args)),
            None,
            "{args:?}"
        );
    }
    for args in [
        vec!["/opt/az/bin/python3", "-Im", "azure.cli", "account", "show"],
        vec!["/opt/az/bin/python3", "-Im", "azure.cli", "network", "vnet"],
        vec!["/opt/az/bin/python3", "-Im", "azure.cli", "vm", "list"],
        vec!["/opt/az/bin/python3", "-c", "import azure.cli"],
        vec![
            "python3",
            "/usr/lib/google-cloud-sdk/lib/gcloud.py",
            "config",
            "list",
        ],
        vec![
            "python3",
            "/usr/lib/google-cloud-sdk/lib/gcloud.py",
            "compute",
            "instances",
            "list",
        ],
        vec!["python3", "tools/report.py", "ec2", "describe-vpcs"],
        vec!["python3", "-m", "http.server"],
    ] {
        assert_eq!(
            host_match(&exec("linux", "/usr/bin/python3", &args)),
            None,
            "{args:?}"
        );
    }
    for (exe, args) in [
        ("/usr/bin/grep", vec!["grep", "describe-vpcs", "notes.txt"]),
        ("/usr/bin/vim", vec!["vim", "/usr/local/bin/aws"]),
    ] {
        assert_eq!(host_match(&exec("linux", exe, &args)), None, "{args:?}");
    }
    for line in [
        "powershell -c \"Get-EC2Instance\"",
        "powershell -c \"Get-EC2VpcAttribute -VpcId vpc-1 -Attribute enableDnsSupport\"",
        "powershell -c \"Write-Host Get-EC2Vpcs\"",
    ] {
        let ev = win_exec(
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            line,
        );
        assert_eq!(host_match(&ev), None, "{line}");
    }
}

#[test]
fn host_cli_lists_are_settings() {
    let mut cfg = config();
    cfg.an0908.cli.aws_commands = vec!["ec2 describe-instances".into()];
    cfg.an0908.cli.aws_from_api_list = false;
    cfg.an0908.cli.az_commands = vec!["vm list".into()];
    cfg.an0908.cli.severity = Severity::Medium;
    let mut e = engine(&cfg);
    let evs = [
        exec(
            "linux",
            "/usr/local/bin/aws",
            &["aws", "ec2", "describe-instances"],
        ),
        exec(
            "linux",
            "/usr/local/bin/aws",
            &["aws", "ec2", "describe-vpcs"],
        ),
        exec(
            "linux",
            "/opt/az/bin/python3",
            &["python3", "-Im", "azure.cli", "vm", "list"],
        ),
        exec(
            "linux",
            "/opt/az/bin/python3",
            &["python3", "-Im", "azure.cli", "network", "vnet", "list"],
        ),
    ];
    let a = an0908(&feed(&mut e, &evs));
    let got: Vec<&str> = a.iter().map(|a| a.picket.matched_value.as_str()).collect();
    assert_eq!(got, ["aws ec2 describe-instances", "az vm list"]);
    assert!(a.iter().all(|a| a.severity() == Severity::Medium));
    // The API list feeds the AWS CLI spellings.
    let mut cfg = config();
    cfg.an0908.api_list.ec2 = vec!["DescribeInstances".into()];
    let mut e = engine(&cfg);
    let a = an0908(&feed(&mut e, &evs[..2]));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].picket.matched_value, "aws ec2 describe-instances");
    // Off.
    let mut cfg = config();
    cfg.an0908.cli.enabled = false;
    let mut e = engine(&cfg);
    assert!(an0908(&feed(&mut e, &evs)).is_empty());
}

#[test]
fn host_cli_discovery_feeds_the_time_window_correlation() {
    let mut e = engine(&config());
    let first = exec(
        "linux",
        "/usr/local/bin/aws",
        &["aws", "ec2", "describe-vpcs"],
    );
    let mut then = exec("linux", "/usr/bin/ssh", &["ssh", "admin@10.0.3.7"]);
    then.timestamp = at(60);
    let a = feed(&mut e, &[first, then]);
    let tw: Vec<&Alert> = a
        .iter()
        .filter(|a| a.picket.mutable_element == "TimeWindow")
        .collect();
    assert_eq!(tw.len(), 1, "{a:#?}");
    assert!(tw[0].message.contains("AN0908"), "{}", tw[0].message);
}
