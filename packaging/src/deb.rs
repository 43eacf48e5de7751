//! Builds `picket_<version>_<arch>.deb` with `dpkg-deb`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    /// A file could not be staged.
    #[error("cannot stage {path}: {source}")]
    Stage {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `dpkg-deb` could not run or failed.
    #[error("dpkg-deb failed: {0} (install it with: apt-get install dpkg)")]
    DpkgDeb(String),
}

/// What goes into the package.
#[derive(Debug, Clone)]
pub struct DebInputs {
    /// The built `picket` binary (release build).
    pub binary: PathBuf,
    /// Package version (`0.1.0`).
    pub version: String,
    /// Debian architecture (`amd64`, `arm64`).
    pub arch: String,
    /// README shipped to `/usr/share/doc/picket/`.
    pub readme: Option<PathBuf>,
    /// dpkg-deb compressor: `xz` for releases; `gzip` or `none` where build time matters.
    pub compression: &'static str,
}

/// One file in the package: path inside the package, mode, contents.
struct Entry {
    path: &'static str,
    mode: u32,
    contents: Contents,
}

enum Contents {
    Text(String),
    Copy(PathBuf),
    Dir,
}

/// The Debian architecture of the machine building (what `dpkg --print-architecture` says).
pub fn host_arch() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
    .to_string()
}

const POSTINST: &str = r#"#!/bin/sh
set -e
# Directories Picket writes: the alert log (0750) and its state (0700).
install -d -m 0750 -o root -g adm /var/log/picket 2>/dev/null || install -d -m 0750 /var/log/picket
install -d -m 0700 /var/lib/picket
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  if [ "$1" = "configure" ]; then
    systemctl enable picket.service || true
    systemctl restart picket.service || true
  fi
fi
exit 0
"#;

const PRERM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
  systemctl disable --now picket.service || true
fi
exit 0
"#;

const POSTRM: &str = r#"#!/bin/sh
set -e
if [ "$1" = "purge" ]; then
  # State goes; the alert log stays for the analysts (remove /var/log/picket by hand).
  rm -rf /var/lib/picket
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
"#;

fn control(inputs: &DebInputs) -> String {
    format!(
        "Package: picket\n\
         Version: {}\n\
         Architecture: {}\n\
         Maintainer: Picket maintainers <security@localhost>\n\
         Section: admin\n\
         Priority: optional\n\
         Depends: libc6\n\
         Description: host sensor for network connection discovery (MITRE T1049)\n \
         Picket watches every process start with eBPF and raises ECS JSON alerts when\n \
         the host is used to enumerate network connections (DET0320 AN0904, and the\n \
         Elastic rule Windows System Network Connections Discovery).\n",
        inputs.version, inputs.arch
    )
}

fn entries(inputs: &DebInputs) -> Vec<Entry> {
    let mut list = vec![
        Entry {
            path: "usr/bin/picket",
            mode: 0o755,
            contents: Contents::Copy(inputs.binary.clone()),
        },
        Entry {
            path: "lib/systemd/system/picket.service",
            mode: 0o644,
            contents: Contents::Text(crate::SYSTEMD_UNIT.into()),
        },
        Entry {
            path: "etc/picket",
            mode: 0o755,
            contents: Contents::Dir,
        },
        Entry {
            path: "etc/picket/picket.toml",
            mode: 0o640,
            contents: Contents::Text(crate::DEFAULT_TOML.into()),
        },
        Entry {
            path: "etc/picket/conf.d",
            mode: 0o755,
            contents: Contents::Dir,
        },
        Entry {
            path: "etc/picket/conf.d/README",
            mode: 0o644,
            contents: Contents::Text(crate::CONF_D_README.into()),
        },
        Entry {
            path: "var/log/picket",
            mode: 0o750,
            contents: Contents::Dir,
        },
        Entry {
            path: "var/lib/picket",
            mode: 0o700,
            contents: Contents::Dir,
        },
        Entry {
            path: "DEBIAN/control",
            mode: 0o644,
            contents: Contents::Text(control(inputs)),
        },
        Entry {
            path: "DEBIAN/conffiles",
            mode: 0o644,
            contents: Contents::Text("/etc/picket/picket.toml\n".into()),
        },
        Entry {
            path: "DEBIAN/postinst",
            mode: 0o755,
            contents: Contents::Text(POSTINST.into()),
        },
        Entry {
            path: "DEBIAN/prerm",
            mode: 0o755,
            contents: Contents::Text(PRERM.into()),
        },
        Entry {
            path: "DEBIAN/postrm",
            mode: 0o755,
            contents: Contents::Text(POSTRM.into()),
        },
    ];
    if let Some(readme) = &inputs.readme {
        list.push(Entry {
            path: "usr/share/doc/picket/README.md",
            mode: 0o644,
            contents: Contents::Copy(readme.clone()),
        });
    }
    list
}

fn stage(root: &Path, entry: &Entry) -> std::io::Result<()> {
    let path = root.join(entry.path);
    match &entry.contents {
        Contents::Dir => fs::create_dir_all(&path)?,
        other => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            match other {
                Contents::Text(t) => fs::write(&path, t)?,
                Contents::Copy(from) => {
                    fs::copy(from, &path)?;
                }
                Contents::Dir => {}
            }
        }
    }
    set_mode(&path, entry.mode)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Stages the package under `work_dir` and builds it into `out_dir`; returns the
/// `.deb` path. Every file is owned by root in the package (`--root-owner-group`).
pub fn build_deb(
    inputs: &DebInputs,
    work_dir: &Path,
    out_dir: &Path,
) -> Result<PathBuf, PackagingError> {
    let root = work_dir.join(format!("picket_{}_{}", inputs.version, inputs.arch));
    if root.exists() {
        fs::remove_dir_all(&root).map_err(|source| PackagingError::Stage {
            path: root.clone(),
            source,
        })?;
    }
    for entry in entries(inputs) {
        stage(&root, &entry).map_err(|source| PackagingError::Stage {
            path: root.join(entry.path),
            source,
        })?;
    }
    fs::create_dir_all(out_dir).map_err(|source| PackagingError::Stage {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let deb = out_dir.join(format!("picket_{}_{}.deb", inputs.version, inputs.arch));
    let output = Command::new("dpkg-deb")
        .arg("--root-owner-group")
        .arg(format!("-Z{}", inputs.compression))
        .arg("--build")
        .arg(&root)
        .arg(&deb)
        .output()
        .map_err(|e| PackagingError::DpkgDeb(e.to_string()))?;
    if !output.status.success() {
        return Err(PackagingError::DpkgDeb(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(deb)
}
