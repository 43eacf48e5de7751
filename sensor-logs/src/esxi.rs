//! VMware ESXi parsers: `shell.log`, ESXi 8 audit records, `auth.log` (sshd, console
//! `login`), `hostd.log` / `vpxa.log` (management-API logins and esxcli run through the
//! vSphere API) and DCUI lines.
//!
//! Sources: the recorded lines in `shared/fixtures/esxi` (ESXi 8 `shell.log`, `auth.log`,
//! `hostd.log`; ESXi 8 syslog forwarding with a `[shell.cmd@6876 …]` audit record);
//! VMware KB 321910 "Auditing ESXi Shell logins and commands" (`shell[pid]: [user]:
//! cmd`, `Interactive shell session started`, sshd `Session opened/closed for 'root'
//! on /dev/char/pty/t0`, console `login[pid]: root login on 'char/tty/1'`); the vSphere
//! API's session events (`User {user}@{ip} logged in as {agent}`, `… logged out (…, user
//! agent: …)`, `Cannot login {user}@{ip}`), hostd's DCUI session as user `dcui` from
//! 127.0.0.1, and VMware's `esx.audit.dcui.login.failed` text (`Authentication of user
//! {1} has failed`); ESXi 8's audit event ids (`shell.cmd`, `ssh.cmd`,
//! `ssh.session.begin`/`end`, `dcui.login`/`logout`).

use crate::parse::{device_of, endpoint, new_record, outcome_word, set_extra};
use crate::record::{Action, Device, DeviceKind, LogRecord, Parsed};
use crate::syslog::{parse_sd, prefix, ParseContext, SdElement, SyslogMessage};

/// Parses `msg` if its program is one of ESXi's; `None` otherwise.
pub fn parse_esxi(msg: &SyslogMessage, ctx: &ParseContext) -> Option<Parsed> {
    if let Some(p) = audit_record(msg, ctx) {
        return Some(p);
    }
    let app = msg.app_name?;
    let p = if app.eq_ignore_ascii_case("shell") {
        shell(msg, ctx)
    } else if app == "sshd" {
        sshd(msg, ctx)
    } else if app == "login" {
        console_login(msg, ctx)
    } else if app.eq_ignore_ascii_case("hostd") || app.eq_ignore_ascii_case("vpxa") {
        hostd(msg, ctx)
    } else if app.eq_ignore_ascii_case("dcui") {
        dcui(msg, ctx)
    } else if app == "SSH" || app == "ESXShell" {
        // Service toggles (`SSH login enabled`): not a person's action.
        Parsed::Ignored
    } else {
        return None;
    };
    Some(p)
}

fn device(msg: &SyslogMessage, ctx: &ParseContext) -> Device {
    let mut d = device_of(msg, ctx, DeviceKind::Hypervisor);
    d.vendor = Some("VMware");
    d.product = Some("ESXi");
    d
}

fn record(
    msg: &SyslogMessage,
    ctx: &ParseContext,
    dataset: &'static str,
    action: Action,
) -> LogRecord {
    let mut r = new_record(msg, ctx, dataset, action, device(msg, ctx));
    r.pid = msg.proc_id.and_then(|p| p.parse().ok());
    r
}

fn done(r: LogRecord) -> Parsed {
    Parsed::Record(Box::new(r))
}

/// `shell[pid]: [user]: command` (ESXi 6.7/7/8) and `Interactive shell session started`.
fn shell(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    let body = msg.message;
    if body.starts_with("Interactive shell session started") {
        return done(record(msg, ctx, "esxi.shell", Action::SessionStart));
    }
    let parsed = body
        .strip_prefix('[')
        .and_then(|b| b.split_once("]: "))
        .filter(|(user, cmd)| !user.is_empty() && !cmd.trim().is_empty());
    let Some((user, cmd)) = parsed else {
        return Parsed::Drift(format!(
            "esxi.shell: not `[user]: command`: {:?}",
            prefix(body, 80)
        ));
    };
    let mut r = record(msg, ctx, "esxi.shell", Action::Command);
    r.user = Some(user.to_string());
    r.command = Some(cmd.trim().to_string());
    done(r)
}

/// The audit record of an ESXi 8 event: in the RFC 5424 STRUCTURED-DATA, or at the
/// start of the body as ESXi 8 forwards it (`shell[pid]: [shell.cmd@6876 …]`).
fn audit_record(msg: &SyslogMessage, ctx: &ParseContext) -> Option<Parsed> {
    let from_sd = msg.sd_elements().into_iter().find(|e| is_audit_id(e.id));
    let element = match from_sd {
        Some(e) => e,
        None => {
            if !msg.message.starts_with('[') {
                return None;
            }
            let head = prefix(msg.message, 64);
            if !head.contains("@6876") || head.starts_with("[Originator@") {
                return None;
            }
            parse_sd(msg.message)
                .into_iter()
                .find(|e| is_audit_id(e.id))?
        }
    };
    Some(audit(msg, ctx, &element))
}

fn is_audit_id(id: &str) -> bool {
    id.ends_with("@6876") && !id.starts_with("Originator")
}

fn audit(msg: &SyslogMessage, ctx: &ParseContext, e: &SdElement) -> Parsed {
    let event = e.id.split('@').next().unwrap_or("");
    let (action, origin) = match event {
        "shell.cmd" => (Action::Command, None),
        "ssh.cmd" => (Action::Command, Some("ssh")),
        "ssh.session.begin" => (Action::SessionStart, Some("ssh")),
        "ssh.session.end" => (Action::SessionEnd, Some("ssh")),
        "dcui.login" => (Action::Login, Some("dcui")),
        "dcui.logout" => (Action::SessionEnd, Some("dcui")),
        _ => return Parsed::Ignored,
    };
    let mut r = record(msg, ctx, "esxi.audit", action);
    r.origin = origin;
    r.user = e
        .param("subject")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    r.outcome = e.param("result").and_then(outcome_word);
    if action == Action::Command {
        match e.param("command").map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => r.command = Some(c.to_string()),
            None => {
                return Parsed::Drift(format!("esxi.audit: `{event}` record without a command"))
            }
        }
    }
    set_extra(&mut r.extra, "esxi", "audit_event", event);
    if let Some(status) = e.param("status") {
        set_extra(&mut r.extra, "esxi", "audit_status", status);
    }
    done(r)
}

/// auth.log sshd: `Accepted <method> for <user> from <ip> port <n> ssh2`, `Failed …`,
/// `Session opened|closed for '<user>' on <tty>`. Everything else is ignored.
fn sshd(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    let body = msg.message;
    let (rest, outcome) = if let Some(r) = body.strip_prefix("Accepted ") {
        (r, "success")
    } else if let Some(r) = body.strip_prefix("Failed ") {
        (r, "failure")
    } else if let Some(r) = body.strip_prefix("Session opened for ") {
        return ssh_session(msg, ctx, r, Action::SessionStart);
    } else if let Some(r) = body.strip_prefix("Session closed for ") {
        return ssh_session(msg, ctx, r, Action::SessionEnd);
    } else {
        return Parsed::Ignored;
    };
    // `<method> for [invalid user ]<user> from <ip> port <port>[ ssh2]`
    let Some((_, after_for)) = rest.split_once(" for ") else {
        return Parsed::Ignored;
    };
    let Some((user, from)) = after_for.rsplit_once(" from ") else {
        return Parsed::Drift(format!(
            "esxi.auth: sshd login without `from`: {:?}",
            prefix(body, 80)
        ));
    };
    let user = user.strip_prefix("invalid user ").unwrap_or(user);
    let mut words = from.split(' ');
    let ip = words.next().unwrap_or("");
    let port = match (words.next(), words.next()) {
        (Some("port"), Some(p)) => p.parse().ok(),
        _ => None,
    };
    let mut r = record(msg, ctx, "esxi.auth", Action::Login);
    r.origin = Some("ssh");
    r.outcome = Some(outcome);
    r.user = Some(user.to_string()).filter(|u| !u.is_empty());
    r.source = endpoint(ip, port);
    done(r)
}

/// `'root' on /dev/char/pty/t0`.
fn ssh_session(msg: &SyslogMessage, ctx: &ParseContext, rest: &str, action: Action) -> Parsed {
    let Some((user, tty)) = rest.split_once(" on ") else {
        return Parsed::Drift(format!(
            "esxi.auth: sshd session line without `on`: {rest:?}"
        ));
    };
    let mut r = record(msg, ctx, "esxi.auth", action);
    r.origin = Some("ssh");
    r.user = Some(user.trim_matches('\'').to_string()).filter(|u| !u.is_empty());
    r.terminal = Some(tty.trim().to_string()).filter(|t| !t.is_empty());
    done(r)
}

/// auth.log `login[pid]: root login on 'char/tty/1'`: the ESXi Shell at the console.
fn console_login(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    let Some((user, tty)) = msg.message.split_once(" login on ") else {
        return Parsed::Ignored;
    };
    if user.contains(' ') {
        return Parsed::Ignored;
    }
    let mut r = record(msg, ctx, "esxi.auth", Action::Login);
    r.origin = Some("console");
    r.outcome = Some("success");
    r.user = Some(user.to_string());
    r.terminal = Some(tty.trim().trim_matches('\'').to_string());
    done(r)
}

/// hostd/vpxa: `[Originator@6876 sub=… opID=… user=…] text`, possibly after ESXi 6/7's
/// `info hostd[pid] ` (forwarded) — the bracket may also be the RFC 5424 SD.
fn hostd(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    let mut body = msg.message;
    if let Some((word, rest)) = body.split_once(' ') {
        if matches!(word, "verbose" | "info" | "warning" | "error" | "trivia") {
            if let Some((_tag, rest)) = rest.split_once(' ') {
                body = rest;
            }
        }
    }
    let mut originator: Vec<SdElement> = msg
        .sd_elements()
        .into_iter()
        .filter(|e| e.id.starts_with("Originator@"))
        .collect();
    if body.starts_with("[Originator@") {
        let end = bracket_end(body);
        originator = parse_sd(&body[..end]);
        body = body[end..].trim_start();
    }
    let who = originator
        .first()
        .and_then(|e| e.param("user"))
        .map(str::to_string);
    hostd_text(msg, ctx, body, who.as_deref())
}

/// The byte after the `]` closing the bracket at the start of `s`.
fn bracket_end(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

fn hostd_text(msg: &SyslogMessage, ctx: &ParseContext, text: &str, who: Option<&str>) -> Parsed {
    if let Some(rest) = text.strip_prefix("Accepted password for user ") {
        return api_login(msg, ctx, rest, "success");
    }
    if let Some(rest) = text.strip_prefix("Rejected password for user ") {
        return api_login(msg, ctx, rest, "failure");
    }
    if let Some(ev) = event_text(text) {
        return hostd_event(msg, ctx, ev);
    }
    if text.contains("Authentication of user ") && text.contains(" has failed") {
        return dcui_failure(msg, ctx, text);
    }
    if let Some(cmd) = esxcli_command(text) {
        let mut r = record(msg, ctx, "esxi.hostd", Action::Command);
        r.origin = Some("api");
        r.command = Some(cmd);
        r.user = who.filter(|u| !u.is_empty()).map(str::to_string);
        return done(r);
    }
    Parsed::Ignored
}

/// `root from 192.168.127.10 - session=…`.
fn api_login(msg: &SyslogMessage, ctx: &ParseContext, rest: &str, outcome: &'static str) -> Parsed {
    let Some((user, from)) = rest.split_once(" from ") else {
        return Parsed::Drift(format!(
            "esxi.hostd: password line without `from`: {rest:?}"
        ));
    };
    let ip = from.split(' ').next().unwrap_or("");
    let mut r = record(msg, ctx, "esxi.hostd", Action::Login);
    r.origin = Some("api");
    r.outcome = Some(outcome);
    r.user = Some(user.to_string());
    r.source = endpoint(ip, None);
    if let Some(session) = from.split(' ').find_map(|w| w.strip_prefix("session=")) {
        set_extra(&mut r.extra, "esxi", "session", session);
    }
    done(r)
}

/// `Event 99 : text` → `text`.
fn event_text(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("Event ")?;
    let (num, ev) = rest.split_once(" : ")?;
    num.bytes().all(|b| b.is_ascii_digit()).then_some(ev)
}

/// vSphere session events as hostd logs them.
fn hostd_event(msg: &SyslogMessage, ctx: &ParseContext, ev: &str) -> Parsed {
    if let Some(rest) = ev.strip_prefix("User ") {
        if let Some((who, agent)) = rest.split_once(" logged in as ") {
            return session_event(msg, ctx, who, Action::Login, Some("success"), agent);
        }
        if let Some((who, tail)) = rest.split_once(" logged out") {
            let agent = tail
                .split_once("user agent: ")
                .map(|(_, a)| a.trim_end_matches(')'))
                .unwrap_or("");
            return session_event(msg, ctx, who, Action::SessionEnd, None, agent);
        }
        if rest.contains(" logged in") {
            return Parsed::Drift(format!(
                "esxi.hostd: login event not `User u@ip logged in as agent`: {:?}",
                prefix(ev, 80)
            ));
        }
        return Parsed::Ignored;
    }
    if let Some(who) = ev.strip_prefix("Cannot login ") {
        let who = who.split(' ').next().unwrap_or("");
        return session_event(msg, ctx, who, Action::Login, Some("failure"), "");
    }
    if ev.contains("Authentication of user ") && ev.contains(" has failed") {
        return dcui_failure(msg, ctx, ev);
    }
    Parsed::Ignored
}

/// `root@192.168.127.10` (the user may hold `@` or a domain; the address is last).
fn session_event(
    msg: &SyslogMessage,
    ctx: &ParseContext,
    who: &str,
    action: Action,
    outcome: Option<&'static str>,
    agent: &str,
) -> Parsed {
    let (user, ip) = match who.rsplit_once('@') {
        Some((u, ip)) => (u, Some(ip)),
        None => (who, None),
    };
    let mut r = record(msg, ctx, "esxi.hostd", action);
    // The DCUI talks to hostd as user `dcui` from the loopback address.
    r.origin = Some(if user == "dcui" { "dcui" } else { "api" });
    r.outcome = outcome;
    r.user = Some(user.to_string()).filter(|u| !u.is_empty());
    r.source = ip.and_then(|ip| endpoint(ip, None));
    r.user_agent = Some(agent.trim().to_string()).filter(|a| !a.is_empty());
    done(r)
}

/// The esxcli command of a vSphere API call, rebuilt as typed: `esxcli network ip
/// connection list`. esxcli over the API (PowerCLI `Get-EsxCli`, govc `host.esxcli`)
/// calls method `vim.EsxCLI.<namespace>.<command>` on managed object
/// `ha-cli-handler-<namespace with dashes>` (the vSphere API's dynamic esxcli types).
/// hostd and vpxa name the call in their Vmomi dispatch lines — `Activation […] : Invoke
/// done [list] on [vim.EsxCLI.network.ip.connection:ha-cli-handler-network-ip-
/// connection]` — and vpxa in `[VpxLRO] -- BEGIN … -- ha-cli-handler-… --
/// vim.EsxCLI.….list -- …`. hostd's start-up `CreateDynMoType (Type vim.EsxCLI.…)`
/// registers types and is not a call. Arguments are not in these lines.
fn esxcli_command(text: &str) -> Option<String> {
    let at = text.find("vim.EsxCLI.")?;
    if text.contains("CreateDynMoType") {
        return None;
    }
    let path_start = at + "vim.EsxCLI.".len();
    let path: &str = {
        let rest = &text[path_start..];
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_')
            .count();
        rest[..n].trim_end_matches('.')
    };
    if path.is_empty() {
        return None;
    }
    let moid_ns: Option<String> = text.find("ha-cli-handler-").map(|i| {
        text[i + "ha-cli-handler-".len()..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
            .map(|b| if b == b'-' { '.' } else { char::from(b) })
            .collect()
    });
    let invoked = crate::parse::between(text, "Invoke done [", "]")
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphanumeric()));
    let full = match (moid_ns.as_deref(), invoked) {
        (Some(ns), Some(method)) if ns.eq_ignore_ascii_case(path) => format!("{path}.{method}"),
        (None, Some(method)) => format!("{path}.{method}"),
        (Some(ns), _) if path.len() > ns.len() && path[..ns.len()].eq_ignore_ascii_case(ns) => {
            path.to_string()
        }
        (Some(_), _) => return None,
        (None, None) => path.to_string(),
    };
    let words: Vec<String> = full.split('.').map(str::to_ascii_lowercase).collect();
    Some(format!("esxcli {}", words.join(" ")))
}

/// DCUI lines (program `DCUI`): logins, logouts and the `esx.audit.dcui.login.failed`
/// text. Other DCUI lines (menus, network restarts) are ignored.
fn dcui(msg: &SyslogMessage, ctx: &ParseContext) -> Parsed {
    let body = msg.message;
    if body.contains("Authentication of user ") && body.contains(" has failed") {
        return dcui_failure(msg, ctx, body);
    }
    let action = if body.contains("logged in") || body.contains("login succeeded") {
        Action::Login
    } else if body.contains("logged out") {
        Action::SessionEnd
    } else {
        return Parsed::Ignored;
    };
    let mut r = record(msg, ctx, "esxi.auth", action);
    r.origin = Some("dcui");
    if action == Action::Login {
        r.outcome = Some("success");
    }
    r.user = word_after_user(body);
    done(r)
}

/// `Authentication of user root has failed.` → a failed DCUI login by root.
fn dcui_failure(msg: &SyslogMessage, ctx: &ParseContext, text: &str) -> Parsed {
    let mut r = record(msg, ctx, "esxi.auth", Action::Login);
    r.origin = Some("dcui");
    r.outcome = Some("failure");
    r.user = crate::parse::between(text, "Authentication of user ", " has failed")
        .map(|u| u.trim_matches(['\'', '"']).to_string())
        .filter(|u| !u.is_empty());
    done(r)
}

/// The word after `user ` / `User ` (quotes stripped).
fn word_after_user(s: &str) -> Option<String> {
    let i = s.find("user ").or_else(|| s.find("User "))? + 5;
    let w = s[i..].split([' ', ',']).next()?;
    let w = w.trim_matches(['\'', '"', '.']);
    (!w.is_empty()).then(|| w.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;
    use chrono::{TimeZone, Utc};

    fn ctx() -> ParseContext {
        ParseContext::new(
            Utc.with_ymd_and_hms(2024, 6, 5, 0, 0, 0)
                .single()
                .expect("valid time"),
        )
    }

    fn rec(line: &str) -> LogRecord {
        match parse_line(line, &ctx().with_default_host("esx01")) {
            Parsed::Record(r) => *r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn esxi7_shell_line_and_session_start() {
        let r =
            rec("2019-01-01T12:00:00Z shell[2099999]: [root]: esxcli network ip connection list");
        assert_eq!(r.action, Action::Command);
        assert_eq!(r.dataset, "esxi.shell");
        assert_eq!(r.pid, Some(2099999));
        assert_eq!(r.user.as_deref(), Some("root"));
        assert_eq!(r.device.hostname.as_deref(), Some("esx01"));
        assert_eq!(r.origin, None);
        let r = rec("2019-01-01T12:00:00Z shell[7721]: Interactive shell session started");
        assert_eq!(r.action, Action::SessionStart);
        assert!(matches!(
            parse_line("2019-01-01T12:00:00Z shell[1]: something else", &ctx()),
            Parsed::Drift(_)
        ));
    }

    #[test]
    fn esxcli_over_the_api() {
        let cases = [
            ("Activation [N5Vmomi10ActivationE:0x0000005d1a2b3c40] : Invoke done [list] on [vim.EsxCLI.network.ip.connection:ha-cli-handler-network-ip-connection]", Some("esxcli network ip connection list")),
            ("[VpxLRO] -- BEGIN lro-1234 -- ha-cli-handler-network-ip-connection -- vim.EsxCLI.network.ip.connection.list -- 52a1", Some("esxcli network ip connection list")),
            ("CreateDynMoType (Type vim.EsxCLI.network.ip.connection) (Wsdl VimEsxCLInetworkipconnection)", None),
            ("nothing here", None),
        ];
        for (t, want) in cases {
            assert_eq!(esxcli_command(t).as_deref(), want, "{t}");
        }
    }
}
