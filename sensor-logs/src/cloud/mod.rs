//! # Cloud audit logs: AWS CloudTrail and Google Cloud audit logs
//!
//! Readers of cloud API audit records, each record one ECS [`Event`]: `picket replay
//! --format cloudtrail|gcp-audit FILE|DIR...` ([`CloudReplay`]) and the live
//! `[inputs.cloudtrail]` directory input ([`CloudTrailInput`]). Records are found in a
//! stream without building a JSON tree ([`reader`]), so a 100 MB delivery object is
//! read one record at a time.
//!
//! May touch: the files and directories it is pointed at (read only), the
//! `[inputs.cloudtrail]` state file, and directory notifications for its directory.
//! It produces events, never verdicts.
//!
//! ## The event of one record (the contract the analytics rely on)
//!
//! One CloudTrail record or one GCP LogEntry is one event:
//!
//! | field | CloudTrail | GCP audit log |
//! |---|---|---|
//! | `event.kind` | `event` | `event` |
//! | `event.category` | `["api"]` | `["api"]` |
//! | `event.type` | `["info"]` (never a process start) | `["info"]` |
//! | `event.action` | `eventName` | `protoPayload.methodName` |
//! | `event.provider` | `eventSource` | `protoPayload.serviceName` |
//! | `event.outcome` | `failure` when `errorCode` is present, else `success` | `failure` when `protoPayload.status.code` is non-zero, else `success` |
//! | `event.id` | `eventID` | `insertId` |
//! | `event.dataset` | `aws.cloudtrail` | `gcp.audit` |
//! | `@timestamp` | `eventTime` (Logstash-shaped records: `@timestamp`) | `timestamp` |
//! | `cloud.provider` | `aws` | `gcp` |
//! | `cloud.account.id` | `recipientAccountId`, else `userIdentity.accountId` | `resource.labels.project_id`, else the project of `logName` (`projects/P/logs/…`) |
//! | `cloud.region` | `awsRegion` | `resource.labels.location`, else `zone`, else `region` |
//! | `user.id` | `userIdentity.arn` | `authenticationInfo.principalEmail` |
//! | `user.name` | IAM user: `userName`; assumed role and federated user: the last segment of the ARN (the role session name); root: `root`; AWS service: `invokedBy`; others: `userName`, else the last ARN segment | `authenticationInfo.principalEmail` |
//! | `user_agent.original` | `userAgent` | `requestMetadata.callerSuppliedUserAgent` |
//! | `source.ip` | `sourceIPAddress` when it is an IP address | `requestMetadata.callerIp` when it is an IP address |
//! | `source.address` | `sourceIPAddress` otherwise (`ec2.amazonaws.com`, `AWS Internal`) | `callerIp` otherwise (`private`, `gce-internal-ip`) |
//! | `error.code`, `error.message` | `errorCode`, `errorMessage` | `status.code` (as text, `"7"`), `status.message` |
//! | `picket.collector` | `replay-cloudtrail`, `cloudtrail` (the live input) | `replay-gcp-audit` |
//!
//! An address is an IP address when Rust's parser takes it: an anonymised
//! `253.252.51.07` (a leading zero) is not, and stays in `source.address`.
//!
//! Kept under `aws.cloudtrail.*` (snake_case, present when the record has them):
//! `user_identity.{type,arn,account_id,principal_id,access_key_id,invoked_by}`,
//! `user_identity.session_context.session_issuer.{type,arn,user_name,account_id}`,
//! `event_type`, `event_category`, `read_only` (a boolean), and `request_parameters`:
//! the request's JSON as text, with the whitespace between tokens removed (so a
//! pretty-printed and a compact copy of a record read the same).
//!
//! Kept under `gcp.audit.*`: `method_name`, `service_name`, `resource_name`,
//! `authentication_info.{principal_email,principal_subject,service_account_key_name}`,
//! `authentication_info.service_account_delegation_info` (the JSON array, when there
//! is one), `status.{code,message}` (when the call failed or has a message),
//! `resource_type`, `log_name`.
//!
//! Every other field of a record is not kept. A record missing `eventTime` (and
//! `@timestamp`) or `eventName`, or a LogEntry missing `timestamp` or
//! `protoPayload.methodName`, is malformed: counted and skipped, the reason naming the
//! field. Each event is marked with its object and record ([`mark_origin`]): `record`
//! is the 1-based index of the record in its object (malformed ones count), so an
//! alert's evidence names it.
//!
//! ## Objects
//!
//! A file (an "object") holds records as a CloudTrail S3 delivery object
//! (`{"Records":[…]}`), a JSON array of records (TrailDiscover's
//! `*.json.cloudtrail`, `gcloud logging read --format=json`), a Cloud Logging
//! `{"entries":[…]}` answer, or NDJSON (one record per line: CloudWatch Logs and
//! EventBridge exports, log sinks); an EventBridge envelope (`detail-type` "AWS API Call
//! via CloudTrail") unwraps to its `detail`. Gzip is recognised by its magic bytes,
//! whatever the name. A record over the size cap (1 MiB by default) is counted as
//! malformed and skipped.
//!
//! In a directory, objects are found recursively by name ([`is_object_name`]: `.json`,
//! `.jsonl`, `.ndjson`, `.cloudtrail`, each optionally `.gz`, or `.gz`; never a
//! dot-file, a CloudTrail digest, or a partial download such as `aws s3 sync`'s
//! `NAME.json.gz.1a2B3c4D` or a `.tmp`/`.part` file).
//!
//! **Order** ([`order_objects`]): by the time in a CloudTrail object name
//! (`…_20240818T1515Z_…`), else by the time of the object's first record, else not
//! timed; timed objects first, in time order (equal times by path), then the untimed
//! ones by path.
//!
//! [`mark_origin`]: sensor_core::replay::mark_origin

pub mod cloudtrail;
pub mod dir_input;
pub mod gcp;
mod json;
pub mod reader;
pub mod replay;

pub use cloudtrail::cloudtrail_event;
pub use dir_input::{CloudTrailInput, CloudTrailInputConfig, CloudTrailStartAt, ObjectState};
pub use gcp::gcp_audit_event;
pub use reader::{
    decode_object, open_object, Item, Parsed, RecordSplitter, SplitError, DEFAULT_MAX_RECORD_BYTES,
};
pub use replay::CloudReplay;

use crate::JsonMap;
use chrono::{DateTime, NaiveDate, Utc};
use sensor_core::event::{Cloud, CloudAccount, Endpoint, Event, EventMeta};
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};

/// Which cloud's audit records a reader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudFormat {
    /// AWS CloudTrail records.
    CloudTrail,
    /// Google Cloud audit-log LogEntries.
    GcpAudit,
}

impl CloudFormat {
    /// One record's bytes as an event, or why it is malformed.
    pub fn parse(self, record: &[u8], collector: &'static str) -> Result<Event, String> {
        match self {
            CloudFormat::CloudTrail => cloudtrail_event(record, collector),
            CloudFormat::GcpAudit => gcp_audit_event(record, collector),
        }
    }

    /// The record at the start of `bytes` and its length, when it can be read without
    /// the splitter finding its end first (see [`cloudtrail::cloudtrail_prefix`]).
    fn parse_prefix(
        self,
        bytes: &[u8],
        collector: &'static str,
    ) -> Option<(usize, Result<Event, String>)> {
        match self {
            CloudFormat::CloudTrail => cloudtrail::cloudtrail_prefix(bytes, collector),
            CloudFormat::GcpAudit => None,
        }
    }

    /// `picket.collector` of a replay.
    pub fn replay_collector(self) -> &'static str {
        match self {
            CloudFormat::CloudTrail => "replay-cloudtrail",
            CloudFormat::GcpAudit => "replay-gcp-audit",
        }
    }

    /// The keys of the wrapper objects whose array holds the records.
    fn wrappers(self) -> &'static [&'static [u8]] {
        match self {
            CloudFormat::CloudTrail => &[b"Records"],
            CloudFormat::GcpAudit => &[b"entries"],
        }
    }
}

/// Why an object could not be read to its end.
#[derive(Debug)]
pub enum ObjectError {
    /// It could not be opened or read (a disk or mount problem, not its contents).
    Io(io::Error),
    /// Its contents are not records (corrupt gzip, cut short): the records before the
    /// fault were read.
    Malformed(String),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectError::Io(e) => write!(f, "{e}"),
            ObjectError::Malformed(why) => f.write_str(why),
        }
    }
}

/// How reading one object went.
#[derive(Debug)]
pub struct ObjectRead {
    /// The index of the last record reached (skipped ones included).
    pub records: u64,
    /// True when the callback asked to stop before the end.
    pub stopped: bool,
    /// Why the object ended early, if it did.
    pub error: Option<ObjectError>,
}

/// Reads one object: `on(index, outcome)` for every record after the first `skip`
/// (those are stepped over without being parsed), in order, `index` 1-based. `on`
/// returns false to stop. A record over `max_record_bytes`, or something that is not a
/// record, is passed on as malformed with the reason.
pub fn read_object(
    path: &Path,
    format: CloudFormat,
    collector: &'static str,
    max_record_bytes: usize,
    skip: u64,
    on: &mut dyn FnMut(u64, Result<Event, String>) -> bool,
) -> ObjectRead {
    let src = match open_object(path) {
        Ok(s) => s,
        Err(e) => {
            return ObjectRead {
                records: 0,
                stopped: false,
                error: Some(ObjectError::Io(e)),
            }
        }
    };
    read_stream(src, format, collector, max_record_bytes, skip, on)
}

/// [`read_object`] on an object already opened (and decompressed, see
/// [`reader::decode_object`]).
pub fn read_stream(
    src: impl io::Read,
    format: CloudFormat,
    collector: &'static str,
    max_record_bytes: usize,
    skip: u64,
    on: &mut dyn FnMut(u64, Result<Event, String>) -> bool,
) -> ObjectRead {
    let mut done = ObjectRead {
        records: 0,
        stopped: false,
        error: None,
    };
    let mut split = RecordSplitter::new(src, max_record_bytes, format.wrappers());
    let mut parse = |bytes: &[u8]| format.parse_prefix(bytes, collector);
    loop {
        // Records to skip are stepped over unread.
        let next = if done.records < skip {
            split.next().map(|item| item.map(Parsed::Item))
        } else {
            split.next_parsed(&mut parse)
        };
        let item = match next {
            Ok(Some(Parsed::Record(outcome))) => {
                done.records += 1;
                if !on(done.records, outcome) {
                    done.stopped = true;
                    return done;
                }
                continue;
            }
            Ok(Some(Parsed::Item(item))) => item,
            Ok(None) => return done,
            Err(SplitError::Io(e)) => {
                done.error = Some(match e.kind() {
                    io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof => {
                        ObjectError::Malformed(format!("cannot be decompressed: {e}"))
                    }
                    _ => ObjectError::Io(e),
                });
                return done;
            }
            Err(e @ SplitError::Truncated(_)) => {
                done.error = Some(ObjectError::Malformed(e.to_string()));
                return done;
            }
        };
        done.records += 1;
        if done.records <= skip {
            continue;
        }
        let outcome = match item {
            Item::Object(bytes) => format.parse(bytes, collector),
            Item::Oversized(n) => Err(format!(
                "a record of {n} bytes, over the {max_record_bytes}-byte cap"
            )),
            Item::NotObject(what) => Err(format!("not a record: {what}")),
        };
        if !on(done.records, outcome) {
            done.stopped = true;
            return done;
        }
    }
}

/// True for a file name a directory reader takes as an object (see the module docs).
pub fn is_object_name(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("cloudtrail-digest") {
        return false;
    }
    let base = lower.strip_suffix(".gz").unwrap_or(&lower);
    base != lower
        || [".json", ".jsonl", ".ndjson", ".cloudtrail"]
            .iter()
            .any(|ext| base.ends_with(ext))
}

/// Every object under `root` (recursively; a file is itself), unordered. Symbolic
/// links to directories are not followed.
pub fn list_objects(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !std::fs::metadata(root)?.is_dir() {
        out.push(root.to_path_buf());
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_str().is_some_and(is_object_name)
                && (kind.is_file() || path.is_file())
            {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// The time in a CloudTrail object name: `…_YYYYMMDDTHHMMZ_…`.
pub fn object_name_time(path: &Path) -> Option<DateTime<Utc>> {
    let name = path.file_name()?.to_str()?.as_bytes();
    // `_` + 8 digits + `T` + 4 digits + `Z`, then `_` or `.`.
    name.windows(16).find_map(|w| {
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        let shaped = w[0] == b'_'
            && digits(1..9)
            && w[9] == b'T'
            && digits(10..14)
            && w[14] == b'Z'
            && matches!(w[15], b'_' | b'.');
        if !shaped {
            return None;
        }
        let n = |r: std::ops::Range<usize>| {
            std::str::from_utf8(&w[r])
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
        };
        let date = NaiveDate::from_ymd_opt(n(1..5)? as i32, n(5..7)?, n(7..9)?)?;
        let time = date.and_hms_opt(n(10..12)?, n(12..14)?, 0)?;
        Some(time.and_utc())
    })
}

/// The time of an object's first record that parses (among its first 16), for
/// ordering objects whose names have none.
pub fn first_record_time(path: &Path, format: CloudFormat) -> Option<DateTime<Utc>> {
    let mut found = None;
    let mut seen = 0;
    read_object(
        path,
        format,
        "order",
        DEFAULT_MAX_RECORD_BYTES,
        0,
        &mut |_, outcome| {
            seen += 1;
            if let Ok(event) = outcome {
                found = Some(event.timestamp);
                return false;
            }
            seen < 16
        },
    );
    found
}

/// `objects` in reading order (see the module docs): by name time, else first-record
/// time, timed before untimed, ties by path. Duplicates are dropped.
pub fn order_objects(objects: Vec<PathBuf>, format: CloudFormat) -> Vec<PathBuf> {
    let mut keyed: Vec<(Option<DateTime<Utc>>, PathBuf)> = objects
        .into_iter()
        .map(|p| {
            let t = object_name_time(&p).or_else(|| first_record_time(&p, format));
            (t, p)
        })
        .collect();
    keyed.sort_by(|(ta, pa), (tb, pb)| (ta.is_none(), ta, pa).cmp(&(tb.is_none(), tb, pb)));
    keyed.dedup_by(|a, b| a.1 == b.1);
    keyed.into_iter().map(|(_, p)| p).collect()
}

/// A record's bytes as text: checked as UTF-8 once, so the JSON parser need not check
/// every string again (about a tenth of a record's cost).
pub(crate) fn record_text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 (at byte {})", e.valid_up_to()))
}

pub(crate) fn insert_some(map: &mut JsonMap, key: &str, value: Option<String>) {
    if let Some(v) = value {
        map.insert(key.into(), Value::String(v));
    }
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({text:?}: {e})"))
}

/// `source.ip` for an IP address, else `source.address`.
pub(crate) fn source_endpoint(address: String) -> Endpoint {
    if address.parse::<std::net::IpAddr>().is_ok() {
        Endpoint {
            ip: Some(address),
            ..Endpoint::default()
        }
    } else {
        Endpoint {
            address: Some(address),
            ..Endpoint::default()
        }
    }
}

/// `event.*` of one API call (the contract above): an `api` `info` event.
fn api_call_meta(
    action: String,
    id: Option<String>,
    provider: Option<String>,
    failed: bool,
    dataset: &str,
) -> EventMeta {
    EventMeta {
        kind: Some("event".into()),
        category: vec!["api".into()],
        kind_type: vec!["info".into()],
        action: Some(action),
        id,
        provider,
        outcome: Some(if failed { "failure" } else { "success" }.into()),
        dataset: Some(dataset.into()),
        ..EventMeta::default()
    }
}

/// `cloud.*` of one API call.
fn cloud_part(provider: &str, account: Option<String>, region: Option<String>) -> Cloud {
    Cloud {
        provider: Some(provider.into()),
        account: account.map(|id| CloudAccount {
            id: Some(id),
            ..CloudAccount::default()
        }),
        region,
        ..Cloud::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_chosen_and_timed_as_documented() {
        for yes in [
            "123456789012_CloudTrail_us-east-1_20240818T1515Z_abcDEF.json.gz",
            "a.json",
            "a.JSON",
            "x.jsonl",
            "x.ndjson.gz",
            "DescribeVpcs.json.cloudtrail",
            "000000.gz",
        ] {
            assert!(is_object_name(yes), "{yes}");
        }
        for no in [
            "123456789012_CloudTrail-Digest_us-east-1_T_20240818T1515Z.json.gz",
            "a.json.gz.1a2B3c4D",
            "a.json.tmp",
            "a.json.part",
            ".a.json",
            "LICENSE",
            "README.md",
        ] {
            assert!(!is_object_name(no), "{no}");
        }
        let t = object_name_time(Path::new(
            "/x/123456789012_CloudTrail_us-east-1_20240818T1515Z_abcDEF.json.gz",
        ));
        assert_eq!(
            t.map(|t| t.to_rfc3339()),
            Some("2024-08-18T15:15:00+00:00".into())
        );
        assert_eq!(object_name_time(Path::new("a_20241318T1515Z_b.json")), None);
        assert_eq!(object_name_time(Path::new("plain.json")), None);
    }
}
