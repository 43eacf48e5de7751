//! The Windows install scripts in `packaging/windows/` and the service code agree:
//! the service name, the `picket service` subcommands and the paths under
//! `%ProgramData%\Picket`.

use sensor_windows::service::{InstallOptions, SERVICE_NAME};
use std::path::Path;

fn script(name: &str) -> String {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/windows/"
    ))
    .join(name);
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
    let log = sensor_windows::service::log_file_path();
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
