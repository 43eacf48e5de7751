//! tac_plus / tac_plus-ng accounting files (`tac_plus.acct`): one record a line, fields
//! separated by a tab or by `|!|` — time, NAS address, user, port, remote address,
//! record type, then the AV pairs the device sent (`task_id=…`, `service=shell`,
//! `priv-lvl=15`, `cmd=show tcp brief <cr>`, `cmd-arg=…`). The user may be empty (IOS
//! before login). The same files carry the daemon's `… ascii login failed|succeeded`
//! lines, read here as logins. Source: the recorded files in `shared/fixtures/network`.
//!
//! Counting rule: a device configured for start-stop command accounting sends a
//! `start` and a `stop` for every command (same `task_id`); stop-only sends the stop.
//! So a command is emitted on its `stop` record only, and `start`/`update`/`watchdog`
//! records that carry a command are ignored: each command counts once, whatever the
//! device's setting. Records without a command and with `service=shell` are the exec
//! session's own start and stop.

use crate::parse::{clean_command, endpoint, set_extra};
use crate::record::{Action, Device, DeviceKind, LogRecord, Parsed};
use crate::syslog::{parse_iso, prefix, ParseContext};

/// Parses one line of a tac_plus accounting file. `ctx` is not needed: the lines carry
/// a full time with its zone, and the device is the NAS address (the file is the AAA
/// server's, so `default_host` would name the server, not the device).
pub fn parse_tacacs_line(line: &str, ctx: &ParseContext) -> Parsed {
    let _ = ctx;
    let line = prefix(line, crate::parse::MAX_LINE).trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Parsed::Malformed("empty".into());
    }
    let fields: Vec<&str> = if line.contains("|!|") {
        line.split("|!|").collect()
    } else if line.contains('\t') {
        line.split('\t').collect()
    } else {
        return Parsed::Malformed("not a tac_plus accounting line (no tab or `|!|`)".into());
    };
    let stamp = fields[0].trim();
    let time = match parse_iso(stamp) {
        Some((t, n)) if n == stamp.len() => t,
        _ => return Parsed::Malformed(format!("tac_plus: bad time {:?}", prefix(stamp, 40))),
    };
    if fields.len() < 6 {
        return Parsed::Drift(format!(
            "tacacs.accounting: {} fields, want time, NAS, user, port, remote, type, AV pairs",
            fields.len()
        ));
    }
    let (nas, user, port, remote, kind) = (fields[1], fields[2], fields[3], fields[4], fields[5]);
    let mut device = Device::new(DeviceKind::Network);
    device.ip = Some(nas.trim().to_string()).filter(|n| !n.is_empty());
    let new = |action| {
        let mut r = LogRecord::new(time, "tacacs.accounting", action, device.clone());
        r.user = Some(user.trim().to_string()).filter(|u| !u.is_empty());
        r.terminal = Some(port.trim().to_string()).filter(|p| !p.is_empty());
        r.source = endpoint(remote, None);
        // `async` is a console/aux line; SR Linux names the transport in the port field.
        r.origin = if remote.trim() == "async" {
            Some("console")
        } else if port.trim() == "ssh" {
            Some("ssh")
        } else {
            None
        };
        r
    };
    if !matches!(kind, "start" | "stop" | "update" | "watchdog") {
        let text = fields[5..].join(" ");
        let outcome = if text.contains("login failed") {
            "failure"
        } else if text.contains("login succeeded") || text.contains("login ok") {
            "success"
        } else {
            return Parsed::Ignored;
        };
        let mut r = new(Action::Login);
        r.outcome = Some(outcome);
        return Parsed::Record(Box::new(r));
    }
    let mut cmd = None;
    let mut args: Vec<&str> = Vec::new();
    let mut service = None;
    let mut priv_lvl = None;
    let mut task_id = None;
    for av in &fields[6..] {
        let Some((k, v)) = av.split_once('=') else {
            continue;
        };
        match k.trim() {
            "cmd" => cmd = Some(v),
            "cmd-arg" => args.push(v),
            "service" => service = Some(v.trim()),
            "priv-lvl" => priv_lvl = v.trim().parse::<u8>().ok(),
            "task_id" => task_id = Some(v.trim()),
            _ => {}
        }
    }
    let command = cmd.and_then(|c| {
        let mut parts = vec![c.trim()];
        parts.extend(args.iter().map(|a| a.trim()).filter(|a| *a != "<cr>"));
        clean_command(&parts.join(" "))
    });
    let action = match (&command, kind) {
        (Some(_), "stop") => Action::Command,
        (Some(_), _) => return Parsed::Ignored,
        (None, "start") if service == Some("shell") => Action::SessionStart,
        (None, "stop") if service == Some("shell") => Action::SessionEnd,
        (None, _) => return Parsed::Ignored,
    };
    let mut r = new(action);
    r.command = command;
    r.privilege_level = priv_lvl;
    if let Some(t) = task_id {
        set_extra(&mut r.extra, "tacacs", "task_id", t);
    }
    Parsed::Record(Box::new(r))
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
    fn cmd_args_are_joined() {
        let l = "2024-03-01 10:00:00 +0100\t10.0.0.1\tbob\tvty0\t10.9.9.9\tstop\ttask_id=5\tservice=shell\tpriv-lvl=1\tcmd=show\tcmd-arg=tcp\tcmd-arg=brief\tcmd-arg=<cr>";
        let Parsed::Record(r) = parse_tacacs_line(l, &ctx()) else {
            panic!()
        };
        assert_eq!(r.command.as_deref(), Some("show tcp brief"));
        assert_eq!(
            r.timestamp,
            Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0)
                .single()
                .expect("valid time")
        );
        assert_eq!(r.extra["tacacs"]["task_id"], "5");
    }

    #[test]
    fn exec_session_records_and_bad_lines() {
        let start = "2024-03-01 10:00:00 +0000\t10.0.0.1\tbob\tvty0\t10.9.9.9\tstart\ttask_id=4\tservice=shell";
        let Parsed::Record(r) = parse_tacacs_line(start, &ctx()) else {
            panic!()
        };
        assert_eq!(r.action, Action::SessionStart);
        assert!(matches!(
            parse_tacacs_line("garbage", &ctx()),
            Parsed::Malformed(_)
        ));
        assert!(matches!(
            parse_tacacs_line("2024-03-01 10:00:00 +0000\t10.0.0.1\tbob", &ctx()),
            Parsed::Drift(_)
        ));
        assert!(matches!(
            parse_tacacs_line("nope\tx", &ctx()),
            Parsed::Malformed(_)
        ));
    }
}
