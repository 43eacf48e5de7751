//! This machine's identity for `host.*`: the one place Picket reads it. Live collectors
//! report it ([`crate::Collector::host`]) and stamp it on their events; the pipeline
//! applies the `[general] host_name` override and fills what a collector left empty.

use crate::event::{Event, Host, HostOs};

/// A host's identity for `host.*`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostIdentity {
    /// `host.name`.
    pub name: String,
    /// `host.id` (the machine id).
    pub id: Option<String>,
    /// `host.os.*`.
    pub os: HostOs,
}

impl HostIdentity {
    /// This machine: its host name, machine id and OS.
    pub fn this_host() -> Self {
        let os_type = match std::env::consts::OS {
            "macos" => "macos",
            "windows" => "windows",
            _ => "linux",
        };
        HostIdentity {
            name: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
            id: read_machine_id(),
            os: HostOs {
                os_type: Some(os_type.into()),
                family: Some(sysinfo::System::distribution_id()),
                version: sysinfo::System::os_version(),
                ..HostOs::default()
            },
        }
    }

    /// The key per-host state is kept under (see [`crate::process_table::host_key`]).
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }

    /// The identity as ECS `host.*`.
    pub fn to_host(&self) -> Host {
        Host {
            name: Some(self.name.clone()),
            id: self.id.clone(),
            os: Some(self.os.clone()),
            ..Host::default()
        }
    }
}

impl HostIdentity {
    /// Puts this host on an event of the collector that reports it: missing fields are
    /// filled, and a configured name (`name_overridden`) replaces the one stamped.
    pub fn fill(&self, event: &mut Event, name_overridden: bool) {
        if event.host.name.is_none() || name_overridden {
            event.host.name = Some(self.name.clone());
        }
        if event.host.id.is_none() {
            event.host.id.clone_from(&self.id);
        }
        let os = event.host.os.get_or_insert_with(HostOs::default);
        if os.os_type.is_none() {
            os.os_type.clone_from(&self.os.os_type);
        }
        if os.family.is_none() {
            os.family.clone_from(&self.os.family);
        }
        if os.version.is_none() {
            os.version.clone_from(&self.os.version);
        }
    }
}

/// The machine id: systemd's (Linux), else D-Bus's.
fn read_machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_a_name_and_the_os_type() {
        let h = HostIdentity::this_host();
        assert!(!h.name.is_empty());
        assert_eq!(h.os.os_type.as_deref(), Some(std::env::consts::OS));
        assert_eq!(h.to_host().name.as_deref(), Some(h.name.as_str()));
    }
}
