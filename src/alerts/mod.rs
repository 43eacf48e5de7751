//! `picket alerts`: the analyst's review of the alert log. A table (the time the
//! triggering event happened, host, user, rule, severity, count, command line; with
//! `--evidence` the triggering events under each row), filters, `--follow`,
//! `--summary`, or the exact JSON lines.
//!
//! Presentation lives here, in the binary, not in the libraries: [`read`] reads the log
//! and its rotated files, [`filter`] selects, [`table`] and [`summary`] render,
//! [`follow`] tails through `sensor_core::tail`. May touch: the alert log (read only)
//! and the terminal.

mod fields;
mod filter;
mod follow;
mod read;

pub use read::last_records_by_file;
mod summary;
mod table;

use crate::CliResult;
use anyhow::{bail, Context};
use clap::Args;
use filter::Filter;
use read::LoggedAlert;
use sensor_core::Severity;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use table::{TableLayout, TableView, TimeColumn};

/// Flags of `picket alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Alert log; default: the configured path. Rotated files (`.1`, `.2`, ...) are read
    /// too, oldest first.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Config file that names the alert log.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print the matching JSON lines exactly as logged (byte for byte).
    #[arg(long, conflicts_with = "summary")]
    json: bool,
    /// Totals, alerts by rule and user, alerts per hour, top command lines.
    #[arg(long)]
    summary: bool,
    /// Keep printing new alerts as they are written, across rotations (Ctrl-C stops).
    #[arg(long, conflicts_with = "summary")]
    follow: bool,
    /// Under each row, one line per triggering event: its event.id, its time and, for
    /// replayed telemetry, file:record.
    #[arg(long, conflicts_with_all = ["json", "summary"])]
    evidence: bool,
    /// Show when the alert was raised (@timestamp) in the TIME column instead of when
    /// the triggering event happened (event.created); they differ for replayed
    /// telemetry. --json always has both.
    #[arg(long, conflicts_with_all = ["json", "summary"])]
    alert_time: bool,
    /// Only the last N matching alerts (with --follow: of those already logged; default 10).
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Alerts raised (@timestamp) at or after TIME: RFC 3339, "2024-05-01 10:00", "2024-05-01" (UTC),
    /// or relative: 30m, 2h, 1d, 1w, 1h30m.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Alerts raised at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Rule name containing TEXT, or rule id equal to it (case-insensitive; * and ? glob).
    #[arg(long, value_name = "TEXT")]
    rule: Option<String>,
    /// Analytic (AN0903, AN0904, AN0905; * and ? glob).
    #[arg(long, value_name = "ID")]
    analytic: Option<String>,
    /// Minimum severity: low, medium, high or critical.
    #[arg(long, value_name = "LEVEL")]
    severity: Option<Severity>,
    /// User name or id (case-insensitive; * and ? glob).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Host name (case-insensitive; * and ? glob).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Text anywhere in the alert (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
}

impl AlertsArgs {
    fn filter(&self) -> anyhow::Result<Filter> {
        let now = chrono::Utc::now();
        let time = |t: &Option<String>| -> anyhow::Result<_> {
            t.as_deref().map(|s| filter::parse_time(s, now)).transpose()
        };
        let filter = Filter {
            since: time(&self.since).context("--since")?,
            until: time(&self.until).context("--until")?,
            rule: self.rule.clone(),
            analytic: self.analytic.clone(),
            min_severity: self.severity,
            user: self.user.clone(),
            host: self.host.clone(),
            grep: self.grep.clone(),
        };
        if let (Some(s), Some(u)) = (filter.since, filter.until) {
            if s > u {
                bail!("--since ({s}) is after --until ({u})");
            }
        }
        Ok(filter)
    }

    fn view(&self) -> TableView {
        TableView {
            time: if self.alert_time {
                TimeColumn::Alert
            } else {
                TimeColumn::Event
            },
            evidence: self.evidence,
        }
    }
}

/// Runs `picket alerts`.
pub fn run(args: AlertsArgs) -> CliResult {
    let filter = args.filter()?;
    let path = match &args.file {
        Some(f) => f.clone(),
        None => crate::wiring::load_config(args.config.as_deref())?
            .config
            .alert_log_path(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.follow {
        return follow(&args, &filter, &path, &mut out);
    }
    let (mut alerts, bad) = read::read_matching(&path, &filter)
        .with_context(|| format!("cannot read the alert log {}", path.display()))?;
    if let Some(n) = args.last {
        alerts.drain(..alerts.len().saturating_sub(n));
    }
    let result = if args.json {
        alerts.iter().try_for_each(|a| writeln!(out, "{}", a.raw))
    } else if args.summary {
        summary::write_summary(&mut out, &alerts, terminal_width())
    } else {
        table::write_table(&mut out, &alerts, terminal_width(), args.view())
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => {}
        // `picket alerts | head` closes the pipe: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("cannot write to stdout"),
    }
    if !args.json && !args.summary {
        eprintln!("{} alerts in {}", alerts.len(), path.display());
    }
    if bad > 0 {
        eprintln!("warning: {bad} lines in the alert log are not valid alerts");
    }
    Ok(ExitCode::SUCCESS)
}

fn follow(
    args: &AlertsArgs,
    filter: &Filter,
    path: &std::path::Path,
    out: &mut dyn Write,
) -> CliResult {
    let layout = TableLayout::fixed(terminal_width(), args.view());
    if !args.json {
        layout.write_header(out)?;
    }
    let mut emit = |a: &LoggedAlert| -> std::io::Result<()> {
        if args.json {
            writeln!(out, "{}", a.raw)?;
        } else {
            let row = table::table_row(&a.value, args.view().time);
            layout.write_alert(out, &a.value, &row)?;
        }
        out.flush()
    };
    match follow::follow(
        path,
        filter,
        args.last.unwrap_or(10),
        Duration::from_millis(250),
        &|| false,
        &mut emit,
    ) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).with_context(|| format!("cannot follow {}", path.display())),
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(160)
}
