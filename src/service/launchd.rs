//! launchd (`packaging/macos/com.picket.sensor.plist`): it has no readiness or watchdog
//! protocol; the running process is the service, `KeepAlive` restarts it, and it is
//! stopped with SIGTERM (SIGKILL after `ExitTimeOut`).

use super::ServiceManager;

/// The launchd service manager: the trait's defaults (no protocol, SIGTERM stops).
pub struct Launchd;

impl ServiceManager for Launchd {}
