//! `picket-package deb --binary target/release/picket --out dist/`: builds the .deb.

use packaging::deb::{build_deb, host_arch, DebInputs};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let usage = "usage: picket-package deb --binary PATH --out DIR [--version V] [--arch A]";
    if args.next().as_deref() != Some("deb") {
        eprintln!("{usage}");
        return ExitCode::FAILURE;
    }
    let mut inputs = DebInputs {
        binary: PathBuf::from("target/release/picket"),
        version: env!("CARGO_PKG_VERSION").into(),
        arch: host_arch(),
        readme: Some(PathBuf::from("README.md")).filter(|p| p.exists()),
        compression: "xz",
    };
    let mut out = PathBuf::from("dist");
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value\n{usage}");
            return ExitCode::FAILURE;
        };
        match flag.as_str() {
            "--binary" => inputs.binary = value.into(),
            "--out" => out = value.into(),
            "--version" => inputs.version = value,
            "--arch" => inputs.arch = value,
            _ => {
                eprintln!("unknown flag {flag}\n{usage}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !inputs.binary.is_file() {
        eprintln!(
            "no binary at {} (build it with: cargo build --release)",
            inputs.binary.display()
        );
        return ExitCode::FAILURE;
    }
    let work = std::env::temp_dir().join(format!("picket-package-{}", std::process::id()));
    let result = build_deb(&inputs, &work, &out);
    let _ = std::fs::remove_dir_all(&work);
    match result {
        Ok(deb) => {
            println!("{}", deb.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
