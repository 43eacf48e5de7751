//! systemd (`Type=notify`, `WatchdogSec=` in `packaging/systemd/picket.service`):
//! `sd_notify` READY, WATCHDOG and STOPPING on the socket systemd names in
//! `NOTIFY_SOCKET`, and nothing at all when Picket was not started by systemd. systemd
//! stops a service with SIGTERM. `tests/systemd_notify.rs` reads the notifications of a
//! real `picket run` on a notify socket.

use super::ServiceManager;
use std::time::Duration;

/// The systemd service manager.
pub struct Systemd;

fn notify(state: sd_notify::NotifyState<'_>) {
    // Best effort: without NOTIFY_SOCKET this is a no-op, and a failed send is not a
    // reason to stop sensing.
    let _ = sd_notify::notify(false, &[state]);
}

impl ServiceManager for Systemd {
    fn ready(&self) {
        notify(sd_notify::NotifyState::Ready);
    }

    /// Half the watchdog timeout systemd set, if it set one.
    fn watchdog_interval(&self) -> Option<Duration> {
        let mut usec = 0u64;
        sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
    }

    fn watchdog(&self) {
        notify(sd_notify::NotifyState::Watchdog);
    }

    fn stopping(&self) {
        notify(sd_notify::NotifyState::Stopping);
    }
}
