//! The detector seam: `analytics` implements [`Detector`]; the pipeline calls it.

use crate::alert::Alert;
use crate::event::Event;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::sync::Arc;

/// What a detector counted, reported into health (`picket status`). A count missing
/// from an older status file reads as 0.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorCounts {
    /// Events looked at.
    pub events: u64,
    /// Detections before folding.
    pub detections: u64,
    /// Alerts sent (first alerts, fold summaries, unfolded alerts).
    pub alerts_sent: u64,
    /// Repeats counted into a fold instead of being sent.
    pub alerts_folded: u64,
    /// Fold summaries sent.
    pub fold_summaries: u64,
    /// Correlation and burst state dropped to stay bounded (oldest first).
    pub state_evictions: u64,
    /// AN0906 discovery commands not alerted because they came from an expected origin
    /// or an admin network (ExecutionOriginCheck).
    pub expected_origin_skipped: u64,
    /// AN0906 alerts lowered inside an ExpectedAdminAccessWindow.
    pub admin_window_lowered: u64,
    /// AN0906 alerts suppressed inside an ExpectedAdminAccessWindow.
    pub admin_window_suppressed: u64,
    /// AN0907 discovery commands by administrators, out of scope (PrivilegedUserCheck).
    pub admin_user_skipped: u64,
    /// AN0908 network-enumeration API calls by allowlisted principals, not analysed
    /// (ServicePrincipalAllowlist).
    pub an0908_allowlisted: u64,
    /// AN0908 network-enumeration API calls from an origin out of scope (the console and
    /// cloud services by default), not analysed.
    pub an0908_out_of_scope: u64,
    /// AN0908 calls folded into an open burst (BurstQueryThreshold) instead of alerting.
    pub an0908_burst_calls_folded: u64,
    /// AN0904 connection-table reads by allowlisted programs (monitoring agents), not
    /// analysed (`[analytics.an0904.connection_table_reads] allowlist`).
    pub an0904_reads_allowlisted: u64,
}

/// The alerts a detector's [`Precheck`] raised on one event, not yet folded or sent:
/// the detector does that, in event order. Empty, it holds no allocation.
#[derive(Debug, Default, Clone)]
pub struct Prechecked(pub Vec<Alert>);

/// The stateless part of a detector (rules that look at one event at a time), which the
/// pipeline may run on other threads over a batch of enriched events before the
/// detector sees them in order. Must not block or do I/O.
pub trait Precheck: Send + Sync {
    /// Checks each of `events`, pushing one [`Prechecked`] per event to `out`, in order.
    fn check(&self, events: &[Event], out: &mut Vec<Prechecked>);
}

/// Something that looks at enriched events and raises alerts. Runs on one task; gets
/// every event in order. Must not block or do I/O.
pub trait Detector: Send + 'static {
    /// Looks at one enriched event; pushes any alerts to `alerts`.
    fn on_event(&mut self, event: &Event, alerts: &mut Vec<Alert>);

    /// The detector's stateless part, if it has one worth a thread. The pipeline asks
    /// once per batch, so a reloaded detector brings its own.
    fn precheck(&self) -> Option<Arc<dyn Precheck>> {
        None
    }

    /// As [`Detector::on_event`], for an event the detector's own [`Precheck`] (from
    /// [`Detector::precheck`] on this detector) has already checked; gives the same
    /// alerts.
    fn on_prechecked_event(
        &mut self,
        event: &Event,
        prechecked: Prechecked,
        alerts: &mut Vec<Alert>,
    ) {
        let _ = prechecked;
        self.on_event(event, alerts);
    }

    /// Called about once a second (and once at shutdown with `final_flush`): emit
    /// folded-alert summaries and expire window state. `now` is the event clock in
    /// replay and the wall clock live.
    fn on_tick(&mut self, now: DateTime<Utc>, final_flush: bool, alerts: &mut Vec<Alert>) {
        let _ = (now, final_flush, alerts);
    }

    /// Lets a replacement detector (after a config reload) take over state that still
    /// applies: frequency counters, correlation windows, fold state.
    fn take_state_from(&mut self, previous: &mut dyn Any) {
        let _ = previous;
    }

    /// What the detector has counted so far (carried over a reload).
    fn counts(&self) -> DetectorCounts {
        DetectorCounts::default()
    }

    /// `self` as `Any`, for [`Detector::take_state_from`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
}
