//! `[collector.windows]` (the Windows room): the ETW session's settings, their checks,
//! and [`WindowsCollectorConfig::build`], which makes the collector from them.

use crate::WindowsCollector;
use sensor_core::config::Problems;
use serde::{Deserialize, Serialize};

/// `[collector.windows]`: ETW process events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowsCollectorConfig {
    /// ETW session name.
    pub session_name: String,
}

impl Default for WindowsCollectorConfig {
    fn default() -> Self {
        Self {
            session_name: "Picket-Process".into(),
        }
    }
}

impl WindowsCollectorConfig {
    /// Semantic checks, appended as (field path, message): the one
    /// [`WindowsCollector::new`] makes, so `check-config` on any OS refuses what the
    /// collector would.
    pub fn validate(&self, problems: &mut Problems) {
        if let Some(message) = self.session_name_problem() {
            problems.push(("collector.windows.session_name".into(), message));
        }
    }

    /// Why `session_name` cannot name an ETW session (1 to 1024 characters without NUL,
    /// what `StartTrace` accepts), if it cannot.
    pub(crate) fn session_name_problem(&self) -> Option<String> {
        let name = &self.session_name;
        (name.trim().is_empty() || name.chars().count() > 1024 || name.contains('\0'))
            .then(|| format!("must be 1 to 1024 characters without NUL, found {name:?}"))
    }

    /// The collector these settings describe (see [`WindowsCollector::new`]).
    pub fn build(&self) -> Result<WindowsCollector, crate::Error> {
        WindowsCollector::new(self)
    }
}
