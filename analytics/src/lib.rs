//! # analytics: the detection room of Picket
//!
//! Turns enriched events into alerts, and nothing else: MITRE DET0320's analytics for
//! T1049 (AN0903 Windows, AN0904 Linux, AN0905 macOS on process starts; AN0906 VMware
//! ESXi and AN0907 network devices on device-log events, with AN0907's SNMP queries on
//! process starts of any OS; AN0908 IaaS on cloud API events, with its cloud CLI
//! commands on process starts of any OS) with every mutable element a setting of `[analytics]`
//! (whose types, with `[rules]`, live in [`config`] and are validated by compiling them,
//! once, into [`Analytics`]), the TimeWindow correlation on every platform, an EQL
//! engine that runs Elastic detection rules verbatim (single events and sequences) and
//! Sigma rules compiled onto it, and alert folding. [`Engine`] implements [`sensor_core::Detector`]; the pipeline feeds it.
//!
//! May touch: `sensor-core` types only. No I/O and no OS calls: rule files are read by
//! the caller and handed in as [`RuleSource`]s; time comes from events and ticks. The
//! one exception is CPU: a large rule set is compiled and indexed on scoped threads, one
//! per core.
//!
//! Which analytic applies to an event is decided first by the device a log event is from
//! (`observer.type`: `hypervisor` → AN0906; `router`, `switch`, `firewall`, `network` →
//! AN0907, for `event.action` `command`, `login`, `session-start`, `session-end`), then
//! whether it is a cloud API call ([`common::is_cloud_api`]: `event.category: api` from
//! a cloud → AN0908), then for host events by [`platform_of`]: `host.os.type`, then the
//! collector name, then the executable's path style. Of host events only `start` (exec)
//! events are analysed; Elastic and Sigma rules see every event and their queries decide.
#![deny(missing_docs)]

mod admin_window;
mod an0903;
mod an0904;
mod an0905;
mod an0906;
mod an0907;
mod an0908;
mod cidr;
mod cloud_cli;
pub mod common;
pub mod config;
mod correlate;
pub mod eql;
pub mod field;
mod fold;
pub mod glob;
mod hit;
mod parallel;
mod rule_index;
pub mod rules;
pub mod sigma;
mod snmp;
mod utility;

pub use common::{platform_of, Platform};
pub use config::{AnalyticsConfig, RuleFile, RulesConfig};
pub use eql::{EqlError, Query};
pub use rules::{
    load_rules, load_rules_with, parse_any, parse_rule, validate_rule_text, ElasticRule, RuleError,
    RuleErrorKind, RuleFormat, RuleSource, BUILTIN_RULE_ORIGIN, BUILTIN_RULE_TOML,
};
pub use sigma::{parse_sigma_rule, Refusal};

use chrono::{DateTime, TimeDelta, Utc};
use correlate::{Correlator, DiscoveryState};
use fold::{FoldCounts, FoldState, Folder};
use hit::Hit;
use regex::{RegexSet, RegexSetBuilder};
use sensor_core::alert::{Alert, Rule};
use sensor_core::config::Problems;
use sensor_core::detect::{Detector, DetectorCounts, Precheck, Prechecked};
use sensor_core::event::{Event, Lifecycle};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Reusable buffers, so matching does not allocate per event.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scratch {
    pub clean: String,
    pub norm: String,
}

/// Counters the engine keeps, reported into health through [`Detector::counts`].
pub type EngineStats = DetectorCounts;

/// Recent in-scope AN0904 executions of one (host, user), for bursts.
type BurstState = HashMap<String, HashMap<String, VecDeque<Event>>>;

/// Most earlier events a burst alert carries in `picket.related_events`.
const MAX_BURST_RELATED: usize = 20;

/// The detection engine: every analytic and Elastic rule, with its state. Cloning is
/// cheap (compiled matchers are shared) and copies the state too, so a freshly built
/// engine can be cloned for each independent replay.
#[derive(Debug, Clone)]
pub struct Engine {
    an0903: Option<an0903::An0903>,
    an0904: Option<an0904::An0904>,
    an0905: Option<an0905::An0905>,
    an0906: Option<an0906::An0906>,
    an0907: Option<an0907::An0907>,
    an0908: Option<an0908::An0908>,
    correlator: Option<Correlator>,
    /// Shared between clones and with the pipeline's precheck threads.
    rules: Arc<[ElasticRule]>,
    /// The rules by what they need, shared between clones.
    rule_index: Arc<rule_index::RuleIndex>,
    /// The `rule_id`s of the rules under the Discovery tactic, whose alerts TimeWindow
    /// records as discoveries.
    discovery_rules: Arc<std::collections::HashSet<String>>,
    rule_candidates: rule_index::Candidates,
    /// The single-event rules that matched the event in hand.
    rules_matched: Vec<u32>,
    /// The sequence rules (positions in `rules`) and each one's partial sequences.
    sequence_rules: Vec<(usize, eql::SequenceState)>,
    /// Prefilters and the rule index on (the default); off only to prove they change
    /// nothing.
    prefilters: bool,
    folder: Folder,
    folds: FoldState,
    discoveries: DiscoveryState,
    discoveries_len: usize,
    bursts: BurstState,
    /// AN0906: open SSH sessions per ESXi host, for joining shell commands to them.
    ssh_sessions: an0906::SessionState,
    /// AN0907: recent distinct discovery commands per (device, user).
    device_commands: an0907::FrequencyState,
    /// AN0908: recent network-enumeration API calls per principal and source address.
    cloud_bursts: an0908::BurstState,
    scratch: Scratch,
    stats: EngineStats,
    pending: Vec<Alert>,
}

/// Fewest single-event rules for which the engine hands them to the pipeline's precheck
/// threads ([`Detector::precheck`]): the built-in rule alone costs less than the hand-over.
const PRECHECK_MIN_RULES: usize = 16;

/// The single-event rules, checked on the pipeline's precheck threads: what the engine
/// would check itself, with the same index and the same switch.
struct RulePrecheck {
    rules: Arc<[ElasticRule]>,
    index: Arc<rule_index::RuleIndex>,
    prefilters: bool,
}

impl Precheck for RulePrecheck {
    fn check(&self, events: &[Event], out: &mut Vec<Prechecked>) {
        let mut candidates = rule_index::Candidates::default();
        let mut matched = Vec::new();
        for ev in events {
            matched.clear();
            let (rules, index) = (&self.rules[..], &self.index);
            matching_rules(
                rules,
                index,
                self.prefilters,
                ev,
                &mut candidates,
                &mut matched,
            );
            let mut alerts = Vec::new();
            push_rule_alerts(rules, &matched, ev, &mut alerts);
            out.push(Prechecked(alerts));
        }
    }
}

/// The positions of the single-event rules that match `ev`, in rule order: through the
/// index, or (prefilters off) by trying every rule.
fn matching_rules(
    rules: &[ElasticRule],
    index: &rule_index::RuleIndex,
    prefilters: bool,
    ev: &Event,
    candidates: &mut rule_index::Candidates,
    out: &mut Vec<u32>,
) {
    let mut offer = |i: usize| {
        if rules.get(i).is_some_and(|r| r.matches(ev)) {
            if let Ok(i) = u32::try_from(i) {
                out.push(i);
            }
        }
    };
    if prefilters {
        index.candidates(ev, candidates);
        candidates.iter().for_each(&mut offer);
    } else {
        (0..rules.len()).for_each(offer);
    }
}

/// An alert for `ev` from each rule of `matched` (positions in `rules`), in that order.
fn push_rule_alerts(rules: &[ElasticRule], matched: &[u32], ev: &Event, out: &mut Vec<Alert>) {
    let matching = matched.iter().filter_map(|&i| rules.get(i as usize));
    out.extend(matching.map(|rule| Engine::rule_alert(rule, ev)));
}

/// `event.action` of a WMI operation (a `Microsoft-Windows-WMI-Activity` event 11).
const WMI_OPERATION: &str = "wmi-operation";

/// Whether two events are of one process: the same pid started at the same time (to
/// within a second, as collectors stamp starts from their own clock offsets).
fn same_process(a: &Event, b: &Event) -> bool {
    let (Some(pa), Some(pb)) = (a.process.pid, b.process.pid) else {
        return false;
    };
    if pa != pb || common::host_key(a) != common::host_key(b) {
        return false;
    }
    match (a.process.start, b.process.start) {
        (Some(x), Some(y)) => (x - y).num_milliseconds().abs() < 1000,
        _ => false,
    }
}

pub(crate) fn setting_error(field: &str, message: String) -> RuleError {
    RuleError {
        origin: "[analytics]".into(),
        line: 0,
        column: 0,
        kind: RuleErrorKind::Setting {
            field: field.into(),
            message,
        },
    }
}

/// Compiles a list of case-insensitive regexes into one set, skipping (and reporting at
/// `field[i]`) any that do not compile. Returns the set and the sources of the patterns
/// in it. Valid lists, the usual case, compile exactly once.
pub(crate) fn compile_regex_set(
    field: &str,
    patterns: &[String],
    problems: &mut Problems,
) -> (Option<RegexSet>, Vec<String>) {
    let build = |list: &[String]| RegexSetBuilder::new(list).case_insensitive(true).build();
    if patterns.is_empty() {
        return (None, Vec::new());
    }
    if let Ok(set) = build(patterns) {
        return (Some(set), patterns.to_vec());
    }
    // Some pattern is bad: report each bad one and build the set from the rest.
    let mut good = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        match regex::RegexBuilder::new(p).case_insensitive(true).build() {
            Ok(_) => good.push(p.clone()),
            Err(e) => {
                let last = e.to_string().lines().last().unwrap_or_default().to_string();
                problems.push((
                    format!("{field}[{i}]"),
                    format!("invalid regex {p:?}: {last}"),
                ));
            }
        }
    }
    match build(&good) {
        Ok(set) if !good.is_empty() => (Some(set), good),
        Ok(_) => (None, Vec::new()),
        Err(e) => {
            problems.push((field.to_string(), e.to_string()));
            (None, Vec::new())
        }
    }
}

/// The `[analytics]` settings compiled: every matcher built once, the disabled analytics
/// left out. Building it is how the settings are validated, so a daemon keeps the one
/// built while checking its config and hands it to [`Engine::with_analytics`]. Cloning
/// shares the compiled matchers.
#[derive(Debug, Clone)]
pub struct Analytics {
    an0903: Option<an0903::An0903>,
    an0904: Option<an0904::An0904>,
    an0905: Option<an0905::An0905>,
    an0906: Option<an0906::An0906>,
    an0907: Option<an0907::An0907>,
    an0908: Option<an0908::An0908>,
    correlator: Option<Correlator>,
    fold_window_secs: u64,
}

impl Analytics {
    /// Compiles every analytic, enabled or not (a disabled one's bad pattern is still an
    /// error), and returns what compiled with every problem, by field path
    /// (`analytics.an0903.command_pattern_list.regexes[2]`). With problems, the bad
    /// patterns are left out and the rest still run.
    pub fn build(config: &AnalyticsConfig) -> (Analytics, Problems) {
        let mut problems = Vec::new();
        config.check_values(&mut problems);
        let an0903 = an0903::An0903::build(&config.an0903, &mut problems);
        let an0904 = an0904::An0904::build(&config.an0904, &mut problems);
        let an0905 = an0905::An0905::build(&config.an0905);
        let an0906 = an0906::An0906::build(&config.an0906, &mut problems);
        let an0907 = an0907::An0907::build(&config.an0907, &mut problems);
        let an0908 = an0908::An0908::build(&config.an0908);
        let correlator = Correlator::build(&config.time_window, &mut problems);
        let analytics = Analytics {
            an0903: config.an0903.enabled.then_some(an0903),
            an0904: config.an0904.enabled.then_some(an0904),
            an0905: config.an0905.enabled.then_some(an0905),
            an0906: config.an0906.enabled.then_some(an0906),
            an0907: config.an0907.enabled.then_some(an0907),
            an0908: config.an0908.enabled.then_some(an0908),
            correlator: config.time_window.enabled.then_some(correlator),
            fold_window_secs: config.fold_window_secs,
        };
        (analytics, problems)
    }
}

impl Engine {
    /// Builds the engine from the `[analytics]` and `[rules]` settings and the rule files
    /// the caller read from `rules.paths`. Rules that do not load come back as errors
    /// (file, line, column) while the others run; so does any setting that is not valid
    /// (which validation normally prevents).
    pub fn build(
        config: &AnalyticsConfig,
        rules: &RulesConfig,
        extra_rule_sources: &[RuleSource],
    ) -> (Engine, Vec<RuleError>) {
        let (analytics, problems) = Analytics::build(config);
        let (engine, rule_errors) = Engine::with_analytics(analytics, rules, extra_rule_sources);
        let mut errors: Vec<RuleError> = problems
            .into_iter()
            .map(|(field, message)| setting_error(&field, message))
            .collect();
        errors.extend(rule_errors);
        (engine, errors)
    }

    /// Builds the engine from analytics already compiled (while validating the config),
    /// so nothing is compiled twice; rules as for [`Engine::build`].
    pub fn with_analytics(
        analytics: Analytics,
        rules: &RulesConfig,
        extra_rule_sources: &[RuleSource],
    ) -> (Engine, Vec<RuleError>) {
        let (loaded, errors) =
            load_rules_with(rules.builtin, extra_rule_sources, &rules.sigma.placeholders);
        let rule_index = Arc::new(rule_index::RuleIndex::build(&loaded));
        let discovery_rules = (loaded.iter())
            .filter(|r| r.discovery)
            .map(|r| r.rule_id.clone())
            .collect();
        let sequence_rules = (loaded.iter().enumerate())
            .filter(|(_, r)| r.sequence().is_some())
            .map(|(i, _)| (i, eql::SequenceState::default()))
            .collect();
        let engine = Engine {
            an0903: analytics.an0903,
            an0904: analytics.an0904,
            an0905: analytics.an0905,
            an0906: analytics.an0906,
            an0907: analytics.an0907,
            an0908: analytics.an0908,
            correlator: analytics.correlator,
            rules: Arc::from(loaded),
            rule_index,
            discovery_rules: Arc::new(discovery_rules),
            rule_candidates: rule_index::Candidates::default(),
            rules_matched: Vec::new(),
            sequence_rules,
            prefilters: true,
            folder: Folder::new(analytics.fold_window_secs),
            folds: FoldState::new(),
            discoveries: DiscoveryState::new(),
            discoveries_len: 0,
            bursts: BurstState::new(),
            ssh_sessions: an0906::SessionState::default(),
            device_commands: an0907::FrequencyState::default(),
            cloud_bursts: an0908::BurstState::default(),
            scratch: Scratch::default(),
            stats: EngineStats::default(),
            pending: Vec::new(),
        };
        (engine, errors)
    }

    /// The Elastic rules that loaded.
    pub fn rules(&self) -> &[ElasticRule] {
        &self.rules
    }

    /// Turns the prefilters and the rule index off (`false`) or on. Verdicts are the
    /// same either way; this exists so tests and benches can show that.
    #[doc(hidden)]
    pub fn set_prefilters(&mut self, on: bool) {
        self.prefilters = on;
    }

    /// How many loaded rules give the index nothing to go on, so see every event.
    #[doc(hidden)]
    pub fn rules_always_evaluated(&self) -> usize {
        self.rule_index.always_evaluated()
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    fn rule_alert(rule: &ElasticRule, ev: &Event) -> Alert {
        let r = Rule {
            id: rule.rule_id.clone(),
            name: rule.name.clone(),
            reference: rule.reference.clone(),
            ruleset: rule.format.ruleset().into(),
        };
        let mut a = Alert::for_event(ev, r, rule.threat.clone(), rule.severity);
        a.event.risk_score = rule.risk_score;
        let line = common::command_line(ev);
        a.message = format!(
            "{} ran `{}` on {}: matches the {} rule {:?}{}",
            common::user_label(ev),
            common::short(&line),
            common::host_label(ev),
            match rule.format {
                rules::RuleFormat::Elastic => "Elastic",
                rules::RuleFormat::Sigma => "Sigma",
            },
            rule.name,
            if rule.building_block {
                " (a building-block rule)"
            } else {
                ""
            }
        );
        a.picket.matched_value = ev.process.name.clone().unwrap_or_default();
        a.picket.first_seen = Some(ev.timestamp);
        a.picket.last_seen = Some(ev.timestamp);
        a.picket
            .details
            .insert("rule_origin".into(), rule.origin.clone().into());
        if rule.building_block {
            a.picket
                .details
                .insert("building_block".into(), true.into());
        }
        a
    }

    /// The alert of a completed sequence: the last event's, with the others as evidence.
    fn sequence_alert(rule: &ElasticRule, events: &[Event]) -> Option<Alert> {
        let (last, earlier) = events.split_last()?;
        let mut a = Self::rule_alert(rule, last);
        let first = earlier.first().map_or(last.timestamp, |e| e.timestamp);
        a.message = format!(
            "{} ran `{}` on {}, completing the Elastic sequence rule {:?}: {} events in {} s",
            common::user_label(last),
            common::short(&common::command_line(last)),
            common::host_label(last),
            rule.name,
            events.len(),
            (last.timestamp - first).num_seconds(),
        );
        a.picket.first_seen = Some(first);
        for e in earlier {
            a.add_evidence(e);
        }
        a.picket.related_events = earlier.to_vec();
        Some(a)
    }

    /// AN0904's burst check after an in-scope hit; returns the burst hit, if any.
    fn burst(&mut self, ev: &Event) -> Option<Hit> {
        let a = self.an0904.as_ref()?;
        if a.burst_count < 2 {
            return None;
        }
        let window = TimeDelta::seconds(i64::try_from(a.burst_window_secs).unwrap_or(86_400));
        let user = common::user_key(ev);
        let q = self
            .bursts
            .entry(common::host_key(ev).to_string())
            .or_default()
            .entry(user.into_owned())
            .or_default();
        while q
            .front()
            .is_some_and(|old| ev.timestamp - old.timestamp >= window)
        {
            q.pop_front();
        }
        // A process counts once: its exec and its table reads are one execution.
        if q.iter().any(|old| same_process(old, ev)) {
            return None;
        }
        q.push_back(ev.clone());
        if q.len() < a.burst_count as usize {
            return None;
        }
        let count = q.len();
        let first = q.front().map_or(ev.timestamp, |e| e.timestamp);
        let related: Vec<Event> = q
            .drain(..)
            .take(count - 1)
            .rev()
            .take(MAX_BURST_RELATED)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let span = (ev.timestamp - first).num_seconds();
        let mut hit = Hit::new(
            "AN0904",
            "ExecutionFrequencyThreshold",
            format!("{} executions in {} s", a.burst_count, a.burst_window_secs),
            a.burst_severity,
        );
        hit.message = format!(
            "{} ran network-connection discovery {count} times within {span} s on {} (ExecutionFrequencyThreshold: {} in {} s); the last was `{}`",
            common::user_label(ev),
            common::host_label(ev),
            a.burst_count,
            a.burst_window_secs,
            common::short(&common::command_line(ev)),
        );
        hit.detail("burst_count", count);
        hit.detail("burst_span_secs", span);
        hit.detail("threshold_count", a.burst_count);
        hit.detail("threshold_window_secs", a.burst_window_secs);
        hit.related = related;
        Some(hit)
    }

    /// AN0906 on an ESXi log event: SSH logins and session ends feed the session join;
    /// commands are checked.
    fn esxi(&mut self, ev: &Event, out: &mut Vec<Alert>) {
        let Some(a) = &self.an0906 else { return };
        if ev.event.action.as_deref() != Some("command") {
            if a.learn(ev, &mut self.ssh_sessions) {
                self.stats.state_evictions += 1;
            }
            return;
        }
        match a.check(ev, &mut self.ssh_sessions) {
            an0906::Verdict::NoMatch => {}
            an0906::Verdict::Expected => self.stats.expected_origin_skipped += 1,
            an0906::Verdict::Suppressed => self.stats.admin_window_suppressed += 1,
            an0906::Verdict::Alert { hit, lowered } => {
                if lowered {
                    self.stats.admin_window_lowered += 1;
                }
                out.push(hit.into_alert(ev));
            }
        }
    }

    /// AN0907 on a network-device command, with its frequency raise.
    fn network_device(&mut self, ev: &Event, out: &mut Vec<Alert>) {
        let Some(a) = &self.an0907 else { return };
        if ev.event.action.as_deref() != Some("command") {
            return;
        }
        let (mut hit, pattern) = match a.check(ev) {
            an0907::Verdict::NoMatch => return,
            an0907::Verdict::Admin => {
                self.stats.admin_user_skipped += 1;
                return;
            }
            an0907::Verdict::Hit(hit, pattern) => (hit, pattern),
        };
        let threshold = a.threshold(ev);
        let mut evicted = false;
        if let Some(r) = self
            .device_commands
            .record(ev, &pattern, threshold, &mut evicted)
        {
            hit.severity = hit.severity.max(a.raised_severity());
            hit.message.push_str(&format!(
                "; {} distinct discovery commands by this user on this device within {} s (threshold {} in {} s{}): severity raised",
                r.distinct,
                r.span_secs,
                threshold.count,
                threshold.window_secs,
                ev.observer
                    .as_ref()
                    .and_then(|o| o.product.as_deref())
                    .map(|p| format!(", for {p}"))
                    .unwrap_or_default(),
            ));
            hit.detail("frequency_distinct_commands", r.distinct);
            hit.detail("frequency_commands", r.patterns);
            hit.detail("frequency_span_secs", r.span_secs);
            hit.detail("frequency_threshold_count", threshold.count);
            hit.detail("frequency_threshold_window_secs", threshold.window_secs);
            hit.related = r.related;
        }
        if evicted {
            self.stats.state_evictions += 1;
        }
        out.push(hit.into_alert(ev));
    }

    /// AN0908 on a cloud API call: single calls and bursts.
    fn cloud_call(&mut self, ev: &Event, out: &mut Vec<Alert>) {
        let Some(a) = &self.an0908 else { return };
        let mut counts = an0908::CallCounts::default();
        let hits = a.on_call(ev, &mut self.cloud_bursts, &mut counts);
        self.stats.an0908_allowlisted += u64::from(counts.allowlisted);
        self.stats.an0908_out_of_scope += u64::from(counts.out_of_scope);
        self.stats.an0908_burst_calls_folded += u64::from(counts.folded);
        self.stats.state_evictions += counts.evicted;
        out.extend(hits.into_iter().map(|h| h.into_alert(ev)));
    }

    /// A connection-table read (AN0904 by behaviour on Linux, with its burst) or a WMI
    /// operation (AN0903's WmiQueries on Windows), and the TimeWindow correlation's
    /// record of a discovery.
    fn connection_table_read(&mut self, ev: &Event, out: &mut Vec<Alert>) {
        let platform = platform_of(ev);
        let mut discovery_what = None;
        if platform == Some(Platform::Windows) && ev.event.action.as_deref() == Some(WMI_OPERATION)
        {
            if let Some(hit) = self.an0903.as_ref().and_then(|a| a.check_wmi(ev)) {
                discovery_what = Some(format!("AN0903 {}", hit.mutable_element));
                out.push(hit.into_alert(ev));
            }
        }
        if platform == Some(Platform::Linux) && ev.is_connection_table_read() {
            let verdict = self.an0904.as_ref().map(|a| a.check_read(ev));
            match verdict {
                Some(an0904::ReadVerdict::Hit(hit)) => {
                    discovery_what = Some(format!("AN0904 {}", hit.mutable_element));
                    out.push(hit.into_alert(ev));
                    if let Some(burst) = self.burst(ev) {
                        out.push(burst.into_alert(ev));
                    }
                }
                Some(an0904::ReadVerdict::Allowlisted) => self.stats.an0904_reads_allowlisted += 1,
                Some(an0904::ReadVerdict::NoMatch) | None => {}
            }
        }
        if let (Some(c), Some(what)) = (&self.correlator, discovery_what) {
            if c.applies(platform)
                && Correlator::record(ev, what, &mut self.discoveries, &mut self.discoveries_len)
            {
                self.stats.state_evictions += 1;
            }
        }
    }

    /// `prechecked`: the single-event rules' alerts, if the pipeline's precheck threads
    /// have checked them already.
    fn analyse(&mut self, ev: &Event, prechecked: Option<Prechecked>, out: &mut Vec<Alert>) {
        match prechecked {
            Some(mut p) => out.append(&mut p.0),
            None => {
                self.rules_matched.clear();
                let (rules, index) = (&self.rules[..], &self.rule_index);
                let candidates = &mut self.rule_candidates;
                matching_rules(
                    rules,
                    index,
                    self.prefilters,
                    ev,
                    candidates,
                    &mut self.rules_matched,
                );
                push_rule_alerts(&self.rules, &self.rules_matched, ev, out);
            }
        }
        for (i, state) in &mut self.sequence_rules {
            let Some(rule) = self.rules.get(*i) else {
                continue;
            };
            let Some(seq) = rule.sequence() else { continue };
            let step = seq.advance(state, common::host_key(ev), ev);
            self.stats.state_evictions += step.evicted;
            if let Some(alert) = step
                .completed
                .and_then(|evs| Self::sequence_alert(rule, &evs))
            {
                out.push(alert);
            }
        }
        // Device-log events (commands are `info`, not process starts) go to AN0906 and
        // AN0907 before the start check.
        if let Some(device) = common::device_of(ev) {
            match device {
                common::Device::Esxi => self.esxi(ev, out),
                common::Device::Network => self.network_device(ev, out),
            }
            return;
        }
        // Cloud API calls (`info` events too) go to AN0908.
        if common::is_cloud_api(ev) {
            self.cloud_call(ev, out);
            return;
        }
        // What a process did rather than what it is called (`info` events too).
        if ev.is_connection_table_read() || ev.event.action.as_deref() == Some(WMI_OPERATION) {
            self.connection_table_read(ev, out);
            return;
        }
        if ev.lifecycle() != Lifecycle::Start {
            return;
        }
        let platform = platform_of(ev);
        // A rule's alert is a discovery only if the rule is one (not, say, masquerading).
        let mut discovery_what: Option<String> = (out.iter())
            .find(|a| self.discovery_rules.contains(&a.rule.id))
            .map(|a| a.rule.name.clone());
        match platform {
            Some(Platform::Windows) => {
                if let Some(a) = &self.an0903 {
                    if let Some(hit) = a.check(ev, &mut self.scratch) {
                        discovery_what = Some(format!("AN0903 {}", hit.mutable_element));
                        out.push(hit.into_alert(ev));
                    }
                }
            }
            Some(Platform::Linux) => {
                let hit = self.an0904.as_ref().and_then(|a| a.check(ev));
                if let Some(hit) = hit {
                    discovery_what = Some(format!("AN0904 {}", hit.mutable_element));
                    out.push(hit.into_alert(ev));
                    if let Some(burst) = self.burst(ev) {
                        out.push(burst.into_alert(ev));
                    }
                }
            }
            Some(Platform::Macos) => {
                if let Some(a) = &self.an0905 {
                    if let Some(hit) = a.check(ev) {
                        discovery_what = Some(format!("AN0905 {}", hit.mutable_element));
                        out.push(hit.into_alert(ev));
                    }
                }
            }
            None => {}
        }
        // AN0907's SNMP queries run from a host of any OS.
        let snmp = self.an0907.as_ref().and_then(|a| {
            let q = a.snmp.as_ref()?.check(ev)?;
            Some(a.snmp_hit(ev, q))
        });
        if let Some(hit) = snmp {
            discovery_what.get_or_insert_with(|| "AN0907 CommandPatternList (SNMP)".into());
            out.push(hit.into_alert(ev));
        }
        // AN0908's cloud CLIs run from a host of any OS.
        if let Some(hit) = self.an0908.as_ref().and_then(|a| a.cli_hit(ev)) {
            discovery_what.get_or_insert_with(|| "AN0908 Cli".into());
            out.push(hit.into_alert(ev));
        }
        if let Some(c) = &self.correlator {
            if c.applies(platform) {
                if let Some(hit) = c.check(ev, platform, &self.discoveries, &mut self.scratch.clean)
                {
                    out.push(hit.into_alert(ev));
                }
                if let Some(what) = discovery_what {
                    if Correlator::record(
                        ev,
                        what,
                        &mut self.discoveries,
                        &mut self.discoveries_len,
                    ) {
                        self.stats.state_evictions += 1;
                    }
                }
            }
        }
    }

    fn send(&mut self, fresh: Vec<Alert>, at: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        let before = alerts.len();
        let mut counts = FoldCounts::default();
        for a in fresh {
            self.stats.detections += 1;
            self.folder
                .offer(&mut self.folds, a, at, alerts, &mut counts);
        }
        self.stats.alerts_folded += counts.folded;
        self.stats.fold_summaries += counts.summaries;
        self.stats.alerts_sent += (alerts.len() - before) as u64;
    }
}

impl Engine {
    fn detect(&mut self, event: &Event, prechecked: Option<Prechecked>, alerts: &mut Vec<Alert>) {
        self.stats.events += 1;
        let mut fresh = std::mem::take(&mut self.pending);
        fresh.clear();
        self.analyse(event, prechecked, &mut fresh);
        if fresh.is_empty() {
            self.pending = fresh;
            return;
        }
        self.send(fresh, event.timestamp, alerts);
    }
}

impl Detector for Engine {
    fn on_event(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        self.detect(event, None, alerts);
    }

    fn precheck(&self) -> Option<Arc<dyn Precheck>> {
        let single_event = self.rules.len() - self.sequence_rules.len();
        (single_event >= PRECHECK_MIN_RULES).then(|| {
            Arc::new(RulePrecheck {
                rules: self.rules.clone(),
                index: self.rule_index.clone(),
                prefilters: self.prefilters,
            }) as Arc<dyn Precheck>
        })
    }

    fn on_prechecked_event(
        &mut self,
        event: &Event,
        prechecked: Prechecked,
        alerts: &mut Vec<Alert>,
    ) {
        self.detect(event, Some(prechecked), alerts);
    }

    fn on_tick(&mut self, now: DateTime<Utc>, final_flush: bool, alerts: &mut Vec<Alert>) {
        let before = alerts.len();
        let mut counts = FoldCounts::default();
        let until = (!final_flush).then_some(now);
        self.folder
            .flush(&mut self.folds, until, alerts, &mut counts);
        self.stats.fold_summaries += counts.summaries;
        self.stats.alerts_sent += (alerts.len() - before) as u64;
        if let Some(c) = &self.correlator {
            self.discoveries_len = c.prune(now, &mut self.discoveries);
        }
        if let Some(a) = &self.an0904 {
            let window = TimeDelta::seconds(i64::try_from(a.burst_window_secs).unwrap_or(86_400));
            self.bursts.retain(|_, users| {
                users.retain(|_, q| {
                    while q.front().is_some_and(|e| now - e.timestamp >= window) {
                        q.pop_front();
                    }
                    !q.is_empty()
                });
                !users.is_empty()
            });
        }
        if let Some(a) = &self.an0906 {
            self.ssh_sessions.prune(now, a.session_timeout);
        }
        if let Some(a) = &self.an0907 {
            self.device_commands.prune(now, a.longest_window());
        }
        if let Some(a) = &self.an0908 {
            self.cloud_bursts.prune(now, a);
        }
    }

    fn take_state_from(&mut self, previous: &mut dyn Any) {
        let Some(old) = previous.downcast_mut::<Engine>() else {
            return;
        };
        // Open fold windows carry over (the new window length decides when they close).
        for (k, v) in std::mem::take(&mut old.folds) {
            self.folds.entry(k).or_insert(v);
        }
        self.folder.continue_from(&old.folder);
        if self.correlator.is_some() {
            self.discoveries = std::mem::take(&mut old.discoveries);
            self.discoveries_len = old.discoveries_len;
        }
        if self.an0904.as_ref().is_some_and(|a| a.burst_count >= 2) {
            self.bursts = std::mem::take(&mut old.bursts);
        }
        if self.an0906.as_ref().is_some_and(|a| a.join_ssh) {
            self.ssh_sessions = std::mem::take(&mut old.ssh_sessions);
        }
        if self.an0907.as_ref().is_some_and(|a| a.frequency_on()) {
            self.device_commands = std::mem::take(&mut old.device_commands);
        }
        if self.an0908.as_ref().is_some_and(|a| a.bursts_on()) {
            self.cloud_bursts = std::mem::take(&mut old.cloud_bursts);
        }
        // Partial sequences carry over to the same rule with the same query.
        for (i, state) in &mut self.sequence_rules {
            let Some(rule) = self.rules.get(*i) else {
                continue;
            };
            let same = old.sequence_rules.iter_mut().find(|(j, _)| {
                old.rules
                    .get(*j)
                    .is_some_and(|r| r.rule_id == rule.rule_id && r.query_text == rule.query_text)
            });
            if let Some((_, previous)) = same {
                *state = std::mem::take(previous);
            }
        }
        self.stats = old.stats;
    }

    fn counts(&self) -> DetectorCounts {
        self.stats
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
