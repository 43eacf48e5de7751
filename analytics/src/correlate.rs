//! TimeWindow: discovery followed by lateral movement or credential access by the same
//! user on the same host, within the window, gives one correlated alert naming both.
//!
//! Every discovery alert (an analytic's, or an Elastic or Sigma rule's when the rule is
//! under ATT&CK's Discovery tactic) records its event as the latest discovery of its
//! (host, user). A later start event whose command line (or
//! decoded PowerShell payload) matches a lateral-movement or credential-access pattern
//! within `window_secs` of it raises the correlated alert, with the discovery event in
//! `picket.related_events`.

use crate::common::{
    clean_into, command_line, encoded_powershell, host_key, host_label, short, tactic, technique,
    user_key, user_label, Platform,
};
use crate::config::TimeWindowConfig;
use crate::hit::Hit;
use chrono::{DateTime, TimeDelta, Utc};
use regex::RegexSet;
use sensor_core::alert::{Severity, Threat};
use sensor_core::config::Problems;
use sensor_core::event::Event;
use std::collections::HashMap;

/// The last discovery of one (host, user).
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    pub at: DateTime<Utc>,
    pub event: Event,
    /// What flagged it (`AN0903 CommandPatternList`, an Elastic rule name).
    pub what: String,
}

/// Correlation state, kept across reloads: host → user → last discovery.
pub(crate) type DiscoveryState = HashMap<String, HashMap<String, Discovery>>;

/// Most (host, user) pairs remembered; the oldest are dropped past this (counted).
pub(crate) const MAX_DISCOVERIES: usize = 100_000;

#[derive(Debug, Clone)]
pub(crate) struct Correlator {
    pub(crate) window: TimeDelta,
    severity: Severity,
    lateral: Option<RegexSet>,
    lateral_src: Vec<String>,
    cred: Option<RegexSet>,
    cred_src: Vec<String>,
    platforms: Vec<Platform>,
}

enum Kind {
    Lateral,
    Credential,
}

impl Correlator {
    pub(crate) fn build(cfg: &TimeWindowConfig, problems: &mut Problems) -> Correlator {
        let (lateral, lateral_src) = crate::compile_regex_set(
            "analytics.time_window.lateral_movement_patterns",
            &cfg.lateral_movement_patterns,
            problems,
        );
        let (cred, cred_src) = crate::compile_regex_set(
            "analytics.time_window.credential_access_patterns",
            &cfg.credential_access_patterns,
            problems,
        );
        let platforms = cfg
            .platforms
            .iter()
            .filter_map(|p| match p.as_str() {
                "windows" => Some(Platform::Windows),
                "linux" => Some(Platform::Linux),
                "macos" => Some(Platform::Macos),
                _ => None,
            })
            .collect();
        Correlator {
            window: TimeDelta::seconds(i64::try_from(cfg.window_secs).unwrap_or(i64::MAX / 1000)),
            severity: cfg.severity,
            lateral,
            lateral_src,
            cred,
            cred_src,
            platforms,
        }
    }

    /// Whether events of `platform` take part (unknown platforms do).
    pub(crate) fn applies(&self, platform: Option<Platform>) -> bool {
        platform.is_none_or(|p| self.platforms.contains(&p))
    }

    fn follow_up_in(&self, text: &str, clean: &mut String) -> Option<(Kind, String)> {
        clean_into(text, clean);
        let first = |set: &Option<RegexSet>, src: &[String]| {
            let set = set.as_ref().filter(|s| s.is_match(clean))?;
            let i = set.matches(clean).into_iter().next()?;
            src.get(i).cloned()
        };
        if let Some(p) = first(&self.lateral, &self.lateral_src) {
            return Some((Kind::Lateral, p));
        }
        first(&self.cred, &self.cred_src).map(|p| (Kind::Credential, p))
    }

    fn follow_up(&self, ev: &Event, clean: &mut String) -> Option<(Kind, String)> {
        if let Some(found) = self.follow_up_in(&command_line(ev), clean) {
            return Some(found);
        }
        let decoded = encoded_powershell(ev)?;
        self.follow_up_in(&decoded, clean)
    }

    /// The correlated alert for `ev` against the state, if any.
    pub(crate) fn check(
        &self,
        ev: &Event,
        platform: Option<Platform>,
        state: &DiscoveryState,
        clean: &mut String,
    ) -> Option<Hit> {
        if state.is_empty() {
            return None;
        }
        let d = state.get(host_key(ev))?.get(user_key(ev).as_ref())?;
        let age = ev.timestamp - d.at;
        if age < TimeDelta::zero() || age > self.window {
            return None;
        }
        let (kind, pattern) = self.follow_up(ev, clean)?;
        let analytic = platform.unwrap_or(Platform::Windows).analytic();
        let (label, tech, tac) = match kind {
            Kind::Lateral => (
                "lateral movement",
                technique("T1021", "Remote Services"),
                tactic("TA0008", "Lateral Movement"),
            ),
            Kind::Credential => (
                "credential access",
                technique("T1003", "OS Credential Dumping"),
                tactic("TA0006", "Credential Access"),
            ),
        };
        let mut hit = Hit::new(analytic, "TimeWindow", pattern.clone(), self.severity);
        hit.rule_name = format!("{analytic}: network connection discovery followed by {label}");
        hit.threat = Threat {
            framework: "MITRE ATT&CK".into(),
            technique: vec![
                technique("T1049", "System Network Connections Discovery"),
                tech,
            ],
            tactic: Some(tac),
        };
        let secs = age.num_seconds();
        hit.message = format!(
            "{} ran `{}` ({label}) on {} {secs} s after `{}` (network-connection discovery flagged by {}), within the {} s TimeWindow",
            user_label(ev),
            short(&command_line(ev)),
            host_label(ev),
            short(&command_line(&d.event)),
            d.what,
            self.window.num_seconds(),
        );
        hit.detail("follow_up", label);
        hit.detail("follow_up_pattern", pattern);
        hit.detail("discovery", d.what.clone());
        hit.detail("seconds_after_discovery", secs);
        hit.detail("window_secs", self.window.num_seconds());
        hit.related.push(d.event.clone());
        Some(hit)
    }

    /// Records `ev` as the latest discovery of its (host, user); true when the oldest
    /// entry had to be dropped to stay within [`MAX_DISCOVERIES`].
    pub(crate) fn record(
        ev: &Event,
        what: String,
        state: &mut DiscoveryState,
        len: &mut usize,
    ) -> bool {
        let host = host_key(ev);
        let user = user_key(ev);
        let exists = state
            .get(host)
            .is_some_and(|m| m.contains_key(user.as_ref()));
        let mut evicted = false;
        if !exists && *len >= MAX_DISCOVERIES {
            let oldest = state
                .iter()
                .flat_map(|(h, m)| m.iter().map(move |(u, d)| (h, u, d.at)))
                .min_by_key(|(_, _, at)| *at)
                .map(|(h, u, _)| (h.clone(), u.clone()));
            if let Some((h, u)) = oldest {
                if let Some(m) = state.get_mut(&h) {
                    m.remove(&u);
                    if m.is_empty() {
                        state.remove(&h);
                    }
                }
                *len -= 1;
                evicted = true;
            }
        }
        if !exists {
            *len += 1;
        }
        state.entry(host.to_string()).or_default().insert(
            user.into_owned(),
            Discovery {
                at: ev.timestamp,
                event: ev.clone(),
                what,
            },
        );
        evicted
    }

    /// Drops discoveries older than the window before `now`; returns how many remain.
    pub(crate) fn prune(&self, now: DateTime<Utc>, state: &mut DiscoveryState) -> usize {
        let window = self.window;
        state.retain(|_, m| {
            m.retain(|_, d| now - d.at <= window);
            !m.is_empty()
        });
        state.values().map(HashMap::len).sum()
    }
}
