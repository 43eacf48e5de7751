//! AN0906 (VMware ESXi): `esxcli network ip connection list`, `netstat` and `lsof` in
//! an ESXi shell or through the management API, from where they should not come.
//!
//! Reads `sensor-logs` events with `observer.type: hypervisor`:
//! - commands (`event.action: command`): the command list is matched on the command
//!   word only (each part of a shell line, after `sudo`/`exec`/`env`/`sh -c`...), with
//!   esxcli's global options skipped (`esxcli --formatter=csv -s vc1 network ip
//!   connection list`) and the API's dotted form (`vim.EsxCLI.network.ip.connection.list`);
//! - `ExecutionOriginCheck`: the origin is `picket.origin`; a command with none (or
//!   `shell`) by a user with an open SSH session on the host is joined to it (origin
//!   `ssh`, the session's client address). Successful SSH logins open sessions, a
//!   `session-end` closes one; the state lives in the engine ([`SessionState`]),
//!   bounded and expiring. An expected origin, or a client inside an admin network, is
//!   no alert (counted);
//! - `ExpectedAdminAccessWindow`: inside a window the alert is lowered (or suppressed),
//!   naming the window.

use crate::admin_window::AdminWindows;
use crate::cidr::{parse_ip, Cidr};
use crate::common::{command_line, host_key, host_label, short};
use crate::compile_regex_set;
use crate::config::{An0906Config, WindowAction};
use crate::glob::GlobList;
use crate::hit::Hit;
use crate::utility::UtilityList;
use chrono::{DateTime, TimeDelta, Utc};
use regex::RegexSet;
use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use sensor_core::event::{file_name, Event};
use std::collections::{HashMap, HashSet};

/// esxcli global options that take a value (`--server X`, `-s X`), from VMware's vCLI
/// "common options" (the esxcli on the host itself takes a few of them).
const ESXCLI_VALUE_OPTIONS: [&str; 19] = [
    "cacertsfile",
    "config",
    "credstore",
    "encoding",
    "formatter",
    "format-param",
    "passthroughauthpackage",
    "password",
    "portnumber",
    "protocol",
    "psc",
    "savesessionfile",
    "server",
    "servicepath",
    "sessionfile",
    "thumbprint",
    "url",
    "username",
    "vihost",
];
/// Their one-letter forms: `-c` config, `-s` server, `-u` username, `-p` password, `-h`
/// vihost, `-d` thumbprint, `-t` cacertsfile.
const ESXCLI_VALUE_SHORT: [char; 7] = ['c', 's', 'u', 'p', 'h', 'd', 't'];
/// esxcli global options without a value.
const ESXCLI_FLAGS: [&str; 4] = ["debug", "version", "help", "passthroughauth"];

/// Most open SSH sessions remembered over all hosts; past this the least recently
/// active one is dropped (counted in `state_evictions`).
pub(crate) const MAX_SSH_SESSIONS: usize = 16_384;

/// What AN0906 made of a command event.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Not a discovery command.
    NoMatch,
    /// A discovery command from an expected origin or admin network.
    Expected,
    /// Inside an admin access window with `action = "suppress"`.
    Suppressed,
    /// An alert (lowered when inside a window).
    Alert { hit: Box<Hit>, lowered: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct An0906 {
    severity: Severity,
    esxcli_tools: GlobList,
    esxcli_commands: Vec<(Vec<String>, String)>,
    commands: UtilityList,
    regexes: Option<RegexSet>,
    regex_sources: Vec<String>,
    expected_origins: HashSet<String>,
    expected_list: Vec<String>,
    admin_networks: Vec<Cidr>,
    pub(crate) join_ssh: bool,
    pub(crate) session_timeout: TimeDelta,
    windows: AdminWindows,
}

/// The parts of a shell line, each as the words of one command from its command word
/// on: split at `;`, `|`, `&`, newlines, parentheses and backquotes; quotes removed;
/// `VAR=value`, `sudo`, `exec`, `env`, `nohup`, `time`, `command`, `nice`, `busybox`
/// and `sh -c` before the command word skipped.
pub(crate) fn shell_commands(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for part in line.split([';', '|', '&', '\n', '(', ')', '`']) {
        let words: Vec<String> = part
            .split_whitespace()
            .map(|w| w.replace(['"', '\''], ""))
            .filter(|w| !w.is_empty())
            .collect();
        let start = command_start(&words, 0);
        if start < words.len() {
            out.push(words[start..].to_vec());
        }
    }
    out
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// Index of the command word in `words`, skipping wrappers.
fn command_start(words: &[String], depth: usize) -> usize {
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if is_assignment(w) {
            i += 1;
            continue;
        }
        let name = file_name(w).to_ascii_lowercase();
        match name.as_str() {
            "exec" | "nohup" | "time" | "command" | "busybox" | "env" => i += 1,
            "nice" | "sudo" => {
                i += 1;
                while let Some(opt) = words.get(i).filter(|o| o.starts_with('-')) {
                    let takes_value = matches!(
                        opt.as_str(),
                        "-n" | "-u" | "-g" | "-C" | "-h" | "-p" | "-U" | "-r" | "-t"
                    );
                    i += if takes_value { 2 } else { 1 };
                }
            }
            "sh" | "ash" | "bash" | "dash" | "ksh" | "zsh" if depth < 2 => {
                let mut j = i + 1;
                let mut has_c = false;
                while let Some(opt) = words.get(j).filter(|o| o.starts_with('-') && o.len() > 1) {
                    has_c |= !opt.starts_with("--") && opt.contains('c');
                    j += 1;
                }
                if !has_c {
                    return i;
                }
                return j + command_start(words.get(j..).unwrap_or(&[]), depth + 1);
            }
            _ => return i,
        }
    }
    i
}

fn starts_with_words(words: &[String], pattern: &[String]) -> bool {
    words.len() >= pattern.len()
        && words
            .iter()
            .zip(pattern)
            .all(|(w, p)| w.eq_ignore_ascii_case(p))
}

/// A user's open SSH sessions on one host.
#[derive(Debug, Clone)]
pub(crate) struct SshSession {
    user: String,
    address: Option<String>,
    opened: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    /// Logins from the same client not yet ended.
    open: u32,
}

/// Open SSH sessions per host (device), for joining shell commands to their login.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionState {
    hosts: HashMap<String, Vec<SshSession>>,
    len: usize,
}

impl SessionState {
    /// Sessions held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Opens (or re-opens) `user`'s session from `address`; true when another session
    /// had to be dropped to stay bounded.
    fn open(&mut self, host: &str, user: &str, address: Option<String>, at: DateTime<Utc>) -> bool {
        let user = user.to_lowercase();
        if let Some(s) = self.hosts.get_mut(host).and_then(|list| {
            list.iter_mut()
                .find(|s| s.user == user && s.address == address)
        }) {
            s.open = s.open.saturating_add(1);
            s.opened = at;
            s.last_seen = s.last_seen.max(at);
            return false;
        }
        let evicted = self.len >= MAX_SSH_SESSIONS && self.evict_one();
        self.hosts
            .entry(host.to_string())
            .or_default()
            .push(SshSession {
                user,
                address,
                opened: at,
                last_seen: at,
                open: 1,
            });
        self.len += 1;
        evicted
    }

    fn evict_one(&mut self) -> bool {
        let oldest = self
            .hosts
            .iter()
            .flat_map(|(h, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(i, s)| (s.last_seen, h, i))
            })
            .min()
            .map(|(_, h, i)| (h.clone(), i));
        let Some((host, i)) = oldest else {
            return false;
        };
        if let Some(list) = self.hosts.get_mut(&host) {
            list.remove(i);
            self.len -= 1;
            if list.is_empty() {
                self.hosts.remove(&host);
            }
        }
        true
    }

    /// Ends one of `user`'s sessions: the one from `address` when the end names it,
    /// else the user's oldest.
    fn close(&mut self, host: &str, user: &str, address: Option<&str>) {
        let user = user.to_lowercase();
        let Some(list) = self.hosts.get_mut(host) else {
            return;
        };
        let found = list
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.user == user && (address.is_none() || s.address.as_deref() == address)
            })
            .min_by_key(|(_, s)| s.opened)
            .map(|(i, _)| i);
        if let Some(i) = found {
            list[i].open -= 1;
            if list[i].open == 0 {
                list.remove(i);
                self.len -= 1;
            }
            if list.is_empty() {
                self.hosts.remove(host);
            }
        }
    }

    /// `user`'s live sessions on `host` (most recent login first), marked active at `at`.
    fn join(
        &mut self,
        host: &str,
        user: &str,
        at: DateTime<Utc>,
        timeout: TimeDelta,
    ) -> Vec<SshSession> {
        let user = user.to_lowercase();
        let Some(list) = self.hosts.get_mut(host) else {
            return Vec::new();
        };
        let mut found: Vec<SshSession> = Vec::new();
        for s in list.iter_mut() {
            if s.user == user && at - s.last_seen < timeout && s.opened <= at {
                s.last_seen = s.last_seen.max(at);
                found.push(s.clone());
            }
        }
        found.sort_by_key(|s| std::cmp::Reverse(s.opened));
        found
    }

    /// Forgets sessions idle for `timeout` by `now`.
    pub(crate) fn prune(&mut self, now: DateTime<Utc>, timeout: TimeDelta) {
        let mut len = 0;
        self.hosts.retain(|_, list| {
            list.retain(|s| now - s.last_seen < timeout);
            len += list.len();
            !list.is_empty()
        });
        self.len = len;
    }
}

fn event_address(ev: &Event) -> Option<String> {
    let s = ev.source.as_ref()?;
    s.ip.clone()
        .or_else(|| s.address.clone())
        .filter(|a| !a.trim().is_empty())
}

fn lower_origin(ev: &Event) -> Option<String> {
    ev.picket
        .origin
        .as_deref()
        .map(|o| o.trim().to_ascii_lowercase())
        .filter(|o| !o.is_empty())
}

impl An0906 {
    pub(crate) fn build(cfg: &An0906Config, problems: &mut Problems) -> An0906 {
        let c = &cfg.command_list;
        let (regexes, regex_sources) = compile_regex_set(
            "analytics.an0906.command_list.regexes",
            &c.regexes,
            problems,
        );
        let o = &cfg.execution_origin_check;
        let mut admin_networks = Vec::new();
        for (i, n) in o.admin_source_networks.iter().enumerate() {
            match Cidr::parse(n) {
                Ok(c) => admin_networks.push(c),
                Err(e) => problems.push((
                    format!("analytics.an0906.execution_origin_check.admin_source_networks[{i}]"),
                    e,
                )),
            }
        }
        An0906 {
            severity: cfg.severity,
            esxcli_tools: GlobList::new(&c.esxcli_tools),
            esxcli_commands: c
                .esxcli_commands
                .iter()
                .map(|p| {
                    let words: Vec<String> = p.split_whitespace().map(str::to_lowercase).collect();
                    (words.clone(), words.join(" "))
                })
                .filter(|(w, _)| !w.is_empty())
                .collect(),
            commands: UtilityList::new(&c.commands),
            regexes,
            regex_sources,
            expected_origins: o
                .expected_origins
                .iter()
                .map(|s| s.to_lowercase())
                .collect(),
            expected_list: o.expected_origins.clone(),
            admin_networks,
            join_ssh: o.join_ssh_sessions,
            session_timeout: TimeDelta::seconds(
                i64::try_from(o.session_timeout_secs).unwrap_or(43_200),
            ),
            windows: AdminWindows::build(&cfg.expected_admin_access_window, problems),
        }
    }

    /// The esxcli command `words` (from the tool on) runs, skipping global options.
    fn esxcli(&self, words: &[String]) -> Option<String> {
        let mut i = 1;
        let mut maybe_value = false;
        while i < words.len() {
            let rest = &words[i..];
            if let Some((_, src)) = self
                .esxcli_commands
                .iter()
                .find(|(p, _)| starts_with_words(rest, p))
            {
                return Some(src.clone());
            }
            let w = &words[i];
            if w.starts_with('-') && w.len() > 1 {
                maybe_value = false;
                i += 1;
                if w.contains('=') {
                    continue;
                }
                if let Some(long) = w.strip_prefix("--") {
                    let long = long.to_ascii_lowercase();
                    if ESXCLI_VALUE_OPTIONS.contains(&long.as_str()) {
                        i += 1;
                    } else if !ESXCLI_FLAGS.contains(&long.as_str()) {
                        maybe_value = true;
                    }
                } else {
                    let mut letters = w[1..].chars();
                    let first = letters.next().unwrap_or('?');
                    let attached = letters.next().is_some();
                    if ESXCLI_VALUE_SHORT.contains(&first) {
                        if !attached {
                            i += 1;
                        }
                    } else if first != '?' {
                        maybe_value = true;
                    }
                }
                continue;
            }
            if maybe_value {
                maybe_value = false;
                i += 1;
                continue;
            }
            return None;
        }
        None
    }

    /// The API's dotted form: `vim.EsxCLI.network.ip.connection.list`.
    fn dotted(&self, word: &str) -> Option<String> {
        let parts: Vec<&str> = word.split('.').collect();
        let at = parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case("esxcli"))?;
        let rest = &parts[at + 1..];
        self.esxcli_commands.iter().find_map(|(p, src)| {
            let ok = rest.len() >= p.len()
                && rest.iter().zip(p).enumerate().all(|(k, (w, want))| {
                    w.eq_ignore_ascii_case(want)
                        || (k + 1 == p.len()
                            && w.len() > want.len()
                            && w[..want.len()].eq_ignore_ascii_case(want)
                            && w.as_bytes()[want.len()] == b'-')
                });
            ok.then(|| format!("esxcli {src}"))
        })
    }

    /// The command-list entry the command of `ev` matches.
    pub(crate) fn matched(&self, ev: &Event) -> Option<String> {
        let line = command_line(ev);
        for words in shell_commands(&line) {
            let Some(first) = words.first() else { continue };
            let name = file_name(first);
            if self.esxcli_tools.matches(name) {
                if let Some(src) = self.esxcli(&words) {
                    return Some(format!("{} {src}", name.to_lowercase()));
                }
                continue;
            }
            if let Some(m) = self.dotted(first) {
                return Some(m);
            }
            if let Some(u) = self.commands.find(name, &words[1..]) {
                return Some(u.to_string());
            }
        }
        let set = self.regexes.as_ref()?;
        let i = set.matches(&line).into_iter().next()?;
        self.regex_sources.get(i).cloned()
    }

    fn in_admin_network(&self, address: &str) -> bool {
        parse_ip(address).is_some_and(|ip| self.admin_networks.iter().any(|n| n.contains(ip)))
    }

    /// Learns SSH logins and session ends; true when a session was dropped to stay
    /// bounded.
    pub(crate) fn learn(&self, ev: &Event, sessions: &mut SessionState) -> bool {
        if !self.join_ssh {
            return false;
        }
        let Some(user) = ev.user.name.as_deref().filter(|u| !u.is_empty()) else {
            return false;
        };
        let action = ev.event.action.as_deref().unwrap_or("");
        let origin = lower_origin(ev);
        let host = host_key(ev);
        match action {
            // Only the login opens: a parser may log a session-start for the same
            // connection too, and counting both would need two ends.
            "login" => {
                let ok = ev
                    .event
                    .outcome
                    .as_deref()
                    .is_none_or(|o| o.eq_ignore_ascii_case("success"));
                if ok && origin.as_deref() == Some("ssh") {
                    return sessions.open(host, user, event_address(ev), ev.timestamp);
                }
                false
            }
            "session-end" => {
                if origin.as_deref().is_none_or(|o| o == "ssh") {
                    sessions.close(host, user, event_address(ev).as_deref());
                }
                false
            }
            _ => false,
        }
    }

    /// Checks a command event.
    pub(crate) fn check(&self, ev: &Event, sessions: &mut SessionState) -> Verdict {
        let Some(matched) = self.matched(ev) else {
            return Verdict::NoMatch;
        };
        let declared = lower_origin(ev);
        let event_addr = event_address(ev);
        let joinable = match declared.as_deref() {
            None | Some("shell") => true,
            Some("ssh") => event_addr.is_none(),
            Some(_) => false,
        };
        let user = ev.user.name.as_deref().filter(|u| !u.is_empty());
        let joined = match user {
            Some(u) if self.join_ssh && joinable => {
                sessions.join(host_key(ev), u, ev.timestamp, self.session_timeout)
            }
            _ => Vec::new(),
        };
        let origin = if joined.is_empty() {
            declared.clone().unwrap_or_else(|| "shell".into())
        } else {
            "ssh".into()
        };
        let mut addresses: Vec<String> = Vec::new();
        if let Some(a) = &event_addr {
            addresses.push(a.clone());
        } else {
            for s in &joined {
                if let Some(a) = &s.address {
                    if !addresses.contains(a) {
                        addresses.push(a.clone());
                    }
                }
            }
        }
        let from_admin_net = !addresses.is_empty()
            && !self.admin_networks.is_empty()
            && addresses.iter().all(|a| self.in_admin_network(a));
        if self.expected_origins.contains(&origin) || from_admin_net {
            return Verdict::Expected;
        }
        let window = self.windows.find(ev.timestamp);
        if window.is_some() && self.windows.action == WindowAction::Suppress {
            return Verdict::Suppressed;
        }

        let mut hit = Hit::new(
            "AN0906",
            "ExecutionOriginCheck",
            matched.clone(),
            self.severity,
        );
        let via = match origin.as_str() {
            "ssh" => "an SSH session".to_string(),
            "dcui" => "the DCUI (direct console)".to_string(),
            "api" => "the management API (hostd/vpxa)".to_string(),
            "console" => "the console".to_string(),
            "shell" => "an ESXi shell of unknown origin".to_string(),
            other => format!("origin {other:?}"),
        };
        let from = match addresses.as_slice() {
            [] => String::new(),
            [one] => format!(" from {one}"),
            many => format!(" from one of {}", many.join(", ")),
        };
        let joined_part = joined
            .first()
            .map(|s| format!(" (joined to the SSH login at {})", s.opened.to_rfc3339()))
            .unwrap_or_default();
        hit.message = format!(
            "{} ran `{}` on ESXi host {} through {via}{from}{joined_part}: {matched:?} lists the host's network connections, and the origin is not an expected management interface (expected: {})",
            user.unwrap_or("an unknown user"),
            short(&command_line(ev)),
            host_label(ev),
            if self.expected_list.is_empty() {
                "none".to_string()
            } else {
                self.expected_list.join(", ")
            },
        );
        hit.detail("origin", origin.as_str());
        hit.detail(
            "origin_source",
            if !joined.is_empty() {
                "ssh_session"
            } else if declared.is_some() {
                "event"
            } else {
                "unknown"
            },
        );
        if let Some(a) = addresses.first() {
            hit.detail("client_address", a.as_str());
        }
        if addresses.len() > 1 {
            hit.detail("client_addresses", addresses.clone());
        }
        if let Some(s) = joined.first() {
            hit.detail("ssh_login_at", s.opened.to_rfc3339());
        }
        hit.detail("expected_origins", self.expected_list.clone());
        let lowered = if let Some(name) = window {
            hit.severity = hit.severity.min(self.windows.lowered_severity);
            hit.detail("admin_window", name);
            hit.detail("admin_window_action", "lower");
            hit.message.push_str(&format!(
                "; inside the expected admin access window {name:?}, so lowered to {}",
                severity_word(hit.severity)
            ));
            true
        } else {
            false
        };
        Verdict::Alert {
            hit: Box::new(hit),
            lowered,
        }
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        shell_commands(line)
    }

    #[test]
    fn sessions_are_bounded_and_counted_per_client() {
        let mut s = SessionState::default();
        let base = DateTime::UNIX_EPOCH;
        let at = |secs: i64| base + TimeDelta::seconds(secs);
        let mut evicted = 0;
        for i in 0..MAX_SSH_SESSIONS + 3 {
            evicted += usize::from(s.open(&format!("esx{i}"), "root", None, at(i as i64)));
        }
        assert_eq!((s.len(), evicted), (MAX_SSH_SESSIONS, 3));
        // Two logins from one client need two ends.
        let mut s = SessionState::default();
        let addr = Some("10.0.0.5".to_string());
        s.open("esx", "root", addr.clone(), at(0));
        s.open("esx", "root", addr, at(1));
        s.close("esx", "root", Some("10.0.0.5"));
        let day = TimeDelta::days(1);
        assert_eq!(s.join("esx", "root", at(2), day).len(), 1);
        s.close("esx", "root", None);
        assert!(s.join("esx", "root", at(3), day).is_empty());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn only_the_command_word_counts() {
        assert_eq!(words("grep netstat shell.log")[0][0], "grep");
        let w = words("cd /tmp; netstat -an | grep ESTAB");
        assert_eq!(
            w.iter().map(|c| c[0].as_str()).collect::<Vec<_>>(),
            ["cd", "netstat", "grep"]
        );
        assert_eq!(
            words("FOO=1 env BAR=2 /bin/netstat -an")[0][0],
            "/bin/netstat"
        );
        assert_eq!(
            words("sh -c \"esxcli network ip connection list\"")[0][0],
            "esxcli"
        );
        assert_eq!(words("sudo -u root lsof -i")[0][0], "lsof");
        assert_eq!(words("sh ./audit.sh")[0][0], "sh");
        assert_eq!(words("echo $(netstat -an)")[1][0], "netstat");
        assert!(words("   ").is_empty());
    }
}
