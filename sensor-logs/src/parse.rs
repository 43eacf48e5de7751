//! The dispatcher: one syslog-ish line in, one [`Parsed`] out.
//!
//! [`parse_line`] is what `picket replay --format syslog` and the syslog receiver call
//! for each message: the header through [`parse_syslog`], then the device parser chosen
//! by program name or Cisco tag ([`crate::esxi`], [`crate::network`]), with the header
//! kept in [`LogRecord::syslog`]. A tac_plus accounting line handed to it (a replayed
//! `tac_plus.acct`) goes to [`parse_tacacs`]. It never panics: it only slices at ASCII
//! bytes, and lines longer than [`MAX_LINE`] are cut (at a char boundary) first.

use crate::JsonMap;
use std::net::IpAddr;

use sensor_core::event::Endpoint;
use serde_json::Value;

use crate::record::{Action, Device, DeviceKind, LogRecord, Parsed};
use crate::syslog::{parse_iso, parse_syslog, prefix, ParseContext, SyslogMessage};

pub use crate::tacacs::parse_tacacs_line as parse_tacacs;

/// Longer lines are cut to this many bytes before parsing (syslog over TCP may carry
/// anything; no device line Picket reads is near it).
pub const MAX_LINE: usize = 64 * 1024;

/// Parses one syslog message or log-file line.
pub fn parse_line(line: &str, ctx: &ParseContext) -> Parsed {
    let line = prefix(line, MAX_LINE);
    if line.trim().is_empty() {
        return Parsed::Malformed("empty".into());
    }
    if looks_like_tacacs(line) {
        return parse_tacacs(line, ctx);
    }
    let msg = match parse_syslog(line, ctx) {
        Ok(m) => m,
        Err(e) => return Parsed::Malformed(e),
    };
    let parsed = crate::esxi::parse_esxi(&msg, ctx)
        .or_else(|| crate::network::parse_network(&msg, ctx))
        .unwrap_or(Parsed::Ignored);
    match parsed {
        Parsed::Record(mut r) => {
            msg.fill_record(&mut r);
            Parsed::Record(r)
        }
        other => other,
    }
}

/// A tac_plus accounting line: a `yyyy-mm-dd hh:mm:ss ±zzzz` stamp, then a tab or `|!|`.
fn looks_like_tacacs(line: &str) -> bool {
    match parse_iso(line) {
        Some((_, n)) => {
            let rest = &line.as_bytes()[n..];
            line.as_bytes().get(10) == Some(&b' ')
                && (rest.first() == Some(&b'\t') || rest.starts_with(b"|!|"))
        }
        None => false,
    }
}

/// A record at the line's time (else the context's), on `device`.
pub(crate) fn new_record(
    msg: &SyslogMessage,
    ctx: &ParseContext,
    dataset: &'static str,
    action: Action,
    device: Device,
) -> LogRecord {
    LogRecord::new(
        msg.timestamp.unwrap_or(ctx.reference),
        dataset,
        action,
        device,
    )
}

/// The sending device of `kind`: the header's host name (an address goes to `ip`), else
/// the context's default host.
pub(crate) fn device_of(msg: &SyslogMessage, ctx: &ParseContext, kind: DeviceKind) -> Device {
    let mut d = Device::new(kind);
    match msg.host_or_default(ctx) {
        Some(h) if h.parse::<IpAddr>().is_ok() => d.ip = Some(h),
        h => d.hostname = h,
    }
    d
}

/// `source.*` for an address as the log wrote it (an IP or a name such as `async`).
pub(crate) fn endpoint(addr: &str, port: Option<u16>) -> Option<Endpoint> {
    let addr = addr.trim();
    if addr.is_empty() || addr == "-" {
        return None;
    }
    let ip = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_string());
    Some(Endpoint {
        ip,
        port,
        address: Some(addr.to_string()),
        ..Endpoint::default()
    })
}

/// Sets `extra[ns][key] = value` (a vendor's field under its own key).
pub(crate) fn set_extra(extra: &mut JsonMap, ns: &str, key: &str, value: impl Into<Value>) {
    let entry = extra
        .entry(ns.to_string())
        .or_insert_with(|| Value::Object(JsonMap::new()));
    if let Value::Object(map) = entry {
        map.insert(key.to_string(), value.into());
    }
}

/// `success` / `failure` from the words devices use.
pub(crate) fn outcome_word(w: &str) -> Option<&'static str> {
    match w.trim().to_ascii_lowercase().as_str() {
        "success" | "succeeded" | "ok" | "pass" | "passed" | "0" => Some("success"),
        "failure" | "failed" | "fail" | "error" | "denied" | "rejected" => Some("failure"),
        _ => None,
    }
}

/// The text between `start` and the next `end` after it.
pub(crate) fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let rest = &s[i..];
    let j = rest.find(end)?;
    Some(&rest[..j])
}

/// A command as accounted, tidied: trailing ` <cr>` dropped, blanks collapsed at the
/// ends. `None` when nothing is left.
pub(crate) fn clean_command(cmd: &str) -> Option<String> {
    let mut c = cmd.trim();
    while let Some(r) = c.strip_suffix("<cr>") {
        c = r.trim_end();
    }
    if c.is_empty() {
        None
    } else {
        Some(c.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn ctx() -> ParseContext {
        ParseContext::new(
            Utc.with_ymd_and_hms(2024, 3, 25, 12, 0, 0)
                .single()
                .expect("valid time"),
        )
    }

    #[test]
    fn empty_and_garbage() {
        for l in ["", "   ", "\t\r\n"] {
            assert_eq!(parse_line(l, &ctx()), Parsed::Malformed("empty".into()));
        }
        assert!(matches!(
            parse_line("\u{0}\u{1}\u{2}", &ctx()),
            Parsed::Malformed(_)
        ));
        assert!(matches!(
            parse_line("just words", &ctx()),
            Parsed::Malformed(_)
        ));
        assert_eq!(
            parse_line("<13>Mar 24 20:33:52 host someapp: hello", &ctx()),
            Parsed::Ignored
        );
    }

    #[test]
    fn header_lands_in_log_syslog() {
        let p = parse_line(
            "<110>2022-11-04T15:25:46.186Z ESXI shell[1231448]: [root]: ls",
            &ctx(),
        );
        let Parsed::Record(r) = p else {
            panic!("{p:?}")
        };
        assert_eq!(r.syslog["priority"], 110);
        assert_eq!(r.syslog["facility"]["code"], 13);
        assert_eq!(r.syslog["severity"]["code"], 6);
        assert_eq!(r.syslog["hostname"], "ESXI");
        assert_eq!(r.syslog["appname"], "shell");
        assert_eq!(r.syslog["procid"], "1231448");
        let ev = r.into_event();
        let json = serde_json::to_value(&ev).expect("serializes");
        assert_eq!(json["log"]["syslog"]["appname"], "shell");
    }

    #[test]
    fn huge_lines_and_char_boundaries() {
        let mut l = String::from("<14>Mar 24 20:33:52 h shell[1]: [root]: ");
        while l.len() < MAX_LINE + 10 {
            l.push('é');
        }
        let p = parse_line(&l, &ctx());
        assert!(matches!(p, Parsed::Record(_)), "{p:?}");
    }

    #[test]
    fn helpers() {
        let e = endpoint("10.0.0.1", Some(22)).expect("test value");
        assert_eq!((e.ip.as_deref(), e.port), (Some("10.0.0.1"), Some(22)));
        let e = endpoint("async", None).expect("test value");
        assert_eq!((e.ip, e.address.as_deref()), (None, Some("async")));
        assert!(endpoint(" ", None).is_none());
        assert_eq!(
            clean_command("show tcp brief <cr>").as_deref(),
            Some("show tcp brief")
        );
        assert_eq!(clean_command(" <cr> "), None);
        let mut x = JsonMap::new();
        set_extra(&mut x, "tacacs", "task_id", "17");
        assert_eq!(x["tacacs"]["task_id"], "17");
    }
}
