//! `[analytics]`: DET0320's analytics AN0903/AN0904/AN0905 and their mutable elements.
//! (Owned by the analytics work; the pipeline only passes it through.)

use serde::{Deserialize, Serialize};

/// `[analytics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {}

impl AnalyticsConfig {
    /// Semantic checks, appended as (field path, message).
    pub fn validate(&self, _problems: &mut Vec<(String, String)>) {}
}
