//! Reading an ECS document in one pass: each key goes straight to its typed field, and
//! what Picket does not model goes to the `other` map of the object it belongs to. No
//! generic JSON tree is built and converted afterwards, which is where replay spent its
//! time (a tree per line, then a second walk to fill the structs).
//!
//! Dotted keys are paths: `{"process.parent.name": "bash"}` sets the same field as
//! `{"process": {"parent": {"name": "bash"}}}`, at any depth, and the two forms mix.
//! When both forms set one plain value, the later key in the document wins. A dotted
//! key under a plain value (`"process.name.x"`) is ignored, as a value cannot also be an
//! object. Inside preserved (unmodelled) values, dotted keys are expanded too, so
//! `Event::field` finds them by path either way.

use super::{expand_dotted_keys, insert_path, one_or_many, Extra};
use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// An object whose keys are set one at a time, by name or by dotted path.
pub(crate) trait Assign: Default {
    /// Sets `key` (maybe dotted: `parent.name`) from the value `d` holds.
    fn assign<'de, D: Deserializer<'de>>(&mut self, key: &str, d: D) -> Result<(), D::Error>;
}

impl<T: Assign> Assign for Box<T> {
    fn assign<'de, D: Deserializer<'de>>(&mut self, key: &str, d: D) -> Result<(), D::Error> {
        (**self).assign(key, d)
    }
}

/// Deserializes `T` by filling a default value key by key.
pub(crate) fn deserialize_object<'de, T: Assign, D: Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    let mut value = T::default();
    d.deserialize_map(Fill(&mut value))?;
    Ok(value)
}

/// A string (a map key, a timestamp), borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Fills the target from a JSON object, key by key.
struct Fill<'a, T>(&'a mut T);

impl<'de, T: Assign> Visitor<'de> for Fill<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            map.next_value_seed(Slot {
                target: &mut *self.0,
                key: &key,
            })
            .map_err(|e| at_field(&key, e))?;
        }
        Ok(())
    }
}

/// Names the field a value error is in, as a full path: the innermost key's error is
/// `` field `pid`: … ``, and each enclosing object prefixes its own key.
fn at_field<E: de::Error>(key: &str, e: E) -> E {
    let message = e.to_string();
    match message.strip_prefix("field `") {
        Some(inner) => E::custom(format!("field `{key}.{inner}")),
        None => E::custom(format!("field `{key}`: {message}")),
    }
}

/// The value of one key, delivered to its target.
struct Slot<'a, T> {
    target: &'a mut T,
    key: &'a str,
}

impl<'de, T: Assign> DeserializeSeed<'de> for Slot<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.target.assign(self.key, d)
    }
}

/// Fills an optional object: `null` clears it, an object fills it.
struct FillOption<'a, T>(&'a mut Option<T>);

impl<'de, T: Assign> Visitor<'de> for FillOption<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(Fill(self.0.get_or_insert_with(T::default)))
    }
}

/// A plain value (string, number, list): replaced whole.
pub(crate) fn leaf<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    slot: &mut T,
    rest: &str,
    d: D,
) -> Result<(), D::Error> {
    replace_with(slot, rest, d, T::deserialize)
}

/// `@timestamp`: RFC 3339, as chrono reads it, with a fast path for the
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` form nearly every source writes.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(
    slot: &mut DateTime<Utc>,
    rest: &str,
    d: D,
) -> Result<(), D::Error> {
    replace_with(slot, rest, d, |d| {
        let text = Key::deserialize(d)?.0;
        parse_utc_timestamp(&text)
            .or_else(|| {
                text.parse::<DateTime<chrono::FixedOffset>>()
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
            .ok_or_else(|| {
                de::Error::custom(format_args!(
                    "invalid timestamp {text:?}: expected RFC 3339, like 2026-11-20T10:00:00Z"
                ))
            })
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (up to nine fraction digits), else `None`.
pub(crate) fn parse_utc_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || !matches!(b[b.len() - 1], b'Z' | b'z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20..20 + digits.len())?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time =
        chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// An ECS list field that sources also write as a single string (`event.type`).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(
    slot: &mut Vec<String>,
    rest: &str,
    d: D,
) -> Result<(), D::Error> {
    replace_with(slot, rest, d, one_or_many::deserialize)
}

/// Replaces `slot` with what `read` makes of the value; a key under a plain value
/// (`rest` set) is skipped, as a value cannot also be an object.
fn replace_with<'de, T, D: Deserializer<'de>>(
    slot: &mut T,
    rest: &str,
    d: D,
    read: impl FnOnce(D) -> Result<T, D::Error>,
) -> Result<(), D::Error> {
    if rest.is_empty() {
        *slot = read(d)?;
    } else {
        IgnoredAny::deserialize(d)?;
    }
    Ok(())
}

/// A nested object that is always there (`process`, `host`).
pub(crate) fn object<'de, T: Assign, D: Deserializer<'de>>(
    slot: &mut T,
    rest: &str,
    d: D,
) -> Result<(), D::Error> {
    if rest.is_empty() {
        d.deserialize_map(Fill(slot))
    } else {
        slot.assign(rest, d)
    }
}

/// A nested object that may be absent (`process.parent`, `cloud`).
pub(crate) fn optional<'de, T: Assign, D: Deserializer<'de>>(
    slot: &mut Option<T>,
    rest: &str,
    d: D,
) -> Result<(), D::Error> {
    if rest.is_empty() {
        d.deserialize_option(FillOption(slot))
    } else {
        slot.get_or_insert_with(T::default).assign(rest, d)
    }
}

/// A key Picket does not model: kept in `other`, dotted keys expanded.
pub(crate) fn preserve<'de, D: Deserializer<'de>>(
    other: &mut Extra,
    key: &str,
    d: D,
) -> Result<(), D::Error> {
    let mut value = Value::deserialize(d)?;
    expand_dotted_keys(&mut value);
    insert_path(other, key, value);
    Ok(())
}

/// Implements [`Assign`] and `Deserialize` for a typed part: each listed key goes to its
/// field through one of the functions above; any other key goes to `other`, so every
/// field of an event stays readable by its ECS path.
macro_rules! ecs_object {
    ($ty:ty { $($key:literal => $how:ident($field:ident)),* $(,)? }) => {
        impl $crate::event::de::Assign for $ty {
            fn assign<'de, D: serde::Deserializer<'de>>(
                &mut self,
                key: &str,
                d: D,
            ) -> Result<(), D::Error> {
                let (head, rest) = $crate::event::split_dotted(key).unwrap_or((key, ""));
                match head {
                    $($key => $crate::event::de::$how(&mut self.$field, rest, d),)*
                    _ => $crate::event::de::preserve(&mut self.other, key, d),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::event::de::deserialize_object(d)
            }
        }
    };
}
pub(crate) use ecs_object;

#[cfg(test)]
mod tests {
    use crate::event::{Event, FieldValue};
    use serde_json::json;

    fn parse(text: &str) -> Event {
        Event::from_json_slice(text.as_bytes()).expect("an ECS event")
    }

    #[test]
    fn dotted_and_nested_keys_mix_at_any_depth() {
        let ev = parse(
            r#"{"process": {"parent.name": "bash", "tty.char_device.major": 136},
                "process.parent": {"pid": 7}, "host.os.type": "linux",
                "winlog": {"event_data.User": "bob"}, "cloud.account.id": "123"}"#,
        );
        let parent = ev.process.parent.as_deref().expect("parent");
        assert_eq!(parent.name.as_deref(), Some("bash"));
        assert_eq!(parent.pid, Some(7));
        assert_eq!(
            ev.field("process.tty.char_device.major"),
            FieldValue::Int(136)
        );
        assert_eq!(ev.field("host.os.type"), FieldValue::Str("linux"));
        assert_eq!(ev.field("winlog.event_data.User"), FieldValue::Str("bob"));
        assert_eq!(ev.field("cloud.account.id"), FieldValue::Str("123"));
    }

    #[test]
    fn one_pass_equals_the_tree_path_and_round_trips() {
        let doc = json!({
            "@timestamp": "2026-11-20T10:00:00.5Z",
            "event": {"type": "start", "category": ["process"], "action": "exec", "x": [1, 2]},
            "process": {"pid": 5, "args": ["ss", "-tan"], "pe": {"imphash": "ab"}},
            "user": {"effective": {"id": "0", "extra": true}},
            "log": {"file": {"path": "/var/log/x"}, "syslog": {"facility": {"code": 4}}},
            "picket": {"record": 3, "ancestors": [{"pid": 1, "name": "init"}]},
            "labels": {"team": "blue"}
        });
        let from_text = parse(&doc.to_string());
        let from_tree = Event::from_json_value(doc).expect("from a tree");
        assert_eq!(from_text, from_tree);
        assert_eq!(
            from_text.field("log.syslog.facility.code"),
            FieldValue::Int(4)
        );
        assert_eq!(from_text.field("process.pe.imphash"), FieldValue::Str("ab"));
        assert_eq!(parse(&from_text.to_json_line()), from_text);
    }

    #[test]
    fn null_clears_an_optional_object_and_wrong_types_are_errors() {
        assert!(parse(r#"{"process": {"parent": null}}"#)
            .process
            .parent
            .is_none());
        for bad in [
            r#"["not", "an", "object"]"#,
            r#"{"process": "ss"}"#,
            r#"{"process": {"pid": "many"}}"#,
            r#"{"@timestamp": 12}"#,
        ] {
            assert!(Event::from_json_slice(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wrongly_typed_value_names_its_field_path() {
        let err = Event::from_json_slice(br#"{"process": {"parent": {"pid": "many"}}}"#)
            .expect_err("pid is a number");
        let text = err.to_string();
        assert!(
            text.starts_with("field `process.parent.pid`: invalid type"),
            "{text}"
        );
        let err = Event::from_json_slice(br#"{"process.parent.pid": "many"}"#).expect_err("dotted");
        assert!(
            err.to_string().starts_with("field `process.parent.pid`"),
            "{err}"
        );
    }

    #[test]
    fn timestamps_read_as_chrono_reads_them() {
        for text in [
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00.5Z",
            "2026-11-20T10:00:00.123456789Z",
            "2026-11-20T10:00:00.123+02:00",
            "2026-11-20 10:00:00Z",
            "2024-02-29T23:59:59.000001z",
        ] {
            let ev = parse(&format!(r#"{{"@timestamp": "{text}"}}"#));
            let chrono: chrono::DateTime<chrono::Utc> =
                serde_json::from_str(&format!("\"{text}\"")).expect(text);
            assert_eq!(ev.timestamp, chrono, "{text}");
        }
        for bad in [
            "2026-02-30T10:00:00Z",
            "2026-11-20T10:00:00.Z",
            "yesterday",
            "2026-11-20T25:00:00Z",
        ] {
            let err = Event::from_json_slice(format!(r#"{{"@timestamp": "{bad}"}}"#).as_bytes())
                .expect_err(bad);
            assert!(err.to_string().contains("invalid timestamp"), "{err}");
        }
    }

    #[test]
    fn a_key_under_a_plain_value_is_ignored() {
        let ev = parse(r#"{"process": {"name": "ss", "name.x": 1}}"#);
        assert_eq!(ev.process.name.as_deref(), Some("ss"));
        assert!(ev.process.other.is_empty());
    }
}
