//! Runs a detector's [`Precheck`] (its stateless rules) on helper threads, a whole
//! enriched batch at a time, while the pipeline's thread runs the detector over earlier
//! batches. Batches come back in the order they were handed over, so the detector still
//! sees every event in order.
//!
//! A helper only borrows the events (an `Arc` the pool keeps a share of), so a helper
//! that panics loses nothing: its batch is checked on the pipeline's thread instead.

use crate::channel::Batch;
use crate::detect::{Precheck, Prechecked};
use crate::event::Event;
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::mpsc;

/// Fewest events in a batch worth handing to a helper: a live collector's single events
/// are checked by the detector itself, at once.
pub(crate) const MIN_BATCH_EVENTS: usize = 8;

/// Batches each helper may hold: one being checked, the rest waiting, so that it never
/// waits for the pipeline's thread to hand it the next.
const BATCHES_PER_HELPER: usize = 4;

struct Job {
    precheck: Arc<dyn Precheck>,
    events: Arc<Vec<Event>>,
}

struct Helper {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    done: mpsc::UnboundedReceiver<Option<Vec<Prechecked>>>,
    thread: Option<JoinHandle<()>>,
}

/// A batch handed over, with what the pipeline keeps of it meanwhile.
struct InFlight {
    helper: usize,
    events: Arc<Vec<Event>>,
    precheck: Arc<dyn Precheck>,
    rest: Batch,
}

/// The pipeline's precheck helpers, started on first use.
pub(crate) struct PrecheckPool {
    size: usize,
    helpers: Vec<Helper>,
    started: bool,
    next: usize,
    in_flight: VecDeque<InFlight>,
}

impl PrecheckPool {
    /// A pool of `helpers` threads; 0 hands nothing over.
    pub(crate) fn new(helpers: usize) -> Self {
        Self {
            size: helpers,
            helpers: Vec::new(),
            started: false,
            next: 0,
            in_flight: VecDeque::new(),
        }
    }

    fn start(&mut self) {
        self.started = true;
        for n in 0..self.size {
            let (jobs, job_rx) = std::sync::mpsc::channel::<Job>();
            let (done_tx, done) = mpsc::unbounded_channel();
            let thread = std::thread::Builder::new()
                .name(format!("picket-precheck-{n}"))
                .spawn(move || {
                    while let Ok(job) = job_rx.recv() {
                        let mut out = Vec::with_capacity(job.events.len());
                        let checked =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                job.precheck.check(&job.events, &mut out)
                            }));
                        // The pool takes the events back whole: let go first.
                        drop(job);
                        if done_tx.send(checked.ok().map(|()| out)).is_err() {
                            break;
                        }
                    }
                });
            match thread {
                Ok(thread) => self.helpers.push(Helper {
                    jobs: Some(jobs),
                    done,
                    thread: Some(thread),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot start a precheck thread; checking on fewer");
                    break;
                }
            }
        }
    }

    /// Whether a batch of `events` events would be handed over.
    pub(crate) fn takes(&self, events: usize) -> bool {
        self.size > 0 && events >= MIN_BATCH_EVENTS
    }

    /// Batches handed over and not yet taken back.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether the helpers hold all the batches they may: take one back first.
    pub(crate) fn full(&self) -> bool {
        self.in_flight.len() >= BATCHES_PER_HELPER * self.size.max(1)
    }

    /// Hands `batch` to the next helper in turn, to be checked with `precheck`.
    pub(crate) fn hand_over(&mut self, precheck: Arc<dyn Precheck>, mut batch: Batch) {
        if !self.started {
            self.start();
        }
        let events = Arc::new(std::mem::take(&mut batch.events));
        let helper = self.next;
        self.next = (self.next + 1) % self.helpers.len().max(1);
        let job = Job {
            precheck: precheck.clone(),
            events: events.clone(),
        };
        let handed = self
            .helpers
            .get(helper)
            .and_then(|h| h.jobs.as_ref())
            .is_some_and(|jobs| jobs.send(job).is_ok());
        // A batch no helper took is checked when it is taken back.
        self.in_flight.push_back(InFlight {
            helper: if handed { helper } else { usize::MAX },
            events,
            precheck,
            rest: batch,
        });
    }

    /// The oldest batch handed over, with one [`Prechecked`] per event, once it is
    /// checked; `None` when nothing is in flight. Cancel-safe: dropped while it waits,
    /// the batch stays in flight.
    pub(crate) async fn take_back(&mut self) -> Option<(Batch, Vec<Prechecked>)> {
        let helper = self.in_flight.front()?.helper;
        let answer = match self.helpers.get_mut(helper) {
            Some(h) => h.done.recv().await,
            None => None,
        };
        let InFlight {
            helper,
            events,
            precheck,
            mut rest,
        } = self.in_flight.pop_front()?;
        let checked = match answer {
            Some(Some(checked)) => checked,
            failed => {
                if failed.is_none() && helper != usize::MAX {
                    // Its thread is gone: no more jobs for it.
                    if let Some(h) = self.helpers.get_mut(helper) {
                        h.jobs = None;
                    }
                }
                if helper != usize::MAX {
                    tracing::error!(
                        "A precheck thread failed a batch; checking it on the pipeline's thread"
                    );
                }
                let mut checked = Vec::with_capacity(events.len());
                precheck.check(&events, &mut checked);
                checked
            }
        };
        // The helper let go of the events before answering (or died doing so).
        rest.events = Arc::try_unwrap(events).unwrap_or_else(|shared| shared.as_ref().clone());
        Some((rest, checked))
    }
}

impl Drop for PrecheckPool {
    fn drop(&mut self) {
        for helper in &mut self.helpers {
            helper.jobs = None;
        }
        for helper in &mut self.helpers {
            if let Some(thread) = helper.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, Rule, Severity, Threat};
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    /// Raises one alert per event and records which thread checked it; a helper panics
    /// on pid 13.
    #[derive(Default)]
    struct ByPid {
        threads: Mutex<BTreeSet<String>>,
    }

    impl Precheck for ByPid {
        fn check(&self, events: &[Event], out: &mut Vec<Prechecked>) {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let helper = name.starts_with("picket-precheck");
            self.threads.lock().expect("lock").insert(name);
            for e in events {
                let pid = e.process.pid.unwrap_or(0);
                assert!(!(helper && pid == 13), "a helper that fails");
                let alert = Alert::for_event(e, Rule::default(), Threat::default(), Severity::Low);
                out.push(Prechecked(vec![alert]));
            }
        }
    }

    fn batch(first: u32, n: u32) -> Batch {
        let events = (first..first + n)
            .map(|pid| {
                let mut e = Event::default();
                e.process.pid = Some(pid);
                e
            })
            .collect();
        Batch {
            events,
            ack: None,
            give_back: None,
        }
    }

    #[tokio::test]
    async fn batches_come_back_in_order_from_every_helper_even_one_that_panics() {
        let check = Arc::new(ByPid::default());
        let precheck: Arc<dyn Precheck> = check.clone();
        let mut pool = PrecheckPool::new(3);
        assert!(!pool.takes(MIN_BATCH_EVENTS - 1) && pool.takes(MIN_BATCH_EVENTS));
        let mut taken = Vec::new();
        for k in 0..12u32 {
            if pool.full() {
                taken.push(pool.take_back().await.expect("in flight"));
            }
            pool.hand_over(precheck.clone(), batch(k * 10, 10));
        }
        while let Some(done) = pool.take_back().await {
            taken.push(done);
        }
        assert_eq!(pool.in_flight(), 0);
        let mut pids = Vec::new();
        for (batch, checked) in &taken {
            assert_eq!(batch.events.len(), checked.len());
            for (event, c) in batch.events.iter().zip(checked) {
                assert_eq!(c.0.len(), 1);
                assert_eq!(c.0[0].process.pid, event.process.pid);
                pids.push(event.process.pid.unwrap_or(0));
            }
        }
        assert_eq!(pids, (0..120).collect::<Vec<_>>());
        let threads = check.threads.lock().expect("lock").clone();
        for n in 0..3 {
            assert!(
                threads.contains(&format!("picket-precheck-{n}")),
                "{threads:?}"
            );
        }
        // The batch with pid 13 failed on its helper and was checked here instead.
        assert!(
            threads.iter().any(|t| !t.starts_with("picket-precheck")),
            "{threads:?}"
        );
    }

    #[test]
    fn no_helpers_take_nothing() {
        let pool = PrecheckPool::new(0);
        assert!(!pool.takes(1_000));
        assert_eq!(pool.in_flight(), 0);
    }
}
