//! `picket alerts`: flags and wiring for reviewing the alert log
//! (the reading and rendering live in `sensor_core::review`).

use crate::CliResult;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `picket alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Alert log; default: the configured path.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Config file that names the alert log.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print the JSON lines exactly as logged.
    #[arg(long)]
    json: bool,
}

/// Runs `picket alerts`.
pub fn run(args: AlertsArgs) -> CliResult {
    let path = match args.file {
        Some(f) => f,
        None => crate::wiring::load_config(args.config.as_deref())?.alert_log_path(),
    };
    let (alerts, bad) = sensor_core::review::read_alerts(&path)
        .with_context(|| format!("cannot read the alert log {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        for a in &alerts {
            writeln!(out, "{}", a.raw)?;
        }
    } else {
        sensor_core::review::write_table(&mut out, &alerts, terminal_width())?;
        eprintln!("{} alerts in {}", alerts.len(), path.display());
    }
    if bad > 0 {
        eprintln!("warning: {bad} lines in the alert log are not valid alerts");
    }
    Ok(ExitCode::SUCCESS)
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(160)
}
