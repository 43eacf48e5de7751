//! Picket as a Windows service: `picket service install|uninstall|start|stop` and the
//! entry point the Service Control Manager (SCM) runs.
//!
//! - [`install`] registers an auto-start, own-process service running as LocalSystem (the
//!   kernel ETW session needs it) with recovery actions that restart it (after 5 s, 10 s,
//!   then every 30 s; the failure count resets after a day), also when it stops with a
//!   non-zero exit code rather than crashing.
//! - [`run_as_service`] is what the binary calls when the SCM starts it: it connects to
//!   the SCM, reports *running*, runs Picket's main with a [`Shutdown`] that fires on
//!   *stop* or system *shutdown*, and reports *stopped* with the exit code (a failure is a
//!   service-specific error, so the recovery actions apply).
//! - Logs: [`open_log_file`] opens `%ProgramData%\Picket\logs\picket.log` (append) for
//!   the binary's log subscriber.
//!
//! Everything here except the paths is Windows-only; on other OSes each call returns
//! [`Error::Unsupported`].

use crate::Error;
use sensor_core::collector::Shutdown;
use std::ffi::OsString;
use std::path::PathBuf;

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
    pub fn for_current_exe(config: &std::path::Path) -> Result<Self, Error> {
        let executable = std::env::current_exe().map_err(|source| Error::Io {
            path: PathBuf::from("<current executable>"),
            source,
        })?;
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
pub fn open_log_file() -> Result<std::fs::File, Error> {
    let path = log_file_path();
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)
}

/// Picket's main as the service runs it: gets the shutdown signal, returns `Err` with a
/// message when it fails.
pub type ServiceMain = Box<dyn FnOnce(Shutdown) -> Result<(), String> + Send + 'static>;

#[cfg(windows)]
pub use imp::{install, run_as_service, start, stop, uninstall};

#[cfg(not(windows))]
mod unsupported {
    use super::*;

    /// Registers the service (Windows only).
    pub fn install(options: &InstallOptions) -> Result<(), Error> {
        let _ = options;
        Err(Error::unsupported("picket service install"))
    }

    /// Stops (if running) and deletes the service (Windows only).
    pub fn uninstall() -> Result<(), Error> {
        Err(Error::unsupported("picket service uninstall"))
    }

    /// Starts the installed service (Windows only).
    pub fn start() -> Result<(), Error> {
        Err(Error::unsupported("picket service start"))
    }

    /// Stops the service and waits until it has stopped (Windows only).
    pub fn stop() -> Result<(), Error> {
        Err(Error::unsupported("picket service stop"))
    }

    /// Runs `main` under the SCM (Windows only).
    pub fn run_as_service(main: ServiceMain) -> Result<(), Error> {
        let _ = main;
        Err(Error::unsupported("running as a Windows service"))
    }
}

#[cfg(not(windows))]
pub use unsupported::{install, run_as_service, start, stop, uninstall};

#[cfg(windows)]
mod imp {
    use super::*;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    use windows_service::service::{
        ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
        ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
    use windows_service::{define_windows_service, service_dispatcher};

    fn fail(action: &'static str) -> impl Fn(windows_service::Error) -> Error {
        move |e| {
            let mut message = e.to_string();
            let mut cur = std::error::Error::source(&e);
            while let Some(inner) = cur {
                message.push_str(": ");
                message.push_str(&inner.to_string());
                cur = inner.source();
            }
            Error::Service { action, message }
        }
    }

    fn manager(
        access: ServiceManagerAccess,
        action: &'static str,
    ) -> Result<ServiceManager, Error> {
        ServiceManager::local_computer(None::<&str>, access).map_err(fail(action))
    }

    /// Registers the service, auto-start, as LocalSystem, with restart recovery actions.
    pub fn install(options: &InstallOptions) -> Result<(), Error> {
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
    ) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = service.query_status().map_err(fail(action))?;
            if status.current_state == state {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Service {
                    action,
                    message: format!(
                        "still {:?} after 30 s (waiting for {state:?})",
                        status.current_state
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the service if it runs, then deletes it.
    pub fn uninstall() -> Result<(), Error> {
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
    pub fn start() -> Result<(), Error> {
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
    pub fn stop() -> Result<(), Error> {
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
    pub fn run_as_service(main: ServiceMain) -> Result<(), Error> {
        *MAIN.lock().unwrap_or_else(|p| p.into_inner()) = Some(main);
        service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(fail("run"))
    }

    fn status(state: ServiceState, exit_code: ServiceExitCode) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code,
            checkpoint: 0,
            wait_hint: if state == ServiceState::StopPending {
                Duration::from_secs(30)
            } else {
                Duration::ZERO
            },
            process_id: None,
        }
    }

    fn service_main(_arguments: Vec<OsString>) {
        let Some(main) = MAIN.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            tracing::error!("Service started without a main function");
            return;
        };
        let (trigger, shutdown) = Shutdown::new();
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
        let set = |s: ServiceStatus| {
            if let Err(e) = handle.set_service_status(s) {
                tracing::error!(error = %e, "Cannot report service status");
            }
        };
        set(status(ServiceState::Running, ServiceExitCode::Win32(0)));
        let result = main(shutdown);
        set(status(ServiceState::StopPending, ServiceExitCode::Win32(0)));
        let code = match result {
            Ok(()) => ServiceExitCode::Win32(0),
            Err(message) => {
                tracing::error!(error = %message, "Picket stopped with an error");
                ServiceExitCode::ServiceSpecific(1)
            }
        };
        set(status(ServiceState::Stopped, code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
