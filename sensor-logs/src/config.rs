//! `[inputs]`: the log inputs of a collector host, each a sub-table owned by its module
//! (`[inputs.syslog]` by the receiver, `[inputs.files]` by the file tail,
//! `[inputs.cloudtrail]` by the CloudTrail directory input).

use crate::cloud::CloudTrailInputConfig;
use crate::files::FilesInputConfig;
use crate::receiver::SyslogInputConfig;
use sensor_core::collector::Collector;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[inputs]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InputsConfig {
    /// `[inputs.syslog]`: the syslog receiver.
    pub syslog: SyslogInputConfig,
    /// `[inputs.files]`: device logs written to files.
    pub files: FilesInputConfig,
    /// `[inputs.cloudtrail]`: CloudTrail objects arriving in a directory.
    pub cloudtrail: CloudTrailInputConfig,
}

impl InputsConfig {
    /// Semantic checks, each as (field path, message).
    pub fn validate(&self, problems: &mut Vec<(String, String)>) {
        self.syslog.validate(problems);
        self.files.validate(problems);
        self.cloudtrail.validate(problems);
    }

    /// The enabled inputs, ready to run (sockets bound, positions read); `state_dir` is
    /// `general.state_dir`, `alerted` what the alert log says each file was read to (see
    /// [`FilesInputConfig::build`]; the CloudTrail input reads the same map, keyed by
    /// object). An input that cannot start is an error naming it.
    pub fn build(
        &self,
        state_dir: &Path,
        alerted: &BTreeMap<PathBuf, u64>,
    ) -> Result<Vec<Box<dyn Collector>>, String> {
        let mut inputs: Vec<Box<dyn Collector>> = Vec::new();
        if self.syslog.enabled {
            let syslog = self
                .syslog
                .build()
                .map_err(|e| format!("[inputs.syslog]: {e}"))?;
            inputs.push(Box::new(syslog));
        }
        if self.files.enabled {
            let files = self
                .files
                .build(state_dir, alerted)
                .map_err(|e| format!("[inputs.files]: {e}"))?;
            inputs.push(Box::new(files));
        }
        if self.cloudtrail.enabled {
            let cloudtrail = self
                .cloudtrail
                .build(state_dir, alerted)
                .map_err(|e| format!("[inputs.cloudtrail]: {e}"))?;
            inputs.push(Box::new(cloudtrail));
        }
        Ok(inputs)
    }
}
