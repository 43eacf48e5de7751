//! Reading an [`Event`] by ECS path (`process.parent.name`, `cloud.account.id`), for the
//! analytics and the EQL engine: modelled fields directly, the rest from the preserved
//! `other` maps.

use super::{Event, Extra};
use serde_json::Value;

/// A value read from an event by ECS path, for the analytics and the EQL engine.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// The field is absent (EQL `null`).
    Missing,
    /// A string.
    Str(&'a str),
    /// An array of strings (`process.args`, `event.type`).
    Strs(&'a [String]),
    /// A number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Any other JSON value (preserved unknown fields).
    Json(&'a Value),
}

impl Event {
    /// Reads a field by its ECS path (`process.parent.name`, `user.id`, ...). Modelled
    /// fields are read directly; others are looked up in the preserved `other` maps.
    pub fn field<'a>(&'a self, path: &str) -> FieldValue<'a> {
        self.modelled_field(path)
            .unwrap_or_else(|| self.extra_field(path))
    }

    /// Whether `path` is a field of the model (read directly by [`Event::field`]) rather
    /// than one looked up among the preserved unknown fields.
    pub fn is_modelled_path(path: &str) -> bool {
        Event::default().modelled_field(path).is_some()
    }

    /// A modelled field, or `None` when `path` is not one.
    fn modelled_field<'a>(&'a self, path: &str) -> Option<FieldValue<'a>> {
        use FieldValue::*;
        let s = |o: &'a Option<String>| o.as_deref().map_or(Missing, Str);
        let n = |o: Option<u32>| o.map_or(Missing, |v| Int(i64::from(v)));
        let strs = |v: &'a Vec<String>| if v.is_empty() { Missing } else { Strs(v) };
        let p = &self.process;
        let parent = p.parent.as_deref();
        Some(match path {
            "event.kind" => s(&self.event.kind),
            "event.type" => strs(&self.event.kind_type),
            "event.category" => strs(&self.event.category),
            "event.action" => s(&self.event.action),
            "event.id" => s(&self.event.id),
            "event.provider" => s(&self.event.provider),
            "event.outcome" => s(&self.event.outcome),
            "event.dataset" => s(&self.event.dataset),
            "source.ip" => self.source.as_ref().map_or(Missing, |x| s(&x.ip)),
            "source.port" => self
                .source
                .as_ref()
                .and_then(|x| x.port)
                .map_or(Missing, |p| Int(i64::from(p))),
            "source.address" => self.source.as_ref().map_or(Missing, |x| s(&x.address)),
            "cloud.provider" => self.cloud.as_ref().map_or(Missing, |c| s(&c.provider)),
            "cloud.region" => self.cloud.as_ref().map_or(Missing, |c| s(&c.region)),
            "cloud.account.id" => self
                .cloud
                .as_ref()
                .and_then(|c| c.account.as_ref())
                .map_or(Missing, |a| s(&a.id)),
            "user_agent.original" => self.user_agent.as_ref().map_or(Missing, |u| s(&u.original)),
            "observer.hostname" => self.observer.as_ref().map_or(Missing, |o| s(&o.hostname)),
            "observer.ip" => self.observer.as_ref().map_or(Missing, |o| s(&o.ip)),
            "observer.vendor" => self.observer.as_ref().map_or(Missing, |o| s(&o.vendor)),
            "observer.product" => self.observer.as_ref().map_or(Missing, |o| s(&o.product)),
            "observer.type" => self.observer.as_ref().map_or(Missing, |o| s(&o.kind)),
            "log.level" => self.log.as_ref().map_or(Missing, |l| s(&l.level)),
            "log.file.path" => self
                .log
                .as_ref()
                .and_then(|l| l.file.as_ref())
                .map_or(Missing, |f| s(&f.path)),
            "error.code" => self.error.as_ref().map_or(Missing, |e| s(&e.code)),
            "error.message" => self.error.as_ref().map_or(Missing, |e| s(&e.message)),
            "host.name" => s(&self.host.name),
            "host.id" => s(&self.host.id),
            "host.os.type" => self.host.os.as_ref().map_or(Missing, |o| s(&o.os_type)),
            "host.os.family" => self.host.os.as_ref().map_or(Missing, |o| s(&o.family)),
            "process.pid" => n(p.pid),
            "process.entity_id" => s(&p.entity_id),
            "process.name" => s(&p.name),
            "process.executable" => s(&p.executable),
            "process.args" => strs(&p.args),
            "process.args_count" => p.args_count.map_or(Missing, |c| Int(c as i64)),
            "process.command_line" => s(&p.command_line),
            "process.working_directory" => s(&p.working_directory),
            "process.interactive" => p.interactive.map_or(Missing, Bool),
            "process.tty.name" => match p.tty.as_ref().and_then(|t| t.other.get("name")) {
                Some(Value::String(name)) => Str(name),
                _ => Missing,
            },
            "process.tty.char_device.major" => p
                .tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map_or(Missing, |c| n(c.major)),
            "process.tty.char_device.minor" => p
                .tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map_or(Missing, |c| n(c.minor)),
            "process.pe.original_file_name" => {
                p.pe.as_ref()
                    .map_or(Missing, |pe| s(&pe.original_file_name))
            }
            "process.code_signature.signing_id" => p
                .code_signature
                .as_ref()
                .map_or(Missing, |c| s(&c.signing_id)),
            "process.code_signature.team_id" => {
                p.code_signature.as_ref().map_or(Missing, |c| s(&c.team_id))
            }
            "process.parent.pid" => parent.map_or(Missing, |pp| n(pp.pid)),
            "process.parent.entity_id" => parent.map_or(Missing, |pp| s(&pp.entity_id)),
            "process.parent.name" => parent.map_or(Missing, |pp| s(&pp.name)),
            "process.parent.executable" => parent.map_or(Missing, |pp| s(&pp.executable)),
            "process.parent.args" => parent.map_or(Missing, |pp| strs(&pp.args)),
            "process.parent.command_line" => parent.map_or(Missing, |pp| s(&pp.command_line)),
            "process.parent.pe.original_file_name" => parent
                .and_then(|pp| pp.pe.as_ref())
                .map_or(Missing, |pe| s(&pe.original_file_name)),
            "user.id" => s(&self.user.id),
            "user.name" => s(&self.user.name),
            "user.domain" => s(&self.user.domain),
            "user.effective.id" => self.user.effective.as_ref().map_or(Missing, |u| s(&u.id)),
            "user.effective.name" => self.user.effective.as_ref().map_or(Missing, |u| s(&u.name)),
            "group.id" => s(&self.group.id),
            "group.name" => s(&self.group.name),
            "picket.collector" => s(&self.picket.collector),
            "picket.login_uid" => n(self.picket.login_uid),
            "picket.terminal_app" => s(&self.picket.terminal_app),
            "picket.args_truncated" => Bool(self.picket.args_truncated),
            "picket.user_groups" => strs(&self.picket.user_groups),
            "picket.user_shell" => s(&self.picket.user_shell),
            "picket.privilege_level" => n(self.picket.privilege_level.map(u32::from)),
            "picket.origin" => s(&self.picket.origin),
            "picket.enumeration.method" => self
                .picket
                .enumeration
                .as_ref()
                .map_or(Missing, |e| s(&e.method)),
            "picket.enumeration.tables" => self
                .picket
                .enumeration
                .as_ref()
                .map_or(Missing, |e| strs(&e.tables)),
            "picket.enumeration.count" => self
                .picket
                .enumeration
                .as_ref()
                .and_then(|e| e.count)
                .map_or(Missing, |c| i64::try_from(c).map_or(Missing, Int)),
            "picket.record" => self
                .picket
                .record
                .map_or(Missing, |r| i64::try_from(r).map_or(Missing, Int)),
            _ => return None,
        })
    }

    fn extra_field<'a>(&'a self, path: &str) -> FieldValue<'a> {
        let parts: Vec<&str> = path.split('.').collect();
        let (map, named) = ExtraMap::of(&parts);
        self.read_extra(map, parts.get(named..).unwrap_or_default())
    }

    /// [`Event::field`] of a path outside the model, resolved once with
    /// [`ExtraPath::new`] (callers that read one path often resolve it once).
    pub fn extra_field_at<'a>(&'a self, path: &ExtraPath) -> FieldValue<'a> {
        self.read_extra(path.map, &path.rest)
    }

    /// The value at `keys` in the preserved map `map`.
    fn read_extra<'a>(&'a self, map: ExtraMap, keys: &[impl AsRef<str>]) -> FieldValue<'a> {
        let Some((first, rest)) = keys.split_first() else {
            return FieldValue::Missing;
        };
        // Most maps are empty: skip hashing the key into them.
        let Some(map) = self.extra_map(map).filter(|m| !m.is_empty()) else {
            return FieldValue::Missing;
        };
        let mut cur = map.get(first.as_ref());
        for part in rest {
            cur = cur.and_then(|v| v.get(part.as_ref()));
        }
        match cur {
            // An empty array is missing, as for the modelled arrays (`process.args`) and
            // in Elasticsearch, which indexes nothing for it.
            None | Some(Value::Null) => FieldValue::Missing,
            Some(Value::Array(a)) if a.is_empty() => FieldValue::Missing,
            Some(Value::String(s)) => FieldValue::Str(s),
            Some(Value::Bool(b)) => FieldValue::Bool(*b),
            Some(v @ Value::Number(n)) => n.as_i64().map_or(FieldValue::Json(v), FieldValue::Int),
            Some(v) => FieldValue::Json(v),
        }
    }

    /// The preserved map `map` names, if the object holding it is present.
    fn extra_map(&self, map: ExtraMap) -> Option<&Extra> {
        let p = &self.process;
        let parent = p.parent.as_deref();
        match map {
            ExtraMap::ProcessParentPe => parent.and_then(|pp| pp.pe.as_ref()).map(|pe| &pe.other),
            ExtraMap::ProcessParent => parent.map(|pp| &pp.other),
            ExtraMap::ProcessPe => p.pe.as_ref().map(|pe| &pe.other),
            ExtraMap::ProcessCodeSignature => p.code_signature.as_ref().map(|c| &c.other),
            ExtraMap::ProcessTtyCharDevice => p
                .tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map(|c| &c.other),
            ExtraMap::ProcessTty => p.tty.as_ref().map(|t| &t.other),
            ExtraMap::Process => Some(&p.other),
            ExtraMap::Event => Some(&self.event.other),
            ExtraMap::HostOs => self.host.os.as_ref().map(|o| &o.other),
            ExtraMap::Host => Some(&self.host.other),
            ExtraMap::UserEffective => self.user.effective.as_ref().map(|u| &u.other),
            ExtraMap::User => Some(&self.user.other),
            ExtraMap::Group => Some(&self.group.other),
            ExtraMap::Source => self.source.as_ref().map(|x| &x.other),
            ExtraMap::CloudAccount => self
                .cloud
                .as_ref()
                .and_then(|c| c.account.as_ref())
                .map(|a| &a.other),
            ExtraMap::Cloud => self.cloud.as_ref().map(|x| &x.other),
            ExtraMap::UserAgent => self.user_agent.as_ref().map(|x| &x.other),
            ExtraMap::Observer => self.observer.as_ref().map(|x| &x.other),
            ExtraMap::LogFile => self
                .log
                .as_ref()
                .and_then(|l| l.file.as_ref())
                .map(|f| &f.other),
            ExtraMap::Log => self.log.as_ref().map(|x| &x.other),
            ExtraMap::Error => self.error.as_ref().map(|x| &x.other),
            ExtraMap::PicketEnumeration => self.picket.enumeration.as_ref().map(|e| &e.other),
            ExtraMap::Picket => Some(&self.picket.other),
            ExtraMap::Top => Some(&self.other),
        }
    }
}

/// The preserved `other` maps of an event, one per typed object (the top level's too):
/// a path outside the model is read from the map of the deepest typed object along it.
/// `Top` stays last: the tests count the variants by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtraMap {
    ProcessParentPe,
    ProcessParent,
    ProcessPe,
    ProcessCodeSignature,
    ProcessTtyCharDevice,
    ProcessTty,
    Process,
    Event,
    HostOs,
    Host,
    UserEffective,
    User,
    Group,
    Source,
    CloudAccount,
    Cloud,
    UserAgent,
    Observer,
    LogFile,
    Log,
    Error,
    PicketEnumeration,
    Picket,
    Top,
}

impl ExtraMap {
    /// The map a dotted path is read from, and how many of its leading parts name it.
    fn of(parts: &[&str]) -> (ExtraMap, usize) {
        match parts {
            ["process", "parent", "pe", ..] => (ExtraMap::ProcessParentPe, 3),
            ["process", "parent", ..] => (ExtraMap::ProcessParent, 2),
            ["process", "pe", ..] => (ExtraMap::ProcessPe, 2),
            ["process", "code_signature", ..] => (ExtraMap::ProcessCodeSignature, 2),
            ["process", "tty", "char_device", ..] => (ExtraMap::ProcessTtyCharDevice, 3),
            ["process", "tty", ..] => (ExtraMap::ProcessTty, 2),
            ["process", ..] => (ExtraMap::Process, 1),
            ["event", ..] => (ExtraMap::Event, 1),
            ["host", "os", ..] => (ExtraMap::HostOs, 2),
            ["host", ..] => (ExtraMap::Host, 1),
            ["user", "effective", ..] => (ExtraMap::UserEffective, 2),
            ["user", ..] => (ExtraMap::User, 1),
            ["group", ..] => (ExtraMap::Group, 1),
            ["source", ..] => (ExtraMap::Source, 1),
            ["cloud", "account", ..] => (ExtraMap::CloudAccount, 2),
            ["cloud", ..] => (ExtraMap::Cloud, 1),
            ["user_agent", ..] => (ExtraMap::UserAgent, 1),
            ["observer", ..] => (ExtraMap::Observer, 1),
            ["log", "file", ..] => (ExtraMap::LogFile, 2),
            ["log", ..] => (ExtraMap::Log, 1),
            ["error", ..] => (ExtraMap::Error, 1),
            ["picket", "enumeration", ..] => (ExtraMap::PicketEnumeration, 2),
            ["picket", ..] => (ExtraMap::Picket, 1),
            _ => (ExtraMap::Top, 0),
        }
    }
}

/// A dotted path outside the event model, resolved once to the preserved map it is read
/// from and the keys to walk there, so reading it costs no string matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPath {
    map: ExtraMap,
    rest: Box<[String]>,
}

impl ExtraPath {
    /// Resolves `path` (`winlog.event_data.IntegrityLevel`, `process.pe.company`).
    pub fn new(path: &str) -> ExtraPath {
        let parts: Vec<&str> = path.split('.').collect();
        let (map, named) = ExtraMap::of(&parts);
        ExtraPath {
            map,
            rest: parts.iter().skip(named).map(|p| p.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelled_paths_are_told_apart() {
        assert!(Event::is_modelled_path("process.working_directory"));
        assert!(Event::is_modelled_path("process.parent.name"));
        assert!(!Event::is_modelled_path("process.env_vars"));
        assert!(!Event::is_modelled_path("winlog.event_data.TargetImage"));
    }

    /// Found by the `eql_differential` fuzz target: `[]` in a field outside the model
    /// read as present (`winlog.event_data.Tags != null` held), while an empty modelled
    /// array (`process.args`) reads as missing. Both are missing now, as `null` is.
    #[test]
    fn fuzz_an_empty_array_outside_the_model_is_missing() {
        let ev = Event::from_json_value(serde_json::json!({
            "@timestamp": "2024-05-01T12:00:00Z",
            "process": {"args": []},
            "winlog": {"event_data": {"Tags": [], "None": null, "One": ["a"]}},
        }))
        .expect("event");
        for path in [
            "process.args",
            "winlog.event_data.Tags",
            "winlog.event_data.None",
        ] {
            assert_eq!(ev.field(path), FieldValue::Missing, "{path}");
        }
        let tags = ExtraPath::new("winlog.event_data.Tags");
        assert_eq!(ev.extra_field_at(&tags), FieldValue::Missing);
        assert!(matches!(
            ev.field("winlog.event_data.One"),
            FieldValue::Json(Value::Array(_))
        ));
    }

    /// One unknown path into every preserved map: each resolves to its map, reads back
    /// what the event holds, and reads as missing on an event without it.
    #[test]
    fn every_preserved_map_is_read_by_path() {
        let cases = [
            ("process.parent.pe.imphash", ExtraMap::ProcessParentPe),
            ("process.parent.entry_meta.type", ExtraMap::ProcessParent),
            ("process.pe.company", ExtraMap::ProcessPe),
            (
                "process.code_signature.subject_name",
                ExtraMap::ProcessCodeSignature,
            ),
            (
                "process.tty.char_device.name",
                ExtraMap::ProcessTtyCharDevice,
            ),
            ("process.tty.columns", ExtraMap::ProcessTty),
            ("process.env_vars", ExtraMap::Process),
            ("event.code", ExtraMap::Event),
            ("host.os.name", ExtraMap::HostOs),
            ("host.architecture", ExtraMap::Host),
            ("user.effective.domain", ExtraMap::UserEffective),
            ("user.Ext.real.id", ExtraMap::User),
            ("group.Ext.real.id", ExtraMap::Group),
            ("source.geo.country_iso_code", ExtraMap::Source),
            ("cloud.account.name", ExtraMap::CloudAccount),
            ("cloud.instance.id", ExtraMap::Cloud),
            ("user_agent.name", ExtraMap::UserAgent),
            ("observer.serial_number", ExtraMap::Observer),
            ("log.file.device_id", ExtraMap::LogFile),
            ("log.logger", ExtraMap::Log),
            ("error.stack_trace", ExtraMap::Error),
            ("picket.enumeration.window", ExtraMap::PicketEnumeration),
            ("picket.batch", ExtraMap::Picket),
            ("winlog.event_data.TargetImage", ExtraMap::Top),
        ];
        // One case a map: variants number from 0 to `Top`, the last.
        let maps: Vec<usize> = cases.iter().map(|&(_, m)| m as usize).collect();
        assert_eq!(maps, (0..=ExtraMap::Top as usize).collect::<Vec<_>>());
        let plain = Event::from_json_value(serde_json::json!({
            "@timestamp": "2024-05-01T12:00:00Z", "process.name": "ls"
        }))
        .expect("event");
        for (path, map) in cases {
            let resolved = ExtraPath::new(path);
            assert_eq!(resolved.map, map, "{path}");
            assert!(!Event::is_modelled_path(path), "{path}");
            assert_eq!(
                plain.extra_field_at(&resolved),
                FieldValue::Missing,
                "{path}"
            );
            let ev = Event::from_json_value(serde_json::json!({
                "@timestamp": "2024-05-01T12:00:00Z", "process.name": "ls", path: "x-1"
            }))
            .expect("event");
            assert_eq!(
                ev.extra_field_at(&resolved),
                FieldValue::Str("x-1"),
                "{path}"
            );
            assert_eq!(ev.field(path), FieldValue::Str("x-1"), "{path}");
        }
        // The typed object itself is not a field of its map.
        let ev = Event::from_json_value(serde_json::json!({
            "@timestamp": "2024-05-01T12:00:00Z", "process.parent.pe.imphash": "ab"
        }))
        .expect("event");
        assert_eq!(ev.field("process.parent.pe"), FieldValue::Missing);
        assert_eq!(
            ev.field("process.parent.pe.imphash.more"),
            FieldValue::Missing
        );
    }
}
