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

    /// Slow path for fields outside the model: finds the typed object deepest along
    /// `path` and walks the rest in its preserved `other` map.
    /// Whether any field outside the model is present: when not, [`Event::field`] of
    /// every path that is not [modelled](Event::is_modelled_path) is `Missing`, so a
    /// caller checking many such paths (the analytics' rule index) can skip them all.
    /// Covers every map `extra_field` reads.
    pub fn has_extra_fields(&self) -> bool {
        let p = &self.process;
        let parent = p.parent.as_deref();
        let maps: [Option<&Extra>; 21] = [
            p.tty
                .as_ref()
                .and_then(|t| t.char_device.as_ref())
                .map(|c| &c.other),
            self.user.effective.as_ref().map(|u| &u.other),
            Some(&self.group.other),
            parent.and_then(|pp| pp.pe.as_ref()).map(|pe| &pe.other),
            parent.map(|pp| &pp.other),
            p.pe.as_ref().map(|pe| &pe.other),
            p.code_signature.as_ref().map(|c| &c.other),
            p.tty.as_ref().map(|t| &t.other),
            Some(&p.other),
            Some(&self.event.other),
            self.host.os.as_ref().map(|o| &o.other),
            Some(&self.host.other),
            Some(&self.user.other),
            self.source.as_ref().map(|x| &x.other),
            self.cloud
                .as_ref()
                .and_then(|c| c.account.as_ref())
                .map(|a| &a.other),
            self.cloud.as_ref().map(|x| &x.other),
            self.user_agent.as_ref().map(|x| &x.other),
            self.observer.as_ref().map(|x| &x.other),
            self.log
                .as_ref()
                .and_then(|l| l.file.as_ref())
                .map(|f| &f.other),
            self.log.as_ref().map(|x| &x.other),
            self.error.as_ref().map(|x| &x.other),
        ];
        maps.iter().flatten().any(|m| !m.is_empty())
            || !self.picket.other.is_empty()
            || !self.other.is_empty()
    }

    fn extra_field<'a>(&'a self, path: &str) -> FieldValue<'a> {
        let parts: Vec<&str> = path.split('.').collect();
        self.extra_field_parts(&parts)
    }

    /// [`Event::field`] of a path outside the model, given split at its dots (callers
    /// that read one path often split it once).
    pub fn extra_field_parts<'a>(&'a self, parts: &[&str]) -> FieldValue<'a> {
        let (extra, rest): (Option<&'a Extra>, &[&str]) = match parts {
            ["process", "parent", "pe", rest @ ..] => (
                self.process
                    .parent
                    .as_deref()
                    .and_then(|p| p.pe.as_ref())
                    .map(|pe| &pe.other),
                rest,
            ),
            ["process", "parent", rest @ ..] => {
                (self.process.parent.as_deref().map(|p| &p.other), rest)
            }
            ["process", "pe", rest @ ..] => (self.process.pe.as_ref().map(|pe| &pe.other), rest),
            ["process", "code_signature", rest @ ..] => {
                (self.process.code_signature.as_ref().map(|c| &c.other), rest)
            }
            ["process", "tty", "char_device", rest @ ..] => (
                self.process
                    .tty
                    .as_ref()
                    .and_then(|t| t.char_device.as_ref())
                    .map(|c| &c.other),
                rest,
            ),
            ["process", "tty", rest @ ..] => (self.process.tty.as_ref().map(|t| &t.other), rest),
            ["process", rest @ ..] => (Some(&self.process.other), rest),
            ["event", rest @ ..] => (Some(&self.event.other), rest),
            ["host", "os", rest @ ..] => (self.host.os.as_ref().map(|o| &o.other), rest),
            ["host", rest @ ..] => (Some(&self.host.other), rest),
            ["user", "effective", rest @ ..] => {
                (self.user.effective.as_ref().map(|u| &u.other), rest)
            }
            ["user", rest @ ..] => (Some(&self.user.other), rest),
            ["group", rest @ ..] => (Some(&self.group.other), rest),
            ["source", rest @ ..] => (self.source.as_ref().map(|x| &x.other), rest),
            ["cloud", "account", rest @ ..] => (
                self.cloud
                    .as_ref()
                    .and_then(|c| c.account.as_ref())
                    .map(|a| &a.other),
                rest,
            ),
            ["cloud", rest @ ..] => (self.cloud.as_ref().map(|x| &x.other), rest),
            ["user_agent", rest @ ..] => (self.user_agent.as_ref().map(|x| &x.other), rest),
            ["observer", rest @ ..] => (self.observer.as_ref().map(|x| &x.other), rest),
            ["log", "file", rest @ ..] => (
                self.log
                    .as_ref()
                    .and_then(|l| l.file.as_ref())
                    .map(|f| &f.other),
                rest,
            ),
            ["log", rest @ ..] => (self.log.as_ref().map(|x| &x.other), rest),
            ["error", rest @ ..] => (self.error.as_ref().map(|x| &x.other), rest),
            ["picket", "enumeration", rest @ ..] => {
                (self.picket.enumeration.as_ref().map(|e| &e.other), rest)
            }
            ["picket", rest @ ..] => (Some(&self.picket.other), rest),
            rest => (Some(&self.other), rest),
        };
        let Some((first, rest)) = rest.split_first() else {
            return FieldValue::Missing;
        };
        let mut cur = extra.and_then(|m| m.get(*first));
        for part in rest {
            cur = cur.and_then(|v| v.get(part));
        }
        match cur {
            None | Some(Value::Null) => FieldValue::Missing,
            Some(Value::String(s)) => FieldValue::Str(s),
            Some(Value::Bool(b)) => FieldValue::Bool(*b),
            Some(v @ Value::Number(n)) => n.as_i64().map_or(FieldValue::Json(v), FieldValue::Int),
            Some(v) => FieldValue::Json(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_seen_and_modelled_paths_told_apart() {
        assert!(Event::is_modelled_path("process.working_directory"));
        assert!(Event::is_modelled_path("process.parent.name"));
        assert!(!Event::is_modelled_path("process.env_vars"));
        assert!(!Event::is_modelled_path("winlog.event_data.TargetImage"));
        let plain = Event::from_json_value(serde_json::json!({
            "@timestamp": "2024-05-01T12:00:00Z", "process.name": "ls"
        }))
        .expect("event");
        assert!(!plain.has_extra_fields());
        for (path, value) in [
            ("process.env_vars", serde_json::json!(["LD_PRELOAD=/x.so"])),
            ("event.code", serde_json::json!("10")),
            (
                "winlog.event_data.TargetImage",
                serde_json::json!("lsass.exe"),
            ),
            ("process.parent.pe.imphash", serde_json::json!("ab")),
        ] {
            let ev = Event::from_json_value(serde_json::json!({
                "@timestamp": "2024-05-01T12:00:00Z", "process.name": "ls", path: value
            }))
            .expect("event");
            assert!(ev.has_extra_fields(), "{path}");
            assert!(!matches!(ev.field(path), FieldValue::Missing), "{path}");
        }
    }
}
