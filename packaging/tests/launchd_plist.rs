//! The launchd plist parses as a property list and says what launchd needs: label,
//! RunAtLoad, KeepAlive, log paths, ProcessType, and the installed binary path.

use plist::{Dictionary, Value};

const PLIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/macos/com.picket.sensor.plist");
const INSTALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/macos/INSTALL.md");
const BINARY: &str = "/usr/local/bin/picket";
const CONFIG: &str = "/Library/Application Support/Picket/picket.toml";

fn plist() -> Dictionary {
    let value = Value::from_file(PLIST).unwrap_or_else(|e| panic!("{PLIST} does not parse: {e}"));
    value
        .into_dictionary()
        .unwrap_or_else(|| panic!("{PLIST}: top level is not a dict"))
}

fn string<'a>(d: &'a Dictionary, key: &str) -> &'a str {
    d.get(key)
        .and_then(Value::as_string)
        .unwrap_or_else(|| panic!("{key} missing or not a string"))
}

#[test]
fn label_and_lifecycle() {
    let d = plist();
    assert_eq!(string(&d, "Label"), "com.picket.sensor");
    assert_eq!(d.get("RunAtLoad").and_then(Value::as_boolean), Some(true));
    assert_eq!(d.get("KeepAlive").and_then(Value::as_boolean), Some(true));
    let process_type = string(&d, "ProcessType");
    assert!(
        ["Background", "Standard", "Adaptive", "Interactive"].contains(&process_type),
        "ProcessType {process_type:?} is not one launchd knows"
    );
    assert_ne!(
        process_type, "Background",
        "a throttled sensor falls behind eslogger"
    );
    // Enough time to drain and flush after SIGTERM.
    let exit_timeout = d
        .get("ExitTimeOut")
        .and_then(Value::as_signed_integer)
        .expect("ExitTimeOut");
    assert!(exit_timeout >= 20, "{exit_timeout}");
}

#[test]
fn program_arguments_name_the_installed_binary_and_config() {
    let d = plist();
    assert!(
        d.get("Program").is_none(),
        "ProgramArguments alone names the program"
    );
    let args: Vec<&str> = d
        .get("ProgramArguments")
        .and_then(Value::as_array)
        .expect("ProgramArguments array")
        .iter()
        .map(|v| v.as_string().expect("string argument"))
        .collect();
    assert_eq!(args, [BINARY, "run", "--config", CONFIG]);
    // The install notes install the binary and config exactly there.
    let notes = std::fs::read_to_string(INSTALL).unwrap_or_else(|e| panic!("{INSTALL}: {e}"));
    assert!(
        notes.contains(&format!("target/release/picket {BINARY}")),
        "INSTALL.md must install the binary to {BINARY}"
    );
    assert!(
        notes.contains(&format!("\"{CONFIG}\"")),
        "INSTALL.md must install {CONFIG}"
    );
}

#[test]
fn log_paths_are_absolute_and_in_the_directory_the_notes_create() {
    let d = plist();
    let notes = std::fs::read_to_string(INSTALL).unwrap_or_else(|e| panic!("{INSTALL}: {e}"));
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let path = std::path::Path::new(string(&d, key));
        assert!(path.is_absolute(), "{key}: {}", path.display());
        let dir = path.parent().expect("a directory").display().to_string();
        assert!(
            notes.contains(&format!(
                "mkdir -p \"/Library/Application Support/Picket\" {dir}"
            )),
            "INSTALL.md must create {dir} (launchd does not)"
        );
    }
    assert_ne!(
        string(&d, "StandardOutPath"),
        string(&d, "StandardErrorPath")
    );
}

#[test]
fn only_keys_launchd_knows() {
    // A misspelt key (RunAtload) is silently ignored by launchd: catch it here.
    const KNOWN: &[&str] = &[
        "Label",
        "Program",
        "ProgramArguments",
        "WorkingDirectory",
        "RunAtLoad",
        "KeepAlive",
        "ThrottleInterval",
        "ExitTimeOut",
        "ProcessType",
        "StandardOutPath",
        "StandardErrorPath",
        "UserName",
        "GroupName",
        "EnvironmentVariables",
        "SoftResourceLimits",
        "HardResourceLimits",
        "Nice",
        "Umask",
    ];
    for key in plist().keys() {
        assert!(KNOWN.contains(&key.as_str()), "unknown launchd key {key:?}");
    }
}

#[test]
fn install_notes_cover_full_disk_access() {
    let notes = std::fs::read_to_string(INSTALL).unwrap_or_else(|e| panic!("{INSTALL}: {e}"));
    for needle in [
        "System Settings › Privacy & Security › Full Disk Access",
        "the picket binary",
        "launchctl bootstrap system /Library/LaunchDaemons/com.picket.sensor.plist",
        "PPPC",
        "root",
    ] {
        assert!(notes.contains(needle), "INSTALL.md lacks {needle:?}");
    }
}
