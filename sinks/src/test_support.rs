//! Alerts for the unit tests, built the way the pipeline builds them. May touch: nothing.

use chrono::TimeZone;
use sensor_core::alert::{Alert, Rule, Severity, Threat};
use sensor_core::event::Event;

/// A low-severity `ss -tan marker-<i>` alert, now.
pub(crate) fn alert(i: usize) -> Alert {
    let mut ev = Event::exec(chrono::Utc::now());
    ev.set_executable("/usr/bin/ss");
    ev.set_argv(vec!["ss".into(), "-tan".into(), format!("marker-{i}")]);
    Alert::for_event(
        &ev,
        Rule {
            id: "picket-AN0904".into(),
            name: "test".into(),
            ..Rule::default()
        },
        Threat::default(),
        Severity::Low,
    )
}

/// An `ss -tan <marker>` alert at 2024-05-01T10:00:00Z on host `web 1<ESC>` (a name
/// syslog must sanitise).
pub(crate) fn alert_at_fixed_time(marker: &str, severity: Severity) -> Alert {
    let mut ev = Event::exec(chrono::Utc::now());
    ev.set_argv(vec!["ss".into(), "-tan".into(), marker.into()]);
    ev.host.name = Some("web 1\u{1b}".into());
    let mut a = Alert::for_event(&ev, Rule::default(), Threat::default(), severity);
    a.timestamp = chrono::Utc
        .with_ymd_and_hms(2024, 5, 1, 10, 0, 0)
        .single()
        .expect("time");
    a
}
