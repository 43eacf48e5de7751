//! `picket`: the command line. Parses flags and wires the crates together; the logic
//! lives in the libraries (sensor-core, analytics, the OS collectors, packaging).

mod alerts_cmd;
mod wiring;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Picket: a host sensor that watches every process start and raises alerts when the host
/// is used to enumerate network connections (MITRE ATT&CK T1049, DET0320).
#[derive(Debug, Parser)]
#[command(name = "picket", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector for this OS with the full pipeline until SIGINT/SIGTERM.
    Run {
        /// Config file; without it the embedded default is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Send recorded telemetry through the same pipeline; alerts go to stdout as NDJSON.
    Replay {
        /// Input format.
        #[arg(long, short, value_enum, default_value_t = ReplayFormat::Ecs)]
        format: ReplayFormat,
        /// Config file; without it the embedded default is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Write alerts to this JSON-lines file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Input files, read in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Review the alert log: a table, filters, follow, summary, or the exact JSON lines.
    Alerts(alerts_cmd::AlertsArgs),
    /// Validate a config file: prints OK and the config hash, or every error (exit 1).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the version.
    Version,
}

/// Recorded telemetry formats `picket replay` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    /// ECS NDJSON: one ECS process event per line.
    Ecs,
    /// Apple `eslogger` JSON lines.
    Eslogger,
    /// Windows EVTX (Sysmon 1, Security 4688), or its JSON-lines export.
    Evtx,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => wiring::run(config.as_deref()),
        Command::Replay {
            format,
            config,
            output,
            files,
        } => wiring::replay(format, config.as_deref(), output.as_deref(), files),
        Command::Alerts(args) => alerts_cmd::run(args),
        Command::CheckConfig { file } => wiring::check_config(&file),
        Command::Version => {
            println!("picket {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result.context("picket failed") {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps `Result` in scope for the wiring module.
pub type CliResult = Result<ExitCode>;
