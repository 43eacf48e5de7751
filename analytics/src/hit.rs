//! What an analytic found, before it becomes an [`Alert`].

use sensor_core::alert::{Alert, Rule, Severity, Threat};
use sensor_core::event::Event;
use serde_json::{Map, Value};

/// One detection by a DET0320 analytic.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// `AN0903`, `AN0904`, `AN0905`.
    pub analytic: &'static str,
    /// `rule.name`.
    pub rule_name: String,
    /// The mutable element that fired (`UtilityNameList`, ...).
    pub mutable_element: &'static str,
    /// The value of that element that matched.
    pub matched_value: String,
    pub severity: Severity,
    /// One human line.
    pub message: String,
    pub threat: Threat,
    pub details: Map<String, Value>,
    /// Other events (earlier ones of a burst or correlation).
    pub related: Vec<Event>,
}

impl Hit {
    pub(crate) fn new(
        analytic: &'static str,
        mutable_element: &'static str,
        matched_value: impl Into<String>,
        severity: Severity,
    ) -> Hit {
        Hit {
            analytic,
            rule_name: format!("{analytic}: network connection discovery (T1049)"),
            mutable_element,
            matched_value: matched_value.into(),
            severity,
            message: String::new(),
            threat: crate::common::t1049(),
            details: Map::new(),
            related: Vec::new(),
        }
    }

    pub(crate) fn detail(&mut self, key: &str, value: impl Into<Value>) {
        self.details.insert(key.to_string(), value.into());
    }

    pub(crate) fn into_alert(self, ev: &Event) -> Alert {
        let rule = Rule {
            id: format!("picket-{}", self.analytic),
            name: self.rule_name,
            reference: "https://attack.mitre.org/detectionstrategies/DET0320/".into(),
            ruleset: "picket".into(),
        };
        let mut alert = Alert::for_event(ev, rule, self.threat, self.severity);
        alert.message = self.message;
        alert.picket.analytic = self.analytic.into();
        alert.picket.mutable_element = self.mutable_element.into();
        alert.picket.matched_value = self.matched_value;
        alert.picket.details = self.details;
        for related in &self.related {
            alert.add_evidence(related);
        }
        alert.picket.related_events = self.related;
        alert.picket.first_seen = Some(ev.timestamp);
        alert.picket.last_seen = Some(ev.timestamp);
        alert
    }
}
