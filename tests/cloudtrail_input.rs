//! `[inputs.cloudtrail]` under the real `picket run`: CloudTrail S3 objects land in a
//! directory (written aside and renamed in, as `aws s3 sync` does) while Picket runs;
//! Picket is killed with SIGKILL in the middle of an object and started again. Every
//! record is a single aws-cli DescribeVpcs call, which gives one AN0908 alert (folding
//! off), so the alert log shows whether a record was read twice or missed.
//!
//! The records are TrailDiscover's recorded DescribeVpcs record (read in place from
//! `../shared/fixtures`), each with its own `eventID`, time and IAM user.

mod common;

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

use std::time::Duration;

const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/cloud/aws/traildiscover/events/EC2/DescribeVpcs.json.cloudtrail"
);

fn template() -> Value {
    let text = std::fs::read_to_string(TEMPLATE).unwrap_or_else(|e| {
        panic!("{TEMPLATE}: {e} (the shared fixtures must be beside the repository)")
    });
    let records: Value = serde_json::from_str(&text).expect("fixture JSON");
    records[0].clone()
}

/// Writes object `k` of `n` records, aside first, then renamed into `dir`.
fn land_object(dir: &Path, template: &Value, k: usize, n: usize) {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let mut r = template.clone();
            r["eventID"] = format!("pk-test-{k:03}-{i:05}").into();
            // A principal of its own per record, so no record joins a burst (which
            // would fold the single-call alerts this test counts).
            let user = format!("analyst-{k}-{i}");
            r["userIdentity"]["userName"] = user.clone().into();
            r["userIdentity"]["arn"] = format!("arn:aws:iam::111111111111:user/{user}").into();
            r["eventTime"] = format!("2026-12-01T10:{:02}:{:02}Z", k % 60, (i / 60) % 60).into();
            r
        })
        .collect();
    let name = format!("111111111111_CloudTrail_us-east-1_20261201T10{k:02}Z_test{k:03}.json");
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, serde_json::json!({ "Records": records }).to_string()).expect("write");
    std::fs::rename(&tmp, dir.join(name)).expect("rename into place");
}

/// The event ids the single-call alerts name, in the order written.
fn alerted_ids(log: &Path) -> Vec<String> {
    common::logged_alerts(log)
        .into_iter()
        .filter(|a| a["picket"]["analytic"] == "AN0908")
        .filter(|a| a["picket"]["mutable_element"] == "ApiList")
        .filter_map(|a| {
            a["picket"]["evidence"][0]["event_id"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

fn wait_for(log: &Path, n: usize, within: Duration) -> Vec<String> {
    common::poll_until(n, within, || alerted_ids(log))
}

#[test]
fn a_sigkilled_cloudtrail_input_resumes_mid_object_with_every_record_once() {
    const PER_OBJECT: usize = 1500;
    let template = template();
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("trail");
    std::fs::create_dir_all(&trail).expect("trail dir");
    let alerts = dir.path().join("alerts.jsonl");
    let config = dir.path().join("picket.toml");
    std::fs::write(
        &config,
        format!(
            r#"[general]
state_dir = "{state}"
[collector]
host = false
[inputs.cloudtrail]
enabled = true
directory = "{trail}"
poll_interval_secs = 1
[sinks.file]
path = "{alerts}"
[analytics]
fold_window_secs = 0
"#,
            state = dir.path().join("state").display(),
            trail = trail.display(),
            alerts = alerts.display(),
        ),
    )
    .expect("write config");

    land_object(&trail, &template, 1, PER_OBJECT);
    let mut first = common::start_picket_run(&config);
    // Killed partway through the first object.
    let seen = wait_for(&alerts, PER_OBJECT / 3, Duration::from_secs(60));
    first.kill().expect("SIGKILL");
    let out = first.wait_with_output().expect("reap");
    let at_kill = alerted_ids(&alerts).len();
    assert!(
        seen.len() >= PER_OBJECT / 3 && at_kill < PER_OBJECT,
        "the kill came inside the first object ({at_kill} of {PER_OBJECT} alerted):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // More objects land while Picket is down and after it is back.
    land_object(&trail, &template, 2, PER_OBJECT);
    let second = common::start_picket_run(&config);
    land_object(&trail, &template, 3, PER_OBJECT);
    let total = 3 * PER_OBJECT;
    wait_for(&alerts, total, Duration::from_secs(120));
    // SAFETY: signalling a child we started and have not reaped.
    unsafe { libc::kill(second.id() as libc::pid_t, libc::SIGTERM) };
    let out = second.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Everything written, up to the clean stop.
    let ids = alerted_ids(&alerts);

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<&&str> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        twice.is_empty(),
        "records alerted twice: {twice:?}\n{stderr}"
    );
    assert_eq!(
        counts.len(),
        total,
        "every record once (killed after {at_kill}):\n{stderr}"
    );
}
