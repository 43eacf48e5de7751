//! `OriginalFilename` read from real PE files: the Windows executables Debian's `libwine`
//! ships (some with a version resource, some without), checked one by one against
//! binutils' `windres`, and PE32+/PE32 images built here with `windres` + `ld` under a
//! name that differs from their OriginalFilename (a renamed `net.exe`).
//!
//! Needs the apt packages `libwine`, `binutils-mingw-w64-x86-64` and
//! `binutils-mingw-w64-i686` (installed by `scripts/setup.sh`); without them these tests
//! fail and say so.

use sensor_windows::pe::{original_file_name, original_file_name_of_path, OriginalFileNameCache};
use std::path::{Path, PathBuf};
use std::process::Command;

const WINE_DIR: &str = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows";

fn wine_exe(name: &str) -> PathBuf {
    let path = Path::new(WINE_DIR).join(name);
    assert!(
        path.is_file(),
        "{} is missing: install the Debian package libwine (run scripts/setup.sh)",
        path.display()
    );
    path
}

fn tool(name: &str, package: &str) -> String {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{name} not found: install the Debian package {package} (run scripts/setup.sh)"
    );
    name.to_string()
}

#[test]
fn wine_executables_with_and_without_original_filename() {
    for (exe, want) in [
        ("conhost.exe", Some("conhost.exe")),
        ("msiexec.exe", Some("msiexec.exe")),
        ("dism.exe", Some("dism.exe")),
        ("regedit.exe", Some("REGEDIT.EXE")),
        // A file whose name and OriginalFilename differ.
        ("dpnsvr.exe", Some("dpnsvr.dll")),
        // No version resource at all.
        ("net.exe", None),
        ("netstat.exe", None),
        ("ipconfig.exe", None),
    ] {
        let path = wine_exe(exe);
        let from_path = original_file_name_of_path(&path).expect("a PE file");
        assert_eq!(from_path.as_deref(), want, "{exe}");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(
            original_file_name(&bytes).expect("a PE file"),
            from_path,
            "{exe} in memory"
        );
    }
}

/// What `windres` decompiles as the first `VALUE "OriginalFilename"` of a file.
fn windres_original_filename(windres: &str, path: &Path) -> Option<String> {
    let out = Command::new(windres)
        .arg("-i")
        .arg(path)
        .args(["-O", "rc"])
        .output()
        .expect("run windres");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("VALUE \"OriginalFilename\", \"")?;
        Some(rest.split('"').next().unwrap_or_default().to_string())
    })
}

#[test]
fn agrees_with_windres_on_every_wine_executable() {
    let windres = tool("x86_64-w64-mingw32-windres", "binutils-mingw-w64-x86-64");
    wine_exe("conhost.exe");
    let mut exes: Vec<PathBuf> = std::fs::read_dir(WINE_DIR)
        .expect("wine dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "exe"))
        .collect();
    exes.sort();
    assert!(
        exes.len() > 50,
        "libwine ships many executables: {}",
        exes.len()
    );
    let mut with = 0;
    for exe in &exes {
        let ours = original_file_name_of_path(exe).expect("wine ships valid PE files");
        assert_eq!(
            ours,
            windres_original_filename(&windres, exe),
            "{}",
            exe.display()
        );
        with += usize::from(ours.is_some());
    }
    assert!(
        with >= 10 && with < exes.len(),
        "both kinds present: {with} of {}",
        exes.len()
    );
}

const VERSION_RC: &str = r#"1 VERSIONINFO
FILEVERSION 10,0,19041,1
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040704B0"
    BEGIN
      VALUE "OriginalFilename", "netz.exe"
    END
    BLOCK "040904B0"
    BEGIN
      VALUE "FileDescription", "Net Command"
      VALUE "OriginalFilename", "net.exe"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x407, 1200, 0x409, 1200
  END
END
"#;

/// Links a resource-only PE image named `name` with the given binutils prefix.
fn build_pe(dir: &Path, prefix: &str, package: &str, rc: Option<&str>, name: &str) -> PathBuf {
    let windres = tool(&format!("{prefix}-windres"), package);
    let ld = tool(&format!("{prefix}-ld"), package);
    let obj = dir.join(format!("{name}.o"));
    match rc {
        Some(rc) => {
            let rc_path = dir.join(format!("{name}.rc"));
            std::fs::write(&rc_path, rc).expect("write rc");
            let st = Command::new(&windres)
                .arg("--preprocessor=cpp")
                .arg(&rc_path)
                .args(["-O", "coff", "-o"])
                .arg(&obj)
                .status()
                .expect("run windres");
            assert!(st.success(), "windres failed");
        }
        None => {
            let asm = tool(&format!("{prefix}-as"), package);
            let src = dir.join(format!("{name}.s"));
            std::fs::write(&src, ".text\nnop\n").expect("write asm");
            let st = Command::new(asm)
                .arg(&src)
                .arg("-o")
                .arg(&obj)
                .status()
                .expect("as");
            assert!(st.success(), "as failed");
        }
    }
    let exe = dir.join(name);
    let st = Command::new(ld)
        .args(["--entry=0", "--subsystem", "console", "-o"])
        .arg(&exe)
        .arg(&obj)
        .status()
        .expect("run ld");
    assert!(st.success(), "ld failed");
    exe
}

#[test]
fn renamed_net_exe_built_here_is_still_net_exe() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (prefix, package) in [
        ("x86_64-w64-mingw32", "binutils-mingw-w64-x86-64"),
        ("i686-w64-mingw32", "binutils-mingw-w64-i686"),
    ] {
        let exe = build_pe(
            dir.path(),
            prefix,
            package,
            Some(VERSION_RC),
            &format!("svc-{prefix}.exe"),
        );
        let bytes = std::fs::read(&exe).expect("read");
        assert_eq!(&bytes[..2], b"MZ");
        assert_eq!(
            original_file_name(&bytes).expect("PE").as_deref(),
            Some("net.exe"),
            "{prefix}: the US English table wins over the German one"
        );
        let bare = build_pe(
            dir.path(),
            prefix,
            package,
            None,
            &format!("bare-{prefix}.exe"),
        );
        assert_eq!(
            original_file_name_of_path(&bare).expect("PE"),
            None,
            "{prefix}: no resources"
        );
    }
}

#[test]
fn damaged_images_are_errors() {
    let bytes = std::fs::read(wine_exe("conhost.exe")).expect("read");
    for cut in [2, 64, 200, 512, 1024] {
        let r = original_file_name(&bytes[..cut]);
        assert!(r.is_err(), "truncated at {cut}: {r:?}");
    }
    // Every single-byte change in the headers parses or errors, never panics.
    for at in (0..1024).step_by(7) {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        let _ = original_file_name(&b);
    }
}

#[test]
fn cache_rereads_when_the_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("update.exe");
    std::fs::copy(wine_exe("conhost.exe"), &path).expect("copy");
    let cache = OriginalFileNameCache::new(8);
    assert_eq!(
        cache.get(&path).expect("read").as_deref(),
        Some("conhost.exe")
    );
    assert_eq!(
        cache.get(&path).expect("cached").as_deref(),
        Some("conhost.exe")
    );
    assert_eq!(cache.len(), 1);
    // Replaced by another image: a different size and modification time.
    std::fs::copy(wine_exe("msiexec.exe"), &path).expect("copy");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    assert_eq!(
        cache.get(&path).expect("re-read").as_deref(),
        Some("msiexec.exe")
    );
    assert!(cache.get(&dir.path().join("gone.exe")).is_err());
}
