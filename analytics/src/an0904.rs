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
//!   seconds give one burst alert (the state lives in the engine; see `Engine`).

use crate::common::{command_line, effective_user, host_label, short};
use crate::config::{An0904Config, UserScope};
use crate::glob::GlobList;
use crate::hit::Hit;
use crate::utility::UtilityList;
use regex::Regex;
use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use sensor_core::event::{file_name, Event};
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
        let (id, name) = effective_user(ev);
        let login = ev.picket.login_uid.filter(|u| *u != UNSET_UID);
        let mut hit = Hit::new("AN0904", "UtilityNameList", matched.clone(), self.severity);
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
        let why = match &class {
            UserClass::Admin(w) | UserClass::Service(w) => format!("{}: {w}", class.label()),
            other => other.label().to_string(),
        };
        hit.message = format!(
            "{who}{login_part} ran `{}` on {}: {matched:?} is in UtilityNameList (network-connection discovery) and the user is in scope ({why})",
            short(&command_line(ev)),
            host_label(ev),
        );
        hit.detail("user_class", class.label());
        if let UserClass::Admin(w) | UserClass::Service(w) = &class {
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
        Some(hit)
    }
}
