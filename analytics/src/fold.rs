//! Alert folding: identical alerts (same rule, mutable element, matched value, host, user
//! and command line) within `fold_window_secs` become one, visibly.
//!
//! The first alert of a window is sent at once. Repeats inside the window are counted,
//! not sent. When the window closes (on a tick, or at the final flush) and repeats came,
//! one summary alert is sent: the latest repeat, with `picket.count` (all occurrences in
//! the window, the first included), `first_seen`, `last_seen` and a message saying so.
//! Nothing is dropped silently: every occurrence is either an alert or in a count, and
//! the summary's `picket.evidence` names the triggering event of every occurrence (up to
//! the cap, the rest counted).

use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::{new_alert_id, Alert, Evidence, EVIDENCE_CAP};
use std::collections::HashMap;

/// Most open fold windows; past this every open window is flushed early (summaries sent)
/// so memory stays bounded.
pub(crate) const MAX_FOLDS: usize = 65_536;

#[derive(Debug, Clone)]
pub(crate) struct FoldEntry {
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: u64,
    latest: Alert,
    /// Evidence of every occurrence in the window, the first included (capped).
    evidence: Vec<Evidence>,
    evidence_omitted: u64,
    /// Order of opening, so summaries closed together keep a stable order.
    seq: u64,
}

/// Fold state, kept across reloads.
pub(crate) type FoldState = HashMap<String, FoldEntry>;

/// The key of an alert: rule, mutable element, matched value, host, user, command line.
/// (The matched value keeps apart alerts with no command line, such as two different
/// cloud API calls by one principal.)
fn key(a: &Alert) -> String {
    let host = a
        .host
        .id
        .as_deref()
        .or(a.host.name.as_deref())
        .unwrap_or("");
    let user = a
        .user
        .effective
        .as_ref()
        .and_then(|u| u.id.as_deref().or(u.name.as_deref()))
        .or(a.user.id.as_deref())
        .or(a.user.name.as_deref())
        .unwrap_or("");
    // Pushed in turn rather than `format!`ed: every alert is keyed, repeats included.
    let parts = [
        a.rule.id.as_str(),
        &a.picket.mutable_element,
        &a.picket.matched_value,
        host,
        user,
    ];
    let mut k = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 64);
    for p in parts {
        k.push_str(p);
        k.push('\u{1f}');
    }
    match &a.process.command_line {
        Some(cmd) => k.push_str(cmd),
        None => {
            for (i, arg) in a.process.args.iter().enumerate() {
                if i > 0 {
                    k.push(' ');
                }
                k.push_str(arg);
            }
        }
    }
    k
}

#[derive(Debug, Clone)]
pub(crate) struct Folder {
    window: TimeDelta,
    next_seq: u64,
}

/// What folding did, for the engine's counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FoldCounts {
    pub folded: u64,
    pub summaries: u64,
}

impl Folder {
    pub(crate) fn new(window_secs: u64) -> Folder {
        Folder {
            window: TimeDelta::seconds(i64::try_from(window_secs).unwrap_or(86_400)),
            next_seq: 0,
        }
    }

    /// Keeps the opening order going after a reload.
    pub(crate) fn continue_from(&mut self, old: &Folder) {
        self.next_seq = self.next_seq.max(old.next_seq);
    }

    fn summary(entry: FoldEntry, window: TimeDelta) -> Alert {
        let mut a = entry.latest;
        a.picket.evidence = entry.evidence;
        a.picket.evidence_omitted = entry.evidence_omitted;
        a.picket.count = entry.count;
        a.picket.first_seen = Some(entry.first_seen);
        a.picket.last_seen = Some(entry.last_seen);
        a.event.id = new_alert_id();
        a.timestamp = Utc::now();
        a.picket
            .details
            .insert("folded".into(), serde_json::Value::Bool(true));
        a.message = format!(
            "{} [folded: {} identical alerts from {} to {} within the {} s fold window; the first was sent on its own]",
            a.message,
            entry.count,
            entry.first_seen.to_rfc3339(),
            entry.last_seen.to_rfc3339(),
            window.num_seconds()
        );
        a
    }

    /// Offers a fresh alert (timestamped by its event, `at`); pushes what must be sent.
    pub(crate) fn offer(
        &mut self,
        state: &mut FoldState,
        alert: Alert,
        at: DateTime<Utc>,
        out: &mut Vec<Alert>,
        counts: &mut FoldCounts,
    ) {
        if self.window <= TimeDelta::zero() {
            out.push(alert);
            return;
        }
        let k = key(&alert);
        if let Some(entry) = state.get_mut(&k) {
            if at >= entry.first_seen && at - entry.first_seen < self.window {
                entry.count += 1;
                entry.last_seen = entry.last_seen.max(at);
                for ev in alert.picket.evidence.iter().cloned() {
                    if entry.evidence.len() < EVIDENCE_CAP {
                        entry.evidence.push(ev);
                    } else {
                        entry.evidence_omitted += 1;
                    }
                }
                entry.evidence_omitted += alert.picket.evidence_omitted;
                entry.latest = alert;
                counts.folded += 1;
                return;
            }
            // The window has closed: its summary goes first, then a new window opens.
            if let Some(old) = state.remove(&k) {
                if old.count > 1 {
                    out.push(Self::summary(old, self.window));
                    counts.summaries += 1;
                }
            }
        }
        if state.len() >= MAX_FOLDS {
            self.flush(state, None, out, counts);
        }
        self.next_seq += 1;
        state.insert(
            k,
            FoldEntry {
                first_seen: at,
                last_seen: at,
                count: 1,
                evidence: alert.picket.evidence.clone(),
                evidence_omitted: alert.picket.evidence_omitted,
                latest: alert.clone(),
                seq: self.next_seq,
            },
        );
        out.push(alert);
    }

    /// Closes windows that ended by `now` (all of them when `now` is `None`), sending a
    /// summary for each that folded repeats.
    pub(crate) fn flush(
        &self,
        state: &mut FoldState,
        now: Option<DateTime<Utc>>,
        out: &mut Vec<Alert>,
        counts: &mut FoldCounts,
    ) {
        let window = self.window;
        let mut closed: Vec<FoldEntry> = Vec::new();
        state.retain(|_, e| {
            let done = now.is_none_or(|n| n - e.first_seen >= window);
            if done {
                closed.push(e.clone());
            }
            !done
        });
        closed.sort_by_key(|e| (e.first_seen, e.seq));
        for e in closed {
            if e.count > 1 {
                out.push(Self::summary(e, window));
                counts.summaries += 1;
            }
        }
    }
}
