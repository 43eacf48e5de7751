//! The Windows Service Control Manager (SCM): `picket service install|uninstall|start|
//! stop`, and `picket service run`, the entry point the SCM starts.
//!
//! - [`install`] registers an auto-start, own-process service running as LocalSystem (the
//!   kernel ETW session needs it) with recovery actions that restart it (after 5 s, 10 s,
//!   then every 30 s; the failure count resets after a day), also when it stops with a
//!   non-zero exit code rather than crashing.
//! - [`run_as_service`] connects to the SCM and runs Picket's main with the SCM as its
//!   [`ServiceManager`]: *start pending* until the collector runs, then *running*; a
//!   *stop* or system *shutdown* control is the stop request; *stop pending* while the
//!   pipeline drains; *stopped* with the exit code (a failure is a service-specific
//!   error, so the recovery actions apply).
//! - Logs: [`open_log_file`] opens `%ProgramData%\Picket\logs\picket.log` (append) for
//!   the log subscriber (a service has no console).
//!
//! Everything here except the names and paths is Windows-only; on other OSes each call
//! fails saying so.

// Off Windows only the stubs below are compiled against this, so the names and options
// the SCM would get are unused there (and still tested).
#![cfg_attr(not(windows), allow(dead_code))]

use super::ServiceManager;
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The service's name in the SCM.
pub const SERVICE_NAME: &str = "Picket";
/// The name shown in `services.msc`.
pub const DISPLAY_NAME: &str = "Picket host sensor";
/// The description shown in `services.msc`.
pub const DESCRIPTION: &str =
    "Detects network-connection discovery (MITRE ATT&CK T1049) from process events.";

/// What [`install`] registers.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The `picket.exe` the SCM runs.
    pub executable: PathBuf,
    /// Its arguments, for example `["service", "run", "--config", "C:\\ProgramData\\Picket\\picket.toml"]`.
    pub arguments: Vec<OsString>,
}

impl InstallOptions {
    /// This executable, run as `picket service run --config <config>`: the command line
    /// `packaging/windows/install.ps1` expects the CLI to register.
    pub fn for_current_exe(config: &Path) -> Result<Self> {
        let executable = std::env::current_exe().context("cannot find this executable")?;
        Ok(Self {
            executable,
            arguments: vec![
                "service".into(),
                "run".into(),
                "--config".into(),
                config.as_os_str().to_owned(),
            ],
        })
    }
}

/// `%ProgramData%\Picket` (`C:\ProgramData\Picket` when the variable is unset).
pub fn program_data_dir() -> PathBuf {
    let base = std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
    base.join("Picket")
}

/// The service's log file, `%ProgramData%\Picket\logs\picket.log`.
pub fn log_file_path() -> PathBuf {
    program_data_dir().join("logs").join("picket.log")
}

/// Creates the log directory and opens [`log_file_path`] for appending.
pub fn open_log_file() -> Result<std::fs::File> {
    let path = log_file_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Picket's main as the service runs it: gets the SCM as its service manager, returns
/// `Err` with a message when it fails.
pub type ServiceMain = Box<dyn FnOnce(Arc<dyn ServiceManager>) -> Result<(), String> + Send>;

#[cfg(windows)]
pub use imp::{install, run_as_service, start, stop, uninstall};

#[cfg(not(windows))]
pub use unsupported::{install, run_as_service, start, stop, uninstall};

#[cfg(not(windows))]
mod unsupported {
    use super::*;

    fn only_on_windows<T>(what: &str) -> Result<T> {
        anyhow::bail!(
            "{what} is only available on Windows (this is {})",
            std::env::consts::OS
        )
    }

    /// Registers the service (Windows only).
    pub fn install(options: &InstallOptions) -> Result<()> {
        let _ = options;
        only_on_windows("picket service install")
    }

    /// Stops (if running) and deletes the service (Windows only).
    pub fn uninstall() -> Result<()> {
        only_on_windows("picket service uninstall")
    }

    /// Starts the installed service (Windows only).
    pub fn start() -> Result<()> {
        only_on_windows("picket service start")
    }

    /// Stops the service and waits until it has stopped (Windows only).
    pub fn stop() -> Result<()> {
        only_on_windows("picket service stop")
    }

    /// Runs `main` under the SCM (Windows only).
    pub fn run_as_service(main: ServiceMain) -> Result<()> {
        let _ = main;
        only_on_windows("running as a Windows service")
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use crate::service::StopRequest;
    use sensor_core::collector::Shutdown;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    use windows_service::service::{
        ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
        ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::ServiceStatusHandle;
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager as Scm, ServiceManagerAccess};
    use windows_service::{define_windows_service, service_dispatcher};

    /// An SCM failure with every cause Windows gave.
    fn fail(action: &'static str) -> impl Fn(windows_service::Error) -> anyhow::Error {
        move |e| {
            let mut message = e.to_string();
            let mut cur = std::error::Error::source(&e);
            while let Some(inner) = cur {
                message.push_str(": ");
                message.push_str(&inner.to_string());
                cur = inner.source();
            }
            anyhow::anyhow!("service {action} failed: {message}")
        }
    }

    fn manager(access: ServiceManagerAccess, action: &'static str) -> Result<Scm> {
        Scm::local_computer(None::<&str>, access).map_err(fail(action))
    }

    /// Registers the service, auto-start, as LocalSystem, with restart recovery actions.
    pub fn install(options: &InstallOptions) -> Result<()> {
        let manager = manager(
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
            "install",
        )?;
        let info = ServiceInfo {
            name: SERVICE_NAME.into(),
            display_name: DISPLAY_NAME.into(),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: options.executable.clone(),
            launch_arguments: options.arguments.clone(),
            dependencies: vec![],
            account_name: None, // LocalSystem
            account_password: None,
        };
        let service = manager
            .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
            .map_err(fail("install"))?;
        service
            .set_description(DESCRIPTION)
            .map_err(fail("install"))?;
        let restart = |secs| ServiceAction {
            action_type: ServiceActionType::Restart,
            delay: Duration::from_secs(secs),
        };
        service
            .update_failure_actions(ServiceFailureActions {
                reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
                reboot_msg: None,
                command: None,
                actions: Some(vec![restart(5), restart(10), restart(30)]),
            })
            .map_err(fail("install"))?;
        service
            .set_failure_actions_on_non_crash_failures(true)
            .map_err(fail("install"))?;
        Ok(())
    }

    fn wait_for(
        service: &windows_service::service::Service,
        state: ServiceState,
        action: &'static str,
    ) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = service.query_status().map_err(fail(action))?;
            if status.current_state == state {
                return Ok(());
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "service {action} failed: still {:?} after 30 s (waiting for {state:?})",
                    status.current_state
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the service if it runs, then deletes it.
    pub fn uninstall() -> Result<()> {
        let manager = manager(ServiceManagerAccess::CONNECT, "uninstall")?;
        let service = manager
            .open_service(
                SERVICE_NAME,
                ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
            )
            .map_err(fail("uninstall"))?;
        let status = service.query_status().map_err(fail("uninstall"))?;
        if status.current_state != ServiceState::Stopped {
            service.stop().map_err(fail("uninstall"))?;
            wait_for(&service, ServiceState::Stopped, "uninstall")?;
        }
        service.delete().map_err(fail("uninstall"))
    }

    /// Starts the service and waits until it runs.
    pub fn start() -> Result<()> {
        let manager = manager(ServiceManagerAccess::CONNECT, "start")?;
        let service = manager
            .open_service(
                SERVICE_NAME,
                ServiceAccess::START | ServiceAccess::QUERY_STATUS,
            )
            .map_err(fail("start"))?;
        service.start::<&str>(&[]).map_err(fail("start"))?;
        wait_for(&service, ServiceState::Running, "start")
    }

    /// Stops the service and waits until it has stopped.
    pub fn stop() -> Result<()> {
        let manager = manager(ServiceManagerAccess::CONNECT, "stop")?;
        let service = manager
            .open_service(
                SERVICE_NAME,
                ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
            )
            .map_err(fail("stop"))?;
        service.stop().map_err(fail("stop"))?;
        wait_for(&service, ServiceState::Stopped, "stop")
    }

    /// The main the dispatcher thread runs; set once by [`run_as_service`].
    static MAIN: Mutex<Option<ServiceMain>> = Mutex::new(None);

    define_windows_service!(ffi_service_main, service_main);

    /// Runs `main` under the SCM. Blocks until the service stops. Fails when the process
    /// was not started by the SCM.
    pub fn run_as_service(main: ServiceMain) -> Result<()> {
        *MAIN.lock().unwrap_or_else(|p| p.into_inner()) = Some(main);
        service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(fail("run"))
    }

    fn status(state: ServiceState, exit_code: ServiceExitCode) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            // Stoppable while starting too: a collector that never comes up must not
            // leave a service only a kill can end.
            controls_accepted: match state {
                ServiceState::StartPending | ServiceState::Running => {
                    ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
                }
                _ => ServiceControlAccept::empty(),
            },
            exit_code,
            checkpoint: 0,
            wait_hint: match state {
                ServiceState::StartPending | ServiceState::StopPending => Duration::from_secs(30),
                _ => Duration::ZERO,
            },
            process_id: None,
        }
    }

    /// The SCM as Picket's service manager.
    struct ScmService {
        handle: ServiceStatusHandle,
        /// Fires on the *stop* and *shutdown* controls.
        stop: Shutdown,
    }

    impl ScmService {
        fn report(&self, state: ServiceState, exit_code: ServiceExitCode) {
            if let Err(e) = self.handle.set_service_status(status(state, exit_code)) {
                tracing::error!(error = %e, "Cannot report service status");
            }
        }
    }

    impl ServiceManager for ScmService {
        fn ready(&self) {
            self.report(ServiceState::Running, ServiceExitCode::Win32(0));
        }

        fn watchdog_interval(&self) -> Option<Duration> {
            None
        }

        fn watchdog(&self) {}

        fn stopping(&self) {
            self.report(ServiceState::StopPending, ServiceExitCode::Win32(0));
        }

        fn stop_requested(&self) -> StopRequest {
            // A service has no console: only the SCM asks it to stop.
            let mut stop = self.stop.clone();
            Box::pin(async move { stop.wait().await })
        }
    }

    fn service_main(_arguments: Vec<OsString>) {
        let Some(main) = MAIN.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            tracing::error!("Service started without a main function");
            return;
        };
        let (trigger, stop) = Shutdown::new();
        let trigger = Mutex::new(Some(trigger));
        let handler = move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                if let Some(t) = trigger.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    t.trigger();
                }
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        };
        let handle = match service_control_handler::register(SERVICE_NAME, handler) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "Cannot register the service control handler");
                return;
            }
        };
        let scm = Arc::new(ScmService { handle, stop });
        scm.report(ServiceState::StartPending, ServiceExitCode::Win32(0));
        let result = main(scm.clone());
        let code = match result {
            Ok(()) => ServiceExitCode::Win32(0),
            Err(message) => {
                tracing::error!(error = %message, "Picket stopped with an error");
                ServiceExitCode::ServiceSpecific(1)
            }
        };
        scm.report(ServiceState::Stopped, code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn log_file_is_under_program_data_picket() {
        let path = log_file_path();
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        assert!(
            parts.ends_with(&["Picket".into(), "logs".into(), "picket.log".into()]),
            "{path:?}"
        );
    }

    #[test]
    fn install_runs_this_binary_as_service_run_with_the_config() {
        let opts = InstallOptions::for_current_exe(std::path::Path::new(
            r"C:\ProgramData\Picket\picket.toml",
        ))
        .expect("current exe");
        assert_eq!(opts.executable, std::env::current_exe().expect("exe"));
        let args: Vec<_> = opts
            .arguments
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "service",
                "run",
                "--config",
                r"C:\ProgramData\Picket\picket.toml"
            ]
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn service_control_is_unsupported_off_windows() {
        let err = start().expect_err("not windows");
        assert!(
            err.to_string().contains("only available on Windows"),
            "{err}"
        );
        assert!(run_as_service(Box::new(|_| Ok(()))).is_err());
    }

    // The install scripts in `packaging/windows/` and this code agree: the service
    // name, the `picket service` subcommands and the paths under `%ProgramData%\Picket`.

    fn script(name: &str) -> String {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/windows/")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn install_script_matches_the_service_code() {
        let install = script("install.ps1");
        assert!(install.contains(&format!("Get-Service -Name '{SERVICE_NAME}'")));
        assert!(install.contains("service install --config $configPath"));
        assert!(install.contains("service start"));
        assert!(install.contains("Join-Path $env:ProgramData 'Picket'"));
        // The command line the script's comment promises is the one install() registers.
        let opts = InstallOptions::for_current_exe(Path::new("CONFIG")).expect("exe");
        let args: Vec<String> = opts
            .arguments
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.join(" "), "service run --config CONFIG");
        assert!(install.contains("picket service run --config %ProgramData%\\Picket\\picket.toml"));
        // The log path the scripts and README name is the one open_log_file() uses.
        let log = log_file_path();
        let tail: Vec<String> = log
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        assert_eq!(tail, ["picket.log", "logs"]);
        assert!(install.contains("logs\\picket.log"));
        assert!(script("README.md").contains("%ProgramData%\\Picket\\logs\\picket.log"));
    }

    #[test]
    fn uninstall_script_keeps_data_unless_purged() {
        let uninstall = script("uninstall.ps1");
        assert!(uninstall.contains(&format!("Get-Service -Name '{SERVICE_NAME}'")));
        assert!(uninstall.contains("service uninstall"));
        assert!(uninstall.contains("if ($Purge -and"));
    }
}
