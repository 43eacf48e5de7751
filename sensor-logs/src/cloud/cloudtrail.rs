//! One AWS CloudTrail record (the bytes of one JSON object) → one ECS [`Event`], in the
//! shape listed in the [`crate::cloud`] module docs.
//!
//! Accepts a record as CloudTrail writes it (S3 delivery objects, `lookup-events`,
//! CloudWatch Logs), wrapped in an EventBridge envelope (`detail-type` "… via
//! CloudTrail", the record in `detail`), or as Logstash re-shaped it (`@timestamp` in
//! place of `eventTime`, as the OTRF Security-Datasets are). Pure: touches nothing.

use super::{insert_some, parse_time, source_endpoint};
use crate::JsonMap;
use sensor_core::event::{ErrorInfo, Event, User, UserAgent};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// `event.dataset` of a CloudTrail event.
pub const DATASET: &str = "aws.cloudtrail";

/// The fields of a record Picket reads; all others are skipped by the parser.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    /// Logstash's copy of the time, in records it re-shaped (no `eventTime` left).
    #[serde(rename = "@timestamp")]
    logstash_time: Option<String>,
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    #[serde(rename = "eventSource")]
    event_source: Option<String>,
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    #[serde(rename = "eventCategory")]
    event_category: Option<String>,
    #[serde(rename = "awsRegion")]
    aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    #[serde(rename = "userAgent")]
    user_agent: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
    #[serde(rename = "recipientAccountId")]
    recipient_account_id: Option<String>,
    #[serde(rename = "readOnly")]
    read_only: Option<Flag>,
    #[serde(rename = "userIdentity")]
    user_identity: Option<Identity>,
    #[serde(rename = "requestParameters", borrow)]
    request_parameters: Option<&'a RawValue>,
    /// An EventBridge envelope's kind ("AWS API Call via CloudTrail").
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    /// An EventBridge envelope's record.
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Identity {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "principalId")]
    principal_id: Option<String>,
    arn: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    #[serde(rename = "accessKeyId")]
    access_key_id: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "invokedBy")]
    invoked_by: Option<String>,
    #[serde(rename = "sessionContext")]
    session_context: Option<SessionContext>,
}

#[derive(Deserialize)]
struct SessionContext {
    #[serde(rename = "sessionIssuer")]
    session_issuer: Option<Issuer>,
}

#[derive(Deserialize)]
struct Issuer {
    #[serde(rename = "type")]
    kind: Option<String>,
    arn: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
}

/// `true`/`false`, as a JSON boolean or (after some re-shaping) a string.
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
    let text = super::record_text(bytes).map_err(|e| format!("not a CloudTrail record: {e}"))?;
    let record: Record<'_> =
        serde_json::from_str(text).map_err(|e| format!("not a CloudTrail record: {e}"))?;
    let record = match (&record.detail, &record.detail_type) {
        (Some(detail), Some(kind)) => {
            if !kind.ends_with("via CloudTrail") {
                return Err(format!(
                    "an EventBridge event of detail-type {kind:?}, not a CloudTrail record"
                ));
            }
            serde_json::from_str::<Record<'_>>(detail.get())
                .map_err(|e| format!("detail: not a CloudTrail record: {e}"))?
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
    let Some(action) = r.event_name else {
        return Err("eventName missing".into());
    };
    let identity = r.user_identity.unwrap_or_default();
    let user_name = short_name(&identity);
    let failed = r.error_code.is_some();
    let account = r
        .recipient_account_id
        .or_else(|| identity.account_id.clone());

    // Sized up front: growing a map rehashes every key in it.
    let mut aws = JsonMap::with_capacity(5);
    let mut ui = JsonMap::with_capacity(7);
    insert_some(&mut ui, "type", identity.kind);
    insert_some(&mut ui, "arn", identity.arn.clone());
    insert_some(&mut ui, "account_id", identity.account_id);
    insert_some(&mut ui, "principal_id", identity.principal_id);
    insert_some(&mut ui, "access_key_id", identity.access_key_id);
    insert_some(&mut ui, "invoked_by", identity.invoked_by);
    if let Some(issuer) = identity.session_context.and_then(|c| c.session_issuer) {
        let mut si = JsonMap::with_capacity(4);
        insert_some(&mut si, "type", issuer.kind);
        insert_some(&mut si, "arn", issuer.arn);
        insert_some(&mut si, "user_name", issuer.user_name);
        insert_some(&mut si, "account_id", issuer.account_id);
        if !si.is_empty() {
            let mut sc = JsonMap::with_capacity(1);
            sc.insert("session_issuer".into(), si.into());
            ui.insert("session_context".into(), sc.into());
        }
    }
    if !ui.is_empty() {
        aws.insert("user_identity".into(), ui.into());
    }
    insert_some(&mut aws, "event_type", r.event_type);
    insert_some(&mut aws, "event_category", r.event_category);
    if let Some(Flag(v)) = r.read_only {
        aws.insert("read_only".into(), Value::Bool(v));
    }
    if let Some(raw) = r.request_parameters {
        aws.insert(
            "request_parameters".into(),
            Value::String(compact_json(raw.get())),
        );
    }
    let mut cloudtrail = JsonMap::with_capacity(1);
    cloudtrail.insert("cloudtrail".into(), aws.into());
    let mut other = JsonMap::with_capacity(1);
    other.insert("aws".into(), cloudtrail.into());

    let mut event = Event {
        timestamp: time,
        event: super::api_call_meta(action, r.event_id, r.event_source, failed, DATASET),
        cloud: Some(super::cloud_part("aws", account, r.aws_region)),
        user: User {
            id: identity.arn,
            name: user_name,
            ..User::default()
        },
        user_agent: r.user_agent.map(|ua| UserAgent {
            original: Some(ua),
            ..UserAgent::default()
        }),
        source: r.source_ip_address.map(source_endpoint),
        error: (r.error_code.is_some() || r.error_message.is_some()).then(|| ErrorInfo {
            code: r.error_code,
            message: r.error_message,
            ..ErrorInfo::default()
        }),
        other: other.into(),
        ..Event::default()
    };
    event.picket.collector = Some(collector.into());
    Ok(event)
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
        Some("AWSService") => id.invoked_by.clone(),
        Some("AssumedRole") | Some("FederatedUser") => arn_tail().or(id.user_name.clone()),
        _ => id.user_name.clone().or_else(arn_tail),
    }
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
    }
}
