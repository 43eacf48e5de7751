//! `picket`: the command line, the room that wires the house together. It parses flags,
//! builds every component from its config section (`config`), reviews the alert log
//! (`alerts`) and answers the service manager it runs under (`service`); detection,
//! collection and output logic lives in the libraries.
//!
//! May touch: every crate, the config and alert files, signals and the service manager.

mod alerts;
mod service;
mod wiring;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

// Log inputs parse on the receiver's threads and the pipeline frees on its own; glibc's
// malloc serialises such cross-thread frees on an arena lock (a quarter of the time
// of a syslog burst went to that lock), mimalloc frees them without one.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opts the process out of transparent huge pages. mimalloc reserves memory in large
/// regions, and where THP is `always` (as on Picket's CI hosts) the first touch of each
/// zeroes a whole 2 MiB page that is mostly never used. A replay with every Elastic and
/// Sigma rule spent a tenth of its samples zeroing such pages; without them its system
/// time halves and its peak RSS is a fifth lower. Failure (a kernel without the flag)
/// only leaves the kernel's policy in place.
#[cfg(target_os = "linux")]
fn decline_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integers only and changes nothing but this
    // process's huge-page policy.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

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
        /// syslog and tacacs: the device the lines are from, for lines that do not name
        /// it (ESXi's own shell.log has no host name in its lines).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// Input files, read in order (cloudtrail and gcp-audit: files or directories).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Review the alert log: a table, filters, follow, summary, or the exact JSON lines.
    Alerts(alerts::AlertsArgs),
    /// Validate a config file and its conf.d: prints OK and the config hash, or every
    /// error with file:line:column (exit 1).
    CheckConfig {
        /// The main config file to check.
        file: PathBuf,
        /// Also print the effective (merged) config.
        #[arg(long)]
        print: bool,
    },
    /// Show the running daemon's health: config in force, last reload error, collector
    /// state, events, losses, alerts.
    Status {
        /// Config file that names the state directory.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// State directory (overrides the config).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Print the status file's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the Windows service (Service Control Manager).
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Print the version.
    Version,
}

/// `picket service` actions.
#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Register the service (automatic start, restart on failure).
    Install {
        /// Config file the service runs with.
        #[arg(long, short, default_value = r"C:\ProgramData\Picket\picket.toml")]
        config: PathBuf,
    },
    /// Remove the service.
    Uninstall,
    /// Start the service.
    Start,
    /// Stop the service.
    Stop,
    /// Run as the service (what the Service Control Manager starts).
    Run {
        /// Config file.
        #[arg(long, short)]
        config: PathBuf,
    },
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
    /// Syslog messages one per line, as rsyslog writes them (RFC 3164 or 5424, with or
    /// without a header): ESXi shell/auth/hostd logs, network-device accounting.
    Syslog,
    /// tac_plus / tac_plus-ng accounting files (tab- or `|!|`-separated).
    Tacacs,
    /// AWS CloudTrail: S3 delivery objects (`{"Records":[…]}`, `.json` or `.json.gz`),
    /// JSON arrays or NDJSON; directories are read recursively, in time order.
    Cloudtrail,
    /// GCP Cloud Audit Logs LogEntry JSON (`gcloud logging read --format=json`, or a log
    /// sink's NDJSON); directories as for cloudtrail.
    GcpAudit,
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    decline_huge_pages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => wiring::run(config.as_deref()),
        Command::Replay {
            format,
            config,
            output,
            host,
            files,
        } => wiring::replay(format, config.as_deref(), output.as_deref(), host, files),
        Command::Alerts(args) => alerts::run(args),
        Command::CheckConfig { file, print } => wiring::check_config(&file, print),
        Command::Status {
            config,
            state_dir,
            json,
        } => wiring::status(config.as_deref(), state_dir.as_deref(), json),
        Command::Service { action } => wiring::service(action),
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
