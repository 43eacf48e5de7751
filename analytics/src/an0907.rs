//! AN0907 (network devices): socket and session queries on routers, switches and
//! firewalls (`show ip sockets`, `show tcp brief`, `show conn`, `show system
//! connections`, ...), and SNMP queries of the connection tables from any host.
//!
//! - `CommandPatternList`: device commands as words, each typed word equal to or an
//!   abbreviation of the pattern word (IOS's `sh ip soc`), more words and a `|` filter
//!   allowed after; user regexes. SNMP tools naming the TCP/UDP connection tables
//!   ([`crate::snmp`]) count under the same element.
//! - `PrivilegedUserCheck`: administrators (privilege level at least
//!   `admin_privilege_level`, listed users, members of listed groups) are out of scope
//!   by default; an unknown privilege level is in scope.
//! - Frequency: distinct matched patterns by one user on one device within a window
//!   raise the alert's severity and carry the earlier commands as evidence (state in
//!   the engine: [`FrequencyState`], bounded and expiring).

use crate::common::{command_line, host_key, host_label, short, user_label};
use crate::compile_regex_set;
use crate::config::{An0907Config, DeviceUserScope};
use crate::hit::Hit;
use crate::snmp::{Snmp, SnmpQuery};
use chrono::{DateTime, TimeDelta, Utc};
use regex::RegexSet;
use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use sensor_core::event::Event;
use std::collections::{HashMap, HashSet, VecDeque};

/// Most (device, user) pairs whose recent commands are remembered; past this the pair
/// with the oldest last command is dropped (counted in `state_evictions`).
pub(crate) const MAX_FREQUENCY_KEYS: usize = 16_384;

/// Most earlier events a raised alert carries.
const MAX_RELATED: usize = 20;

#[derive(Debug, Clone)]
struct Pattern {
    words: Vec<String>,
    /// A final `$`: no more words may follow.
    anchored: bool,
    source: String,
}

/// One frequency threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Threshold {
    pub(crate) count: u32,
    pub(crate) window_secs: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct An0907 {
    severity: Severity,
    patterns: Vec<Pattern>,
    min_abbrev: usize,
    regexes: Option<RegexSet>,
    regex_sources: Vec<String>,
    scope: DeviceUserScope,
    admin_level: u8,
    admin_users: HashSet<String>,
    admin_groups: HashSet<String>,
    pub(crate) snmp: Option<Snmp>,
    threshold: Threshold,
    product_thresholds: HashMap<String, Threshold>,
    raised_severity: Severity,
}

/// What AN0907 made of a device command.
#[derive(Debug)]
pub(crate) enum Verdict {
    NoMatch,
    /// Matched, but an administrator and out of scope.
    Admin,
    Hit(Box<Hit>, String),
}

impl An0907 {
    pub(crate) fn build(cfg: &An0907Config, problems: &mut Problems) -> An0907 {
        let c = &cfg.command_pattern_list;
        let (regexes, regex_sources) = compile_regex_set(
            "analytics.an0907.command_pattern_list.regexes",
            &c.regexes,
            problems,
        );
        let patterns = c
            .patterns
            .iter()
            .filter_map(|p| {
                let mut words: Vec<String> = p.split_whitespace().map(str::to_lowercase).collect();
                let anchored = words.last().is_some_and(|w| w == "$");
                if anchored {
                    words.pop();
                }
                (!words.is_empty()).then(|| Pattern {
                    source: words.join(" "),
                    words,
                    anchored,
                })
            })
            .collect();
        let p = &cfg.privileged_user_check;
        let f = &cfg.frequency;
        An0907 {
            severity: cfg.severity,
            patterns,
            min_abbrev: usize::try_from(c.min_abbreviation_chars)
                .unwrap_or(2)
                .max(1),
            regexes,
            regex_sources,
            scope: p.scope,
            admin_level: p.admin_privilege_level,
            admin_users: p
                .admin_users
                .iter()
                .map(|u| u.trim().to_lowercase())
                .collect(),
            admin_groups: p
                .admin_groups
                .iter()
                .map(|g| g.trim().to_lowercase())
                .collect(),
            snmp: cfg.snmp.enabled.then(|| Snmp::build(&cfg.snmp)),
            threshold: Threshold {
                count: f.distinct_commands,
                window_secs: f.window_secs,
            },
            product_thresholds: f
                .products
                .iter()
                .map(|(k, v)| {
                    (
                        k.trim().to_lowercase(),
                        Threshold {
                            count: v.distinct_commands,
                            window_secs: v.window_secs,
                        },
                    )
                })
                .collect(),
            raised_severity: f.severity,
        }
    }

    fn word_matches(&self, typed: &str, want: &str) -> bool {
        typed == want
            || (typed.len() >= self.min_abbrev
                && want.len() > typed.len()
                && want.starts_with(typed))
    }

    /// The pattern a device command matches (the one with most words), or a regex.
    pub(crate) fn matched(&self, line: &str) -> Option<String> {
        let command = line.split('|').next().unwrap_or("");
        let mut typed: Vec<String> = command.split_whitespace().map(str::to_lowercase).collect();
        if typed.len() > 1 && typed[0] == "do" {
            typed.remove(0);
        }
        let best = self
            .patterns
            .iter()
            .filter(|p| {
                typed.len() >= p.words.len()
                    && (!p.anchored || typed.len() == p.words.len())
                    && typed
                        .iter()
                        .zip(&p.words)
                        .all(|(t, w)| self.word_matches(t, w))
            })
            .max_by_key(|p| p.words.len());
        if let Some(p) = best {
            return Some(p.source.clone());
        }
        let set = self.regexes.as_ref()?;
        let i = set.matches(line).into_iter().next()?;
        self.regex_sources.get(i).cloned()
    }

    /// Why the user of `ev` is an administrator, if they are.
    fn admin_reason(&self, ev: &Event) -> Option<String> {
        if let Some(level) = ev.picket.privilege_level {
            if level >= self.admin_level {
                return Some(format!(
                    "privilege level {level} is at least admin_privilege_level {}",
                    self.admin_level
                ));
            }
        }
        if let Some(u) = ev
            .user
            .name
            .as_deref()
            .filter(|u| self.admin_users.contains(&u.trim().to_lowercase()))
        {
            return Some(format!("{u} is in admin_users"));
        }
        ev.picket
            .user_groups
            .iter()
            .find(|g| self.admin_groups.contains(&g.trim().to_lowercase()))
            .map(|g| format!("member of admin group {g}"))
    }

    /// The frequency threshold for the device of `ev` (its `observer.product`).
    pub(crate) fn threshold(&self, ev: &Event) -> Threshold {
        ev.observer
            .as_ref()
            .and_then(|o| o.product.as_deref())
            .and_then(|p| self.product_thresholds.get(&p.trim().to_lowercase()))
            .copied()
            .unwrap_or(self.threshold)
    }

    /// The longest window of any threshold, for expiring state.
    pub(crate) fn longest_window(&self) -> TimeDelta {
        let secs = self
            .product_thresholds
            .values()
            .map(|t| t.window_secs)
            .chain([self.threshold.window_secs])
            .max()
            .unwrap_or(300);
        TimeDelta::seconds(i64::try_from(secs).unwrap_or(86_400))
    }

    /// Whether frequency is on for any product.
    pub(crate) fn frequency_on(&self) -> bool {
        self.threshold.count >= 2 || self.product_thresholds.values().any(|t| t.count >= 2)
    }

    pub(crate) fn raised_severity(&self) -> Severity {
        self.raised_severity
    }

    /// Checks a device command event.
    pub(crate) fn check(&self, ev: &Event) -> Verdict {
        let line = command_line(ev);
        let Some(matched) = self.matched(&line) else {
            return Verdict::NoMatch;
        };
        let admin = self.admin_reason(ev);
        if admin.is_some() && self.scope == DeviceUserScope::NonAdmin {
            return Verdict::Admin;
        }
        let mut hit = Hit::new(
            "AN0907",
            "CommandPatternList",
            matched.clone(),
            self.severity,
        );
        let user = ev.user.name.as_deref().unwrap_or("an unknown user");
        let level = match ev.picket.privilege_level {
            Some(l) => format!("privilege level {l}"),
            None => "privilege level unknown".into(),
        };
        let device_ip = ev
            .observer
            .as_ref()
            .and_then(|o| o.ip.as_deref())
            .filter(|ip| Some(*ip) != ev.host.name.as_deref());
        let device = match device_ip {
            Some(ip) => format!("{} ({ip})", host_label(ev)),
            None => host_label(ev).to_string(),
        };
        let product = ev.observer.as_ref().and_then(|o| o.product.as_deref());
        let source = ev
            .source
            .as_ref()
            .and_then(|s| s.ip.as_deref().or(s.address.as_deref()));
        let origin = ev.picket.origin.as_deref();
        let from = match (source, origin) {
            (Some(s), Some(o)) => format!(" from {s} over {o}"),
            (Some(s), None) => format!(" from {s}"),
            (None, Some(o)) => format!(" over {o}"),
            (None, None) => String::new(),
        };
        let why = match &admin {
            Some(r) => format!("an administrator ({r}), in scope because scope = \"all\""),
            None => format!("not an administrator ({level})"),
        };
        hit.message = format!(
            "{user} ({level}) ran `{}` on {}{device}{from}: {matched:?} is in CommandPatternList (socket/session query), and the user is in scope: {why}",
            short(&line),
            product.map(|p| format!("{p} device ")).unwrap_or_default(),
        );
        hit.detail("via", "cli");
        hit.detail(
            "user_class",
            if admin.is_some() {
                "administrator"
            } else {
                "non-admin"
            },
        );
        if let Some(r) = admin {
            hit.detail("admin_reason", r);
        }
        if let Some(l) = ev.picket.privilege_level {
            hit.detail("privilege_level", l);
        }
        hit.detail("admin_privilege_level", self.admin_level);
        hit.detail(
            "user_scope",
            match self.scope {
                DeviceUserScope::NonAdmin => "non_admin",
                DeviceUserScope::All => "all",
            },
        );
        Verdict::Hit(Box::new(hit), matched)
    }
}

impl An0907 {
    /// The alert for an SNMP query of a connection table run on a host.
    pub(crate) fn snmp_hit(&self, ev: &Event, q: SnmpQuery) -> Hit {
        let mut hit = Hit::new(
            "AN0907",
            "CommandPatternList",
            format!("snmp {}", q.table),
            self.severity,
        );
        let what = if q.object.is_empty() {
            format!("a walk of all of mib-2, which holds {}", q.table)
        } else if q.ancestor {
            format!("a walk of {}, which holds {}", q.object, q.table)
        } else {
            format!("{} ({})", q.table, q.object)
        };
        hit.message = format!(
            "{} ran `{}` on {}: an SNMP query ({}) of {what} on {}, the active connections and sessions of a network device (CommandPatternList, SNMP)",
            user_label(ev),
            short(&command_line(ev)),
            host_label(ev),
            q.tool,
            q.target.as_deref().unwrap_or("an unnamed agent"),
        );
        hit.detail("via", "snmp");
        hit.detail("snmp_tool", q.tool);
        hit.detail("snmp_table", q.table);
        if !q.object.is_empty() {
            hit.detail("snmp_object", q.object);
        }
        if let Some(t) = q.target {
            hit.detail("snmp_target", t);
        }
        if q.ancestor {
            hit.detail("snmp_subtree_walk", true);
        }
        hit
    }
}

/// Recent in-scope matches per (device, user): the latest event of each distinct
/// pattern, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrequencyState {
    keys: HashMap<String, VecDeque<(String, Event)>>,
}

/// What a frequency check found: the distinct patterns and the earlier events.
#[derive(Debug)]
pub(crate) struct Raised {
    pub(crate) distinct: usize,
    pub(crate) patterns: Vec<String>,
    pub(crate) related: Vec<Event>,
    pub(crate) span_secs: i64,
}

impl FrequencyState {
    /// Pairs held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Records a match of `pattern` by `ev`; when `threshold` distinct patterns fall in
    /// the window, returns them (and forgets them, so the next raise needs a fresh set).
    /// `evicted` is set when another pair had to be dropped to stay bounded.
    pub(crate) fn record(
        &mut self,
        ev: &Event,
        pattern: &str,
        threshold: Threshold,
        evicted: &mut bool,
    ) -> Option<Raised> {
        if threshold.count < 2 {
            return None;
        }
        let window = TimeDelta::seconds(i64::try_from(threshold.window_secs).unwrap_or(86_400));
        let key = format!(
            "{}\u{1f}{}",
            host_key(ev),
            ev.user.name.as_deref().unwrap_or("").to_lowercase()
        );
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_FREQUENCY_KEYS {
            let oldest = self
                .keys
                .iter()
                .min_by_key(|(_, q)| q.back().map(|(_, e)| e.timestamp))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.keys.remove(&k);
                *evicted = true;
            }
        }
        let q = self.keys.entry(key.clone()).or_default();
        q.retain(|(p, e)| p != pattern && ev.timestamp - e.timestamp < window);
        q.push_back((pattern.to_string(), ev.clone()));
        if q.len() < threshold.count as usize {
            return None;
        }
        let entries: Vec<(String, Event)> = q.drain(..).collect();
        self.keys.remove(&key);
        let first = entries
            .iter()
            .map(|(_, e)| e.timestamp)
            .min()
            .unwrap_or(ev.timestamp);
        let patterns: Vec<String> = entries.iter().map(|(p, _)| p.clone()).collect();
        let count = entries.len();
        let related: Vec<Event> = entries
            .into_iter()
            .take(count - 1)
            .map(|(_, e)| e)
            .rev()
            .take(MAX_RELATED)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Some(Raised {
            distinct: count,
            patterns,
            related,
            span_secs: (ev.timestamp - first).num_seconds(),
        })
    }

    /// Forgets matches older than `window` by `now`.
    pub(crate) fn prune(&mut self, now: DateTime<Utc>, window: TimeDelta) {
        self.keys.retain(|_, q| {
            q.retain(|(_, e)| now - e.timestamp < window);
            !q.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::An0907Config;

    fn an0907(cfg: &An0907Config) -> An0907 {
        let mut problems = Vec::new();
        let a = An0907::build(cfg, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        a
    }

    #[test]
    fn patterns_abbreviations_and_filters() {
        let a = an0907(&An0907Config::default());
        let m = |l: &str| a.matched(l);
        assert_eq!(m("show ip sockets").as_deref(), Some("show ip sockets"));
        assert_eq!(m("sh ip soc").as_deref(), Some("show ip sockets"));
        assert_eq!(m("SH TCP BR").as_deref(), Some("show tcp"));
        assert_eq!(m("show tcp brief all").as_deref(), Some("show tcp"));
        assert_eq!(
            m("show tcp brief | include ESTAB").as_deref(),
            Some("show tcp")
        );
        assert_eq!(m("do sh users").as_deref(), Some("show users"));
        assert_eq!(
            m("show sockets connection tcp").as_deref(),
            Some("show sockets connection")
        );
        assert_eq!(m("show ssh").as_deref(), Some("show ssh"));
        assert_eq!(m("show ssh sessions").as_deref(), Some("show ssh sessions"));
        assert_eq!(
            m("show control-plane host open-ports").as_deref(),
            Some("show control-plane host open-ports")
        );
        assert_eq!(
            m("show system connections | match ESTABLISHED").as_deref(),
            Some("show system connections")
        );
        assert_eq!(m("show conn all").as_deref(), Some("show conn"));
        // Lookalikes.
        for l in [
            "show running-config | include tcp",
            "show version",
            "show interfaces status",
            "show ssh key",
            "s ip sockets",
            "show ip",
            "show",
            "",
        ] {
            assert_eq!(m(l), None, "{l}");
        }
    }

    #[test]
    fn frequency_state_is_bounded_and_keeps_one_event_per_pattern() {
        let mut state = FrequencyState::default();
        let th = Threshold {
            count: 4,
            window_secs: 300,
        };
        let base = chrono::DateTime::UNIX_EPOCH;
        let ev = |host: String, secs: i64| {
            let mut e = Event::default();
            e.host.name = Some(host);
            e.user.name = Some("alice".into());
            e.timestamp = base + TimeDelta::seconds(secs);
            e
        };
        let mut evictions = 0;
        for i in 0..MAX_FREQUENCY_KEYS + 10 {
            let mut evicted = false;
            let raised = state.record(
                &ev(format!("r{i}"), i as i64),
                "show users",
                th,
                &mut evicted,
            );
            assert!(raised.is_none());
            evictions += usize::from(evicted);
        }
        assert_eq!(state.len(), MAX_FREQUENCY_KEYS);
        assert_eq!(evictions, 10);
        // The same pattern again replaces its earlier event rather than adding one.
        let mut evicted = false;
        for secs in 0..50 {
            state.record(
                &ev("x".into(), 100_000 + secs),
                "show users",
                th,
                &mut evicted,
            );
        }
        assert_eq!(state.keys.get("x\u{1f}alice").map(VecDeque::len), Some(1));
        state.prune(base + TimeDelta::seconds(200_000), TimeDelta::seconds(300));
        assert_eq!(state.len(), 0);
    }

    #[test]
    fn abbreviation_minimum_is_a_setting() {
        let mut cfg = An0907Config::default();
        cfg.command_pattern_list.min_abbreviation_chars = 4;
        let a = an0907(&cfg);
        assert_eq!(a.matched("sh ip soc"), None);
        assert_eq!(
            a.matched("show ip sock").as_deref(),
            Some("show ip sockets")
        );
        cfg.command_pattern_list.min_abbreviation_chars = 1;
        let a = an0907(&cfg);
        assert_eq!(a.matched("s ip s").as_deref(), Some("show ip sockets"));
    }
}
