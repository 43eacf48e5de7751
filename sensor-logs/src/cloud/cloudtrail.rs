//! One AWS CloudTrail record (the bytes of one JSON object) → one ECS [`Event`], in the
//! shape listed in the [`crate::cloud`] module docs.
//!
//! Accepts a record as CloudTrail writes it (S3 delivery objects, `lookup-events`,
//! CloudWatch Logs), wrapped in an EventBridge envelope (`detail-type` "… via
//! CloudTrail", the record in `detail`), or as Logstash re-shaped it (`@timestamp` in
//! place of `eventTime`, as the OTRF Security-Datasets are). Pure: touches nothing.

use super::json::{Reader, Res};
use super::{parse_time, source_endpoint};
use crate::JsonMap;
use sensor_core::event::{ErrorInfo, Event, User, UserAgent};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::thread::LocalKey;

/// `event.dataset` of a CloudTrail event.
pub const DATASET: &str = "aws.cloudtrail";

/// The fields of a record Picket reads; all others are checked and skipped. Read by
/// [`Record::read`]; the serde derive is the reference it is tested against
/// ([`reference_event`]).
#[derive(Deserialize, Debug, Default, PartialEq)]
struct Record<'a> {
    #[serde(rename = "eventTime", borrow)]
    event_time: Option<Cow<'a, str>>,
    /// Logstash's copy of the time, in records it re-shaped (no `eventTime` left).
    #[serde(rename = "@timestamp", borrow)]
    logstash_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventID", borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventType", borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "eventCategory", borrow)]
    event_category: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: Option<Cow<'a, str>>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip_address: Option<Cow<'a, str>>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: Option<Cow<'a, str>>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(rename = "errorMessage", borrow)]
    error_message: Option<Cow<'a, str>>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(rename = "readOnly")]
    read_only: Option<Flag>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<Identity<'a>>,
    #[serde(
        rename = "requestParameters",
        borrow,
        default,
        deserialize_with = "raw_text"
    )]
    request_parameters: Option<&'a str>,
    /// An EventBridge envelope's kind ("AWS API Call via CloudTrail").
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<Cow<'a, str>>,
    /// An EventBridge envelope's record.
    #[serde(borrow, default, deserialize_with = "raw_text")]
    detail: Option<&'a str>,
}

#[derive(Deserialize, Debug, Default, PartialEq)]
struct Identity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow)]
    principal_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow)]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize, Debug, Default, PartialEq)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    session_issuer: Option<Issuer<'a>>,
}

#[derive(Deserialize, Debug, Default, PartialEq)]
struct Issuer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<Cow<'a, str>>,
}

/// A value's JSON text (`null` is none), as the serde reference reads it.
fn raw_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Ok(Option::<&'de RawValue>::deserialize(d)?.map(RawValue::get))
}

/// Records a field's value, refusing a second copy of the field (as serde's derive
/// does: which copy would count is anyone's guess).
fn once<T>(seen: &mut u32, bit: u32, key: &str, slot: &mut T, value: T) -> Res<()> {
    if *seen & (1 << bit) != 0 {
        return Err(format!("duplicate field `{key}`"));
    }
    *seen |= 1 << bit;
    *slot = value;
    Ok(())
}

/// An object read by `read`, or `null`; an error inside it names `key` first.
fn nullable<'a, T>(
    r: &mut Reader<'a>,
    key: &str,
    read: impl FnOnce(&mut Reader<'a>) -> Res<T>,
) -> Res<Option<T>> {
    if r.null()? {
        return Ok(None);
    }
    read(r).map(Some).map_err(|e| format!("{key}: {e}"))
}

impl<'a> Record<'a> {
    /// The record in `bytes` (one JSON object, nothing after it but whitespace).
    fn read(bytes: &'a [u8]) -> Res<Record<'a>> {
        let mut r = Reader::new(bytes);
        let rec = Record::read_object(&mut r)?;
        r.end()?;
        Ok(rec)
    }

    /// The record at the start of `bytes`, and where it ends.
    fn read_prefix(bytes: &'a [u8]) -> Res<(Record<'a>, usize)> {
        let mut r = Reader::new(bytes);
        let rec = Record::read_object(&mut r)?;
        Ok((rec, r.pos()))
    }

    fn read_object(r: &mut Reader<'a>) -> Res<Record<'a>> {
        let mut rec = Record::default();
        let mut seen = 0;
        r.object(|r, key| {
            let s = &mut seen;
            match &*key {
                "eventTime" => once(s, 0, &key, &mut rec.event_time, r.opt_string(&key)?),
                "@timestamp" => once(s, 1, &key, &mut rec.logstash_time, r.opt_string(&key)?),
                "eventName" => once(s, 2, &key, &mut rec.event_name, r.opt_string(&key)?),
                "eventSource" => once(s, 3, &key, &mut rec.event_source, r.opt_string(&key)?),
                "eventID" => once(s, 4, &key, &mut rec.event_id, r.opt_string(&key)?),
                "eventType" => once(s, 5, &key, &mut rec.event_type, r.opt_string(&key)?),
                "eventCategory" => once(s, 6, &key, &mut rec.event_category, r.opt_string(&key)?),
                "awsRegion" => once(s, 7, &key, &mut rec.aws_region, r.opt_string(&key)?),
                "sourceIPAddress" => {
                    once(s, 8, &key, &mut rec.source_ip_address, r.opt_string(&key)?)
                }
                "userAgent" => once(s, 9, &key, &mut rec.user_agent, r.opt_string(&key)?),
                "errorCode" => once(s, 10, &key, &mut rec.error_code, r.opt_string(&key)?),
                "errorMessage" => once(s, 11, &key, &mut rec.error_message, r.opt_string(&key)?),
                "recipientAccountId" => once(
                    s,
                    12,
                    &key,
                    &mut rec.recipient_account_id,
                    r.opt_string(&key)?,
                ),
                "readOnly" => once(s, 13, &key, &mut rec.read_only, r.opt_flag(&key)?.map(Flag)),
                "userIdentity" => {
                    let id = nullable(r, &key, Identity::read)?;
                    once(s, 14, &key, &mut rec.user_identity, id)
                }
                "requestParameters" => once(s, 15, &key, &mut rec.request_parameters, r.opt_raw()?),
                "detail-type" => once(s, 16, &key, &mut rec.detail_type, r.opt_string(&key)?),
                "detail" => once(s, 17, &key, &mut rec.detail, r.opt_raw()?),
                _ => r.skip(),
            }
        })?;
        Ok(rec)
    }
}

impl<'a> Identity<'a> {
    fn read(r: &mut Reader<'a>) -> Res<Identity<'a>> {
        let mut id = Identity::default();
        let mut seen = 0;
        r.object(|r, key| {
            let s = &mut seen;
            match &*key {
                "type" => once(s, 0, &key, &mut id.kind, r.opt_string(&key)?),
                "principalId" => once(s, 1, &key, &mut id.principal_id, r.opt_string(&key)?),
                "arn" => once(s, 2, &key, &mut id.arn, r.opt_string(&key)?),
                "accountId" => once(s, 3, &key, &mut id.account_id, r.opt_string(&key)?),
                "accessKeyId" => once(s, 4, &key, &mut id.access_key_id, r.opt_string(&key)?),
                "userName" => once(s, 5, &key, &mut id.user_name, r.opt_string(&key)?),
                "invokedBy" => once(s, 6, &key, &mut id.invoked_by, r.opt_string(&key)?),
                "sessionContext" => {
                    let c = nullable(r, &key, SessionContext::read)?;
                    once(s, 7, &key, &mut id.session_context, c)
                }
                _ => r.skip(),
            }
        })?;
        Ok(id)
    }
}

impl<'a> SessionContext<'a> {
    fn read(r: &mut Reader<'a>) -> Res<SessionContext<'a>> {
        let mut c = SessionContext::default();
        let mut seen = 0;
        r.object(|r, key| match &*key {
            "sessionIssuer" => {
                let i = nullable(r, &key, Issuer::read)?;
                once(&mut seen, 0, &key, &mut c.session_issuer, i)
            }
            _ => r.skip(),
        })?;
        Ok(c)
    }
}

impl<'a> Issuer<'a> {
    fn read(r: &mut Reader<'a>) -> Res<Issuer<'a>> {
        let mut i = Issuer::default();
        let mut seen = 0;
        r.object(|r, key| {
            let s = &mut seen;
            match &*key {
                "type" => once(s, 0, &key, &mut i.kind, r.opt_string(&key)?),
                "arn" => once(s, 1, &key, &mut i.arn, r.opt_string(&key)?),
                "accountId" => once(s, 2, &key, &mut i.account_id, r.opt_string(&key)?),
                "userName" => once(s, 3, &key, &mut i.user_name, r.opt_string(&key)?),
                _ => r.skip(),
            }
        })?;
        Ok(i)
    }
}

/// `true`/`false`, as a JSON boolean or (after some re-shaping) a string.
#[derive(Debug, PartialEq)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                match v {
                    "true" => Ok(Flag(true)),
                    "false" => Ok(Flag(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One record's bytes as an event, or why it is malformed (naming the field).
/// `collector` is `picket.collector` (`replay-cloudtrail`, `cloudtrail`).
pub fn cloudtrail_event(bytes: &[u8], collector: &'static str) -> Result<Event, String> {
    let record = Record::read(bytes).map_err(|e| format!("not a CloudTrail record: {e}"))?;
    unwrap_envelope(record, collector, |detail| Record::read(detail.as_bytes()))
}

/// The record at the start of `bytes` (which may go on past it) and its length, when
/// it is whole, valid JSON: reading a record finds its end, so the splitter need not
/// scan it first. `None` when it is not (cut short by the buffer, over-long, or not
/// JSON): the splitter then finds its end and [`cloudtrail_event`] says what is wrong.
pub fn cloudtrail_prefix(
    bytes: &[u8],
    collector: &'static str,
) -> Option<(usize, Result<Event, String>)> {
    let (record, len) = Record::read_prefix(bytes).ok()?;
    let event = unwrap_envelope(record, collector, |detail| Record::read(detail.as_bytes()));
    Some((len, event))
}

/// [`cloudtrail_event`] with serde_json's derive reading the record: the reference the
/// reader is checked against (tests and the fuzz target), never used by Picket.
#[doc(hidden)]
pub fn reference_event(bytes: &[u8], collector: &'static str) -> Result<Event, String> {
    let read = |text| serde_json::from_str(text).map_err(|e| e.to_string());
    let text = super::record_text(bytes).map_err(|e| format!("not a CloudTrail record: {e}"))?;
    let record = read(text).map_err(|e| format!("not a CloudTrail record: {e}"))?;
    unwrap_envelope(record, collector, read)
}

/// An EventBridge envelope's `detail` read as the record, or the record itself.
fn unwrap_envelope<'a>(
    record: Record<'a>,
    collector: &'static str,
    read: impl Fn(&'a str) -> Res<Record<'a>>,
) -> Result<Event, String> {
    let record = match (&record.detail, &record.detail_type) {
        (Some(detail), Some(kind)) => {
            if !kind.ends_with("via CloudTrail") {
                return Err(format!(
                    "an EventBridge event of detail-type {kind:?}, not a CloudTrail record"
                ));
            }
            read(detail).map_err(|e| format!("detail: not a CloudTrail record: {e}"))?
        }
        _ => record,
    };
    into_event(record, collector)
}

fn into_event(r: Record<'_>, collector: &'static str) -> Result<Event, String> {
    let time = match (&r.event_time, &r.logstash_time) {
        (Some(t), _) => parse_time(t).map_err(|e| format!("eventTime: {e}"))?,
        (None, Some(t)) => parse_time(t).map_err(|e| format!("@timestamp: {e}"))?,
        (None, None) => return Err("eventTime missing".into()),
    };
    let Some(action) = own(r.event_name) else {
        return Err("eventName missing".into());
    };
    let identity = r.user_identity.unwrap_or_default();
    let user_name = short_name(&identity);
    let failed = r.error_code.is_some();
    let account = own(r.recipient_account_id).or_else(|| own(identity.account_id.clone()));

    let text = |v: Option<Cow<'_, str>>| v.map(|v| Value::String(v.into_owned()));
    let issuer = identity.session_context.and_then(|c| c.session_issuer);
    let session_context = issuer
        .map(|i| {
            shaped(
                &SESSION_ISSUER,
                ["type", "arn", "user_name", "account_id"],
                [
                    text(i.kind),
                    text(i.arn),
                    text(i.user_name),
                    text(i.account_id),
                ],
            )
        })
        .filter(|si| !si.is_empty())
        .map(|si| shaped(&SESSION_CONTEXT, ["session_issuer"], [Some(si.into())]).into());
    let user_identity = shaped(
        &USER_IDENTITY,
        [
            "type",
            "arn",
            "account_id",
            "principal_id",
            "access_key_id",
            "invoked_by",
            "session_context",
        ],
        [
            text(identity.kind),
            text(identity.arn.clone()),
            text(identity.account_id),
            text(identity.principal_id),
            text(identity.access_key_id),
            text(identity.invoked_by),
            session_context,
        ],
    );
    let aws = shaped(
        &CLOUDTRAIL,
        [
            "user_identity",
            "event_type",
            "event_category",
            "read_only",
            "request_parameters",
        ],
        [
            (!user_identity.is_empty()).then(|| user_identity.into()),
            text(r.event_type),
            text(r.event_category),
            r.read_only.map(|Flag(v)| Value::Bool(v)),
            r.request_parameters
                .map(|raw| Value::String(compact_json(raw))),
        ],
    );
    let cloudtrail = shaped(&AWS, ["cloudtrail"], [Some(aws.into())]);
    let other = shaped(&OTHER, ["aws"], [Some(cloudtrail.into())]);

    let mut event = Event {
        timestamp: time,
        event: super::api_call_meta(
            action,
            own(r.event_id),
            own(r.event_source),
            failed,
            DATASET,
        ),
        cloud: Some(super::cloud_part("aws", account, own(r.aws_region))),
        user: User {
            id: own(identity.arn),
            name: user_name,
            ..User::default()
        },
        user_agent: r.user_agent.map(|ua| UserAgent {
            original: Some(ua.into_owned()),
            ..UserAgent::default()
        }),
        source: r.source_ip_address.map(|a| source_endpoint(a.into_owned())),
        error: (r.error_code.is_some() || r.error_message.is_some()).then(|| ErrorInfo {
            code: own(r.error_code),
            message: own(r.error_message),
            ..ErrorInfo::default()
        }),
        other: other.into(),
        ..Event::default()
    };
    event.picket.collector = Some(collector.into());
    Ok(event)
}

/// One map kind's templates, by which of its keys are present (a bit each).
type Templates = RefCell<Vec<Option<JsonMap>>>;

thread_local! {
    static OTHER: Templates = const { RefCell::new(Vec::new()) };
    static AWS: Templates = const { RefCell::new(Vec::new()) };
    static CLOUDTRAIL: Templates = const { RefCell::new(Vec::new()) };
    static USER_IDENTITY: Templates = const { RefCell::new(Vec::new()) };
    static SESSION_CONTEXT: Templates = const { RefCell::new(Vec::new()) };
    static SESSION_ISSUER: Templates = const { RefCell::new(Vec::new()) };
}

/// The map of `keys` whose values are present, in that order, built without hashing a
/// key: a clone of this thread's template of the same keys (a map copies its hashes),
/// then the values put in place. Inserting hashed every key with SipHash; cloning cut
/// a record's instructions by about 4%.
fn shaped<const N: usize>(
    templates: &'static LocalKey<Templates>,
    keys: [&str; N],
    values: [Option<Value>; N],
) -> JsonMap {
    let mask = values
        .iter()
        .enumerate()
        .fold(0usize, |m, (i, v)| m | (usize::from(v.is_some()) << i));
    let mut map = templates.with(|cell| {
        let mut all = cell.borrow_mut();
        if all.is_empty() {
            all.resize(1 << N, None);
        }
        all[mask]
            .get_or_insert_with(|| {
                let mut t = JsonMap::with_capacity(mask.count_ones() as usize);
                for (i, key) in keys.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        t.insert((*key).to_string(), Value::Null);
                    }
                }
                t
            })
            .clone()
    });
    for (slot, value) in map.values_mut().zip(values.into_iter().flatten()) {
        *slot = value;
    }
    map
}

/// `user.name`: the short name of the principal (see the module docs of `cloud`).
fn short_name(id: &Identity) -> Option<String> {
    let arn_tail = || {
        id.arn
            .as_deref()
            .and_then(|a| a.rsplit_once('/'))
            .map(|(_, tail)| tail.to_string())
            .filter(|t| !t.is_empty())
    };
    match id.kind.as_deref() {
        Some("Root") => Some("root".into()),
        Some("AWSService") => own(id.invoked_by.clone()),
        Some("AssumedRole") | Some("FederatedUser") => {
            arn_tail().or_else(|| own(id.user_name.clone()))
        }
        _ => own(id.user_name.clone()).or_else(arn_tail),
    }
}

fn own(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(Cow::into_owned)
}

/// JSON text without the whitespace between tokens, so the same parameters read the
/// same whether the record was pretty-printed or not.
pub(crate) fn compact_json(raw: &str) -> String {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return raw.to_string();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            out.push(b);
            if b == b'\\' {
                if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                }
                i += 2;
                continue;
            }
            if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
        i += 1;
    }
    // Only ASCII whitespace outside strings was removed: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::event::FieldValue;

    #[test]
    fn compacting_keeps_strings_whole() {
        assert_eq!(
            compact_json("{ \"a b\" : [ 1 , \"x\\\" y\" ],\n \"c\": {} }"),
            r#"{"a b":[1,"x\" y"],"c":{}}"#
        );
    }

    #[test]
    fn an_eventbridge_envelope_unwraps_to_its_detail() {
        let rec = r#"{"eventTime":"2024-01-02T03:04:05Z","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","userIdentity":{"type":"Root","arn":"arn:aws:iam::123456789012:root","accountId":"123456789012"},"sourceIPAddress":"AWS Internal"}"#;
        let env = format!(
            r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{rec}}}"#
        );
        let a = cloudtrail_event(rec.as_bytes(), "t").expect("record");
        let b = cloudtrail_event(env.as_bytes(), "t").expect("envelope");
        assert_eq!(a, b);
        assert_eq!(a.user.name.as_deref(), Some("root"));
        assert_eq!(a.field("source.address"), FieldValue::Str("AWS Internal"));
        assert_eq!(a.field("source.ip"), FieldValue::Missing);
        assert_eq!(a.field("cloud.account.id"), FieldValue::Str("123456789012"));
        let other = r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#;
        let err = cloudtrail_event(other.as_bytes(), "t").expect_err("not CloudTrail");
        assert!(err.contains("EC2 Instance State-change"), "{err}");
    }

    #[test]
    fn aws_cloudtrail_holds_the_fields_present_in_the_documented_order() {
        let full = r#"{"eventTime":"2024-01-02T03:04:05Z","eventName":"DescribeVpcs","readOnly":true,
            "eventType":"AwsApiCall","eventCategory":"Management","requestParameters":{ "a" : [1, "x y"] },
            "userIdentity":{"invokedBy":"i","accessKeyId":"K","principalId":"P","accountId":"1","arn":"arn:aws:sts::1:assumed-role/R/s","type":"AssumedRole",
              "sessionContext":{"sessionIssuer":{"accountId":"1","userName":"R","arn":"arn:aws:iam::1:role/R","type":"Role"}}}}"#;
        let some = r#"{"eventTime":"2024-01-02T03:04:05Z","eventName":"DescribeVpcs",
            "userIdentity":{"arn":"arn:aws:iam::1:user/u","sessionContext":{"sessionIssuer":{}}}}"#;
        let none = r#"{"eventTime":"2024-01-02T03:04:05Z","eventName":"DescribeVpcs"}"#;
        let aws = |rec: &str| {
            let line = cloudtrail_event(rec.as_bytes(), "t")
                .expect("record")
                .to_json_line();
            let v: Value = serde_json::from_str(&line).expect("json");
            serde_json::to_string(&v["aws"]).expect("text")
        };
        // Twice each: the second is built from this thread's template.
        for _ in 0..2 {
            assert_eq!(
                aws(full),
                concat!(
                    r#"{"cloudtrail":{"user_identity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","#,
                    r#""account_id":"1","principal_id":"P","access_key_id":"K","invoked_by":"i","#,
                    r#""session_context":{"session_issuer":{"type":"Role","arn":"arn:aws:iam::1:role/R","#,
                    r#""user_name":"R","account_id":"1"}}},"event_type":"AwsApiCall","#,
                    r#""event_category":"Management","read_only":true,"request_parameters":"{\"a\":[1,\"x y\"]}"}}"#
                )
            );
            assert_eq!(
                aws(some),
                r#"{"cloudtrail":{"user_identity":{"arn":"arn:aws:iam::1:user/u"}}}"#
            );
            assert_eq!(aws(none), r#"{"cloudtrail":{}}"#);
        }
    }

    #[test]
    fn a_record_without_its_time_or_name_is_malformed_naming_the_field() {
        let e = cloudtrail_event(br#"{"eventName":"X"}"#, "t").expect_err("no time");
        assert_eq!(e, "eventTime missing");
        let e =
            cloudtrail_event(br#"{"eventTime":"2024-01-02T03:04:05Z"}"#, "t").expect_err("no name");
        assert_eq!(e, "eventName missing");
        let e = cloudtrail_event(br#"{"eventTime":"yesterday","eventName":"X"}"#, "t")
            .expect_err("bad time");
        assert!(e.starts_with("eventTime: "), "{e}");
        let e = cloudtrail_event(br#"{"eventTime":5,"eventName":"X"}"#, "t").expect_err("type");
        assert!(e.contains("not a CloudTrail record"), "{e}");
        assert!(e.contains("eventTime: expected a string"), "{e}");
        let nested =
            br#"{"eventName":"X","userIdentity":{"sessionContext":{"sessionIssuer":{"arn":7}}}}"#;
        let e = cloudtrail_event(nested, "t").expect_err("nested type");
        assert!(
            e.contains("userIdentity: sessionContext: sessionIssuer: arn: expected a string"),
            "{e}"
        );
        let e = cloudtrail_event(br#"{"userIdentity":[]}"#, "t").expect_err("not an object");
        assert!(e.contains("userIdentity: expected an object"), "{e}");
    }
}
