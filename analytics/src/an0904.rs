//! AN0904 (Linux): `netstat`, `ss`, `lsof -i`, `who`, ... and scripts reading the
//! `/proc/net` tables, by users in scope, with bursts escalated.
//!
//! - `UtilityNameList`: program names (with an optional required flag) and `/proc/net`
//!   readers.
//! - `UserContextScope`: decided on the effective user. Administrator: uid 0 or a member
//!   of an admin group (`picket.user_groups`). Service account: a configured name, a
//!   service shell (`picket.user_shell`), uid 65534, or a uid from 1 below `uid_min`.
//!   Regular user: any other uid. The login uid (`picket.login_uid`) is recorded.
//! - `ExecutionFrequencyThreshold`: N in-scope matches by one user on one host within W
//!   seconds give one burst alert (the state lives in the engine; see `Engine`). A
//!   process counts once, however many of its events match.
//! - `ConnectionTableReads` (by behaviour): a `connection-table-read` event (the Linux
//!   collector saw the process read a `/proc/net` table or send a sock_diag dump
//!   request) of a configured table, by a user in scope, whatever the program is
//!   called; a matching UtilityNameList entry is named in the alert too. Programs on
//!   the allowlist (exact path of the running file, optional SHA-256) never raise.

use crate::common::{command_line, effective_user, host_label, short};
use crate::config::{An0904Config, UserScope};
use crate::glob::GlobList;
use crate::hit::Hit;
use crate::utility::UtilityList;
use regex::Regex;
use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use sensor_core::event::{file_name, Event, FieldValue};
use std::collections::HashSet;

/// What kind of account ran the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserClass {
    Admin(String),
    Service(String),
    Regular,
    Unknown,
}

impl UserClass {
    fn label(&self) -> &'static str {
        match self {
            UserClass::Admin(_) => "administrator",
            UserClass::Service(_) => "service account",
            UserClass::Regular => "regular user",
            UserClass::Unknown => "unclassified user",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct An0904 {
    severity: Severity,
    utilities: UtilityList,
    readers: GlobList,
    proc_net: Option<Regex>,
    scope: UserScope,
    uid_min: u32,
    admin_groups: HashSet<String>,
    service_names: HashSet<String>,
    service_shells: GlobList,
    pub(crate) burst_count: u32,
    pub(crate) burst_window_secs: u64,
    pub(crate) burst_severity: Severity,
    reads_enabled: bool,
    read_tables: HashSet<String>,
    /// (executable, lower-case SHA-256 when required).
    read_allowlist: Vec<(String, Option<String>)>,
}

/// What AN0904 makes of a connection-table read.
#[derive(Debug)]
pub(crate) enum ReadVerdict {
    /// Not a configured table, reads off, or the user is out of scope.
    NoMatch,
    /// Read by an allowlisted program.
    Allowlisted,
    /// Discovery by behaviour.
    Hit(Box<Hit>),
}

/// uid 4294967295 is "unset" for the audit login uid.
const UNSET_UID: u32 = u32::MAX;

impl An0904 {
    pub(crate) fn build(cfg: &An0904Config, problems: &mut Problems) -> An0904 {
        let u = &cfg.utility_name_list;
        let files: Vec<String> = u
            .proc_net_files
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| regex::escape(f))
            .collect();
        let proc_net = if files.is_empty() {
            None
        } else {
            let pattern = format!(
                r"/proc/(?:self/|thread-self/|[0-9]+/)?net/(?:{})\b",
                files.join("|")
            );
            match Regex::new(&pattern) {
                Ok(r) => Some(r),
                Err(e) => {
                    problems.push((
                        "analytics.an0904.utility_name_list.proc_net_files".into(),
                        e.to_string(),
                    ));
                    None
                }
            }
        };
        let s = &cfg.user_context_scope;
        let t = &cfg.execution_frequency_threshold;
        An0904 {
            severity: cfg.severity,
            utilities: UtilityList::new(&u.utilities),
            readers: GlobList::new(&u.proc_net_readers),
            proc_net,
            scope: s.scope,
            uid_min: s.uid_min,
            admin_groups: s.admin_groups.iter().map(|g| g.to_lowercase()).collect(),
            service_names: s
                .service_account_names
                .iter()
                .map(|g| g.to_lowercase())
                .collect(),
            service_shells: GlobList::new(&s.service_shells),
            burst_count: t.count,
            burst_window_secs: t.window_secs,
            burst_severity: t.severity,
            reads_enabled: cfg.connection_table_reads.enabled,
            read_tables: cfg
                .connection_table_reads
                .tables
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            read_allowlist: cfg
                .connection_table_reads
                .allowlist
                .iter()
                .map(|a| {
                    (
                        a.executable.clone(),
                        a.sha256.as_ref().map(|h| h.to_ascii_lowercase()),
                    )
                })
                .collect(),
        }
    }

    /// The file a reading process runs: what the kernel said (`/proc/PID/exe`,
    /// `picket.executable_real`), else the executable its exec named.
    fn running_file(ev: &Event) -> Option<&str> {
        match ev.field("picket.executable_real") {
            FieldValue::Str(s) => Some(s),
            _ => ev.process.executable.as_deref(),
        }
    }

    /// The allowlist entry the reading process matches.
    fn allowlisted(&self, ev: &Event) -> bool {
        let Some(path) = Self::running_file(ev) else {
            return false;
        };
        let hash = match ev.field("process.hash.sha256") {
            FieldValue::Str(h) => Some(h),
            _ => None,
        };
        self.read_allowlist.iter().any(|(exe, sha)| {
            exe == path
                && sha
                    .as_deref()
                    .is_none_or(|want| hash.is_some_and(|h| h.eq_ignore_ascii_case(want)))
        })
    }

    /// AN0904 on a connection-table read (`event.action: connection-table-read`).
    pub(crate) fn check_read(&self, ev: &Event) -> ReadVerdict {
        if !self.reads_enabled {
            return ReadVerdict::NoMatch;
        }
        let Some(e) = ev.picket.enumeration.as_ref() else {
            return ReadVerdict::NoMatch;
        };
        let read: Vec<&str> = e
            .tables
            .iter()
            .filter(|t| self.read_tables.contains(&t.to_ascii_lowercase()))
            .map(String::as_str)
            .collect();
        if read.is_empty() {
            return ReadVerdict::NoMatch;
        }
        if self.allowlisted(ev) {
            return ReadVerdict::Allowlisted;
        }
        let class = self.classify(ev);
        if !self.in_scope(&class) {
            return ReadVerdict::NoMatch;
        }
        let method = e.method.as_deref().unwrap_or("unknown");
        let matched = format!("{method} {}", read.join(","));
        let mut hit = Hit::new(
            "AN0904",
            "ConnectionTableReads",
            matched.clone(),
            self.severity,
        );
        let (who, login_part, why) = self.who(ev, &class);
        let count = e.count.unwrap_or(1);
        let times = if count > 1 {
            format!(" ({count} reads)")
        } else {
            String::new()
        };
        let how = match method {
            "procfs" => "/proc/net",
            "sock_diag" => "a NETLINK_SOCK_DIAG dump request",
            "wmi" => "WMI",
            other => other,
        };
        let utility = self.utilities.find_event(ev);
        let also = utility
            .map(|u| format!("; {u:?} is also in UtilityNameList"))
            .unwrap_or_default();
        hit.message = format!(
            "{who}{login_part} ran `{}` on {}, which read the connection tables {} through {how}{times}: network-connection discovery by behaviour, whatever the program is called, and the user is in scope ({why}){also}",
            short(&reader_line(ev)),
            host_label(ev),
            read.join(", "),
        );
        hit.detail("enumeration_method", method);
        hit.detail("enumeration_tables", read.clone());
        hit.detail("enumeration_count", count);
        if let Some(path) = Self::running_file(ev) {
            hit.detail("reader_executable", path);
        }
        if let Some(u) = utility {
            hit.detail("utility_name_list", u);
        }
        self.scope_details(&mut hit, &class, ev);
        ReadVerdict::Hit(Box::new(hit))
    }

    /// (who, ", logged in as uid N" or nothing, why in scope), for messages.
    fn who(&self, ev: &Event, class: &UserClass) -> (String, String, String) {
        let (id, name) = effective_user(ev);
        let login = ev.picket.login_uid.filter(|u| *u != UNSET_UID);
        let who = match (name, id) {
            (Some(n), Some(i)) => format!("{n} (uid {i})"),
            (Some(n), None) => n.to_string(),
            (None, Some(i)) => format!("uid {i}"),
            (None, None) => "an unknown user".into(),
        };
        let login_part = match login {
            Some(l) if Some(l.to_string().as_str()) != id => format!(", logged in as uid {l}"),
            _ => String::new(),
        };
        let why = match class {
            UserClass::Admin(w) | UserClass::Service(w) => format!("{}: {w}", class.label()),
            other => other.label().to_string(),
        };
        (who, login_part, why)
    }

    /// The UserContextScope details every AN0904 alert carries.
    fn scope_details(&self, hit: &mut Hit, class: &UserClass, ev: &Event) {
        let (id, _) = effective_user(ev);
        let login = ev.picket.login_uid.filter(|u| *u != UNSET_UID);
        hit.detail("user_class", class.label());
        if let UserClass::Admin(w) | UserClass::Service(w) = class {
            hit.detail("user_class_reason", w.clone());
        }
        hit.detail(
            "user_scope",
            match self.scope {
                UserScope::NonAdmin => "non_admin",
                UserScope::ServiceAccounts => "service_accounts",
                UserScope::All => "all",
            },
        );
        if let Some(i) = id {
            hit.detail("effective_uid", i);
        }
        if let Some(l) = login {
            hit.detail("login_uid", l);
        }
    }

    /// Classifies the effective user of `ev`.
    pub(crate) fn classify(&self, ev: &Event) -> UserClass {
        let (id, name) = effective_user(ev);
        let uid = id.and_then(|i| i.trim().parse::<u32>().ok());
        if uid == Some(0) || (uid.is_none() && name == Some("root")) {
            return UserClass::Admin("uid 0".into());
        }
        if let Some(g) = ev
            .picket
            .user_groups
            .iter()
            .find(|g| self.admin_groups.contains(&g.to_lowercase()))
        {
            return UserClass::Admin(format!("member of group {g}"));
        }
        if let Some(n) = name.filter(|n| self.service_names.contains(&n.to_lowercase())) {
            return UserClass::Service(format!("{n} is a listed service account"));
        }
        if let Some(sh) = ev
            .picket
            .user_shell
            .as_deref()
            .filter(|sh| self.service_shells.matches(sh))
        {
            return UserClass::Service(format!("login shell {sh}"));
        }
        match uid {
            Some(65534) => UserClass::Service("uid 65534 (nobody)".into()),
            Some(u) if u < self.uid_min => {
                UserClass::Service(format!("uid {u} is below uid_min {}", self.uid_min))
            }
            Some(_) => UserClass::Regular,
            None => UserClass::Unknown,
        }
    }

    fn in_scope(&self, class: &UserClass) -> bool {
        match self.scope {
            UserScope::All => true,
            UserScope::NonAdmin => !matches!(class, UserClass::Admin(_)),
            UserScope::ServiceAccounts => matches!(class, UserClass::Service(_)),
        }
    }

    /// The `UtilityNameList` entry (or `/proc/net` read) `ev` matches.
    fn utility(&self, ev: &Event) -> Option<String> {
        if let Some(u) = self.utilities.find_event(ev) {
            return Some(u.to_string());
        }
        let re = self.proc_net.as_ref()?;
        let name = ev.process.name.as_deref().or(ev
            .process
            .executable
            .as_deref()
            .map(file_name))?;
        let reader = self.readers.find(name)?;
        let line = command_line(ev);
        let m = re.find(&line)?;
        Some(format!("{} {}", reader.source(), m.as_str()))
    }

    /// An in-scope discovery by `ev`, or `None`.
    pub(crate) fn check(&self, ev: &Event) -> Option<Hit> {
        let matched = self.utility(ev)?;
        let class = self.classify(ev);
        if !self.in_scope(&class) {
            return None;
        }
        let mut hit = Hit::new("AN0904", "UtilityNameList", matched.clone(), self.severity);
        let (who, login_part, why) = self.who(ev, &class);
        hit.message = format!(
            "{who}{login_part} ran `{}` on {}: {matched:?} is in UtilityNameList (network-connection discovery) and the user is in scope ({why})",
            short(&command_line(ev)),
            host_label(ev),
        );
        self.scope_details(&mut hit, &class, ev);
        Some(hit)
    }
}

/// What a reading process ran, for messages: its command line (from the process
/// table), else its executable, else the kernel's `comm`.
fn reader_line(ev: &Event) -> String {
    let line = command_line(ev);
    if !line.is_empty() {
        return line.into_owned();
    }
    match ev.field("picket.executable_real") {
        FieldValue::Str(s) => s.to_string(),
        _ => match ev.field("picket.comm") {
            FieldValue::Str(s) => s.to_string(),
            _ => "an unknown program".into(),
        },
    }
}
