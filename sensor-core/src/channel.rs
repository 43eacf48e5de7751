//! The event channel between the collectors and the pipeline: bounded in *events*, but
//! carrying *batches*, so a replay reading a million lines pays one hand-over (and at
//! most one wake-up) per batch instead of per event, while a live collector sending one
//! event at a time still gets the full capacity as buffer.
//!
//! The bound is a semaphore of `capacity` permits: a sender takes one permit per event
//! before queueing its batch and the receiver gives them back as it takes batches off,
//! so at most `capacity` events wait at any moment. When the receiver is dropped the
//! semaphore closes, and every sender waiting for room returns at once.

use crate::collector::Ack;
use crate::event::Event;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use tokio::sync::{mpsc, Semaphore, TryAcquireError};

/// Events handed over together, in order; `ack` is called once all of them are through.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) events: Vec<Event>,
    pub(crate) ack: Option<Ack>,
    /// Where the events go once analysed, to be freed there instead of on the
    /// pipeline's one thread.
    pub(crate) give_back: Option<std::sync::mpsc::Sender<Vec<Event>>>,
}

/// The sending half; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct BatchTx {
    queue: mpsc::UnboundedSender<Batch>,
    room: Arc<Semaphore>,
    capacity: usize,
}

/// The receiving half; dropping it releases every waiting sender.
#[derive(Debug)]
pub(crate) struct BatchRx {
    queue: mpsc::UnboundedReceiver<Batch>,
    room: Arc<Semaphore>,
}

/// A channel holding at most `capacity` events (at least 1).
pub(crate) fn channel(capacity: usize) -> (BatchTx, BatchRx) {
    let capacity = capacity.clamp(1, u32::MAX as usize);
    let (tx, rx) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(capacity));
    (
        BatchTx {
            queue: tx,
            room: room.clone(),
            capacity,
        },
        BatchRx { queue: rx, room },
    )
}

impl BatchTx {
    /// Queues `batch`, waiting for room. False when the receiver is gone (the events
    /// are dropped with the batch: nothing is left to deliver them to).
    pub(crate) async fn send(&self, batch: Batch) -> bool {
        for part in self.split(batch) {
            let n = part.events.len().max(1) as u32;
            match self.room.acquire_many(n).await {
                Ok(permits) => permits.forget(),
                Err(_) => return false,
            }
            if self.queue.send(part).is_err() {
                return false;
            }
        }
        true
    }

    /// [`BatchTx::send`] from a plain thread, blocking it while the channel is full.
    pub(crate) fn blocking_send(&self, batch: Batch) -> bool {
        block_on(self.send(batch))
    }

    /// Queues `batch` only if there is room for all of it now; gives it back if not.
    pub(crate) fn try_send(&self, batch: Batch) -> Result<(), Batch> {
        let n = batch.events.len().max(1);
        if n > self.capacity {
            return Err(batch);
        }
        match self.room.try_acquire_many(n as u32) {
            Ok(permits) => permits.forget(),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => return Err(batch),
        }
        self.queue.send(batch).map_err(|e| e.0)
    }

    /// A batch larger than the whole channel goes in capacity-sized parts, the ack with
    /// the last, so it never waits for more room than exists.
    fn split(&self, mut batch: Batch) -> Vec<Batch> {
        if batch.events.len() <= self.capacity {
            return vec![batch];
        }
        let mut parts = Vec::new();
        while batch.events.len() > self.capacity {
            let rest = batch.events.split_off(self.capacity);
            parts.push(Batch {
                events: std::mem::replace(&mut batch.events, rest),
                ack: None,
                give_back: batch.give_back.clone(),
            });
        }
        parts.push(batch);
        parts
    }
}

impl BatchRx {
    /// The next batch, or `None` once every sender is gone and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<Batch> {
        let batch = self.queue.recv().await?;
        self.room.add_permits(batch.events.len().max(1));
        Some(batch)
    }
}

impl Drop for BatchRx {
    fn drop(&mut self) {
        self.room.close();
    }
}

/// Runs `future` to completion on this (non-async) thread, parking it between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn batch(n: usize) -> Batch {
        Batch {
            events: (0..n).map(|_| Event::exec(Utc::now())).collect(),
            ack: None,
            give_back: None,
        }
    }

    #[tokio::test]
    async fn holds_at_most_capacity_events_and_frees_room_as_batches_are_taken() {
        let (tx, mut rx) = channel(10);
        assert!(tx.try_send(batch(6)).is_ok());
        assert!(tx.try_send(batch(4)).is_ok());
        let refused = tx.try_send(batch(1)).expect_err("the channel is full");
        assert_eq!(refused.events.len(), 1);
        assert_eq!(rx.recv().await.map(|b| b.events.len()), Some(6));
        assert!(tx.try_send(batch(6)).is_ok());
        assert!(tx.try_send(batch(1)).is_err());
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_channel_arrives_whole_in_order_with_its_ack_last() {
        let (tx, mut rx) = channel(4);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut big = batch(10);
        for (i, e) in big.events.iter_mut().enumerate() {
            e.process.pid = Some(i as u32);
        }
        big.ack = Some(Ack::new(move |_| done_tx.send(()).unwrap_or_default()));
        let sender = std::thread::spawn(move || tx.blocking_send(big));
        let mut pids = Vec::new();
        while let Some(b) = rx.recv().await {
            assert!(b.events.len() <= 4);
            pids.extend(b.events.iter().filter_map(|e| e.process.pid));
            if let Some(ack) = b.ack {
                ack.done(false);
            }
        }
        assert!(sender.join().unwrap_or(false));
        assert_eq!(pids, (0..10).collect::<Vec<_>>());
        assert!(
            done_rx.try_recv().is_ok(),
            "the ack came with the last part"
        );
    }

    #[tokio::test]
    async fn a_sender_blocked_on_a_full_channel_returns_when_the_receiver_goes() {
        let (tx, rx) = channel(2);
        assert!(tx.try_send(batch(2)).is_ok());
        let sender = std::thread::spawn(move || tx.blocking_send(batch(1)));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!sender.is_finished(), "it waits for room");
        drop(rx);
        assert!(
            !sender.join().unwrap_or(true),
            "it reports the pipeline gone"
        );
    }
}
