//! `picket alerts`: flags and wiring for reviewing the alert log
//! (the reading, filtering and rendering live in `sensor_core::review`).

use crate::CliResult;
use anyhow::{bail, Context};
use clap::Args;
use sensor_core::review::{self, Filter, FollowStart, LoggedAlert, TableLayout};
use sensor_core::Severity;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Only the last N matching alerts (with --follow: of those already logged; default 10).
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Alerts raised at or after TIME: RFC 3339, "2024-05-01 10:00", "2024-05-01" (UTC),
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
            t.as_deref()
                .map(|s| review::parse_time(s, now))
                .transpose()
                .map_err(anyhow::Error::from)
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
    let (mut alerts, bad) = review::read_matching(&path, &filter)
        .with_context(|| format!("cannot read the alert log {}", path.display()))?;
    if let Some(n) = args.last {
        alerts.drain(..alerts.len().saturating_sub(n));
    }
    let result = if args.json {
        alerts.iter().try_for_each(|a| writeln!(out, "{}", a.raw))
    } else if args.summary {
        review::write_summary(&mut out, &alerts, terminal_width())
    } else {
        review::write_table(&mut out, &alerts, terminal_width())
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
    let start = FollowStart::Last(args.last.unwrap_or(10));
    let layout = TableLayout::fixed(terminal_width());
    if !args.json {
        layout.write_header(out)?;
    }
    let mut emit = |a: &LoggedAlert| -> std::io::Result<()> {
        if args.json {
            writeln!(out, "{}", a.raw)?;
        } else {
            let row = review::table_row(&a.value);
            layout.write_row(out, row.each_ref().map(String::as_str))?;
        }
        out.flush()
    };
    match review::follow(
        path,
        filter,
        start,
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
