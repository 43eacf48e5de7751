//! Field paths resolved once, at compile time, to direct accessors.
//!
//! `Event::field(path)` matches the path string on every call; rules and analytics
//! resolve their paths once into a [`FieldRef`], whose lookup is a plain struct access.
//! Other modelled paths fall back to `Event::field`; paths outside the model are
//! resolved once to the preserved map they are read from (`ExtraPath`).

use sensor_core::event::{Event, ExtraPath, FieldValue};
use serde_json::Value;

/// A resolved ECS field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// `event.type`.
    EventType,
    /// `event.category`.
    EventCategory,
    /// `event.action`.
    EventAction,
    /// `host.os.type`.
    HostOsType,
    /// `process.pid`.
    ProcessPid,
    /// `process.name`.
    ProcessName,
    /// `process.executable`.
    ProcessExecutable,
    /// `process.args`.
    ProcessArgs,
    /// `process.args_count`.
    ProcessArgsCount,
    /// `process.command_line`.
    ProcessCommandLine,
    /// `process.pe.original_file_name`.
    ProcessPeOriginalFileName,
    /// `process.parent.name`.
    ParentName,
    /// `process.parent.executable`.
    ParentExecutable,
    /// `process.parent.args`.
    ParentArgs,
    /// `process.parent.command_line`.
    ParentCommandLine,
    /// `user.id`.
    UserId,
    /// `user.name`.
    UserName,
    /// Any other path, looked up through `Event::field`.
    Other(Box<OtherPath>),
}

/// A path outside [`FieldRef`]'s direct accessors, prepared once: the path, for
/// `Event::field` when the event model has it, else resolved to the preserved unknown
/// fields it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherPath {
    path: String,
    /// `None` when the event model has the path.
    extra: Option<ExtraPath>,
}

impl OtherPath {
    fn new(path: &str) -> OtherPath {
        OtherPath {
            path: path.to_string(),
            extra: (!Event::is_modelled_path(path)).then(|| ExtraPath::new(path)),
        }
    }

    fn get<'a>(&self, ev: &'a Event) -> FieldValue<'a> {
        match &self.extra {
            None => ev.field(&self.path),
            Some(extra) => ev.extra_field_at(extra),
        }
    }
}

impl FieldRef {
    /// Resolves a dotted ECS path.
    pub fn resolve(path: &str) -> FieldRef {
        match path {
            "event.type" => FieldRef::EventType,
            "event.category" => FieldRef::EventCategory,
            "event.action" => FieldRef::EventAction,
            "host.os.type" => FieldRef::HostOsType,
            "process.pid" => FieldRef::ProcessPid,
            "process.name" => FieldRef::ProcessName,
            "process.executable" => FieldRef::ProcessExecutable,
            "process.args" => FieldRef::ProcessArgs,
            "process.args_count" => FieldRef::ProcessArgsCount,
            "process.command_line" => FieldRef::ProcessCommandLine,
            "process.pe.original_file_name" => FieldRef::ProcessPeOriginalFileName,
            "process.parent.name" => FieldRef::ParentName,
            "process.parent.executable" => FieldRef::ParentExecutable,
            "process.parent.args" => FieldRef::ParentArgs,
            "process.parent.command_line" => FieldRef::ParentCommandLine,
            "user.id" => FieldRef::UserId,
            "user.name" => FieldRef::UserName,
            other => FieldRef::Other(Box::new(OtherPath::new(other))),
        }
    }

    /// The dotted ECS path.
    pub fn path(&self) -> &str {
        match self {
            FieldRef::EventType => "event.type",
            FieldRef::EventCategory => "event.category",
            FieldRef::EventAction => "event.action",
            FieldRef::HostOsType => "host.os.type",
            FieldRef::ProcessPid => "process.pid",
            FieldRef::ProcessName => "process.name",
            FieldRef::ProcessExecutable => "process.executable",
            FieldRef::ProcessArgs => "process.args",
            FieldRef::ProcessArgsCount => "process.args_count",
            FieldRef::ProcessCommandLine => "process.command_line",
            FieldRef::ProcessPeOriginalFileName => "process.pe.original_file_name",
            FieldRef::ParentName => "process.parent.name",
            FieldRef::ParentExecutable => "process.parent.executable",
            FieldRef::ParentArgs => "process.parent.args",
            FieldRef::ParentCommandLine => "process.parent.command_line",
            FieldRef::UserId => "user.id",
            FieldRef::UserName => "user.name",
            FieldRef::Other(other) => &other.path,
        }
    }

    /// Reads the field from `ev`.
    #[inline]
    pub fn get<'a>(&self, ev: &'a Event) -> FieldValue<'a> {
        use FieldValue::{Int, Missing, Str, Strs};
        let s = |o: &'a Option<String>| o.as_deref().map_or(Missing, Str);
        let strs = |v: &'a Vec<String>| if v.is_empty() { Missing } else { Strs(v) };
        let p = &ev.process;
        let parent = p.parent.as_deref();
        match self {
            FieldRef::EventType => strs(&ev.event.kind_type),
            FieldRef::EventCategory => strs(&ev.event.category),
            FieldRef::EventAction => s(&ev.event.action),
            FieldRef::HostOsType => ev.host.os.as_ref().map_or(Missing, |o| s(&o.os_type)),
            FieldRef::ProcessPid => p.pid.map_or(Missing, |v| Int(i64::from(v))),
            FieldRef::ProcessName => s(&p.name),
            FieldRef::ProcessExecutable => s(&p.executable),
            FieldRef::ProcessArgs => strs(&p.args),
            FieldRef::ProcessArgsCount => p
                .args_count
                .map_or(Missing, |c| Int(i64::try_from(c).unwrap_or(i64::MAX))),
            FieldRef::ProcessCommandLine => s(&p.command_line),
            FieldRef::ProcessPeOriginalFileName => {
                p.pe.as_ref()
                    .map_or(Missing, |pe| s(&pe.original_file_name))
            }
            FieldRef::ParentName => parent.map_or(Missing, |pp| s(&pp.name)),
            FieldRef::ParentExecutable => parent.map_or(Missing, |pp| s(&pp.executable)),
            FieldRef::ParentArgs => parent.map_or(Missing, |pp| strs(&pp.args)),
            FieldRef::ParentCommandLine => parent.map_or(Missing, |pp| s(&pp.command_line)),
            FieldRef::UserId => s(&ev.user.id),
            FieldRef::UserName => s(&ev.user.name),
            FieldRef::Other(other) => other.get(ev),
        }
    }
}

/// One scalar of a field (an array field yields each element).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// Whether `f` holds for any scalar of `value` (false for a missing field).
#[inline]
pub fn any_scalar(value: &FieldValue<'_>, mut f: impl FnMut(Scalar<'_>) -> bool) -> bool {
    match value {
        FieldValue::Missing => false,
        FieldValue::Str(s) => f(Scalar::Str(s)),
        FieldValue::Strs(v) => v.iter().any(|s| f(Scalar::Str(s))),
        FieldValue::Int(i) => f(Scalar::Int(*i)),
        FieldValue::Bool(b) => f(Scalar::Bool(*b)),
        FieldValue::Json(Value::Array(items)) => items.iter().any(|v| json_scalar(v, &mut f)),
        FieldValue::Json(v) => json_scalar(v, &mut f),
    }
}

fn json_scalar(v: &Value, f: &mut impl FnMut(Scalar<'_>) -> bool) -> bool {
    match v {
        Value::String(s) => f(Scalar::Str(s)),
        Value::Bool(b) => f(Scalar::Bool(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => f(Scalar::Int(i)),
            None => n.as_f64().is_some_and(|x| f(Scalar::Float(x))),
        },
        _ => false,
    }
}

/// Strings of a field (array elements, or the one string); numbers are skipped.
pub fn strings<'a>(value: &FieldValue<'a>) -> Vec<&'a str> {
    match value {
        FieldValue::Str(s) => vec![s],
        FieldValue::Strs(v) => v.iter().map(String::as_str).collect(),
        FieldValue::Json(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        FieldValue::Json(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}
