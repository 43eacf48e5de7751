//! launchd (`packaging/macos/com.picket.sensor.plist`): it has no readiness or watchdog
//! protocol; the running process is the service, `KeepAlive` restarts it, and it is
//! stopped with SIGTERM (SIGKILL after `ExitTimeOut`).

use super::{termination_signal, ServiceManager, StopRequest};
use std::time::Duration;

/// The launchd service manager.
pub struct Launchd;

impl ServiceManager for Launchd {
    fn ready(&self) {}

    fn watchdog_interval(&self) -> Option<Duration> {
        None
    }

    fn watchdog(&self) {}

    fn stopping(&self) {}

    fn stop_requested(&self) -> StopRequest {
        Box::pin(termination_signal())
    }
}
