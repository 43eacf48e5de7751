//! Spawn mode: run `eslogger exec fork exit --format json`, read its stdout, and keep it
//! running — restart with exponential backoff when it exits, stop with a clear error
//! when Endpoint Security refuses it (no Full Disk Access, not root).
//!
//! The supervisor is portable (tokio::process); [`crate::MacosCollector`] uses it only
//! on macOS. Tests drive it on any Unix with a stand-in program.

use crate::error::{classify_eslogger_failure, EsloggerFailure, MacosError};
use crate::lines::LineHandler;
use crate::parser::{EsloggerParser, NOTE_SEQUENCE};
use sensor_core::lines::{Chunk, LineAssembler, MAX_LINE_BYTES};
use sensor_core::{CollectorError, Event, EventSender, Shutdown};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// Loss counter: eslogger restarts (each one a window in which events went unseen).
pub const LOSS_RESTARTS: &str = "eslogger_restarts";
/// How much of eslogger's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// How to run and supervise eslogger.
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    /// The program (`/usr/bin/eslogger`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// First restart delay.
    pub initial_backoff: Duration,
    /// Longest restart delay.
    pub max_backoff: Duration,
    /// A run that lasted this long resets the delay to `initial_backoff`.
    pub healthy_after: Duration,
}

impl SpawnOptions {
    /// `program exec fork exit --format json`, restarting after 1 s, doubling up to 60 s.
    pub fn eslogger(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: ["exec", "fork", "exit", "--format", "json"]
                .map(String::from)
                .to_vec(),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// How one run of eslogger ended.
enum RunEnd {
    Shutdown,
    PipelineGone,
    Exited { status: String, stderr: String },
}

/// Runs eslogger until `shutdown`, restarting it with backoff whenever it exits.
/// Returns an error (without restarting) when eslogger cannot be started at all or when
/// Endpoint Security refuses it for a reason a restart cannot fix.
pub async fn supervise(
    opts: SpawnOptions,
    parser: EsloggerParser,
    out: EventSender,
    mut shutdown: Shutdown,
) -> Result<(), CollectorError> {
    let health = out.health().clone();
    let restarts = health.loss_counter(LOSS_RESTARTS);
    let mut handler = LineHandler::new(parser, &health, opts.program.display().to_string());
    let mut backoff = opts.initial_backoff;
    let mut restart_no = 0u64;
    loop {
        if shutdown.is_triggered() {
            return Ok(());
        }
        let started = Instant::now();
        let (status, stderr) = match run_once(&opts, &mut handler, &out, &mut shutdown).await? {
            RunEnd::Shutdown | RunEnd::PipelineGone => return Ok(()),
            RunEnd::Exited { status, stderr } => (status, stderr),
        };
        let eslogger = opts.program.display().to_string();
        match classify_eslogger_failure(&stderr) {
            Some(EsloggerFailure::FullDiskAccess) => {
                return Err(MacosError::FullDiskAccess {
                    eslogger,
                    picket: picket_binary(),
                    stderr,
                }
                .into())
            }
            Some(EsloggerFailure::NotRoot) => {
                return Err(MacosError::NotRoot {
                    detail: format!("eslogger said: {stderr}"),
                }
                .into())
            }
            Some(EsloggerFailure::NotEntitled) => {
                return Err(MacosError::NotEntitled { eslogger, stderr }.into())
            }
            Some(EsloggerFailure::TooManyClients) | None => {}
        }
        if started.elapsed() >= opts.healthy_after {
            backoff = opts.initial_backoff;
        }
        restart_no += 1;
        restarts.fetch_add(1, Ordering::Relaxed);
        let msg = format!(
            "eslogger exited ({status}); restart #{restart_no} in {:.1} s; events in between \
             are not seen{}",
            backoff.as_secs_f64(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!("; it said: {stderr}")
            }
        );
        health.note(NOTE_SEQUENCE, msg.clone());
        tracing::warn!(restart = restart_no, status = %status, "{msg}");
        // The new eslogger numbers its messages from the start again.
        handler.parser.reset_sequence();
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = backoff.saturating_mul(2).min(opts.max_backoff);
    }
}

async fn run_once(
    opts: &SpawnOptions,
    handler: &mut LineHandler,
    out: &EventSender,
    shutdown: &mut Shutdown,
) -> Result<RunEnd, CollectorError> {
    let mut cmd = tokio::process::Command::new(&opts.program);
    cmd.args(&opts.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group: a Ctrl-C in Picket's terminal reaches Picket, which then
    // stops eslogger after draining it, instead of both dying at once.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(source)
            if matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Err(MacosError::EsloggerMissing {
                eslogger: opts.program.display().to_string(),
                source,
            }
            .into())
        }
        Err(e) => {
            return Ok(RunEnd::Exited {
                status: format!("could not start: {e}"),
                stderr: String::new(),
            })
        }
    };
    tracing::info!(program = %opts.program.display(), pid = child.id(), "Started eslogger");
    let stderr_task = child.stderr.take().map(|e| tokio::spawn(read_stderr(e)));
    let Some(mut stdout) = child.stdout.take() else {
        return Err(CollectorError::Failed(
            "eslogger stdout was not captured".into(),
        ));
    };
    let mut assembler = LineAssembler::new(MAX_LINE_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    let mut events: Vec<Event> = Vec::new();
    let mut read_error = None;
    loop {
        let read = tokio::select! {
            biased;
            _ = shutdown.wait() => {
                // Stop eslogger, then hand on what it already wrote.
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Ok(RunEnd::Shutdown);
            }
            r = stdout.read(&mut buf) => r,
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        };
        assembler.push(&buf[..n], &mut |chunk: Chunk<'_>, _end| {
            handler.handle(chunk, &mut events);
            true
        });
        if !send_all(out, &mut events).await {
            let _ = child.start_kill();
            return Ok(RunEnd::PipelineGone);
        }
    }
    assembler.flush(&mut |chunk: Chunk<'_>, _end| {
        handler.handle(chunk, &mut events);
        true
    });
    if !send_all(out, &mut events).await {
        return Ok(RunEnd::PipelineGone);
    }
    // Its stdout is closed: it is exiting. Give it a moment to say how, then make sure.
    let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(s)) => s.to_string(),
        Ok(Err(e)) => format!("status unknown: {e}"),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            "closed its output but did not exit; stopped".to_string()
        }
    };
    let status = match read_error {
        Some(e) => format!("{status}; reading its output failed: {e}"),
        None => status,
    };
    let stderr = match stderr_task {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    Ok(RunEnd::Exited { status, stderr })
}

async fn send_all(out: &EventSender, events: &mut Vec<Event>) -> bool {
    for event in events.drain(..) {
        // Backpressure: a full pipeline slows the read, eslogger's pipe fills, and what
        // Endpoint Security then drops shows up as a global_seq_num gap.
        if !out.send(event).await {
            return false;
        }
    }
    true
}

/// Logs eslogger's stderr line by line and returns its last few KB.
async fn read_stderr(stderr: impl AsyncRead + Unpin) -> String {
    let mut lines = BufReader::new(stderr).lines();
    let mut tail = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        tracing::warn!(eslogger_stderr = %line, "eslogger wrote to stderr");
        if !tail.is_empty() {
            tail.push_str(" | ");
        }
        tail.push_str(line);
        if tail.len() > STDERR_TAIL_BYTES {
            let mut cut = tail.len() - STDERR_TAIL_BYTES;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail.drain(..cut);
        }
    }
    tail
}

/// Picket's own executable: what Full Disk Access has to be granted to.
fn picket_binary() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/local/bin/picket".into())
}
