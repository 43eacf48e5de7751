//! [`MacosCollector`]: the live collector `picket run` uses on macOS, and the portable
//! tail driver it uses for `source = "tail"`.

use crate::config::{MacosCollectorConfig, MacosSource};
use crate::error::MacosError;
use crate::lines::LineHandler;
use crate::parser::{EsloggerParser, LIVE_COLLECTOR};
use sensor_core::collector::CollectorFuture;
use sensor_core::tail::{follow, FileTail, TailLine, TailStart, TailStats};
use sensor_core::{Collector, CollectorError, EventSender, Shutdown};
use std::path::PathBuf;
use std::time::Duration;

/// How often a followed file is checked when no file-system event arrives (and how
/// quickly shutdown is noticed).
pub const TAIL_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Endpoint Security events from Apple's `eslogger`, live.
///
/// - `source = "spawn"`: runs `eslogger exec fork exit --format json` (from
///   `eslogger_path`) and supervises it (see [`crate::spawn::supervise`]). Needs root and
///   Full Disk Access for the picket binary; without them `run` fails with an error
///   saying what to grant and where.
/// - `source = "tail"`: follows `tail_path`, a file eslogger writes, from its current
///   end, across rotation and truncation (see [`sensor_core::tail`]).
///
/// On any OS other than macOS, `run` returns [`CollectorError::Unsupported`].
#[derive(Debug)]
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub struct MacosCollector {
    config: MacosCollectorConfig,
    parser: EsloggerParser,
}

impl MacosCollector {
    /// A collector for `[collector.macos]`, filling `user.name` and
    /// `user.effective.name` from this host's user database. Fails on `tail` without a
    /// `tail_path` (the config validation reports it too). Nothing is started until
    /// [`Collector::run`].
    pub fn new(config: &MacosCollectorConfig) -> Result<Self, MacosError> {
        if config.source == MacosSource::Tail && config.tail_path.is_none() {
            return Err(MacosError::NoTailPath);
        }
        // Names of this host's users, through its user database (cached with a TTL).
        let users = sensor_core::users::UserResolver::new();
        let parser = EsloggerParser::live()
            .with_user_names(move |uid| users.user(uid).map(|u| u.name.clone()));
        Ok(Self {
            config: config.clone(),
            parser,
        })
    }

    /// Uses `parser` (for example one built with [`EsloggerParser::with_user_names`])
    /// instead of the default live parser.
    pub fn with_parser(mut self, parser: EsloggerParser) -> Self {
        self.parser = parser;
        self
    }
}

impl Collector for MacosCollector {
    fn name(&self) -> &'static str {
        LIVE_COLLECTOR
    }

    fn host(&self) -> Option<sensor_core::HostIdentity> {
        Some(sensor_core::HostIdentity::this_host())
    }

    #[cfg(target_os = "macos")]
    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let MacosCollector { config, parser } = *self;
            match (config.source, config.tail_path) {
                (MacosSource::Spawn, _) => {
                    if !sensor_core::config::running_as_root() {
                        return Err(MacosError::NotRoot {
                            detail: "Picket is not running as root.".into(),
                        }
                        .into());
                    }
                    let opts = crate::spawn::SpawnOptions::eslogger(&config.eslogger_path);
                    crate::spawn::supervise(opts, parser, out, shutdown).await
                }
                (MacosSource::Tail, Some(path)) => {
                    let stats =
                        tail_eslogger_file(path, TailStart::End, parser, out, shutdown).await?;
                    tracing::info!(
                        bytes = stats.bytes,
                        rotations = stats.rotations,
                        truncations = stats.truncations,
                        "Stopped following eslogger output"
                    );
                    Ok(())
                }
                (MacosSource::Tail, None) => Err(MacosError::NoTailPath.into()),
            }
        })
    }

    #[cfg(not(target_os = "macos"))]
    fn run(self: Box<Self>, _out: EventSender, _shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async {
            Err(CollectorError::Unsupported {
                collector: LIVE_COLLECTOR,
                needs: "macOS 13 (Ventura) or later",
            })
        })
    }
}

/// Follows a file of eslogger JSON lines until `shutdown` (or until the pipeline goes
/// away), sending the parsed events to `out` with backpressure. Lines that do not parse
/// are counted in `malformed_input` (and drift, gaps as the parser reports them).
///
/// Portable: this is the `tail` source of [`MacosCollector`], and runs for real on any
/// OS in tests.
pub async fn tail_eslogger_file(
    path: PathBuf,
    start: TailStart,
    parser: EsloggerParser,
    out: EventSender,
    shutdown: Shutdown,
) -> Result<TailStats, CollectorError> {
    let health = out.health().clone();
    tokio::task::spawn_blocking(move || {
        let mut handler = LineHandler::new(parser, &health, path.display().to_string());
        let mut events = Vec::new();
        let mut on = |line: TailLine<'_>| {
            handler.handle(line.chunk, &mut events);
            // Blocking send: this is a blocking thread, and waiting is the backpressure.
            events.drain(..).all(|ev| out.blocking_send(ev))
        };
        let mut tail = FileTail::new(&path, start);
        follow(
            &mut tail,
            TAIL_POLL_INTERVAL,
            &|| shutdown.is_triggered(),
            &mut on,
        )
        .map_err(|source| {
            CollectorError::from(MacosError::Tail {
                path: path.display().to_string(),
                source,
            })
        })?;
        Ok(tail.stats().clone())
    })
    .await
    .map_err(|e| CollectorError::Failed(format!("eslogger tail task failed: {e}")))?
}
