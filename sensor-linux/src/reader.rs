//! The user-space half: reads the ring buffer on tokio, converts, sends with
//! backpressure, and keeps the kernel's loss counts in the health registry.
//! Connection-table reads are folded per process first ([`crate::enumeration`]): held
//! until their window closes (checked on every poll tick) or their process exits (its
//! exit record hands them on just before the exit event), and all handed on at shutdown.

use crate::convert::{BootOffset, Converter};
use crate::enumeration::{Aggregator, Pending};
use crate::error::Error;
use crate::exe::ExeLookup;
use crate::loader::{Kernel, Loaded};
use crate::record;
use sensor_core::collector::{EventSender, Shutdown};
use sensor_core::event::{Event, Host};
use sensor_core::health::RateLimitedWarn;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How often the ring is read. The kernel side writes without waking the reader until
/// a quarter of the ring is unread (then it wakes it at once), so in a burst the reader
/// takes records in batches every few milliseconds instead of waking for each one:
/// a 20,000-exec storm then costs hundreds of wake-ups, not 60,000. It bounds the
/// added latency of an event to this interval.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Records taken from the ring per wake-up before they are sent on, as one hand-over
/// (one wake-up of the pipeline, not one per event); bounds the batch held in memory
/// while the channel applies backpressure.
const BATCH: usize = 512;

static MALFORMED_WARN: RateLimitedWarn = RateLimitedWarn::new(Duration::from_secs(10));

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec is passed; the clock ids used are always available.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// Samples `CLOCK_REALTIME − CLOCK_BOOTTIME`, taking the tightest of a few readings.
pub(crate) fn boot_offset() -> BootOffset {
    let mut best: Option<(i128, i128)> = None;
    for _ in 0..5 {
        let b1 = clock_ns(libc::CLOCK_BOOTTIME);
        let real = clock_ns(libc::CLOCK_REALTIME);
        let b2 = clock_ns(libc::CLOCK_BOOTTIME);
        let width = b2 - b1;
        let offset = real - (b1 + b2) / 2;
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, offset));
        }
    }
    BootOffset(best.map_or(0, |(_, o)| o))
}

struct Losses {
    kernel: sensor_core::health::Counter,
    seen: u64,
}

impl Losses {
    /// Adds what the kernel counted since the last call to the `kernel_ringbuf` counter.
    fn update(&mut self, kernel: &Kernel, health: &sensor_core::health::Health) {
        let lost = kernel.lost();
        let total = lost.iter().fold(0u64, |a, &n| a.wrapping_add(n));
        if total > self.seen {
            let delta = total - self.seen;
            self.kernel.fetch_add(delta, Ordering::Relaxed);
            self.seen = total;
            health.note(
                "kernel_ringbuf",
                format!(
                    "the kernel dropped {total} records so far (exec {}, fork {}, exit {}, no scratch {}, \
                     connection-table reads {}): the ring buffer was full; raise \
                     collector.linux.ring_buffer_bytes",
                    lost[0], lost[1], lost[2], lost[3], lost[4]
                ),
            );
            tracing::warn!(
                lost = delta,
                total,
                "The eBPF ring buffer was full: records lost in the kernel"
            );
        }
    }
}

/// The user-space state of the connection-table reads: the folding, and the
/// executables' look-ups.
struct Reads {
    folding: Aggregator,
    exes: ExeLookup,
    due: Vec<Pending>,
}

impl Reads {
    /// Converts the reads in `due` into `batch`.
    fn hand_on(&mut self, conv: &Converter, batch: &mut Vec<Event>) {
        for read in self.due.drain(..) {
            batch.push(conv.enumeration(&read));
        }
    }

    /// Hands on the reads whose window has closed.
    fn tick(&mut self, conv: &Converter, batch: &mut Vec<Event>) {
        if self.folding.is_empty() {
            return;
        }
        let now = clock_ns(libc::CLOCK_BOOTTIME);
        self.folding
            .take_due(u64::try_from(now).unwrap_or(0), &mut self.due);
        self.hand_on(conv, batch);
    }
}

/// Takes up to [`BATCH`] records out of the ring. Returns whether the ring is empty.
fn drain(
    ring: &mut aya::maps::RingBuf<aya::maps::MapData>,
    conv: &Converter,
    reads: &mut Reads,
    batch: &mut Vec<Event>,
    malformed: &sensor_core::health::Counter,
) -> bool {
    while batch.len() < BATCH {
        let Some(item) = ring.next() else {
            return true;
        };
        match record::parse(&item) {
            Ok(record::Record::Enum(r)) => {
                let exes = &mut reads.exes;
                if let Some(now) = reads.folding.add(&r, |pid| exes.lookup(pid)) {
                    reads.due.push(now);
                    reads.hand_on(conv, batch);
                }
            }
            Ok(rec) => {
                if let record::Record::Exit(t) = &rec {
                    reads.folding.take_pid(t.pid, &mut reads.due);
                    reads.hand_on(conv, batch);
                }
                batch.push(conv.convert(&rec));
            }
            Err(e) => {
                malformed.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = MALFORMED_WARN.check() {
                    tracing::warn!(error = %e, suppressed, "Skipped a malformed eBPF record");
                }
            }
        }
    }
    false
}

/// The batch vectors the pipeline gave back: their events are freed on this thread,
/// where they were allocated, and the vector is used again.
struct Returned {
    tx: std::sync::mpsc::Sender<Vec<Event>>,
    rx: std::sync::mpsc::Receiver<Vec<Event>>,
}

impl Returned {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        Self { tx, rx }
    }

    /// An empty vector for the next batch: one given back, or a new one.
    fn empty_batch(&self) -> Vec<Event> {
        let mut reuse: Option<Vec<Event>> = None;
        while let Ok(mut back) = self.rx.try_recv() {
            back.clear();
            reuse.get_or_insert(back);
        }
        reuse.unwrap_or_else(|| Vec::with_capacity(BATCH))
    }

    /// Sends what `batch` holds as one hand-over and leaves it empty. False when the
    /// pipeline is gone. (`&mut`: the receiver is `Send` but not `Sync`, and this
    /// future must be `Send`.)
    async fn send(&mut self, out: &EventSender, batch: &mut Vec<Event>) -> bool {
        if batch.is_empty() {
            return true;
        }
        let full = std::mem::replace(batch, self.empty_batch());
        out.send_batch_given_back(full, &self.tx).await
    }
}

/// Reads until `shutdown` fires or the pipeline goes away, then drains what the ring
/// still holds.
pub(crate) async fn run(
    loaded: Loaded,
    host: Host,
    out: EventSender,
    mut shutdown: Shutdown,
) -> Result<(), Error> {
    let mut conv = Converter::new(host, boot_offset());
    let mut reads = Reads {
        folding: Aggregator::new(loaded.enumeration_window_ms),
        exes: ExeLookup::default(),
        due: Vec::new(),
    };
    let health = out.health().clone();
    let mut losses = Losses {
        kernel: health.loss_counter("kernel_ringbuf"),
        seen: 0,
    };
    let malformed = health.loss_counter("kernel_record_malformed");
    let Loaded {
        ring,
        kernel,
        programs,
        ..
    } = loaded;
    // What this kernel could not run stays visible for as long as Picket runs.
    for p in &programs {
        if let Some(note) = p.missing_note() {
            health.note(&format!("ebpf.{}", p.program), note);
        }
    }
    // Sound: the RingBuf owns the map's fd (an OwnedFd inside MapData) and the AsyncFd
    // owns the RingBuf, so the fd stays open and unchanged for the AsyncFd's lifetime.
    // (`register_with_interest`, tokio's new spelling of the same, needs tokio >= 1.54.)
    #[allow(deprecated)]
    let mut fd = AsyncFd::with_interest(ring, Interest::READABLE).map_err(Error::Ring)?;
    // Attached and reading: ready, even before the first event arrives.
    out.mark_running();
    let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut returned = Returned::new();
    let mut batch = returned.empty_batch();
    // The last read stopped at BATCH records with more waiting: read on without a tick.
    let mut more = false;

    'outer: loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            _ = housekeeping.tick() => {
                conv.set_offset(boot_offset());
                losses.update(&kernel, &health);
            }
            _ = poll.tick() => {
                more = !drain(fd.get_mut(), &conv, &mut reads, &mut batch, &malformed);
                reads.tick(&conv, &mut batch);
            }
            _ = std::future::ready(()), if more => {
                more = !drain(fd.get_mut(), &conv, &mut reads, &mut batch, &malformed);
            }
            guard = fd.readable_mut() => {
                let mut guard = guard.map_err(Error::Ring)?;
                if drain(guard.get_inner_mut(), &conv, &mut reads, &mut batch, &malformed) {
                    guard.clear_ready();
                }
            }
        }
        if !returned.send(&out, &mut batch).await {
            break 'outer;
        }
    }
    // Shutdown: what was already in the ring is delivered before returning.
    loop {
        let empty = drain(fd.get_mut(), &conv, &mut reads, &mut batch, &malformed);
        if empty {
            reads.folding.take_all(&mut reads.due);
            reads.hand_on(&conv, &mut batch);
        }
        if !returned.send(&out, &mut batch).await {
            break;
        }
        if empty {
            break;
        }
    }
    losses.update(&kernel, &health);
    drop(fd);
    drop(kernel);
    Ok(())
}
