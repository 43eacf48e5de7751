//! Network device parsers: the command-accounting and command-logging messages of Cisco
//! IOS/IOS-XE, NX-OS, ASA, Cisco ISE, Juniper Junos and Arista EOS.
//!
//! Formats, from the vendors' message references and the recorded lines in
//! `shared/fixtures/network`:
//! - IOS/IOS-XE: `%PARSER-5-CFGLOG_LOGGEDCMD: User:alice  logged command:show tcp brief`
//!   (`archive log config`; exec commands as `!exec: enable`) and an EEM CLI catch-all
//!   applet's `%HA_EM-6-LOG: catchall: show ip sockets` (`event cli pattern ".*"` +
//!   `action syslog msg "$_cli_msg"`);
//! - NX-OS: `%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.1.1.1@pts/0:admin:show sockets
//!   connection (SUCCESS)`, with `start:`/`stop:` for the session and `(REDIRECT)` for a
//!   command NX-OS re-dispatches (logged again with its real result);
//! - ASA (and PIX/FTD): `%ASA-5-111008: User 'u' executed the 'cmd' command.`,
//!   `%ASA-7-111009: User 'u' executed cmd: cmd` and `%ASA-5-111010: User 'u', running
//!   'CLI' from IP a.b.c.d, executed 'cmd'` (ASA syslog messages 111008-111010; a config
//!   command is logged as both 111008 and 111010, kept apart by
//!   `cisco_asa.message_id`);
//! - Junos: `UI_CMDLINE_READ_LINE: User 'alice', command 'show system connections '`, in
//!   BSD form and in structured-data form (`[junos@2636.… username="alice"
//!   command="…"]`), plus `UI_LOGIN_EVENT` / `UI_LOGOUT_EVENT`;
//! - EOS: `%ACCOUNTING-6-CMD: admin vty6 192.168.2.1 stop task_id=17 … priv-lvl=15
//!   cmd=show interfaces status` (local command accounting);
//! - Cisco ISE `CISE_TACACS_Accounting`: `<msgid> <chunks> <chunk> <time> … Tacacs-
//!   Accounting: …, CmdSet=[ CmdAV=show CmdArgAV=tcp CmdArgAV=<cr> ], User=…`.
//!
//! A known tag whose body is not in its documented shape is [`Parsed::Drift`]; any other
//! `%FACILITY-SEV-MNEMONIC` message is [`Parsed::Ignored`].

use crate::parse::{between, clean_command, device_of, endpoint, new_record, set_extra};
use crate::record::{Action, Device, DeviceKind, LogRecord, Parsed};
use crate::syslog::{parse_iso, prefix, CiscoTag, ParseContext, SyslogMessage};

/// Parses `msg` if it is a network device message Picket knows; `None` otherwise.
pub fn parse_network(msg: &SyslogMessage, ctx: &ParseContext) -> Option<Parsed> {
    if let Some(tag) = msg.cisco {
        return Some(cisco(msg, ctx, &tag));
    }
    if let Some(app) = msg.app_name {
        if app == "CISE_TACACS_Accounting" {
            return Some(ise(msg, ctx));
        }
        if app.starts_with("CISE_") {
            return Some(Parsed::Ignored);
        }
    }
    junos(msg, ctx)
}

fn done(r: LogRecord) -> Parsed {
    Parsed::Record(Box::new(r))
}

fn drift(format: &str, body: &str) -> Parsed {
    Parsed::Drift(format!("{format}: {:?}", prefix(body, 100)))
}

/// The sending device: its header host name (an address goes to `ip`), else the
/// context's default host.
fn net_device(
    msg: &SyslogMessage,
    ctx: &ParseContext,
    kind: DeviceKind,
    vendor: &'static str,
    product: &'static str,
) -> Device {
    let mut d = device_of(msg, ctx, kind);
    d.vendor = Some(vendor);
    d.product = Some(product);
    d
}

fn cisco(msg: &SyslogMessage, ctx: &ParseContext, tag: &CiscoTag) -> Parsed {
    match (tag.facility, tag.mnemonic) {
        ("HA_EM", "LOG") => ios_eem(msg, ctx, tag.text),
        ("PARSER", "CFGLOG_LOGGEDCMD") => ios_parser(msg, ctx, tag.text),
        ("AAA", "AAA_ACCOUNTING_MESSAGE") => nxos(msg, ctx, tag.text),
        ("ASA" | "PIX" | "FTD", "111008" | "111009" | "111010") => asa(msg, ctx, tag),
        ("ACCOUNTING", "CMD") => eos(msg, ctx, tag.text),
        _ => Parsed::Ignored,
    }
}

fn ios_record(msg: &SyslogMessage, ctx: &ParseContext) -> LogRecord {
    let d = net_device(msg, ctx, DeviceKind::Router, "Cisco", "IOS");
    new_record(msg, ctx, "cisco_ios.log", Action::Command, d)
}

/// `%HA_EM-6-LOG: <applet>: <message>`. An EEM applet logs whatever its author chose;
/// only applets named for CLI capture (`catchall`, or a name holding `cli`, `cmd`,
/// `command`, `accounting` or `audit`) are taken as commands.
fn ios_eem(msg: &SyslogMessage, ctx: &ParseContext, text: &str) -> Parsed {
    let Some((applet, cmd)) = text.split_once(": ") else {
        return drift("cisco_ios %HA_EM-6-LOG: not `applet: message`", text);
    };
    let name = applet.to_ascii_lowercase();
    let cli = ["catchall", "cli", "cmd", "command", "accounting", "audit"]
        .iter()
        .any(|w| name.contains(w));
    if !cli {
        return Parsed::Ignored;
    }
    let Some(cmd) = clean_command(cmd) else {
        return drift("cisco_ios %HA_EM-6-LOG: empty command", text);
    };
    let mut r = ios_record(msg, ctx);
    r.command = Some(cmd);
    set_extra(&mut r.extra, "cisco_ios", "eem_applet", applet);
    done(r)
}

/// `User:alice  logged command:show tcp brief` (`!exec: ` before exec-mode commands).
fn ios_parser(msg: &SyslogMessage, ctx: &ParseContext, text: &str) -> Parsed {
    let parsed = text
        .strip_prefix("User:")
        .and_then(|r| r.split_once(" logged command:"));
    let Some((user, cmd)) = parsed else {
        return drift(
            "cisco_ios %PARSER-5-CFGLOG_LOGGEDCMD: not `User:u  logged command:cmd`",
            text,
        );
    };
    let cmd = cmd.trim();
    let cmd = cmd.strip_prefix("!exec:").unwrap_or(cmd);
    let Some(cmd) = clean_command(cmd) else {
        return drift("cisco_ios %PARSER-5-CFGLOG_LOGGEDCMD: empty command", text);
    };
    let mut r = ios_record(msg, ctx);
    let user = user.trim();
    r.user = (!user.is_empty() && user != "unknown user").then(|| user.to_string());
    r.command = Some(cmd);
    done(r)
}

/// `update:10.1.1.1@pts/0:admin:show sockets connection (SUCCESS)`;
/// `start:vsh.19419:admin:`; `stop:10.1.1.1@pts/0:admin:shell terminated gracefully`.
fn nxos(msg: &SyslogMessage, ctx: &ParseContext, text: &str) -> Parsed {
    const FORMAT: &str = "cisco_nxos %AAA-6-AAA_ACCOUNTING_MESSAGE: not `type:source:user:text`";
    let Some((kind, rest)) = text.split_once(':') else {
        return drift(FORMAT, text);
    };
    // The source is `ip@tty` (the IP may be IPv6) or a local process (`vsh.19419`).
    let ip_like = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
    };
    let (src, tty, rest) = match rest.split_once('@') {
        Some((ip, after)) if ip_like(ip) => match after.split_once(':') {
            Some((tty, r)) => (Some(ip), Some(tty), r),
            None => return drift(FORMAT, text),
        },
        _ => match rest.split_once(':') {
            Some((_proc, r)) => (None, None, r),
            None => return drift(FORMAT, text),
        },
    };
    let (user, body) = rest.split_once(':').unwrap_or((rest, ""));
    let action = match kind {
        "update" => Action::Command,
        "start" => Action::SessionStart,
        "stop" => Action::SessionEnd,
        _ => return drift(FORMAT, text),
    };
    let d = net_device(msg, ctx, DeviceKind::Switch, "Cisco", "NX-OS");
    let mut r = new_record(msg, ctx, "cisco_nxos.log", action, d);
    r.user = Some(user.trim().to_string()).filter(|u| !u.is_empty());
    r.source = src.and_then(|s| endpoint(s, None));
    r.terminal = tty.map(str::to_string);
    if action == Action::Command {
        let body = body.trim_end();
        let (cmd, result) = match body.rfind(" (") {
            Some(i) if body.ends_with(')') => (&body[..i], body[i + 2..].trim_end_matches(')')),
            _ => (body, ""),
        };
        match result {
            // Re-dispatched: NX-OS logs the command again with its real result.
            "REDIRECT" => return Parsed::Ignored,
            "SUCCESS" => r.outcome = Some("success"),
            "FAILURE" => r.outcome = Some("failure"),
            _ => {}
        }
        match clean_command(cmd) {
            Some(c) => r.command = Some(c),
            None => {
                return drift(
                    "cisco_nxos %AAA-6-AAA_ACCOUNTING_MESSAGE: empty command",
                    text,
                )
            }
        }
    }
    done(r)
}

/// ASA messages 111008, 111009 and 111010.
fn asa(msg: &SyslogMessage, ctx: &ParseContext, tag: &CiscoTag) -> Parsed {
    let text = tag.text.trim_end();
    let id = tag.mnemonic;
    let product = if tag.facility == "FTD" { "FTD" } else { "ASA" };
    let mut app = None;
    let mut ip = None;
    let parsed = match id {
        // User 'u' executed the 'cmd' command.
        "111008" => text.strip_prefix("User '").and_then(|r| {
            let (user, rest) = r.split_once("' executed the '")?;
            let end = rest.rfind("' command")?;
            Some((user, &rest[..end]))
        }),
        // User 'u' executed cmd: cmd   (the quotes are not always there)
        "111009" => text.strip_prefix("User ").and_then(|r| {
            let (user, cmd) = r.split_once(" executed cmd:")?;
            Some((user.trim_matches('\''), cmd))
        }),
        // User 'u', running 'CLI' from IP a.b.c.d, executed 'cmd'
        _ => text.strip_prefix("User '").and_then(|r| {
            let (user, rest) = r.split_once("', running '")?;
            let (a, rest) = rest.split_once("' from IP ")?;
            let (addr, rest) = rest.split_once(", executed '")?;
            app = Some(a);
            ip = Some(addr);
            Some((user, rest.strip_suffix('\'').unwrap_or(rest)))
        }),
    };
    let Some((user, cmd)) = parsed else {
        let want = match id {
            "111008" => "User 'u' executed the 'cmd' command.",
            "111009" => "User 'u' executed cmd: cmd",
            _ => "User 'u', running 'app' from IP ip, executed 'cmd'",
        };
        return drift(&format!("cisco_asa {id}: not `{want}`"), text);
    };
    let Some(cmd) = clean_command(cmd) else {
        return drift(&format!("cisco_asa {id}: empty command"), text);
    };
    let d = net_device(msg, ctx, DeviceKind::Firewall, "Cisco", product);
    let mut r = new_record(msg, ctx, "cisco_asa.log", Action::Command, d);
    r.user = Some(user.to_string()).filter(|u| !u.is_empty());
    r.command = Some(cmd);
    // 0.0.0.0 is the ASA's own console, not a client.
    r.source = ip
        .filter(|a| *a != "0.0.0.0")
        .and_then(|a| endpoint(a, None));
    if let Some(a) = app {
        if a.eq_ignore_ascii_case("ASDM") {
            r.origin = Some("api");
        }
        set_extra(&mut r.extra, "cisco_asa", "application", a);
    }
    set_extra(&mut r.extra, "cisco_asa", "message_id", id);
    done(r)
}

/// `admin vty6 192.168.2.1 stop task_id=17 … priv-lvl=15 cmd=show interfaces status`:
/// user, terminal, remote address (absent on the console), record type, AV pairs with
/// `cmd=` last. Commands are emitted on `stop` (start/stop accounting logs both).
fn eos(msg: &SyslogMessage, ctx: &ParseContext, text: &str) -> Parsed {
    const FORMAT: &str =
        "arista_eos %ACCOUNTING-6-CMD: not `user tty [address] start|stop av-pairs`";
    let (head, cmd) = match text.find("cmd=") {
        Some(i) => (&text[..i], Some(&text[i + 4..])),
        None => (text, None),
    };
    let positional: Vec<&str> = head
        .split_whitespace()
        .take_while(|w| !w.contains('='))
        .collect();
    let avs = head.split_whitespace().filter_map(|w| w.split_once('='));
    let (user, tty, addr, kind) = match positional.as_slice() {
        [u, t, a, k] => (*u, *t, Some(*a), *k),
        [u, t, k] => (*u, *t, None, *k),
        _ => return drift(FORMAT, text),
    };
    if !matches!(kind, "start" | "stop" | "update" | "watchdog") {
        return drift(FORMAT, text);
    }
    let Some(cmd) = cmd.and_then(clean_command) else {
        return Parsed::Ignored;
    };
    if kind != "stop" {
        return Parsed::Ignored;
    }
    let d = net_device(msg, ctx, DeviceKind::Switch, "Arista", "EOS");
    let mut r = new_record(msg, ctx, "arista_eos.accounting", Action::Command, d);
    r.user = Some(user.to_string());
    r.terminal = Some(tty.to_string());
    r.source = addr.and_then(|a| endpoint(a, None));
    r.command = Some(cmd);
    for (k, v) in avs {
        match k {
            "priv-lvl" => r.privilege_level = v.parse().ok(),
            "task_id" => set_extra(&mut r.extra, "arista_eos", "task_id", v),
            // The command's own time, with the year the BSD header lacks.
            "start_time" => {
                if let Some(t) = epoch(v) {
                    r.timestamp = t;
                }
            }
            _ => {}
        }
    }
    done(r)
}

/// `1521923632.5` (seconds since 1970, as accounting AV pairs write them).
pub(crate) fn epoch(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).filter(char::is_ascii_digit).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
    };
    chrono::DateTime::from_timestamp(secs, nanos)
}

/// Junos `UI_*` messages: RFC 5424 MSGID or the body's `UI_…: ` tag.
fn junos(msg: &SyslogMessage, ctx: &ParseContext) -> Option<Parsed> {
    let (tag, text) = match msg.msg_id.filter(|m| m.starts_with("UI_")) {
        Some(id) => (id, msg.message),
        None => {
            let (t, rest) = msg.message.split_once(": ")?;
            if !t.starts_with("UI_") || !t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return None;
            }
            (t, rest)
        }
    };
    let sd = |name: &str| msg.sd_param("junos@", name).map(|v| v.into_owned());
    let quoted_user = || between(text, "User '", "'").map(str::to_string);
    let action = match tag {
        "UI_CMDLINE_READ_LINE" => Action::Command,
        "UI_LOGIN_EVENT" => Action::Login,
        "UI_LOGOUT_EVENT" => Action::SessionEnd,
        _ => return Some(Parsed::Ignored),
    };
    let d = net_device(msg, ctx, DeviceKind::Router, "Juniper", "Junos");
    let mut r = new_record(msg, ctx, "juniper_junos.log", action, d);
    r.pid = msg.proc_id.and_then(|p| p.parse().ok());
    r.user = sd("username")
        .or_else(quoted_user)
        .filter(|u| !u.is_empty());
    match action {
        Action::Command => {
            let from_text = || {
                let i = text.find("', command '")? + "', command '".len();
                let rest = &text[i..];
                Some(rest.strip_suffix('\'').unwrap_or(rest).to_string())
            };
            let Some(cmd) = sd("command")
                .or_else(from_text)
                .as_deref()
                .and_then(clean_command)
            else {
                return Some(drift(
                    "juniper_junos UI_CMDLINE_READ_LINE: not `User 'u', command 'cmd'`",
                    text,
                ));
            };
            if r.user.is_none() {
                return Some(drift("juniper_junos UI_CMDLINE_READ_LINE: no user", text));
            }
            r.command = Some(cmd);
        }
        Action::Login => {
            r.outcome = Some("success");
            let conn = sd("ssh-connection")
                .or_else(|| between(text, "ssh-connection '", "'").map(str::to_string));
            // `ssh-connection '10.0.0.5 50010 10.0.0.1 22'`: client address and port first.
            if let Some(conn) = conn.filter(|c| !c.trim().is_empty()) {
                let mut w = conn.split_whitespace();
                let ip = w.next().unwrap_or("");
                r.source = endpoint(ip, w.next().and_then(|p| p.parse().ok()));
                r.origin = Some("ssh");
            }
        }
        _ => {}
    }
    Some(done(r))
}

/// Cisco ISE `CISE_TACACS_Accounting <msgid> <total> <chunk> <time> <seq> <code>
/// <severity> Tacacs-Accounting: <text>, key=value, …`. ISE splits long messages into
/// numbered chunks; chunk 0 carries the header and the first attributes, and is parsed
/// alone (the later chunks are counted as ignored).
fn ise(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    const FORMAT: &str = "cisco_ise CISE_TACACS_Accounting";
    let body = msg.message;
    let mut words = body.splitn(4, ' ');
    let (Some(_id), Some(_total), Some(chunk), rest) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return drift(&format!("{FORMAT}: no `msgid chunks chunk` header"), body);
    };
    if !chunk.bytes().all(|b| b.is_ascii_digit()) || chunk.is_empty() {
        return drift(&format!("{FORMAT}: chunk number is not a number"), body);
    }
    if chunk.bytes().any(|b| b != b'0') {
        return Parsed::Ignored;
    }
    let rest = rest.unwrap_or("");
    let (time, after_time) = match parse_iso(rest) {
        Some((t, n)) => (Some(t), &rest[n..]),
        None => (None, rest),
    };
    let Some(i) = after_time.find("Tacacs-Accounting: ") else {
        return drift(&format!("{FORMAT}: no `Tacacs-Accounting:` category"), body);
    };
    let attrs = &after_time[i + "Tacacs-Accounting: ".len()..];
    let get = |key: &str| ise_attr(attrs, key);
    let command = ise_command(attrs);
    let flags = get("AcctRequest-Flags").unwrap_or("");
    // Start records repeat what the Stop will carry; a command counts once, on Stop.
    let Some(command) = command.filter(|_| !flags.eq_ignore_ascii_case("start")) else {
        return Parsed::Ignored;
    };
    let kind = match get("Device Type").unwrap_or("") {
        t if t.contains("Router") => DeviceKind::Router,
        t if t.contains("Switch") => DeviceKind::Switch,
        t if t.contains("Firewall") => DeviceKind::Firewall,
        _ => DeviceKind::Network,
    };
    let mut d = Device::new(kind);
    d.hostname = get("NetworkDeviceName").map(str::to_string);
    d.ip = get("Device IP Address").map(str::to_string);
    d.vendor = get("Network Device Profile")
        .filter(|p| p.eq_ignore_ascii_case("cisco"))
        .map(|_| "Cisco");
    d.product = Some("ISE");
    let mut r = LogRecord::new(
        time.or(msg.timestamp).unwrap_or(ctx.reference),
        "cisco_ise.tacacs",
        Action::Command,
        d,
    );
    r.command = Some(command);
    r.user = get("User").map(str::to_string);
    r.privilege_level = get("Privilege-Level").and_then(|p| p.parse().ok());
    r.terminal = get("Port").map(str::to_string);
    r.source = get("Remote-Address").and_then(|a| endpoint(a, None));
    if let Some(task) = between(attrs, "AVPair=task_id=", ",") {
        set_extra(&mut r.extra, "tacacs", "task_id", task);
    }
    if let Some(s) = get("AcsSessionID") {
        set_extra(&mut r.extra, "cisco_ise", "session_id", s);
    }
    done(r)
}

/// The first `key=value` attribute of an ISE message (`, `-separated).
fn ise_attr<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = attrs[from..].find(key) {
        let at = from + i;
        let boundary = at == 0 || attrs[..at].ends_with(", ");
        let after = &attrs[at + key.len()..];
        if boundary {
            if let Some(v) = after.strip_prefix('=') {
                let end = v.find(", ").unwrap_or(v.len());
                return Some(v[..end].trim());
            }
        }
        from = at + key.len();
    }
    None
}

/// `CmdSet=[ CmdAV=show CmdArgAV=tcp CmdArgAV=brief CmdArgAV=<cr> ]` → `show tcp
/// brief`; ISE also puts the whole line in `CmdAV` (`CmdAV=show mac-address-table <cr>`).
fn ise_command(attrs: &str) -> Option<String> {
    let set = between(attrs, "CmdSet=[", "]")?;
    let mut parts: Vec<&str> = Vec::new();
    for piece in set.split(" CmdArgAV=") {
        let piece = piece.trim();
        let piece = piece.strip_prefix("CmdAV=").unwrap_or(piece);
        let piece = piece.strip_prefix("CmdArgAV=").unwrap_or(piece);
        if !piece.is_empty() && piece != "<cr>" {
            parts.push(piece);
        }
    }
    clean_command(&parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;
    use chrono::{TimeZone, Utc};

    fn ctx() -> ParseContext {
        ParseContext::new(
            Utc.with_ymd_and_hms(2024, 3, 25, 12, 0, 0)
                .single()
                .expect("valid time"),
        )
    }

    fn rec(line: &str) -> LogRecord {
        match parse_line(line, &ctx()) {
            Parsed::Record(r) => *r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn nxos_sources_and_results() {
        let r = rec("<189>Mar 25 10:00:00 nx1 : %AAA-6-AAA_ACCOUNTING_MESSAGE: update:2001:db8::5@pts/1:admin:show sockets connection (SUCCESS)");
        assert_eq!(r.command.as_deref(), Some("show sockets connection"));
        assert_eq!(r.source.expect("source").ip.as_deref(), Some("2001:db8::5"));
        assert_eq!(r.terminal.as_deref(), Some("pts/1"));
        assert_eq!(r.outcome, Some("success"));
        let p = parse_line("%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.1.1.1@pts/0:admin:configure terminal ; vlan 501 (REDIRECT))", &ctx());
        assert_eq!(p, Parsed::Ignored);
        let r = rec("%AAA-6-AAA_ACCOUNTING_MESSAGE: start:vsh.19419:admin:");
        assert_eq!(
            (r.action, r.user.as_deref(), r.source),
            (Action::SessionStart, Some("admin"), None)
        );
        assert!(matches!(
            parse_line("%AAA-6-AAA_ACCOUNTING_MESSAGE: garbage", &ctx()),
            Parsed::Drift(_)
        ));
    }

    #[test]
    fn ise_attributes() {
        let a = "TACACS+ Accounting with Command, Device IP Address=1.2.3.4, CmdSet=[ CmdAV=show CmdArgAV=tcp CmdArgAV=brief CmdArgAV=<cr> ], User=bob, Port=tty1";
        assert_eq!(ise_attr(a, "User"), Some("bob"));
        assert_eq!(ise_attr(a, "Device IP Address"), Some("1.2.3.4"));
        assert_eq!(ise_attr(a, "Address"), None);
        assert_eq!(ise_command(a).as_deref(), Some("show tcp brief"));
    }
}
