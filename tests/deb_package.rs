//! The .deb: built from the real binary with dpkg-deb, installed with `dpkg -i`, checked
//! for owners and modes, its unit verified by `systemd-analyze verify`, then purged.
//! Needs root (CI runs as root); without it the test fails saying so.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purges the package even if an assertion fails half-way.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "picket"]).output();
    }
}

#[test]
fn deb_installs_files_with_the_right_owners_and_modes() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test installs a .deb: run it as root (CI does)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = packaging::deb::DebInputs {
        binary: env!("CARGO_BIN_EXE_picket").into(),
        version: "0.0.0~test".into(),
        arch: packaging::deb::host_arch(),
        readme: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md").into()),
        // The test binary is an unstripped debug build; xz on it costs minutes.
        compression: "gzip",
    };
    let deb = packaging::deb::build_deb(&inputs, dir.path(), &dir.path().join("out"))
        .expect("build .deb");
    let listing = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for line in listing.lines() {
        assert!(
            line.contains(" root/root "),
            "every file is root-owned in the package: {line}"
        );
    }

    let _purge = Purge;
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let expect = [
        ("/usr/bin/picket", 0o755),
        ("/lib/systemd/system/picket.service", 0o644),
        ("/etc/picket/picket.toml", 0o640),
        ("/etc/picket/conf.d", 0o755),
        ("/etc/picket/conf.d/README", 0o644),
        ("/var/lib/picket", 0o700),
        ("/var/log/picket", 0o750),
        ("/usr/share/doc/picket/README.md", 0o644),
    ];
    for (path, mode) in expect {
        let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path} installed: {e}"));
        assert_eq!(meta.mode() & 0o7777, mode, "{path} mode");
        assert_eq!(meta.uid(), 0, "{path} owned by root");
    }
    assert_eq!(
        std::fs::read_to_string("/etc/picket/picket.toml").expect("config"),
        packaging::DEFAULT_TOML,
        "the shipped config is the embedded default"
    );
    let checked =
        run(Command::new("/usr/bin/picket").args(["check-config", "/etc/picket/picket.toml"]));
    assert!(checked.starts_with("OK "), "{checked}");
    let verify = Command::new("systemd-analyze")
        .args(["verify", "/lib/systemd/system/picket.service"])
        .output()
        .expect("systemd-analyze (scripts/setup.sh installs systemd)");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("picket.service"))
        .collect();
    assert!(
        verify.status.success() && problems.is_empty(),
        "systemd-analyze verify: {stderr}"
    );

    drop(_purge);
    assert!(
        !Path::new("/usr/bin/picket").exists(),
        "purge removes the binary"
    );
    assert!(
        !Path::new("/var/lib/picket").exists(),
        "purge removes the state directory"
    );
}
