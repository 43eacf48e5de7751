//! A lenient syslog header parser: RFC 3164 and RFC 5424 as devices really send them.
//!
//! Covered, from the RFCs and the vendors' documented output (and the recorded lines in
//! `shared/fixtures/esxi` and `shared/fixtures/network`):
//! - `<PRI>` or none; RFC 5424 `<165>1 2003-10-11T22:14:15.003Z host app procid msgid
//!   [sd...] msg` with NILVALUE `-`, the BOM, and `[meta sequenceId=…]`;
//! - BSD timestamps with or without the year (`Mar 24 20:33:52`, `Oct 06 2021
//!   15:02:30`; a missing year is inferred from [`ParseContext::reference`] so the time is
//!   at most a day in the future), fractions and a zone word (`18:46:11.123 UTC`), and
//!   ISO / RFC 3339 timestamps (`2024-01-02T03:04:05+00:00`, `2023-12-05T17:36:17.835Z`);
//! - ESXi's level after the timestamp (`In(14)`, `No(13)`), ESXi 8 files with no host
//!   name (`… In(14) shell[1053659]: [root]: cmd`), and ESXi 6/7 `info hostd[pid] […]`;
//! - Cisco sequence numbers (`<189>123: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: …`,
//!   `000123: Mar 1 …`), the `*`/`.` time-sync markers, uptime stamps, `logging
//!   origin-id hostname` before or after the sequence number, ASA's `host : %ASA-…`, and
//!   the `%FACILITY-SEVERITY-MNEMONIC:` tag;
//! - lines as rsyslog writes them to files (`Mar 24 20:33:52 eos Aaa: %ACCOUNTING-6-CMD:
//!   …`), including a relayed Cisco header after the relay's host name.
//!
//! Lines without a zone are taken as UTC. The parser only slices at ASCII bytes, so it
//! never splits a UTF-8 character, and it never panics.

use crate::JsonMap;
use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};

use serde_json::{json, Value};

use crate::record::LogRecord;

/// What a parser needs to know beyond the line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseContext {
    /// "Now" for the line: the receive time of a live message, or the replay's clock. A
    /// timestamp without a year gets the year that puts it at most a day after this, and
    /// a line with no timestamp at all is given this time.
    pub reference: DateTime<Utc>,
    /// The device's name when the line has none (a tailed ESXi 8 `shell.log`).
    pub default_host: Option<String>,
}

impl ParseContext {
    /// A context with `reference` and no default host.
    pub fn new(reference: DateTime<Utc>) -> ParseContext {
        ParseContext {
            reference,
            default_host: None,
        }
    }

    /// The same context naming the device of host-less lines.
    pub fn with_default_host(mut self, host: impl Into<String>) -> ParseContext {
        self.default_host = Some(host.into());
        self
    }
}

/// A Cisco `%FACILITY-SEVERITY-MNEMONIC:` tag and the text after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CiscoTag<'a> {
    /// `SYS`, `ASA`, `HA_EM`, `ACCOUNTING`, `MGBL-SYS` (IOS XR facilities may hold a `-`).
    pub facility: &'a str,
    /// 0 (emergency) to 7 (debug).
    pub severity: u8,
    /// `CONFIG_I`, `111008`, `LOG`, `CMD`.
    pub mnemonic: &'a str,
    /// The message text after the tag.
    pub text: &'a str,
}

/// One RFC 5424 structured-data element (`[id name="value" …]`), values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement<'a> {
    /// The SD-ID (`shell.cmd@6876`, `junos@2636.1.1.1.2.18`, `meta`).
    pub id: &'a str,
    /// The parameters in order; `\"`, `\\` and `\]` in values are unescaped.
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

impl SdElement<'_> {
    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// A syslog message's header fields and its body, borrowed from the line.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogMessage<'a> {
    /// `<PRI>`: facility × 8 + severity.
    pub priority: Option<u8>,
    /// The RFC 5424 version (`1`), for RFC 5424 lines.
    pub version: Option<u8>,
    /// The header's time (a Cisco header's own time when a relay added another).
    pub timestamp: Option<DateTime<Utc>>,
    /// HOSTNAME, or the `logging origin-id hostname` name.
    pub hostname: Option<&'a str>,
    /// APP-NAME, or the RFC 3164 tag without its `[pid]`.
    pub app_name: Option<&'a str>,
    /// PROCID, or the tag's `[pid]`.
    pub proc_id: Option<&'a str>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<&'a str>,
    /// RFC 5424 STRUCTURED-DATA as sent (see [`SyslogMessage::sd_elements`]).
    pub structured_data: Option<&'a str>,
    /// A Cisco sequence number (`000123:`) or RFC 5424 `[meta sequenceId]`.
    pub sequence: Option<u64>,
    /// ESXi's level (`In(14)`, `No(13)`), or ESXi 6/7's level word (`info`).
    pub level: Option<&'a str>,
    /// The `%FACILITY-SEVERITY-MNEMONIC:` tag, when the message starts with one.
    pub cisco: Option<CiscoTag<'a>>,
    /// The message body (with its Cisco tag, if any; the BOM removed).
    pub message: &'a str,
}

impl<'a> SyslogMessage<'a> {
    fn empty(message: &'a str) -> SyslogMessage<'a> {
        SyslogMessage {
            priority: None,
            version: None,
            timestamp: None,
            hostname: None,
            app_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: None,
            sequence: None,
            level: None,
            cisco: None,
            message,
        }
    }

    /// The syslog facility (`PRI / 8`).
    pub fn facility(&self) -> Option<u8> {
        self.priority.map(|p| p >> 3)
    }

    /// The syslog severity (`PRI % 8`), else the Cisco tag's.
    pub fn severity(&self) -> Option<u8> {
        self.priority
            .map(|p| p & 7)
            .or(self.cisco.map(|c| c.severity))
    }

    /// The structured-data elements (RFC 5424 lines only).
    pub fn sd_elements(&self) -> Vec<SdElement<'a>> {
        self.structured_data.map(parse_sd).unwrap_or_default()
    }

    /// The value of `name` in the first SD element whose id starts with `id_prefix`.
    pub fn sd_param(&self, id_prefix: &str, name: &str) -> Option<Cow<'a, str>> {
        self.sd_elements()
            .into_iter()
            .find(|e| e.id.starts_with(id_prefix))
            .and_then(|e| e.params.into_iter().find(|(k, _)| *k == name))
            .map(|(_, v)| v)
    }

    /// The device's name: the header's host name, else `ctx.default_host`.
    pub fn host_or_default(&self, ctx: &ParseContext) -> Option<String> {
        self.hostname
            .map(str::to_string)
            .or_else(|| ctx.default_host.clone())
    }

    /// The header as ECS `log.syslog.*`: `priority`, `facility.code`, `severity.code`,
    /// `hostname`, `appname`, `procid`, `msgid`, `sequence`, `version`.
    pub fn ecs_fields(&self) -> JsonMap {
        let mut x = JsonMap::new();
        if let Some(p) = self.priority {
            x.insert("priority".into(), p.into());
            x.insert("facility".into(), json!({ "code": p >> 3 }));
        }
        if let Some(s) = self.severity() {
            x.insert("severity".into(), json!({ "code": s }));
        }
        let strings = [
            ("hostname", self.hostname),
            ("appname", self.app_name),
            ("procid", self.proc_id),
            ("msgid", self.msg_id),
        ];
        for (k, v) in strings {
            if let Some(v) = v {
                x.insert(k.into(), Value::String(v.to_string()));
            }
        }
        if let Some(n) = self.sequence {
            x.insert("sequence".into(), n.into());
        }
        if let Some(v) = self.version {
            x.insert("version".into(), v.into());
        }
        x
    }

    /// Puts the header into `record.syslog` (see [`SyslogMessage::ecs_fields`]).
    pub fn fill_record(&self, record: &mut LogRecord) {
        record.syslog = self.ecs_fields();
    }
}

/// Parses one syslog line (a datagram, a framed TCP message, or a line of a file).
///
/// Errors only when the line has no recognisable header at all (no `<PRI>`, timestamp,
/// sequence number, tag or Cisco tag), is empty, carries control characters in its
/// header, or is a truncated RFC 5424 header.
pub fn parse_syslog<'a>(line: &'a str, ctx: &ParseContext) -> Result<SyslogMessage<'a>, String> {
    let line = trim_line(line);
    if line.is_empty() {
        return Err("empty".into());
    }
    let head = prefix(line, 96);
    if head.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err("control characters in the header".into());
    }
    if prefix(line, 24).contains('\u{FFFD}') {
        return Err("not text (invalid UTF-8 in the header)".into());
    }
    let mut m = SyslogMessage::empty(line);
    let mut s = line;
    if s.starts_with('<') {
        let (pri, rest) = parse_pri(s)?;
        m.priority = Some(pri);
        s = rest;
    }
    if let Some((version, rest)) = rfc5424_version(s) {
        m.version = Some(version);
        parse_5424(&mut m, rest)?;
    } else {
        parse_legacy(&mut m, s, ctx);
    }
    m.cisco = parse_cisco_tag(m.message);
    let evidence = m.priority.is_some()
        || m.timestamp.is_some()
        || m.sequence.is_some()
        || m.cisco.is_some()
        || m.app_name.is_some();
    if !evidence {
        return Err("no syslog header".into());
    }
    Ok(m)
}

/// The first `n` bytes of `s`, shortened to a char boundary.
pub(crate) fn prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn trim_line(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n', '\0', ' ', '\t'])
        .trim_start_matches(['\u{FEFF}', ' ', '\t'])
}

fn parse_pri(s: &str) -> Result<(u8, &str), String> {
    let b = s.as_bytes();
    let mut i = 1;
    let mut v: u32 = 0;
    while i < b.len() && i <= 4 && b[i].is_ascii_digit() {
        v = v * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    if i == 1 || i > 4 || b.get(i) != Some(&b'>') || v > 191 {
        return Err("bad <PRI>".into());
    }
    Ok((v as u8, &s[i + 1..]))
}

/// `1 2003-…` or `1 -`: an RFC 5424 VERSION followed by a timestamp or NILVALUE.
fn rfc5424_version(s: &str) -> Option<(u8, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && i < 2 && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 || b[0] == b'0' || b.get(i) != Some(&b' ') {
        return None;
    }
    let rest = &b[i + 1..];
    let nil = rest.first() == Some(&b'-') && matches!(rest.get(1), Some(b' ') | None);
    let date = rest.len() >= 5 && rest[..4].iter().all(u8::is_ascii_digit) && rest[4] == b'-';
    if !(nil || date) {
        return None;
    }
    let version = s[..i].parse().ok()?;
    Some((version, &s[i + 1..]))
}

fn parse_5424<'a>(m: &mut SyslogMessage<'a>, s: &'a str) -> Result<(), String> {
    let mut fields = [None; 5];
    let mut rest = s;
    for (n, f) in fields.iter_mut().enumerate() {
        let Some((tok, r)) = split_once_space(rest) else {
            return Err(format!(
                "truncated RFC 5424 header (field {} missing)",
                n + 2
            ));
        };
        *f = Some(tok);
        rest = r;
    }
    let nil = |t: Option<&'a str>| t.filter(|t| *t != "-");
    m.timestamp = nil(fields[0]).and_then(|t| parse_iso(t).map(|(ts, _)| ts));
    m.hostname = nil(fields[1]);
    m.app_name = nil(fields[2]);
    m.proc_id = nil(fields[3]);
    m.msg_id = nil(fields[4]);
    let msg = if rest.starts_with('[') {
        let n = scan_sd_len(rest);
        m.structured_data = Some(&rest[..n]);
        &rest[n..]
    } else if let Some(r) = rest.strip_prefix('-') {
        r
    } else if rest.is_empty() {
        return Err("truncated RFC 5424 header (no STRUCTURED-DATA)".into());
    } else {
        // Lenient: no SD field at all, the message follows MSGID.
        rest
    };
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    m.message = msg.strip_prefix('\u{FEFF}').unwrap_or(msg);
    if let Some(seq) = m.sd_param("meta", "sequenceId") {
        m.sequence = seq.parse().ok();
    }
    Ok(())
}

fn split_once_space(s: &str) -> Option<(&str, &str)> {
    match s.find(' ') {
        Some(i) => Some((&s[..i], &s[i + 1..])),
        None if !s.is_empty() => Some((s, "")),
        None => None,
    }
}

/// The RFC 3164 / vendor header: Cisco pre-header, timestamp, ESXi level, host, tag.
fn parse_legacy<'a>(m: &mut SyslogMessage<'a>, s: &'a str, ctx: &ParseContext) {
    // NX-OS: `<190>: 2024 Mar 20 10:34:00 UTC: %AAA-…`.
    let s = s.strip_prefix(": ").unwrap_or(s);
    let mut s = s.trim_start_matches(' ');
    s = cisco_preheader(m, s);
    if let Some((ts, rest)) = timestamp_at(s, ctx, m.sequence.is_some()) {
        m.timestamp = Some(ts);
        s = rest;
    } else if let Some(rest) = skip_uptime(s) {
        s = rest;
    }
    s = s.trim_start_matches(' ');
    if let Some((level, rest)) = esxi_level(s) {
        m.level = Some(level);
        s = rest;
    }
    host_and_tag(m, s, ctx);
}

/// Cisco's sequence number and `logging origin-id hostname`, in either order.
fn cisco_preheader<'a>(m: &mut SyslogMessage<'a>, mut s: &'a str) -> &'a str {
    for _ in 0..3 {
        if m.sequence.is_none() {
            if let Some((seq, rest)) = cisco_seq(s) {
                m.sequence = Some(seq);
                s = rest;
                continue;
            }
        }
        if m.hostname.is_none() {
            if let Some((host, rest)) = origin_host(s) {
                if cisco_seq(rest).is_some()
                    || rest.starts_with('%')
                    || starts_like_cisco_time(rest)
                {
                    m.hostname = Some(host);
                    s = rest;
                    continue;
                }
            }
        }
        break;
    }
    s
}

/// `000123: ` — digits, a colon, then a space or the end.
fn cisco_seq(s: &str) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 20 || b.get(n) != Some(&b':') || !matches!(b.get(n + 1), Some(b' ') | None) {
        return None;
    }
    let seq = s[..n].parse().ok()?;
    Some((seq, s[n + 1..].trim_start_matches(' ')))
}

/// `R1: ` — a host name token followed by a colon (not all digits: that is a sequence).
fn origin_host(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let n = b.iter().take_while(|c| is_host_byte(**c)).count();
    if n == 0 || b.get(n) != Some(&b':') || b.get(n + 1) != Some(&b' ') {
        return None;
    }
    if b[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((&s[..n], s[n + 2..].trim_start_matches(' ')))
}

fn is_host_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')
}

/// After a Cisco pre-header: a marker, a timestamp or an uptime stamp.
fn starts_like_cisco_time(s: &str) -> bool {
    let t = s.trim_start_matches(['*', '.']);
    month_index(t.as_bytes()).is_some() || skip_uptime(t).is_some() || {
        let b = t.as_bytes();
        b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
    }
}

/// A timestamp (with Cisco's optional `*`/`.` marker and trailing `:`) at the start of
/// `s`: the time and the rest. `cisco_clock` says a Cisco header came first.
fn timestamp_at<'a>(
    s: &'a str,
    ctx: &ParseContext,
    cisco_clock: bool,
) -> Option<(DateTime<Utc>, &'a str)> {
    let (marker, t) = match s.as_bytes().first() {
        Some(b'*') | Some(b'.') => (true, &s[1..]),
        _ => (false, s),
    };
    let (ts, used) = parse_bsd(t, ctx, marker || cisco_clock).or_else(|| parse_iso(t))?;
    let rest = &t[used..];
    Some((ts, rest.strip_prefix(':').unwrap_or(rest)))
}

/// Cisco uptime stamps instead of a date: `00:10:07:` or `1d02h:` / `2w3d:`.
fn skip_uptime(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let end = b.iter().position(|c| *c == b' ').unwrap_or(b.len());
    let tok = &b[..end];
    if tok.len() < 3 || *tok.last()? != b':' {
        return None;
    }
    let body = &tok[..tok.len() - 1];
    let clock = body.len() >= 7
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b':' || *c == b'.')
        && body.iter().filter(|c| **c == b':').count() == 2;
    let units = body.iter().any(|c| matches!(c, b'y' | b'w' | b'd' | b'h'))
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'y' | b'w' | b'd' | b'h'))
        && body.first().is_some_and(u8::is_ascii_digit);
    if clock || units {
        Some(s[end..].trim_start_matches(' '))
    } else {
        None
    }
}

/// `In(14)`, `No(13)`, `Wa(180)+`: ESXi 7/8's severity before the tag.
fn esxi_level(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_lowercase() || b[2] != b'(' {
        return None;
    }
    let digits = b[3..].iter().take_while(|c| c.is_ascii_digit()).count();
    let close = 3 + digits;
    if digits == 0 || digits > 3 || b.get(close) != Some(&b')') {
        return None;
    }
    let mut end = close + 1;
    if b.get(end) == Some(&b'+') {
        end += 1;
    } else if b[end..].starts_with(b"[+]") {
        end += 3;
    }
    if !matches!(b.get(end), Some(b' ') | None) {
        return None;
    }
    Some((&s[..close + 1], s[end..].trim_start_matches(' ')))
}

/// ESXi 6.x/7 hostd/vpxa level words (`2019-…Z info hostd[2099] […]`).
fn is_esxi_level_word(t: &str) -> bool {
    matches!(
        t,
        "verbose" | "info" | "warning" | "error" | "trivia" | "debug" | "panic"
    )
}

/// `name[pid]:` or `name:` — an RFC 3164 TAG with its colon.
fn tag_with_colon(tok: &str) -> Option<(&str, Option<&str>)> {
    tag_shape(tok.strip_suffix(':')?)
}

/// `name[pid]` or `name`: program name characters, an optional bracketed pid.
fn tag_shape(t: &str) -> Option<(&str, Option<&str>)> {
    let b = t.as_bytes();
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/'))
        .count();
    if n == 0 || n > 48 || !b[0].is_ascii_alphabetic() {
        return None;
    }
    if n == b.len() {
        return Some((t, None));
    }
    if b[n] == b'[' && b.last() == Some(&b']') && b.len() > n + 2 {
        let pid = &t[n + 1..t.len() - 1];
        if !pid.contains(['[', ']', ' ']) {
            return Some((&t[..n], Some(pid)));
        }
    }
    None
}

fn next_token(s: &str) -> (&str, Option<&str>) {
    match s.find(' ') {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_start_matches(' '))),
        None => (s, None),
    }
}

fn set_tag<'a>(m: &mut SyslogMessage<'a>, tag: (&'a str, Option<&'a str>)) {
    m.app_name = Some(tag.0);
    m.proc_id = tag.1;
}

fn host_and_tag<'a>(m: &mut SyslogMessage<'a>, s: &'a str, ctx: &ParseContext) {
    m.message = s;
    if s.is_empty() || s.starts_with('%') {
        return;
    }
    let (tok1, rest1) = next_token(s);
    if let Some(tag) = tag_with_colon(tok1) {
        // `R1: %SYS-…` after a timestamp: an origin-id host name, not a program.
        let cisco_next = rest1.is_some_and(|r| r.starts_with('%') || cisco_seq(r).is_some());
        if cisco_next && tag.1.is_none() && m.hostname.is_none() {
            m.hostname = Some(tag.0);
            m.message = rest1.unwrap_or("");
            return;
        }
        set_tag(m, tag);
        m.message = rest1.unwrap_or("");
        return;
    }
    let Some(rest1) = rest1 else {
        return;
    };
    // ESXi 6/7 file format: `info hostd[2099] [Originator@6876 …] text`.
    if m.level.is_none() && is_esxi_level_word(tok1) {
        let (tok2, rest2) = next_token(rest1);
        if let (Some(tag), Some(rest2)) = (tag_shape(tok2), rest2) {
            if tag.1.is_some() && rest2.starts_with('[') {
                m.level = Some(tok1);
                set_tag(m, tag);
                m.message = rest2;
                return;
            }
        }
    }
    // tok1 is the host name (unless an origin-id already named the device).
    if m.hostname.is_some() {
        return;
    }
    m.hostname = Some(tok1);
    // ESXi lines re-sent with the file's level after the relay's host name.
    let r = match esxi_level(rest1) {
        Some((level, rest)) if m.level.is_none() => {
            m.level = Some(level);
            rest
        }
        _ => rest1,
    };
    if let Some(after) = r.strip_prefix(':') {
        // ASA: `10.160.0.10 : %ASA-5-111010: …`; a relayed NX-OS message: `10.1.1.2 :
        // 2024 Mar 20 10:34:00 UTC: %AAA-…`.
        let after = after.trim_start_matches(' ');
        m.message = after;
        if let Some((ts, rest)) = timestamp_at(after, ctx, true) {
            m.timestamp = Some(ts);
            m.message = rest.trim_start_matches(' ');
        }
        return;
    }
    if r.starts_with('%') {
        m.message = r;
        return;
    }
    // A relay's header in front of a Cisco one: `… 10.0.0.1 123: *Mar  1 …: %SYS-…`.
    if cisco_seq(r).is_some()
        || r.starts_with(['*', '.'])
        || origin_host(r)
            .is_some_and(|(_, rest)| cisco_seq(rest).is_some() || starts_like_cisco_time(rest))
    {
        let saved_host = m.hostname;
        m.hostname = None;
        let mut inner = cisco_preheader(m, r);
        if m.hostname.is_none() {
            m.hostname = saved_host;
        }
        if let Some((ts, rest)) = timestamp_at(inner, ctx, true) {
            m.timestamp = Some(ts);
            inner = rest;
        } else if let Some(rest) = skip_uptime(inner) {
            inner = rest;
        }
        m.message = inner.trim_start_matches([' ', ':']);
        return;
    }
    let (tok2, rest2) = next_token(r);
    if let Some(tag) = tag_with_colon(tok2) {
        set_tag(m, tag);
        m.message = rest2.unwrap_or("");
        return;
    }
    // A tag without its colon (`cisco-ise-host CISE_TACACS_Accounting 0000000001 …`).
    if let (Some(tag), Some(rest2)) = (tag_shape(tok2), rest2) {
        if m.timestamp.is_some() && tag.1.is_none() {
            set_tag(m, tag);
            m.message = rest2;
            return;
        }
    }
    m.message = r;
}

/// `%FACILITY-SEV-MNEMONIC:` at the start of a message.
pub(crate) fn parse_cisco_tag(msg: &str) -> Option<CiscoTag<'_>> {
    let body = msg.strip_prefix('%')?;
    let b = body.as_bytes();
    let end = b.iter().take(96).position(|c| *c == b':' || *c == b' ')?;
    let tag = &body[..end];
    if !tag
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return None;
    }
    // The severity is the first single-digit segment after the facility.
    let mut pos = 0;
    let mut sev_at = None;
    for seg in tag.split('-') {
        let b = seg.as_bytes();
        if pos > 0 && b.len() == 1 && (b'0'..=b'7').contains(&b[0]) && pos + 2 < tag.len() {
            sev_at = Some(pos);
            break;
        }
        pos += seg.len() + 1;
    }
    let start = sev_at?;
    let facility = &tag[..start - 1];
    let mnemonic = &tag[start + 2..];
    if facility.is_empty() || mnemonic.is_empty() {
        return None;
    }
    let text = body[end..].strip_prefix(':').unwrap_or(&body[end..]);
    Some(CiscoTag {
        facility,
        severity: tag.as_bytes()[start] - b'0',
        mnemonic,
        text: text.trim_start_matches(' '),
    })
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn month_index(b: &[u8]) -> Option<u32> {
    if b.len() < 4 || b[3] != b' ' {
        return None;
    }
    let lower = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .map(|i| i as u32 + 1)
}

/// Fixed offsets (seconds east of UTC) of the zone words devices put after the time.
fn zone_offset(z: &str) -> Option<i32> {
    Some(match z {
        "UTC" | "GMT" | "Z" | "UT" | "WET" => 0,
        "CET" | "BST" | "IST" | "WEST" => 3600,
        "CEST" | "EET" => 7200,
        "EEST" | "MSK" => 10800,
        "JST" | "KST" => 9 * 3600,
        "AEST" => 10 * 3600,
        "EST" => -5 * 3600,
        "EDT" => -4 * 3600,
        "CDT" => -5 * 3600,
        "CST" => -6 * 3600,
        "MST" => -7 * 3600,
        "MDT" => -6 * 3600,
        "PST" => -8 * 3600,
        "PDT" => -7 * 3600,
        _ => return None,
    })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |v, c| v * 10 + u32::from(c - b'0')))
}

/// `.123` after the seconds: nanoseconds and bytes used.
fn fraction(b: &[u8], at: usize) -> (u32, usize) {
    if b.get(at) != Some(&b'.') {
        return (0, 0);
    }
    let n = b[at + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 {
        return (0, 0);
    }
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let d = if i < n {
            u32::from(b[at + 1 + i] - b'0')
        } else {
            0
        };
        nanos = nanos * 10 + d;
    }
    (nanos, n + 1)
}

/// `hh:mm:ss` at `at` (seconds 60 folded into 59).
fn clock(b: &[u8], at: usize) -> Option<(u32, u32, u32)> {
    let h = digits(b, at, 2)?;
    let mi = digits(b, at + 3, 2)?;
    let s = digits(b, at + 6, 2)?;
    if b[at + 2] != b':' || b[at + 5] != b':' || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((h, mi, s.min(59)))
}

fn utc_from(
    date: NaiveDate,
    (h, mi, s): (u32, u32, u32),
    nanos: u32,
    offset: i32,
) -> Option<DateTime<Utc>> {
    let t = NaiveTime::from_hms_nano_opt(h, mi, s, nanos)?;
    let local = date.and_time(t);
    let utc = local.checked_sub_signed(TimeDelta::try_seconds(i64::from(offset))?)?;
    Some(utc.and_utc())
}

/// A BSD timestamp `Mmm dd [yyyy] hh:mm:ss[.frac] [ZONE]`: the time and bytes used.
/// A zone word not in the table counts (as UTC) only on a Cisco-made clock, where it
/// is followed by `:` (`00:06:54.100 Chita:`).
fn parse_bsd(s: &str, ctx: &ParseContext, cisco_clock: bool) -> Option<(DateTime<Utc>, usize)> {
    let b = s.as_bytes();
    // NX-OS puts the year first: `2024 Mar 20 10:34:00 UTC:`.
    let mut year = None;
    let mut i = 0;
    if let Some(y) = digits(b, 0, 4) {
        if b.get(4) == Some(&b' ') && month_index(&b[5..]).is_some() {
            year = Some(y as i32);
            i = 5;
        }
    }
    let month = month_index(&b[i..])?;
    i += 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let dlen = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if dlen == 0 || dlen > 2 {
        return None;
    }
    let day = digits(b, i, dlen)?;
    i += dlen;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if let Some(y) = digits(b, i, 4).filter(|_| year.is_none()) {
        if b.get(i + 4) == Some(&b' ') {
            year = Some(y as i32);
            i += 5;
        }
    }
    let hms = clock(b, i)?;
    i += 8;
    let (nanos, flen) = fraction(b, i);
    i += flen;
    let mut offset = 0;
    if b.get(i) == Some(&b' ') {
        let zlen = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if zlen > 0 && zlen <= 6 {
            let word = &s[i + 1..i + 1 + zlen];
            let after = b.get(i + 1 + zlen);
            let ends = matches!(after, Some(b' ') | Some(b':') | None);
            let colon = after == Some(&b':');
            if let Some(off) = zone_offset(word).filter(|_| ends) {
                offset = off;
                i += 1 + zlen;
            } else if colon && (cisco_clock || flen > 0) {
                i += 1 + zlen;
            }
        }
    }
    let dt = match year {
        Some(y) => utc_from(NaiveDate::from_ymd_opt(y, month, day)?, hms, nanos, offset)?,
        None => infer_year(month, day, hms, nanos, offset, ctx.reference)?,
    };
    Some((dt, i))
}

/// The year that puts `month day time` at most a day after `reference`.
fn infer_year(
    month: u32,
    day: u32,
    hms: (u32, u32, u32),
    nanos: u32,
    offset: i32,
    reference: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let limit = reference.checked_add_signed(TimeDelta::days(1))?;
    let year = reference.year();
    for y in (year - 8..=year + 1).rev() {
        let Some(date) = NaiveDate::from_ymd_opt(y, month, day) else {
            continue;
        };
        if let Some(dt) = utc_from(date, hms, nanos, offset) {
            if dt <= limit {
                return Some(dt);
            }
        }
    }
    None
}

/// An ISO 8601 / RFC 3339 timestamp at the start of `s`: `yyyy-mm-dd(T| )hh:mm:ss
/// [.frac][Z|±hh:mm|±hhmm|±hh]`, a zone possibly after one space (`… 17:41:26 +0000`).
/// No zone means UTC. Returns the time and the bytes used.
pub(crate) fn parse_iso(s: &str) -> Option<(DateTime<Utc>, usize)> {
    let b = s.as_bytes();
    let y = digits(b, 0, 4)?;
    let mo = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hms = clock(b, 11)?;
    let mut i = 19;
    let (nanos, flen) = fraction(b, i);
    i += flen;
    let mut offset = 0;
    match b.get(i) {
        Some(b'Z' | b'z') => i += 1,
        Some(b'+' | b'-') => {
            if let Some((off, n)) = numeric_zone(b, i) {
                offset = off;
                i += n;
            }
        }
        Some(b' ') if matches!(b.get(i + 1), Some(b'+' | b'-')) => {
            if let Some((off, n)) = numeric_zone(b, i + 1) {
                offset = off;
                i += 1 + n;
            }
        }
        _ => {}
    }
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    Some((utc_from(date, hms, nanos, offset)?, i))
}

/// `+hh:mm`, `+hhmm` or `+hh` at `at`: seconds east of UTC and bytes used.
fn numeric_zone(b: &[u8], at: usize) -> Option<(i32, usize)> {
    let sign = if b[at] == b'-' { -1 } else { 1 };
    let h = digits(b, at + 1, 2)? as i32;
    let (m, n) = if b.get(at + 3) == Some(&b':') {
        (digits(b, at + 4, 2)? as i32, 6)
    } else if let Some(m) = digits(b, at + 3, 2) {
        (m as i32, 5)
    } else {
        (0, 3)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some((sign * (h * 3600 + m * 60), n))
}

/// The length of the SD elements at the start of `s` (quote- and escape-aware).
fn scan_sd_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        let mut j = i + 1;
        let mut closed = false;
        while j < b.len() {
            match b[j] {
                b'\\' if quoted => j += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => {
                    closed = true;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        if !closed {
            return b.len();
        }
        i = j + 1;
    }
    i
}

/// Parses SD elements leniently: RFC 5424's quoted values, and also unquoted ones
/// (ESXi's `[Originator@6876 sub=Vimsvc opID=…]`). Stops at the first non-element.
pub fn parse_sd(raw: &str) -> Vec<SdElement<'_>> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id_len = b[i..]
            .iter()
            .take_while(|c| !matches!(c, b' ' | b']'))
            .count();
        let id = &raw[i..i + id_len];
        i += id_len;
        let mut params = Vec::new();
        loop {
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            match b.get(i) {
                None => return finish(out, id, params),
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            let name_len = b[i..]
                .iter()
                .take_while(|c| !matches!(c, b'=' | b' ' | b']'))
                .count();
            let name = &raw[i..i + name_len];
            i += name_len;
            if b.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            if b.get(i) == Some(&b'"') {
                i += 1;
                let start = i;
                let mut escaped = false;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        escaped = true;
                        i += 1;
                    }
                    i += 1;
                }
                let v = &raw[start..i.min(b.len())];
                params.push((
                    name,
                    if escaped {
                        unescape_sd(v)
                    } else {
                        Cow::Borrowed(v)
                    },
                ));
                i += 1;
            } else {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b']') {
                    i += 1;
                }
                params.push((name, Cow::Borrowed(&raw[start..i])));
            }
        }
        out.push(SdElement { id, params });
    }
    out
}

fn finish<'a>(
    mut out: Vec<SdElement<'a>>,
    id: &'a str,
    params: Vec<(&'a str, Cow<'a, str>)>,
) -> Vec<SdElement<'a>> {
    out.push(SdElement { id, params });
    out
}

/// RFC 5424 PARAM-VALUE escapes: `\"`, `\\`, `\]`; any other backslash is kept.
fn unescape_sd(v: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if matches!(n, '"' | '\\' | ']') {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx() -> ParseContext {
        ParseContext::new(
            Utc.with_ymd_and_hms(2024, 3, 25, 12, 0, 0)
                .single()
                .expect("valid time"),
        )
    }

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    #[test]
    fn rfc5424_with_sd_and_nil_values() {
        let l = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\"ication"][meta sequenceId="7"] BOMAn application event"#;
        let l = l.replace("BOM", "\u{FEFF}");
        let m = parse_syslog(&l, &ctx()).expect("parses");
        assert_eq!(m.priority, Some(165));
        assert_eq!(m.facility(), Some(20));
        assert_eq!(m.severity(), Some(5));
        assert_eq!(m.version, Some(1));
        assert_eq!(m.timestamp, Some(ts("2003-10-11T22:14:15.003Z")));
        assert_eq!(m.hostname, Some("mymachine.example.com"));
        assert_eq!(m.app_name, Some("evntslog"));
        assert_eq!(m.proc_id, None);
        assert_eq!(m.msg_id, Some("ID47"));
        assert_eq!(m.sequence, Some(7));
        assert_eq!(m.message, "An application event");
        let sd = m.sd_elements();
        assert_eq!(sd[0].id, "exampleSDID@32473");
        assert_eq!(sd[0].param("eventSource"), Some("Appl\"ication"));
        let x = m.ecs_fields();
        assert_eq!(x["facility"]["code"], 20);
        assert_eq!(x["sequence"], 7);
    }

    #[test]
    fn rfc5424_all_nil_and_truncated() {
        let m = parse_syslog("<14>1 - - - - - -", &ctx()).expect("parses");
        assert_eq!(m.timestamp, None);
        assert_eq!(m.message, "");
        assert!(parse_syslog("<14>1 2003-10-11T22:14:15Z host", &ctx()).is_err());
    }

    #[test]
    fn bsd_without_year_is_never_more_than_a_day_ahead() {
        let m =
            parse_syslog("Mar 24 20:33:52 eos Aaa: %ACCOUNTING-6-CMD: x", &ctx()).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2024-03-24T20:33:52Z")));
        assert_eq!(m.hostname, Some("eos"));
        assert_eq!(m.app_name, Some("Aaa"));
        let c = m.cisco.expect("cisco tag");
        assert_eq!(
            (c.facility, c.severity, c.mnemonic, c.text),
            ("ACCOUNTING", 6, "CMD", "x")
        );
        // Dec 31 seen on Mar 25: last year.
        let m = parse_syslog("Dec 31 23:59:59 h p: x", &ctx()).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2023-12-31T23:59:59Z")));
        // Jan 1 00:10 seen on Dec 31 23:00: next year.
        let c2 = ParseContext::new(ts("2023-12-31T23:00:00Z"));
        let m = parse_syslog("Jan  1 00:10:00 h p: x", &c2).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2024-01-01T00:10:00Z")));
        // Feb 29 falls back to the last leap year.
        let c3 = ParseContext::new(ts("2025-03-01T00:00:00Z"));
        let m = parse_syslog("Feb 29 10:00:00 h p: x", &c3).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2024-02-29T10:00:00Z")));
    }

    #[test]
    fn cisco_sequence_markers_zone_and_origin_id() {
        let m = parse_syslog(
            "<189>123: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.sequence, Some(123));
        assert_eq!(m.timestamp, Some(ts("2024-03-01T18:46:11.123Z")));
        assert_eq!(m.cisco.expect("cisco tag").mnemonic, "CONFIG_I");
        assert_eq!(m.hostname, None);
        for l in [
            "<189>45: R1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: x",
            "<189>R1: 45: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: x",
            "Mar  1 18:46:12 10.0.0.1 45: R1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: x",
        ] {
            let m = parse_syslog(l, &ctx()).expect("parses");
            assert_eq!(m.hostname, Some("R1"), "{l}");
            assert_eq!(m.sequence, Some(45), "{l}");
            assert_eq!(m.timestamp, Some(ts("2024-03-01T18:46:11.123Z")), "{l}");
            assert_eq!(m.cisco.expect("cisco tag").text, "x", "{l}");
        }
        let m = parse_syslog(
            "000123: .Mar 1 2023 10:00:00.5 CET: %LINK-3-UPDOWN: y",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.sequence, Some(123));
        assert_eq!(m.timestamp, Some(ts("2023-03-01T09:00:00.5Z")));
        let m = parse_syslog("<189>46: 1d02h: %SYS-5-CONFIG_I: z", &ctx()).expect("parses");
        assert_eq!((m.sequence, m.timestamp), (Some(46), None));
        assert_eq!(m.cisco.expect("cisco tag").text, "z");
        let m = parse_syslog(
            "Jul 20 00:06:54.100 Chita: %PARSER-5-CFGLOG_LOGGEDCMD: q",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.cisco.expect("cisco tag").facility, "PARSER");
    }

    #[test]
    fn asa_with_year_and_spaced_colon() {
        let m = parse_syslog(
            "<165>Oct 06 2021 15:02:30 10.160.0.10 : %ASA-5-111010: User 'admin', running",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.timestamp, Some(ts("2021-10-06T15:02:30Z")));
        assert_eq!(m.hostname, Some("10.160.0.10"));
        assert_eq!(m.cisco.expect("cisco tag").mnemonic, "111010");
        let m =
            parse_syslog("<165>Nov 08 2013 10:18:30: %ASA-5-111008: x", &ctx()).expect("parses");
        assert_eq!(m.hostname, None);
        assert_eq!(m.cisco.expect("cisco tag").facility, "ASA");
        let nx = "<190>: 2024 Mar 20 10:34:00 UTC: %AAA-6-AAA_ACCOUNTING_MESSAGE: x";
        let m = parse_syslog(nx, &ctx()).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2024-03-20T10:34:00Z")));
        assert_eq!(m.cisco.expect("cisco tag").facility, "AAA");
        let relayed = "Mar 20 10:34:01 10.1.1.2 : 2024 Mar 20 10:34:00 UTC: %AAA-6-X_Y: x";
        let m = parse_syslog(relayed, &ctx()).expect("parses");
        assert_eq!(m.hostname, Some("10.1.1.2"));
        assert_eq!(m.timestamp, Some(ts("2024-03-20T10:34:00Z")));
        assert_eq!(m.cisco.expect("cisco tag").text, "x");
    }

    #[test]
    fn esxi_formats() {
        let m = parse_syslog(
            "2023-12-05T17:36:17.835Z In(14) shell[1053659]: [root]: vim-cmd vmsvc/getallvms",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.level, Some("In(14)"));
        assert_eq!(m.hostname, None);
        assert_eq!((m.app_name, m.proc_id), (Some("shell"), Some("1053659")));
        assert_eq!(m.message, "[root]: vim-cmd vmsvc/getallvms");
        let m = parse_syslog(
            "<166>2022-11-04T15:01:58.230Z ESXI Hostd: info hostd[1053970] [Originator@6876 sub=x] Event",
            &ctx(),
        )
        .expect("test value");
        assert_eq!((m.hostname, m.app_name), (Some("ESXI"), Some("Hostd")));
        assert!(m.message.starts_with("info hostd[1053970] ["));
        let m = parse_syslog(
            "2019-05-10T10:15:22.633Z info hostd[2099718] [Originator@6876 sub=Vmomi] text",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(
            (m.level, m.app_name, m.hostname),
            (Some("info"), Some("hostd"), None)
        );
        assert_eq!(m.message, "[Originator@6876 sub=Vmomi] text");
        let l = "<14>2023-12-05T17:36:17.835Z esx01 In(14) shell[7]: [root]: ls";
        let m = parse_syslog(l, &ctx()).expect("parses");
        assert_eq!(m.hostname, Some("esx01"));
        assert_eq!((m.level, m.app_name), (Some("In(14)"), Some("shell")));
        assert_eq!(m.message, "[root]: ls");
    }

    #[test]
    fn rfc3339_file_lines_and_ise_tag_without_colon() {
        let m =
            parse_syslog("2024-01-02T03:04:05+02:00 host tag[42]: msg", &ctx()).expect("parses");
        assert_eq!(m.timestamp, Some(ts("2024-01-02T01:04:05Z")));
        assert_eq!(
            (m.hostname, m.app_name, m.proc_id),
            (Some("host"), Some("tag"), Some("42"))
        );
        let m = parse_syslog(
            "<182>Feb 21 19:13:08 cisco-ise-host CISE_TACACS_Accounting 0000000001 4 0 x",
            &ctx(),
        )
        .expect("test value");
        assert_eq!(m.app_name, Some("CISE_TACACS_Accounting"));
        assert_eq!(m.message, "0000000001 4 0 x");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for l in [
            "",
            "   ",
            "<999>x",
            "<12",
            "hello world",
            "\u{1}\u{2}binary",
            "é€𝄞",
        ] {
            assert!(parse_syslog(l, &ctx()).is_err(), "{l:?}");
        }
        assert!(parse_syslog("<13>", &ctx()).is_ok());
    }

    #[test]
    fn iso_variants() {
        let (t, n) = parse_iso("2020-07-17 17:41:26 +0000\tx").expect("test value");
        assert_eq!((t, n), (ts("2020-07-17T17:41:26Z"), 25));
        let (t, _) = parse_iso("2020-02-21 19:13:08.328 +00:00 rest").expect("test value");
        assert_eq!(t, ts("2020-02-21T19:13:08.328Z"));
        let (t, n) = parse_iso("2003-10-11T22:14:15.003-07:00").expect("test value");
        assert_eq!((t, n), (ts("2003-10-12T05:14:15.003Z"), 29));
        assert!(parse_iso("2003-13-11T22:14:15Z").is_none());
    }
}
