//! [`EsloggerParser`]: one eslogger JSON line in, zero or one [`Event`] out, with
//! sequence-gap (loss) and schema-drift accounting.
//!
//! (Over 600 lines: one eslogger message, across versions 9–11, maps to every ECS field
//! in one pass; splitting the mapping would scatter a single schema.)

use crate::eslogger::{
    AuditToken, EsProcess, Field, Message, SeqOnly, TtyFile, EVENT_TYPE_EXEC, EVENT_TYPE_EXIT,
    EVENT_TYPE_FORK,
};
use chrono::{DateTime, Utc};
use sensor_core::event::{CharDevice, CodeSignature, HostOs, ParentProcess, Tty, UserRef};
use sensor_core::health::{Counter, Health, RateLimitedWarn};
use sensor_core::replay::LineParser;
use sensor_core::Event;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// `picket.collector` of replayed eslogger events.
pub const REPLAY_COLLECTOR: &str = "replay-eslogger";
/// `picket.collector` of live eslogger events (spawned or tailed).
pub const LIVE_COLLECTOR: &str = "macos-eslogger";
/// The newest eslogger message version Picket was tested against. Newer versions are
/// parsed all the same; the first one seen is noted in the health status.
pub const NEWEST_TESTED_VERSION: u32 = 11;

/// Loss counter: events eslogger numbered but never delivered (`global_seq_num` gaps).
pub const LOSS_SEQ_GAP: &str = "eslogger_seq_gap";
/// Loss counter: lines skipped because an essential field was missing or changed type.
pub const LOSS_SCHEMA_DRIFT: &str = "eslogger_schema_drift";
/// Loss counter: supplementary fields dropped from kept events because they changed type.
pub const LOSS_FIELD_DRIFT: &str = "eslogger_field_drift";
/// Health note topic for sequence gaps and restarts.
pub const NOTE_SEQUENCE: &str = "eslogger";
/// Health note topic for schema drift.
pub const NOTE_DRIFT: &str = "eslogger_schema_drift";

/// The audit user id of a process no one logged in as (`AU_DEFAUDITID`).
const AUDIT_ID_UNSET: u32 = u32::MAX;

/// Maps a uid to a user name (for example through the host's user database).
pub type UserNameLookup = Box<dyn FnMut(u32) -> Option<String> + Send>;

/// What the parser has seen so far. Also reported to the health registry (loss
/// counters and notes) when one is attached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParserStats {
    /// Events produced.
    pub events: u64,
    /// Well-formed lines of event types Picket does not use.
    pub ignored: u64,
    /// Lines that were not JSON (truncated, garbled).
    pub invalid_json: u64,
    /// JSON lines skipped as schema drift (essential field missing or of another type).
    pub schema_drift: u64,
    /// Supplementary fields dropped from kept events because they changed type.
    pub field_drift: u64,
    /// Gaps seen in `global_seq_num`.
    pub seq_gaps: u64,
    /// Events lost according to those gaps (not counting lines that arrived unreadable).
    pub seq_lost: u64,
    /// Times `global_seq_num` went back (eslogger restarted, or a new recording began).
    pub seq_resets: u64,
}

/// Parser for Apple `eslogger` JSON lines (exec, fork and exit; message versions 9–11
/// and, as far as their shape allows, later ones).
///
/// - exec (`event_type` 9) → [`Event::exec`] describing `event.exec.target`;
/// - fork (11) → [`Event::fork`] describing `event.fork.child`, with the parent
///   (the message's `process`) in `process.parent.*`;
/// - exit (15) → [`Event::exit`] describing the message's `process`;
/// - any other event type is counted in [`LineParser::ignored`] and skipped.
///
/// Field mapping: `process.pid` (audit token pid), `process.parent.pid` (`ppid`),
/// `process.executable`/`name`, `process.args` (exec), `process.working_directory` (exec
/// `cwd`), `process.start` (`start_time`), `process.tty.name` + `char_device` and
/// `process.interactive` (a tty is set), `process.code_signature.{signing_id,team_id}`,
/// `user.id` (ruid), `user.effective.id` (euid), `group.id` (rgid), `picket.login_uid`
/// (auid, absent when unset), `picket.session_id` (audit session id), and in
/// `picket.*`: `global_seq_num`, `original_ppid`, `responsible_pid`, `platform_binary`,
/// `pidversion`, `eslogger_version`; `process.group_leader.pid` and
/// `process.session_leader.pid` from the process group and session ids; `@timestamp`
/// from the message `time`; `host.os` = macOS/darwin.
pub struct EsloggerParser {
    collector: &'static str,
    health: Option<Arc<Health>>,
    seq_gap_loss: Option<Counter>,
    drift_loss: Option<Counter>,
    field_drift_loss: Option<Counter>,
    last_seq: Option<u64>,
    /// Lines since the last sequence number that could not be read at all: they explain
    /// part of the next gap, so it is not also blamed on eslogger.
    unreadable_since_seq: u64,
    stats: ParserStats,
    versions_noted: BTreeSet<u32>,
    drift_warn: RateLimitedWarn,
    gap_warn: RateLimitedWarn,
    user_lookup: Option<UserNameLookup>,
}

impl std::fmt::Debug for EsloggerParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsloggerParser")
            .field("collector", &self.collector)
            .field("last_seq", &self.last_seq)
            .field("stats", &self.stats)
            .field("user_lookup", &self.user_lookup.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for EsloggerParser {
    fn default() -> Self {
        Self::for_replay()
    }
}

impl EsloggerParser {
    /// A parser for `picket replay --format eslogger` (`picket.collector` =
    /// `replay-eslogger`). User names are not looked up: a recording may come from
    /// another host, whose uids mean other people here.
    pub fn for_replay() -> Self {
        Self::with_collector(REPLAY_COLLECTOR)
    }

    /// A parser for live collection (`picket.collector` = `macos-eslogger`).
    pub fn live() -> Self {
        Self::with_collector(LIVE_COLLECTOR)
    }

    fn with_collector(collector: &'static str) -> Self {
        Self {
            collector,
            health: None,
            seq_gap_loss: None,
            drift_loss: None,
            field_drift_loss: None,
            last_seq: None,
            unreadable_since_seq: 0,
            stats: ParserStats::default(),
            versions_noted: BTreeSet::new(),
            drift_warn: RateLimitedWarn::new(Duration::from_secs(60)),
            gap_warn: RateLimitedWarn::new(Duration::from_secs(60)),
            user_lookup: None,
        }
    }

    /// Fills `user.name` and `user.effective.name` through `lookup`, called for every
    /// event: give it a cached resolver (such as `sensor_core::users::UserResolver`).
    pub fn with_user_names(
        mut self,
        lookup: impl FnMut(u32) -> Option<String> + Send + 'static,
    ) -> Self {
        self.user_lookup = Some(Box::new(lookup));
        self
    }

    /// What the parser has seen so far.
    pub fn stats(&self) -> &ParserStats {
        &self.stats
    }

    /// Forgets the last sequence number: the next line starts a new stream (used when
    /// the supervisor restarts eslogger, whose numbering starts over).
    pub fn reset_sequence(&mut self) {
        self.last_seq = None;
        self.unreadable_since_seq = 0;
    }

    /// Tells the parser a line went by that could not be handed to it (over-long): it
    /// explains one step of the next sequence gap.
    pub(crate) fn skipped_unreadable_line(&mut self) {
        self.unreadable_since_seq += 1;
    }

    fn parse(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        // serde would read a JSON array into a struct by position: insist on an object.
        match line.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() => {
                self.unreadable_since_seq += 1;
                return Err(self.drift_in(None, "expected a JSON object per line".into()));
            }
            _ => {
                self.stats.invalid_json += 1;
                self.unreadable_since_seq += 1;
                return Err("invalid JSON: expected a JSON object per line".into());
            }
        }
        let msg: Message = match serde_json::from_slice(line) {
            Ok(msg) => msg,
            Err(e) if e.is_data() => {
                // Valid JSON of another shape: keep the sequence accounting if we can.
                let head = serde_json::from_slice::<SeqOnly>(line).ok();
                match head.as_ref().and_then(|h| h.global_seq_num.value()) {
                    Some(&n) => self.observe_seq(n),
                    None => self.unreadable_since_seq += 1,
                }
                let version = head.and_then(|h| h.version.value().copied());
                return Err(self.drift_in(version, format!("a field has an unexpected type: {e}")));
            }
            Err(e) => {
                self.stats.invalid_json += 1;
                self.unreadable_since_seq += 1;
                return Err(format!("invalid JSON: {e}"));
            }
        };
        let mut drifted: Vec<&'static str> = Vec::new();
        match &msg.global_seq_num {
            Field::Value(n) => self.observe_seq(*n),
            Field::Absent | Field::Null | Field::Invalid(_) => {
                // No usable number: this line's own number is unknown, so it may explain
                // one step of the next gap.
                drifted.push("global_seq_num");
                self.unreadable_since_seq += 1;
            }
        }
        let version = match &msg.version {
            Field::Value(v) => Some(*v),
            Field::Invalid(_) => {
                drifted.push("version");
                None
            }
            Field::Absent | Field::Null => None,
        };
        if let Some(v) = version {
            self.note_version(v);
        }
        let Some(event_type) = msg.event_type else {
            return Err(self.drift_in(version, "missing event_type".into()));
        };
        let built = match event_type {
            EVENT_TYPE_EXEC => self.exec(&msg, &mut drifted),
            EVENT_TYPE_FORK => self.fork(&msg, &mut drifted),
            EVENT_TYPE_EXIT => self.exit(&msg, &mut drifted),
            _ => {
                self.stats.ignored += 1;
                return Ok(());
            }
        };
        let mut event = match built {
            Ok(event) => event,
            Err(reason) => return Err(self.drift_in(version, reason)),
        };
        if !drifted.is_empty() {
            self.field_drift(version, event_type, &drifted);
        }
        if let Some(seq) = msg.global_seq_num.value() {
            event
                .picket
                .other
                .insert("global_seq_num".into(), json!(seq));
        }
        if let Some(v) = version {
            event
                .picket
                .other
                .insert("eslogger_version".into(), json!(v));
        }
        event.picket.collector = Some(self.collector.into());
        event.host.os = Some(HostOs {
            os_type: Some("macos".into()),
            family: Some("darwin".into()),
            ..HostOs::default()
        });
        self.stats.events += 1;
        out.push(event);
        Ok(())
    }

    fn exec(&mut self, msg: &Message, drifted: &mut Vec<&'static str>) -> Result<Event, String> {
        let time = message_time(msg)?;
        let body = msg
            .event
            .as_ref()
            .and_then(|e| e.exec.as_ref())
            .ok_or("exec event (type 9) without event.exec")?;
        let target = body
            .target
            .as_ref()
            .ok_or("exec event without event.exec.target")?;
        let args = body
            .args
            .as_ref()
            .ok_or("exec event without event.exec.args")?;
        let mut event = Event::exec(time);
        self.describe(&mut event, target, "event.exec.target", drifted)?;
        event.set_argv(args.clone());
        match &body.cwd {
            Field::Value(cwd) => event.process.working_directory.clone_from(&cwd.path),
            Field::Invalid(_) => drifted.push("event.exec.cwd"),
            Field::Absent | Field::Null => {}
        }
        Ok(event)
    }

    fn fork(&mut self, msg: &Message, drifted: &mut Vec<&'static str>) -> Result<Event, String> {
        let time = message_time(msg)?;
        let child = msg
            .event
            .as_ref()
            .and_then(|e| e.fork.as_ref())
            .and_then(|f| f.child.as_ref())
            .ok_or("fork event (type 11) without event.fork.child")?;
        let mut event = Event::fork(time);
        self.describe(&mut event, child, "event.fork.child", drifted)?;
        // The message's `process` is the one that forked: the parent, as it is now.
        if let Some(parent) = &msg.process {
            let parent_pid = parent.audit_token.and_then(|t| t.pid);
            let exe = parent.executable.as_ref().and_then(|e| e.path.as_deref());
            if let (Some(pp), Some(exe)) = (event.process.parent.as_deref_mut(), exe) {
                if parent_pid.is_some() && parent_pid == pp.pid {
                    pp.name = Some(sensor_core::event::file_name(exe).to_string());
                    pp.executable = Some(exe.to_string());
                }
            }
        }
        Ok(event)
    }

    fn exit(&mut self, msg: &Message, drifted: &mut Vec<&'static str>) -> Result<Event, String> {
        let time = message_time(msg)?;
        let body = msg
            .event
            .as_ref()
            .and_then(|e| e.exit.as_ref())
            .ok_or("exit event (type 15) without event.exit")?;
        let process = msg.process.as_ref().ok_or("exit event without process")?;
        let mut event = Event::exit(time);
        self.describe(&mut event, process, "process", drifted)?;
        match &body.stat {
            Field::Value(stat) => {
                // A wait(2) status: low 7 bits are the terminating signal (0 = exited).
                let signal = stat & 0x7f;
                if signal == 0 {
                    event.process.exit_code = Some((stat >> 8) & 0xff);
                } else {
                    event
                        .picket
                        .other
                        .insert("exit_signal".into(), json!(signal));
                }
            }
            Field::Invalid(_) => drifted.push("event.exit.stat"),
            Field::Absent | Field::Null => {}
        }
        Ok(event)
    }

    /// Fills the process, user and picket fields of `event` from an `es_process_t`.
    fn describe(
        &mut self,
        event: &mut Event,
        p: &EsProcess,
        at: &str,
        drifted: &mut Vec<&'static str>,
    ) -> Result<(), String> {
        let token = p
            .audit_token
            .ok_or_else(|| format!("missing {at}.audit_token"))?;
        let pid = token
            .pid
            .ok_or_else(|| format!("missing {at}.audit_token.pid"))?;
        let ppid = p.ppid.ok_or_else(|| format!("missing {at}.ppid"))?;
        let exe = p
            .executable
            .as_ref()
            .and_then(|e| e.path.as_deref())
            .ok_or_else(|| format!("missing {at}.executable.path"))?;

        event.process.pid = Some(pid);
        event.set_executable(exe);
        event.process.parent = Some(Box::new(ParentProcess {
            pid: Some(ppid),
            ..ParentProcess::default()
        }));
        self.fill_users(event, &token);
        let extra = &mut event.picket.other;
        if let Some(v) = token.pidversion {
            extra.insert("pidversion".into(), json!(v));
        }
        match &p.original_ppid {
            Field::Value(v) => {
                extra.insert("original_ppid".into(), json!(v));
            }
            Field::Invalid(_) => drifted.push("original_ppid"),
            Field::Absent | Field::Null => {}
        }
        match &p.responsible_audit_token {
            Field::Value(AuditToken { pid: Some(r), .. }) => {
                extra.insert("responsible_pid".into(), json!(r));
            }
            Field::Invalid(_) => drifted.push("responsible_audit_token"),
            _ => {}
        }
        match &p.is_platform_binary {
            Field::Value(b) => {
                extra.insert("platform_binary".into(), json!(b));
            }
            Field::Invalid(_) => drifted.push("is_platform_binary"),
            Field::Absent | Field::Null => {}
        }
        let leader = |pid: u32| -> Value { json!({ "pid": pid }) };
        match &p.group_id {
            Field::Value(g) => {
                event
                    .process
                    .other
                    .insert("group_leader".into(), leader(*g));
            }
            Field::Invalid(_) => drifted.push("group_id"),
            Field::Absent | Field::Null => {}
        }
        match &p.session_id {
            Field::Value(s) => {
                event
                    .process
                    .other
                    .insert("session_leader".into(), leader(*s));
            }
            Field::Invalid(_) => drifted.push("session_id"),
            Field::Absent | Field::Null => {}
        }
        match &p.start_time {
            Field::Value(s) => match parse_time(s) {
                Some(t) => event.process.start = Some(t),
                None => drifted.push("start_time"),
            },
            Field::Invalid(_) => drifted.push("start_time"),
            Field::Absent | Field::Null => {}
        }
        let signing_id = take_string(&p.signing_id, "signing_id", drifted);
        let team_id = take_string(&p.team_id, "team_id", drifted);
        if signing_id.is_some() || team_id.is_some() {
            event.process.code_signature = Some(CodeSignature {
                signing_id,
                team_id,
                ..CodeSignature::default()
            });
        }
        match &p.tty {
            Field::Value(tty) => {
                event.process.interactive = Some(true);
                event.process.tty = Some(tty_fields(tty));
            }
            Field::Null => event.process.interactive = Some(false),
            Field::Invalid(_) => drifted.push("tty"),
            Field::Absent => {}
        }
        Ok(())
    }

    fn fill_users(&mut self, event: &mut Event, token: &AuditToken) {
        if let Some(ruid) = token.ruid {
            event.user.id = Some(ruid.to_string());
            event.user.name = self.user_name(ruid);
        }
        if let Some(euid) = token.euid {
            event.user.effective = Some(UserRef {
                id: Some(euid.to_string()),
                name: self.user_name(euid),
                ..UserRef::default()
            });
        }
        if let Some(rgid) = token.rgid {
            event.group.id = Some(rgid.to_string());
        }
        event.picket.login_uid = token.auid.filter(|&a| a != AUDIT_ID_UNSET);
        event.picket.session_id = token.asid;
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        self.user_lookup.as_mut().and_then(|lookup| lookup(uid))
    }

    fn observe_seq(&mut self, seq: u64) {
        let unreadable = std::mem::take(&mut self.unreadable_since_seq);
        let Some(last) = self.last_seq.replace(seq) else {
            return;
        };
        if seq > last {
            let gap = seq - last - 1;
            // Lines that arrived but could not be read account for part of the gap; they
            // are already counted as malformed, so only the rest is blamed on eslogger.
            let lost = gap.saturating_sub(unreadable);
            if lost > 0 {
                self.stats.seq_gaps += 1;
                self.stats.seq_lost += lost;
                if let Some(c) = &self.seq_gap_loss {
                    c.fetch_add(lost, Ordering::Relaxed);
                }
                let msg = format!(
                    "global_seq_num gap from {last} to {seq}: {lost} event(s) lost between \
                     Endpoint Security and Picket ({} gap(s), {} event(s) lost so far)",
                    self.stats.seq_gaps, self.stats.seq_lost
                );
                if let Some(h) = &self.health {
                    h.note(NOTE_SEQUENCE, msg.clone());
                }
                if let Some(suppressed) = self.gap_warn.check() {
                    tracing::warn!(from = last, to = seq, lost, suppressed, "{msg}");
                }
            }
        } else {
            self.stats.seq_resets += 1;
            let msg = format!(
                "global_seq_num went back from {last} to {seq}: eslogger restarted or a new \
                 recording began; gap accounting starts over"
            );
            if let Some(h) = &self.health {
                h.note(NOTE_SEQUENCE, msg.clone());
            }
            tracing::info!(from = last, to = seq, "{msg}");
        }
    }

    fn note_version(&mut self, version: u32) {
        if version > NEWEST_TESTED_VERSION && self.versions_noted.insert(version) {
            let msg = format!(
                "eslogger message version {version} is newer than the newest tested \
                 ({NEWEST_TESTED_VERSION}); parsing continues, schema drift is counted"
            );
            if let Some(h) = &self.health {
                h.note("eslogger_version", msg.clone());
            }
            tracing::warn!(version, "{msg}");
        }
    }

    /// A line skipped as schema drift: counted, noted, warned (rate-limited).
    fn drift_in(&mut self, version: Option<u32>, reason: String) -> String {
        self.stats.schema_drift += 1;
        if let Some(c) = &self.drift_loss {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let version = version.map_or_else(|| "unknown".to_string(), |v| v.to_string());
        let msg = format!(
            "eslogger schema drift (message version {version}): {reason}; line skipped \
             ({} so far)",
            self.stats.schema_drift
        );
        if let Some(h) = &self.health {
            h.note(NOTE_DRIFT, msg.clone());
        }
        if let Some(suppressed) = self.drift_warn.check() {
            tracing::warn!(suppressed, "{msg}");
        }
        format!("eslogger schema drift: {reason}")
    }

    /// Supplementary fields of a kept event had unexpected types.
    fn field_drift(&mut self, version: Option<u32>, event_type: u32, fields: &[&str]) {
        let n = fields.len() as u64;
        self.stats.field_drift += n;
        if let Some(c) = &self.field_drift_loss {
            c.fetch_add(n, Ordering::Relaxed);
        }
        let version = version.map_or_else(|| "unknown".to_string(), |v| v.to_string());
        let msg = format!(
            "eslogger schema drift (message version {version}, event type {event_type}): \
             {} missing or of an unexpected type; event kept without {}",
            fields.join(", "),
            if fields.len() == 1 { "it" } else { "them" }
        );
        if let Some(h) = &self.health {
            h.note(NOTE_DRIFT, msg.clone());
        }
        if let Some(suppressed) = self.drift_warn.check() {
            tracing::warn!(suppressed, "{msg}");
        }
    }
}

impl LineParser for EsloggerParser {
    fn collector_name(&self) -> &'static str {
        self.collector
    }

    fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        self.parse(line, out)
    }

    fn attach_health(&mut self, health: &Arc<Health>) {
        // Registered up front so the status shows 0 rather than nothing.
        self.seq_gap_loss = Some(health.loss_counter(LOSS_SEQ_GAP));
        self.drift_loss = Some(health.loss_counter(LOSS_SCHEMA_DRIFT));
        self.field_drift_loss = Some(health.loss_counter(LOSS_FIELD_DRIFT));
        self.health = Some(health.clone());
    }

    fn ignored(&self) -> u64 {
        self.stats.ignored
    }
}

fn message_time(msg: &Message) -> Result<DateTime<Utc>, String> {
    let raw = msg.time.as_deref().ok_or("missing time")?;
    parse_time(raw).ok_or_else(|| format!("time {raw:?} is not an RFC 3339 timestamp"))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn take_string(
    field: &Field<String>,
    name: &'static str,
    drifted: &mut Vec<&'static str>,
) -> Option<String> {
    match field {
        Field::Value(s) => Some(s.clone()),
        Field::Invalid(_) => {
            drifted.push(name);
            None
        }
        Field::Absent | Field::Null => None,
    }
}

/// `process.tty`: `name` is the device path; `char_device` comes from `st_rdev`
/// (Darwin's `dev_t`: major in the top 8 bits, minor in the low 24).
fn tty_fields(tty: &TtyFile) -> Tty {
    let mut out = Tty::default();
    if let Some(path) = &tty.path {
        out.other.insert("name".into(), json!(path));
    }
    if let Some(rdev) = tty.stat.as_ref().and_then(|s| s.st_rdev) {
        let rdev = rdev as u64 as u32;
        out.char_device = Some(CharDevice {
            major: Some((rdev >> 24) & 0xff),
            minor: Some(rdev & 0x00ff_ffff),
            ..CharDevice::default()
        });
    }
    out
}
