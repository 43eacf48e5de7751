//! The shape of `eslogger` JSON: the few parts of Apple's `es_message_t` rendering that
//! Picket reads, typed so that a changed type is noticed rather than guessed at.
//!
//! eslogger is documented as "NOT API": its JSON may change between macOS releases. The
//! types below therefore split every field Picket reads into two kinds:
//!
//! - **essential** fields (plain `Option<T>`): without them there is no correct event
//!   (`event_type`, `time`, the subject process's `audit_token.pid`, `ppid` and
//!   `executable.path`, and `args` of an exec). A wrong type fails the whole line; a
//!   missing one is reported by the parser. Either way the line is schema drift and is
//!   skipped.
//! - **supplementary** fields ([`Field<T>`]): useful, but an event without them is still
//!   worth analysing (tty, cwd, signing ids, responsible pid, ...). A wrong type there is
//!   counted as field drift and the event is kept without that field.
//!
//! Everything else in a message (stat blocks, env, fds, entitlements, ...) is skipped
//! unread by serde, so new or changed fields there cannot break parsing.

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// `ES_EVENT_TYPE_NOTIFY_EXEC`.
pub const EVENT_TYPE_EXEC: u32 = 9;
/// `ES_EVENT_TYPE_NOTIFY_FORK`.
pub const EVENT_TYPE_FORK: u32 = 11;
/// `ES_EVENT_TYPE_NOTIFY_EXIT`.
pub const EVENT_TYPE_EXIT: u32 = 15;

/// A supplementary field: absent, JSON `null`, a value of the expected type, or a value
/// of another type (kept as the serde error text, for the drift report).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Field<T> {
    /// Not in the object.
    #[default]
    Absent,
    /// Present as `null`.
    Null,
    /// Present with the expected type.
    Value(T),
    /// Present with another type.
    Invalid(String),
}

impl<T> Field<T> {
    /// The value, if present with the expected type.
    pub(crate) fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// True when present with an unexpected type.
    #[cfg(test)]
    pub(crate) fn is_invalid(&self) -> bool {
        matches!(self, Field::Invalid(_))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Buffer the (small) value, then try the expected type: a mismatch is recorded,
        // not propagated, so one changed supplementary field does not cost the event.
        let value = serde_json::Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Field::Null);
        }
        Ok(match T::deserialize(value) {
            Ok(v) => Field::Value(v),
            Err(e) => Field::Invalid(e.to_string()),
        })
    }
}

/// One eslogger line (`es_message_t`).
#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    /// Message version (9, 10, 11 in the recorded samples).
    #[serde(default)]
    pub version: Field<u32>,
    /// `es_event_type_t` number.
    pub event_type: Option<u32>,
    /// Sequence number across every event delivered to this client: gaps mean loss.
    #[serde(default)]
    pub global_seq_num: Field<u64>,
    /// When the event happened, RFC 3339 with nanoseconds.
    pub time: Option<String>,
    /// The process that caused the event (for exec: the image before the exec; for fork:
    /// the parent; for exit: the exiting process).
    pub process: Option<EsProcess>,
    /// The event body, keyed by the event's short name.
    pub event: Option<EventBody>,
}

/// Just the version and sequence number, for lines whose other fields do not parse.
#[derive(Debug, Deserialize)]
pub(crate) struct SeqOnly {
    #[serde(default)]
    pub version: Field<u32>,
    #[serde(default)]
    pub global_seq_num: Field<u64>,
}

/// `es_message_t.event`: only the bodies Picket uses; others are skipped unread.
#[derive(Debug, Deserialize)]
pub(crate) struct EventBody {
    pub exec: Option<ExecBody>,
    pub fork: Option<ForkBody>,
    pub exit: Option<ExitBody>,
}

/// `es_event_exec_t`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExecBody {
    /// The new image.
    pub target: Option<EsProcess>,
    /// argv.
    pub args: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub cwd: Field<PathOnly>,
}

/// `es_event_fork_t`.
#[derive(Debug, Deserialize)]
pub(crate) struct ForkBody {
    /// The new process.
    pub child: Option<EsProcess>,
}

/// `es_event_exit_t`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExitBody {
    /// `wait(2)` status word.
    #[serde(default)]
    pub stat: Field<i64>,
}

/// `es_process_t`.
#[derive(Debug, Deserialize)]
pub(crate) struct EsProcess {
    pub audit_token: Option<AuditToken>,
    pub ppid: Option<u32>,
    pub executable: Option<PathOnly>,
    #[serde(default)]
    pub original_ppid: Field<u32>,
    #[serde(default)]
    pub responsible_audit_token: Field<AuditToken>,
    #[serde(default)]
    pub group_id: Field<u32>,
    #[serde(default)]
    pub session_id: Field<u32>,
    #[serde(default)]
    pub tty: Field<TtyFile>,
    #[serde(default)]
    pub signing_id: Field<String>,
    #[serde(default)]
    pub team_id: Field<String>,
    #[serde(default)]
    pub is_platform_binary: Field<bool>,
    #[serde(default)]
    pub start_time: Field<String>,
}

/// An `es_file_t` of which only the path is read.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PathOnly {
    pub path: Option<String>,
}

/// The controlling terminal's `es_file_t`: path and device number.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TtyFile {
    pub path: Option<String>,
    pub stat: Option<TtyStat>,
}

/// The part of `struct stat` read for a terminal.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TtyStat {
    pub st_rdev: Option<i64>,
}

/// `audit_token_t`, the identity of a process at one point in its life.
///
/// eslogger writes it either as an object (`{"pid": .., "ruid": .., ...}`, message versions
/// 9 and 11 in the samples) or as the eight raw 32-bit words of the token (version 10),
/// which `audit_token_to_*` read as: auid, euid, egid, ruid, rgid, pid, asid, pidversion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AuditToken {
    pub auid: Option<u32>,
    pub euid: Option<u32>,
    pub egid: Option<u32>,
    pub ruid: Option<u32>,
    pub rgid: Option<u32>,
    pub pid: Option<u32>,
    pub asid: Option<u32>,
    pub pidversion: Option<u32>,
}

impl<'de> Deserialize<'de> for AuditToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AuditTokenVisitor)
    }
}

struct AuditTokenVisitor;

impl<'de> Visitor<'de> for AuditTokenVisitor {
    type Value = AuditToken;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an audit token: an object of ids or an array of 8 unsigned 32-bit words")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AuditToken, A::Error> {
        let mut words = [0u32; 8];
        for (i, slot) in words.iter_mut().enumerate() {
            *slot = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(i, &self))?;
        }
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(9, &self));
        }
        let [auid, euid, egid, ruid, rgid, pid, asid, pidversion] = words;
        Ok(AuditToken {
            auid: Some(auid),
            euid: Some(euid),
            egid: Some(egid),
            ruid: Some(ruid),
            rgid: Some(rgid),
            pid: Some(pid),
            asid: Some(asid),
            pidversion: Some(pidversion),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AuditToken, A::Error> {
        let mut t = AuditToken::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "auid" => &mut t.auid,
                "euid" => &mut t.euid,
                "egid" => &mut t.egid,
                "ruid" => &mut t.ruid,
                "rgid" => &mut t.rgid,
                "pid" => &mut t.pid,
                "asid" => &mut t.asid,
                "pidversion" => &mut t.pidversion,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_token_reads_both_encodings() {
        let arr: AuditToken =
            serde_json::from_str("[501,502,20,503,21,19745,100013,35165]").expect("array");
        assert_eq!(arr.auid, Some(501));
        assert_eq!(arr.euid, Some(502));
        assert_eq!(arr.egid, Some(20));
        assert_eq!(arr.ruid, Some(503));
        assert_eq!(arr.rgid, Some(21));
        assert_eq!(arr.pid, Some(19745));
        assert_eq!(arr.asid, Some(100013));
        assert_eq!(arr.pidversion, Some(35165));
        let obj: AuditToken =
            serde_json::from_str(r#"{"pid":7,"ruid":501,"new_field":{"x":1},"euid":0}"#)
                .expect("object");
        assert_eq!(
            (obj.pid, obj.ruid, obj.euid, obj.auid),
            (Some(7), Some(501), Some(0), None)
        );
        assert!(serde_json::from_str::<AuditToken>("[1,2,3]").is_err());
        assert!(serde_json::from_str::<AuditToken>("[1,2,3,4,5,6,7,8,9]").is_err());
        assert!(serde_json::from_str::<AuditToken>(r#"{"pid":"7"}"#).is_err());
        assert!(serde_json::from_str::<AuditToken>(r#"{"pid":-7}"#).is_err());
        assert!(serde_json::from_str::<AuditToken>("\"token\"").is_err());
    }

    #[test]
    fn field_separates_absent_null_value_and_wrong_type() {
        #[derive(Deserialize)]
        struct S {
            #[serde(default)]
            a: Field<u32>,
        }
        let parse = |s: &str| serde_json::from_str::<S>(s).expect("json").a;
        assert_eq!(parse("{}"), Field::Absent);
        assert_eq!(parse(r#"{"a":null}"#), Field::Null);
        assert_eq!(parse(r#"{"a":5}"#), Field::Value(5));
        assert!(parse(r#"{"a":"5"}"#).is_invalid());
    }
}
