//! [`LinuxCollector`]: the [`Collector`] the pipeline runs on Linux.

use crate::config::LinuxCollectorConfig;
use crate::error::Error;
use sensor_core::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use sensor_core::HostIdentity;

use crate::programs::ProgramStatus;

/// The eBPF process collector (`picket.collector = "linux-ebpf"`).
///
/// [`LinuxCollector::new`] only checks the configuration; the programs are loaded and
/// attached by [`LinuxCollector::load`] (explicitly, to learn about failures early and
/// to know when tracing has begun) or else at the start of [`Collector::run`]. Events
/// that happen between `load` and `run` wait in the kernel ring buffer.
#[derive(Debug)]
pub struct LinuxCollector {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    config: LinuxCollectorConfig,
    host: HostIdentity,
    #[cfg(target_os = "linux")]
    loaded: Option<crate::loader::Loaded>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    tracepoint_overrides: Vec<(&'static str, &'static str)>,
}

impl LinuxCollector {
    /// A collector for `config` (`[collector.linux]`). Fails only on a configuration
    /// value the tracer cannot use; on other OSes it succeeds, and `run` then returns
    /// [`CollectorError::Unsupported`].
    pub fn new(config: &LinuxCollectorConfig) -> Result<LinuxCollector, Error> {
        #[cfg(target_os = "linux")]
        crate::loader::validate(config)?;
        Ok(LinuxCollector {
            config: config.clone(),
            host: HostIdentity::this_host(),
            #[cfg(target_os = "linux")]
            loaded: None,
            tracepoint_overrides: Vec::new(),
        })
    }

    /// Test hook: attach `program` to `tracepoint` instead of its own. The kernel tests
    /// name a tracepoint the kernel does not have, to run the collector as it runs on a
    /// kernel without that hook. Not for production use.
    #[doc(hidden)]
    pub fn with_tracepoint(mut self, program: &'static str, tracepoint: &'static str) -> Self {
        self.tracepoint_overrides.push((program, tracepoint));
        self
    }

    /// Each program of the tracer, attached (with the verifier's instruction count) or
    /// missing (why, and what is lost), once loaded; empty before.
    pub fn programs(&self) -> &[ProgramStatus] {
        #[cfg(target_os = "linux")]
        {
            self.loaded.as_ref().map_or(&[], |l| l.programs.as_slice())
        }
        #[cfg(not(target_os = "linux"))]
        {
            &[]
        }
    }

    /// Loads the eBPF programs and attaches them to the scheduler tracepoints. Calling
    /// it again once loaded does nothing.
    ///
    /// Only the exec program is required: when the kernel cannot run the fork or exit
    /// program, loading succeeds without it and [`LinuxCollector::programs`] says what
    /// is missing (the log and, once running, health say so too).
    ///
    /// Errors: [`Error::NotPrivileged`], [`Error::NoBtf`], [`Error::Verifier`] (with the
    /// verifier log), [`Error::Attach`], [`Error::Load`]; [`Error::Unsupported`] off Linux.
    pub fn load(&mut self) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        {
            if self.loaded.is_none() {
                self.loaded = Some(crate::loader::load(
                    &self.config,
                    &self.tracepoint_overrides,
                )?);
            }
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(Error::Unsupported)
        }
    }

    /// True once [`LinuxCollector::load`] succeeded.
    pub fn is_loaded(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.loaded.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// The argv capacity of the loaded object (bytes), once loaded.
    pub fn args_capacity(&self) -> Option<u32> {
        #[cfg(target_os = "linux")]
        {
            self.loaded.as_ref().map(|l| l.args_cap)
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

impl Collector for LinuxCollector {
    fn name(&self) -> &'static str {
        crate::convert::COLLECTOR_NAME
    }

    fn host(&self) -> Option<HostIdentity> {
        Some(self.host.clone())
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            #[cfg(target_os = "linux")]
            {
                let mut me = *self;
                me.load().map_err(CollectorError::from)?;
                let Some(loaded) = me.loaded.take() else {
                    return Err(CollectorError::Failed("the tracer did not load".into()));
                };
                crate::reader::run(loaded, me.host.to_host(), out, shutdown)
                    .await
                    .map_err(CollectorError::from)
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = (self, out, shutdown);
                Err(CollectorError::from(Error::Unsupported))
            }
        })
    }
}
