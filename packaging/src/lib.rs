//! # packaging: how Picket gets onto hosts
//!
//! The room with the service files and the package builder: the systemd unit
//! (`systemd/picket.service`), the launchd plist (`macos/`), the Windows service
//! install notes (`windows/`), the default config the binary embeds and installs
//! ([`DEFAULT_TOML`], `config/picket.toml`), the `conf.d` README and the fleet example
//! config (`config/`), and [`deb::build_deb`], which stages those files with the binary
//! and calls `dpkg-deb`.
//!
//! May touch: files under a staging directory and the output directory, and the
//! `dpkg-deb` tool. It installs nothing on the machine it runs on.
#![deny(missing_docs)]

pub mod deb;

/// The default configuration, documented field by field: installed as
/// `/etc/picket/picket.toml` and embedded in the binary, whose config tests prove it
/// equals the code's defaults. It lives here, with the other installed files, because
/// the binary depends on this crate and not the other way round.
pub const DEFAULT_TOML: &str = include_str!("../config/picket.toml");
/// The systemd unit, as installed.
pub const SYSTEMD_UNIT: &str = include_str!("../systemd/picket.service");
/// README placed in `/etc/picket/conf.d/`.
pub const CONF_D_README: &str = include_str!("../deb/conf.d-README");
/// Where the binary goes on Linux.
pub const LINUX_BINARY_PATH: &str = "/usr/bin/picket";
