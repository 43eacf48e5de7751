//! One Google Cloud audit-log LogEntry (the bytes of one JSON object, `protoPayload`
//! an `AuditLog`) → one ECS [`Event`], in the shape listed in the [`crate::cloud`]
//! module docs. LogEntries as `gcloud logging read --format=json` prints them and as a
//! log sink writes them (the JSON mapping of the LogEntry proto: camelCase keys).
//! Pure: touches nothing.

use super::{insert_some, parse_time, source_endpoint};
use crate::JsonMap;
use sensor_core::event::{ErrorInfo, Event, User, UserAgent};
use serde::Deserialize;
use serde_json::Value;

/// `event.dataset` of a GCP audit event.
pub const DATASET: &str = "gcp.audit";

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "insertId")]
    insert_id: Option<String>,
    #[serde(rename = "logName")]
    log_name: Option<String>,
    timestamp: Option<String>,
    resource: Option<Resource>,
    #[serde(rename = "protoPayload")]
    proto: Option<AuditLog>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(rename = "type")]
    kind: Option<String>,
    labels: Option<Labels>,
}

#[derive(Deserialize)]
struct Labels {
    project_id: Option<String>,
    location: Option<String>,
    zone: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize)]
struct AuditLog {
    #[serde(rename = "serviceName")]
    service_name: Option<String>,
    #[serde(rename = "methodName")]
    method_name: Option<String>,
    #[serde(rename = "resourceName")]
    resource_name: Option<String>,
    status: Option<Status>,
    #[serde(rename = "authenticationInfo")]
    authentication_info: Option<AuthenticationInfo>,
    #[serde(rename = "requestMetadata")]
    request_metadata: Option<RequestMetadata>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct AuthenticationInfo {
    #[serde(rename = "principalEmail")]
    principal_email: Option<String>,
    #[serde(rename = "principalSubject")]
    principal_subject: Option<String>,
    #[serde(rename = "serviceAccountKeyName")]
    service_account_key_name: Option<String>,
    #[serde(rename = "serviceAccountDelegationInfo")]
    service_account_delegation_info: Option<Value>,
}

#[derive(Deserialize)]
struct RequestMetadata {
    #[serde(rename = "callerIp")]
    caller_ip: Option<String>,
    #[serde(rename = "callerSuppliedUserAgent")]
    caller_supplied_user_agent: Option<String>,
}

/// One LogEntry's bytes as an event, or why it is malformed (naming the field).
/// `collector` is `picket.collector` (`replay-gcp-audit`).
pub fn gcp_audit_event(bytes: &[u8], collector: &'static str) -> Result<Event, String> {
    let text = super::record_text(bytes).map_err(|e| format!("not a LogEntry: {e}"))?;
    let entry: Entry = serde_json::from_str(text).map_err(|e| format!("not a LogEntry: {e}"))?;
    let Some(time) = &entry.timestamp else {
        return Err("timestamp missing".into());
    };
    let time = parse_time(time).map_err(|e| format!("timestamp: {e}"))?;
    let Some(proto) = entry.proto else {
        return Err("protoPayload.methodName missing (no protoPayload)".into());
    };
    let Some(method) = proto.method_name else {
        return Err("protoPayload.methodName missing".into());
    };
    let (labels, resource_type) = match entry.resource {
        Some(r) => (r.labels, r.kind),
        None => (None, None),
    };
    let (project, region) = match labels {
        Some(l) => (l.project_id, l.location.or(l.zone).or(l.region)),
        None => (None, None),
    };
    let project = project.or_else(|| entry.log_name.as_deref().and_then(project_of_log_name));
    let code = proto.status.as_ref().and_then(|s| s.code).unwrap_or(0);
    let status_message = proto.status.and_then(|s| s.message);
    let (principal, delegation, subject, key) = match proto.authentication_info {
        Some(a) => (
            a.principal_email,
            a.service_account_delegation_info,
            a.principal_subject,
            a.service_account_key_name,
        ),
        None => (None, None, None, None),
    };
    let (caller_ip, agent) = match proto.request_metadata {
        Some(m) => (m.caller_ip, m.caller_supplied_user_agent),
        None => (None, None),
    };

    let mut audit = JsonMap::new();
    insert_some(&mut audit, "method_name", Some(method.clone()));
    insert_some(&mut audit, "service_name", proto.service_name.clone());
    insert_some(&mut audit, "resource_name", proto.resource_name);
    let mut auth = JsonMap::new();
    insert_some(&mut auth, "principal_email", principal.clone());
    insert_some(&mut auth, "principal_subject", subject);
    insert_some(&mut auth, "service_account_key_name", key);
    if let Some(d) = delegation.filter(|d| !d.is_null()) {
        auth.insert("service_account_delegation_info".into(), d);
    }
    if !auth.is_empty() {
        audit.insert("authentication_info".into(), auth.into());
    }
    if code != 0 || status_message.is_some() {
        let mut status = JsonMap::new();
        status.insert("code".into(), code.into());
        insert_some(&mut status, "message", status_message.clone());
        audit.insert("status".into(), status.into());
    }
    insert_some(&mut audit, "resource_type", resource_type);
    insert_some(&mut audit, "log_name", entry.log_name);
    let mut gcp = JsonMap::new();
    gcp.insert("audit".into(), audit.into());
    let mut other = JsonMap::new();
    other.insert("gcp".into(), gcp.into());

    let failed = code != 0;
    let mut event = Event {
        timestamp: time,
        event: super::api_call_meta(method, entry.insert_id, proto.service_name, failed, DATASET),
        cloud: Some(super::cloud_part("gcp", project, region)),
        user: User {
            id: principal.clone(),
            name: principal,
            ..User::default()
        },
        user_agent: agent.map(|ua| UserAgent {
            original: Some(ua),
            ..UserAgent::default()
        }),
        source: caller_ip.map(source_endpoint),
        error: failed.then(|| ErrorInfo {
            code: Some(code.to_string()),
            message: status_message,
            ..ErrorInfo::default()
        }),
        other: other.into(),
        ..Event::default()
    };
    event.picket.collector = Some(collector.into());
    Ok(event)
}

/// `projects/PROJECT/logs/…` → `PROJECT`.
fn project_of_log_name(name: &str) -> Option<String> {
    let rest = name.strip_prefix("projects/")?;
    let project = rest.split('/').next()?;
    (!project.is_empty()).then(|| project.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_core::event::FieldValue;

    #[test]
    fn the_project_comes_from_the_log_name_when_the_resource_has_none() {
        let e = br#"{"insertId":"i1","logName":"projects/p-1/logs/cloudaudit.googleapis.com%2Factivity","timestamp":"2024-05-01T10:00:00.123456789Z","protoPayload":{"methodName":"m","serviceName":"s","requestMetadata":{"callerIp":"private"}}}"#;
        let ev = gcp_audit_event(e, "t").expect("entry");
        assert_eq!(ev.field("cloud.account.id"), FieldValue::Str("p-1"));
        assert_eq!(ev.field("source.address"), FieldValue::Str("private"));
        assert_eq!(ev.field("event.outcome"), FieldValue::Str("success"));
        assert_eq!(ev.timestamp.timestamp_subsec_nanos(), 123_456_789);
    }

    #[test]
    fn an_entry_without_its_time_or_method_is_malformed_naming_the_field() {
        let e = gcp_audit_event(br#"{"protoPayload":{"methodName":"m"}}"#, "t");
        assert_eq!(e.expect_err("no time"), "timestamp missing");
        let e = gcp_audit_event(
            br#"{"timestamp":"2024-05-01T10:00:00Z","protoPayload":{"serviceName":"s"}}"#,
            "t",
        );
        assert_eq!(e.expect_err("no method"), "protoPayload.methodName missing");
    }
}
