//! Wiring: builds concrete collectors, detectors and sinks from the config and hands them
//! to `sensor_core::pipeline::run`, with the shutdown the service manager asks for
//! (`crate::service`). No detection or parsing logic lives here.

use crate::service::{self, ServiceManager};
use crate::{CliResult, ReplayFormat};
use anyhow::{anyhow, bail, Context, Result};
use picket::config::{read_rule_files, Config, LoadedConfig};
use sensor_core::collector::{Collector, Shutdown};
use sensor_core::config::layered::default_config_path;
use sensor_core::config::{load_layered, LogFormat};
use sensor_core::pipeline::{self, Clock, Control, PipelineOptions};
use sensor_core::reload::Reloader;
use sensor_core::replay::{EcsParser, LineReplay, ReplayStats};
use sensor_core::sink::AlertSink;
use sensor_core::status::StatusBoard;
use sensor_core::{Detector, Health};
use sinks::{JsonlFileSink, StdoutSink};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Loads the layered config (the file and its `conf.d`); without a path, the standard
/// file if it exists, else the embedded default.
pub fn load_config(path: Option<&Path>) -> Result<LoadedConfig> {
    let main = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let standard = default_config_path();
            if !standard.exists() {
                return LoadedConfig::embedded_default()
                    .map_err(|e| anyhow!("invalid embedded configuration:\n{e}"));
            }
            standard
        }
    };
    load_layered(&main).map_err(|e| anyhow!("invalid configuration:\n{e}"))
}

/// Where daemon logs go: stderr (journald, launchd, a terminal) or a file (the Windows
/// service, which has no console).
enum LogTarget {
    Stderr,
    File(std::fs::File),
}

fn init_logging(config: &Config) {
    init_logging_to(config, LogTarget::Stderr);
}

fn init_logging_to(config: &Config, target: LogTarget) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // The evtx crate logs every chunk it opens at INFO; keep that out of Picket's log.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},evtx=warn", config.general.log_level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = config.general.log_format == LogFormat::Json;
    let _ = match target {
        LogTarget::Stderr => {
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr);
            if json {
                builder.json().try_init()
            } else {
                builder.try_init()
            }
        }
        LogTarget::File(file) => {
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file));
            if json {
                builder.json().try_init()
            } else {
                builder.try_init()
            }
        }
    };
}

/// Builds the detector (all analytics plus the Elastic rules) from the loaded config,
/// with the analytics its validation compiled. Rule files that fail to load are
/// reported and skipped; the rest still run.
fn build_detector(loaded: &LoadedConfig) -> Box<dyn Detector> {
    let config = &loaded.config;
    let (sources, read_errors) = read_rule_files(&config.rules);
    for e in &read_errors {
        tracing::error!(error = %e, "Skipping rule file");
    }
    let analytics = analytics::Analytics::clone(&loaded.built);
    let (engine, rule_errors) =
        analytics::Engine::with_analytics(analytics, &config.rules, &sources);
    for e in &rule_errors {
        if matches!(e.kind, analytics::RuleErrorKind::Refused { .. }) {
            tracing::warn!(error = %e, "Skipping a Sigma rule Picket cannot run");
        } else {
            tracing::error!(error = %e, "Skipping rule that does not load");
        }
    }
    Box::new(engine)
}

/// One thread runs the collector reader, the detector loop and the housekeeping tasks
/// (the sinks have their own thread): at a few thousand events a second that is far from
/// busy, and it measured leaner and cheaper than a worker pool in the exec storm.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn options(config: &Config, clock: Clock) -> PipelineOptions {
    PipelineOptions {
        channel_capacity: config.pipeline.channel_capacity,
        alert_queue_capacity: config.pipeline.alert_queue_capacity,
        process_table_capacity: config.pipeline.process_table_capacity,
        seed_process_table: config.pipeline.seed_process_table
            && config.collector.host
            && clock == Clock::Wall,
        clock,
        host_name: config.general.host_name.clone(),
        config_hash: config.hash(),
        // One thread: the detector checks its rules itself, with no hand-over.
        precheck_threads: match config.pipeline.threads() {
            1 => 0,
            n => n,
        },
    }
}

/// What `picket run` collects from: this OS's host collector (unless `[collector] host
/// = false`) and every enabled log input, bound and ready.
fn collectors(config: &Config) -> Result<Vec<Box<dyn Collector>>> {
    let mut all = Vec::new();
    if config.collector.host {
        all.push(host_collector(config)?);
    }
    // The alert log is where an alert is committed: a file input resumes past the
    // last line it names, even if the crash came before the position was saved.
    let alerted = if (config.inputs.files.enabled || config.inputs.cloudtrail.enabled)
        && config.sinks.file.enabled
    {
        crate::alerts::last_records_by_file(&config.alert_log_path(), 4 << 20)
    } else {
        Default::default()
    };
    all.extend(
        config
            .inputs
            .build(&config.state_dir(), &alerted)
            .map_err(|e| anyhow!("{e}"))?,
    );
    if all.is_empty() {
        bail!("nothing to collect: [collector] host = false and no [inputs] is enabled");
    }
    Ok(all)
}

/// The live collector for the OS this binary runs on.
fn host_collector(config: &Config) -> Result<Box<dyn Collector>> {
    #[cfg(target_os = "linux")]
    {
        let c = config.collector.linux.build().map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(target_os = "macos")]
    {
        let c = config.collector.macos.build().map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(windows)]
    {
        let c = config
            .collector
            .windows
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = config;
        bail!("no collector for this OS ({})", std::env::consts::OS)
    }
}

/// `picket run`: in a terminal, or under systemd or launchd.
pub fn run(config_path: Option<&Path>) -> CliResult {
    let loaded = load_config(config_path)?;
    init_logging(&loaded.config);
    run_until(loaded, service::for_picket_run())
}

/// `picket service ...`: the Windows service (install, uninstall, start, stop, and `run`,
/// which the Service Control Manager starts).
pub fn service(action: crate::ServiceAction) -> CliResult {
    use crate::ServiceAction;
    use service::windows;
    match action {
        ServiceAction::Install { config } => {
            windows::install(&windows::InstallOptions::for_current_exe(&config)?)?
        }
        ServiceAction::Uninstall => windows::uninstall()?,
        ServiceAction::Start => windows::start()?,
        ServiceAction::Stop => windows::stop()?,
        ServiceAction::Run { config } => {
            let loaded = load_config(Some(&config))?;
            let log = windows::open_log_file()?;
            init_logging_to(&loaded.config, LogTarget::File(log));
            windows::run_as_service(Box::new(move |scm| {
                run_until(loaded, scm)
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            }))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the live pipeline until `manager` asks it to stop, keeping the manager told.
fn run_until(loaded: LoadedConfig, manager: Arc<dyn ServiceManager>) -> CliResult {
    let config = loaded.config.clone();
    let detector = build_detector(&loaded);
    let sinks = config.sinks.build()?;
    let collectors = collectors(&config)?;
    let collector_names = collectors
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ");
    let opts = options(&config, Clock::Wall);
    let sources: Vec<&str> = loaded.sources.iter().map(|s| s.path.as_str()).collect();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        collectors = %collector_names,
        config_hash = %loaded.hash,
        config = %if sources.is_empty() { "<embedded default>".to_string() } else { sources.join(", ") },
        "Picket starting"
    );
    let health = Health::new();
    let board = StatusBoard::new(health.clone(), &collector_names, &loaded);
    let state_dir = config.state_dir();
    let rt = runtime()?;
    let report = rt.block_on(async {
        let (trigger, shutdown) = Shutdown::new();
        let (control_tx, control_rx) = mpsc::channel::<Control>(4);
        let stop_requested = manager.stop_requested();
        tokio::spawn(async move {
            stop_requested.await;
            tracing::info!("Shutting down: draining events and flushing alerts");
            trigger.trigger();
        });
        if let Some(main) = loaded.sources.first().map(|s| PathBuf::from(&s.path)) {
            let reloader = Reloader {
                main,
                current: loaded.clone(),
                board: board.clone(),
                state_dir: state_dir.clone(),
                controls: control_tx,
                build_detector: Box::new(build_detector),
                build_sinks: Box::new(|c: &Config| c.sinks.build()),
            };
            tokio::spawn(reloader.run(shutdown.clone()));
        }
        tokio::spawn(service::keep_informed(
            manager,
            health.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(keep_status_fresh(
            board.clone(),
            state_dir.clone(),
            shutdown.clone(),
        ));
        pipeline::run(
            collectors,
            detector,
            sinks,
            health.clone(),
            shutdown,
            control_rx,
            opts,
        )
        .await
    });
    if let Err(e) = board.write(&state_dir) {
        tracing::warn!(error = %e, "Cannot write the status file");
    }
    let report = report.map_err(|e| anyhow!("{e}"))?;
    let snap = health.snapshot();
    tracing::info!(
        events = report.events,
        alerts_written = snap.alerts_written,
        losses = health.total_losses(),
        "Picket stopped"
    );
    if let Some(e) = report.collector_error {
        bail!("collector failed: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Rewrites the status file every few seconds until shutdown (`picket status` reads it).
async fn keep_status_fresh(board: Arc<StatusBoard>, state_dir: PathBuf, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = board.write(&state_dir) {
            tracing::warn!(error = %e, dir = %state_dir.display(), "Cannot write the status file");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// `picket status`.
pub fn status(config_path: Option<&Path>, state_dir: Option<&Path>, json: bool) -> CliResult {
    let dir = match state_dir {
        Some(d) => d.to_path_buf(),
        None => load_config(config_path)?.config.state_dir(),
    };
    let status = sensor_core::status::read_status(&dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "picket {} (pid {}), up {}s, status written {}",
        status.version, status.pid, status.uptime_secs, status.updated_at
    );
    println!(
        "collector: {} ({})",
        status.collector.name, status.collector.state
    );
    println!(
        "config: {} loaded {}",
        status.config.hash, status.config.loaded_at
    );
    if status.config.sources.is_empty() {
        println!("  <embedded default>");
    }
    for s in &status.config.sources {
        println!("  {}", s.path);
    }
    match &status.last_reload_error {
        Some(e) => {
            println!("last reload error ({}): keeping the config above", e.at);
            for line in &e.errors {
                println!("  {line}");
            }
        }
        None => println!("last reload error: none"),
    }
    println!(
        "events seen: {}, alerts raised: {}, written: {}, folded: {}",
        status.counters.events_seen,
        status.counters.alerts_raised,
        status.counters.alerts_written,
        status.counters.alerts_folded
    );
    println!("losses:");
    for (stage, n) in &status.counters.losses {
        println!("  {stage}: {n}");
    }
    if !status.counters.counts.is_empty() {
        println!("counts:");
        for (name, n) in &status.counters.counts {
            println!("  {name}: {n}");
        }
    }
    for (topic, note) in &status.counters.notes {
        println!("note {topic}: {note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The most events a replay keeps between its reader and the analytics.
const REPLAY_CHANNEL_EVENTS: usize = 1024;

/// `picket replay`.
pub fn replay(
    format: ReplayFormat,
    config_path: Option<&Path>,
    output: Option<&Path>,
    host: Option<String>,
    files: Vec<PathBuf>,
) -> CliResult {
    let loaded = load_config(config_path)?;
    let config = &loaded.config;
    init_logging(config);
    if host.is_some() && !matches!(format, ReplayFormat::Syslog | ReplayFormat::Tacacs) {
        bail!("--host applies to --format syslog and --format tacacs only");
    }
    let dirs_allowed = matches!(format, ReplayFormat::Cloudtrail | ReplayFormat::GcpAudit);
    for f in &files {
        if f.is_file() || dirs_allowed && f.is_dir() {
            continue;
        }
        let why = if !f.exists() {
            "no such file"
        } else if f.is_dir() {
            "a directory (only --format cloudtrail and gcp-audit read directories)"
        } else {
            "not a regular file (replay reads files, not pipes or devices)"
        };
        bail!("cannot read {}: {why}", f.display());
    }
    let detector = build_detector(&loaded);
    let max_record = config.pipeline.max_record_bytes;
    let sink: Box<dyn AlertSink> = match output {
        Some(path) => Box::new(JsonlFileSink::open(path, &config.sinks.file)?),
        None => Box::new(StdoutSink),
    };
    let (collector, stats): (Box<dyn Collector>, Arc<ReplayStats>) = match format {
        ReplayFormat::Ecs => {
            let r = LineReplay::new(files, EcsParser)
                .with_max_record_bytes(max_record)
                .with_threads(config.pipeline.replay_threads)
                .with_batch_events(config.pipeline.replay_batch_events);
            let stats = r.stats();
            (Box::new(r), stats)
        }
        ReplayFormat::Eslogger => {
            let r = LineReplay::new(files, sensor_macos::EsloggerParser::for_replay())
                .with_max_record_bytes(max_record)
                .with_batch_events(config.pipeline.replay_batch_events);
            let stats = r.stats();
            (Box::new(r), stats)
        }
        ReplayFormat::Evtx => {
            sensor_windows::replay::evtx_replay(files, config.pipeline.replay_threads)
        }
        ReplayFormat::Syslog | ReplayFormat::Tacacs => {
            let format = match format {
                ReplayFormat::Tacacs => sensor_logs::LineFormat::Tacacs,
                _ => sensor_logs::LineFormat::Syslog,
            };
            let r = LineReplay::new(files, sensor_logs::LogLineParser::new(format, host))
                .with_max_record_bytes(max_record)
                .with_threads(config.pipeline.replay_threads)
                .with_batch_events(config.pipeline.replay_batch_events);
            let stats = r.stats();
            (Box::new(r), stats)
        }
        ReplayFormat::Cloudtrail | ReplayFormat::GcpAudit => {
            let r = if format == ReplayFormat::Cloudtrail {
                sensor_logs::CloudReplay::cloudtrail(files)
            } else {
                sensor_logs::CloudReplay::gcp_audit(files)
            }
            .with_max_record_bytes(max_record)
            .with_threads(config.pipeline.replay_threads)
            .with_batch_events(config.pipeline.replay_batch_events);
            let stats = r.stats();
            (Box::new(r), stats)
        }
    };
    let health = Health::new();
    let mut opts = options(config, Clock::Event);
    // A replay's reader waits for the analytics whatever the buffer, so more than a few
    // batches in flight only costs memory (a live collector needs the buffer for bursts).
    opts.channel_capacity = opts.channel_capacity.min(REPLAY_CHANNEL_EVENTS);
    let rt = runtime()?;
    let report = rt.block_on(async {
        let (_trigger, shutdown) = Shutdown::new();
        let (_control_tx, control_rx) = mpsc::channel::<Control>(1);
        pipeline::run(
            vec![collector],
            detector,
            vec![sink],
            health.clone(),
            shutdown,
            control_rx,
            opts,
        )
        .await
    });
    let report = report.map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "replay: {} records read, {} events, {} malformed skipped, {} oversized skipped, {} ignored",
        stats.records_read.load(Ordering::Relaxed),
        stats.events.load(Ordering::Relaxed),
        stats.malformed.load(Ordering::Relaxed),
        stats.oversized.load(Ordering::Relaxed),
        stats.ignored.load(Ordering::Relaxed),
    );
    let total: u64 = report.alerts_by_rule.iter().map(|(_, n)| n).sum();
    eprintln!("replay: {total} alerts");
    for (rule, n) in &report.alerts_by_rule {
        eprintln!("  {n:>6}  {rule}");
    }
    for (stage, n) in health.snapshot().losses {
        if n > 0 && stage != "malformed_input" && stage != "oversized_input" {
            eprintln!("replay: {n} lost at {stage}");
        }
    }
    if let Some(e) = report.collector_error {
        bail!("replay stopped early: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `check-config`'s list of the rules that loaded and those refused, with a count.
fn print_rule_listing(rules: &[analytics::ElasticRule], refused: &[analytics::RuleError]) {
    for r in rules {
        println!(
            "loaded {} {} {:?} ({})",
            r.format.ruleset(),
            r.rule_id,
            r.name,
            r.origin
        );
    }
    for e in refused {
        println!("refused {e}");
    }
    let sigma = rules
        .iter()
        .filter(|r| r.format == analytics::RuleFormat::Sigma)
        .count();
    println!(
        "rules: {} loaded ({} elastic, {sigma} sigma), {} refused",
        rules.len(),
        rules.len() - sigma,
        refused.len()
    );
}

/// `picket check-config`: the whole layered set (the file and its `conf.d`).
pub fn check_config(file: &Path, print: bool) -> CliResult {
    let loaded = match load_layered::<Config>(file) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            eprintln!("{} error(s)", errors.0.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    let rules_config = &loaded.config.rules;
    let (files, problems) = read_rule_files(rules_config);
    let mut messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let (rules, rule_errors) = analytics::load_rules_with(
        rules_config.builtin,
        &files,
        &rules_config.sigma.placeholders,
    );
    // A Sigma rule Picket cannot run (an aggregation, a log source without events) is
    // listed as refused, not an error: rule collections hold such rules.
    let (refused, broken): (Vec<_>, Vec<_>) = rule_errors
        .into_iter()
        .partition(|e| matches!(e.kind, analytics::RuleErrorKind::Refused { .. }));
    messages.extend(broken.iter().map(ToString::to_string));
    if !rules_config.paths.is_empty() {
        print_rule_listing(&rules, &refused);
    }
    if !messages.is_empty() {
        for m in &messages {
            println!("{m}");
        }
        eprintln!("{} error(s)", messages.len());
        return Ok(ExitCode::FAILURE);
    }
    if print {
        println!("# Effective configuration, merged from:");
        for s in &loaded.sources {
            println!("#   {}", s.path);
        }
        println!("{}", loaded.config.to_toml());
    }
    println!("OK {}", loaded.hash);
    Ok(ExitCode::SUCCESS)
}
