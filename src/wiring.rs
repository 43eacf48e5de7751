//! Wiring: builds concrete collectors, detectors and sinks from the config and hands them
//! to `sensor_core::pipeline::run`. No detection or parsing logic lives here.

use crate::{CliResult, ReplayFormat};
use anyhow::{anyhow, bail, Context, Result};
use sensor_core::collector::{Collector, Shutdown};
use sensor_core::config::Config;
use sensor_core::pipeline::{self, Clock, Control, HostIdentity, PipelineOptions};
use sensor_core::replay::{EcsParser, LineReplay, ReplayStats};
use sensor_core::sink::{AlertSink, JsonlFileSink, StdoutSink};
use sensor_core::{Detector, Health};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Loads the config file, or the embedded default.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Config::load_file(p).map_err(|e| anyhow!("invalid configuration:\n{e}")),
        None => Ok(Config::embedded_default()),
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.general.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.general.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Builds the detector (all analytics plus the Elastic rules) from the config. Rule
/// files that fail to load are reported and skipped; the rest still run.
fn build_detector(config: &Config) -> Result<Box<dyn Detector>> {
    let (files, read_errors) = config.rules.read_files();
    for e in &read_errors {
        tracing::error!(error = %e, "Skipping rule file");
    }
    let sources: Vec<analytics::RuleSource> = files
        .into_iter()
        .map(|f| analytics::RuleSource {
            origin: f.origin,
            text: f.text,
        })
        .collect();
    let (engine, rule_errors) = analytics::Engine::build(&config.analytics, &config.rules, &sources);
    for e in &rule_errors {
        tracing::error!(error = %e, "Skipping rule that does not load");
    }
    Ok(Box::new(engine))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn options(config: &Config, clock: Clock, host: Option<HostIdentity>) -> PipelineOptions {
    PipelineOptions {
        channel_capacity: config.pipeline.channel_capacity,
        alert_queue_capacity: config.pipeline.alert_queue_capacity,
        process_table_capacity: config.pipeline.process_table_capacity,
        seed_process_table: config.pipeline.seed_process_table && clock == Clock::Wall,
        clock,
        host,
        config_hash: config.hash(),
    }
}

/// The live collector for the OS this binary runs on.
fn host_collector(config: &Config) -> Result<Box<dyn Collector>> {
    #[cfg(target_os = "linux")]
    {
        let c = sensor_linux::LinuxCollector::new(&config.collector.linux)
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(target_os = "macos")]
    {
        let c = sensor_macos::MacosCollector::new(&config.collector.macos)
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(windows)]
    {
        let c = sensor_windows::WindowsCollector::new(&config.collector.windows)
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Box::new(c))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = config;
        bail!("no collector for this OS ({})", std::env::consts::OS)
    }
}

fn file_sinks(config: &Config) -> Result<Vec<Box<dyn AlertSink>>> {
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    if config.sinks.file.enabled {
        let path = config.alert_log_path();
        let sink = JsonlFileSink::open(&path, &config.sinks.file)?;
        tracing::info!(path = %path.display(), "Writing alerts");
        sinks.push(Box::new(sink));
    }
    if config.sinks.stdout.enabled {
        sinks.push(Box::new(StdoutSink));
    }
    Ok(sinks)
}

/// Resolves when SIGINT or SIGTERM (Ctrl-C on Windows) arrives.
async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `picket run`.
pub fn run(config_path: Option<&Path>) -> CliResult {
    let config = load_config(config_path)?;
    init_logging(&config);
    let detector = build_detector(&config)?;
    let sinks = file_sinks(&config)?;
    let collector = host_collector(&config)?;
    let host = HostIdentity::this_host(&config.general.host_name);
    let opts = options(&config, Clock::Wall, Some(host));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        collector = collector.name(),
        config_hash = %opts.config_hash,
        config = %config_path.map_or("<embedded default>".into(), |p| p.display().to_string()),
        "Picket starting"
    );
    let health = Health::new();
    let rt = runtime()?;
    let report = rt.block_on(async {
        let (trigger, shutdown) = Shutdown::new();
        let (_control_tx, control_rx) = mpsc::channel::<Control>(4);
        tokio::spawn(async move {
            termination_signal().await;
            tracing::info!("Shutting down: draining events and flushing alerts");
            trigger.trigger();
        });
        pipeline::run(collector, detector, sinks, health.clone(), shutdown, control_rx, opts).await
    });
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

/// `picket replay`.
pub fn replay(
    format: ReplayFormat,
    config_path: Option<&Path>,
    output: Option<&Path>,
    files: Vec<PathBuf>,
) -> CliResult {
    let config = load_config(config_path)?;
    init_logging(&config);
    for f in &files {
        if !f.is_file() {
            bail!("cannot read {}: no such file", f.display());
        }
    }
    let detector = build_detector(&config)?;
    let sink: Box<dyn AlertSink> = match output {
        Some(path) => Box::new(JsonlFileSink::open(path, &config.sinks.file)?),
        None => Box::new(StdoutSink),
    };
    let (collector, stats): (Box<dyn Collector>, Arc<ReplayStats>) = match format {
        ReplayFormat::Ecs => {
            let r = LineReplay::new(files, EcsParser);
            let stats = r.stats();
            (Box::new(r), stats)
        }
        ReplayFormat::Eslogger => {
            let r = LineReplay::new(files, sensor_macos::EsloggerParser::for_replay());
            let stats = r.stats();
            (Box::new(r), stats)
        }
        ReplayFormat::Evtx => sensor_windows::replay::evtx_replay(files),
    };
    let health = Health::new();
    let opts = options(&config, Clock::Event, None);
    let rt = runtime()?;
    let report = rt.block_on(async {
        let (_trigger, shutdown) = Shutdown::new();
        let (_control_tx, control_rx) = mpsc::channel::<Control>(1);
        pipeline::run(collector, detector, vec![sink], health.clone(), shutdown, control_rx, opts).await
    });
    let report = report.map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "replay: {} records read, {} events, {} malformed skipped, {} ignored",
        stats.records_read.load(Ordering::Relaxed),
        stats.events.load(Ordering::Relaxed),
        stats.malformed.load(Ordering::Relaxed),
        stats.ignored.load(Ordering::Relaxed),
    );
    let total: u64 = report.alerts_by_rule.iter().map(|(_, n)| n).sum();
    eprintln!("replay: {total} alerts");
    for (rule, n) in &report.alerts_by_rule {
        eprintln!("  {n:>6}  {rule}");
    }
    for (stage, n) in health.snapshot().losses {
        if n > 0 && stage != "malformed_input" {
            eprintln!("replay: {n} lost at {stage}");
        }
    }
    if let Some(e) = report.collector_error {
        bail!("replay stopped early: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `picket check-config`.
pub fn check_config(file: &Path) -> CliResult {
    let config = match Config::load_file(file) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            eprintln!("{} error(s) in {}", errors.0.len(), file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let (files, mut problems) = config.rules.read_files();
    let mut messages: Vec<String> = problems.drain(..).map(|e| e.to_string()).collect();
    for f in &files {
        if let Err(e) = analytics::validate_rule_text(&f.origin, &f.text) {
            messages.push(e.to_string());
        }
    }
    if !messages.is_empty() {
        for m in &messages {
            println!("{m}");
        }
        eprintln!("{} error(s)", messages.len());
        return Ok(ExitCode::FAILURE);
    }
    println!("OK {}", config.hash());
    Ok(ExitCode::SUCCESS)
}
