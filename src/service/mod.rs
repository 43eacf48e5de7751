//! The service managers Picket runs under, side by side behind one small trait:
//! [`ServiceManager`]. systemd ([`systemd`]: `sd_notify` READY, WATCHDOG, STOPPING),
//! launchd ([`launchd`]: no protocol, the process is the service) and the Windows
//! Service Control Manager ([`windows`]: status reports, and `picket service
//! install|uninstall|start|stop`). Each says how a stop is asked for; the wiring turns
//! that into the [`Shutdown`] the pipeline's `run` is given, so the pipeline knows no
//! service manager.
//!
//! May touch: the service manager's channels (the notify socket, the SCM), signals, and
//! on Windows the SCM's service database and a log file under `%ProgramData%\Picket`.

#[cfg(target_os = "macos")]
mod launchd;
#[cfg(target_os = "linux")]
mod systemd;
pub mod windows;

use sensor_core::collector::Shutdown;
use sensor_core::{CollectorState, Health};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Resolves when Picket is asked to stop.
pub type StopRequest = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What Picket tells the service manager that runs it, and how that manager asks it to
/// stop. Telling is best effort: a manager that is not there hears nothing. The
/// defaults are a manager with no protocol that stops Picket with a signal.
pub trait ServiceManager: Send + Sync {
    /// The collector runs: the service is up.
    fn ready(&self) {}
    /// How often the manager wants to hear that Picket is alive, if it does.
    fn watchdog_interval(&self) -> Option<Duration> {
        None
    }
    /// Picket is alive (sent every [`watchdog_interval`](Self::watchdog_interval)).
    fn watchdog(&self) {}
    /// Shutdown has begun: events are drained and alerts flushed.
    fn stopping(&self) {}
    /// Resolves when the manager (or a signal it sends) asks Picket to stop.
    fn stop_requested(&self) -> StopRequest {
        Box::pin(termination_signal())
    }
}

/// The manager `picket run` answers to on this OS: systemd on Linux (silent when not
/// started by systemd), launchd on macOS, a console elsewhere (Ctrl-C stops).
pub fn for_picket_run() -> Arc<dyn ServiceManager> {
    #[cfg(target_os = "linux")]
    {
        Arc::new(systemd::Systemd)
    }
    #[cfg(target_os = "macos")]
    {
        Arc::new(launchd::Launchd)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        Arc::new(Console)
    }
}

/// A terminal (or `picket service run`'s absence): nothing to tell, Ctrl-C stops.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
struct Console;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
impl ServiceManager for Console {}

/// Resolves when SIGINT or SIGTERM (Ctrl-C on Windows) arrives; never, when no signal
/// handler can be installed (rather than stopping at once).
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        tracing::warn!("Cannot listen for Ctrl-C; stop Picket through its service manager");
        std::future::pending::<()>().await;
    }
}

/// Tells `manager` READY once the collector runs, WATCHDOG while the pipeline is alive,
/// and STOPPING when `shutdown` fires. Runs until then.
pub async fn keep_informed(
    manager: Arc<dyn ServiceManager>,
    health: Arc<Health>,
    mut shutdown: Shutdown,
) {
    // The collector's state is a watch value: READY is sent the moment it runs.
    let mut state = health.watch_collector_state();
    let mut state_open = true;
    let mut ready = false;
    let watchdog = manager.watchdog_interval();
    loop {
        if !ready && *state.borrow_and_update() == CollectorState::Running {
            ready = true;
            manager.ready();
            tracing::info!("Collector running");
        }
        tokio::select! {
            changed = state.changed(), if !ready && state_open => state_open = changed.is_ok(),
            _ = tokio::time::sleep(watchdog.unwrap_or_default()), if ready && watchdog.is_some() => {
                manager.watchdog();
            }
            _ = shutdown.wait() => {
                manager.stopping();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what it is told; stops when its trigger fires.
    struct Recorder {
        told: Mutex<Vec<&'static str>>,
        interval: Option<Duration>,
    }

    impl ServiceManager for Recorder {
        fn ready(&self) {
            self.told.lock().expect("lock").push("ready");
        }
        fn watchdog_interval(&self) -> Option<Duration> {
            self.interval
        }
        fn watchdog(&self) {
            self.told.lock().expect("lock").push("watchdog");
        }
        fn stopping(&self) {
            self.told.lock().expect("lock").push("stopping");
        }
        fn stop_requested(&self) -> StopRequest {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ready_once_the_collector_runs_then_watchdog_then_stopping() {
        let recorder = Arc::new(Recorder {
            told: Mutex::new(Vec::new()),
            interval: Some(Duration::from_secs(1)),
        });
        let health = Health::new();
        let (trigger, shutdown) = Shutdown::new();
        let task = tokio::spawn(keep_informed(recorder.clone(), health.clone(), shutdown));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            recorder.told.lock().expect("lock").is_empty(),
            "no READY (and no WATCHDOG) before the collector runs"
        );
        health.set_collector_state(CollectorState::Running);
        tokio::time::sleep(Duration::from_millis(2600)).await;
        trigger.trigger();
        task.await.expect("task");
        let told = recorder.told.lock().expect("lock").clone();
        assert_eq!(told.first(), Some(&"ready"), "{told:?}");
        assert_eq!(told.last(), Some(&"stopping"), "{told:?}");
        let pings = told.iter().filter(|t| **t == "watchdog").count();
        assert!((2..=3).contains(&pings), "{told:?}");
        assert_eq!(told.len(), pings + 2, "{told:?}");
    }
}
