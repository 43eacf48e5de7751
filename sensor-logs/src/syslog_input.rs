//! `[inputs.syslog]` as a collector: the receiver's raw messages through the device
//! parsers into events. Each event records both who sent the message (the peer, as
//! `log.source.address`; a relay such as rsyslog is the peer) and the device the
//! message names (`host.name`, `observer.hostname`); a message without a host name is
//! the peer's.

use crate::lines::LineCounters;
use crate::receiver::{Message, Receiver, SyslogInputConfig};
use crate::syslog::ParseContext;
use sensor_core::collector::{Collector, CollectorError, CollectorFuture, EventSender, Shutdown};
use sensor_core::event::{Event, Observer};
use std::net::SocketAddr;

impl SyslogInputConfig {
    /// The receiver, bound: a port in use or a bad TLS key is an error here, at start-up.
    pub fn build(&self) -> Result<SyslogInput, String> {
        Ok(SyslogInput {
            receiver: Receiver::bind(self)?,
        })
    }
}

/// The `[inputs.syslog]` collector.
#[derive(Debug)]
pub struct SyslogInput {
    receiver: Receiver,
}

impl SyslogInput {
    /// The bound address of each listener (the real port where the config said 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.receiver.local_addrs()
    }
}

impl Collector for SyslogInput {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn run(self: Box<Self>, out: EventSender, shutdown: Shutdown) -> CollectorFuture {
        Box::pin(async move {
            let health = out.health().clone();
            let counters = LineCounters::new(&health, "syslog");
            out.mark_running();
            let deliver = move |msg: Message<'_>| -> bool {
                match to_event(&msg, &counters) {
                    Some(event) => out.blocking_send(event),
                    None => true,
                }
            };
            tokio::task::spawn_blocking(move || {
                let receiver = self.receiver;
                receiver.run(deliver, health, shutdown)
            })
            .await
            .map_err(|e| CollectorError::Failed(format!("syslog receiver failed: {e}")))?
            .map_err(CollectorError::Failed)
        })
    }
}

/// One received message as an event, or `None` (counted) when it is not one Picket uses.
pub fn to_event(msg: &Message<'_>, counters: &LineCounters) -> Option<Event> {
    let text = String::from_utf8_lossy(msg.bytes);
    let ctx = ParseContext {
        reference: chrono::Utc::now(),
        default_host: None,
    };
    let place = || format!("{} peer {}", msg.transport, msg.peer);
    let mut event = counters.account(crate::parse::parse_line(&text, &ctx), &place)?;
    let peer_ip = msg.peer.ip().to_string();
    if event.host.name.is_none() {
        event.host.name = Some(peer_ip.clone());
    }
    let observer = event.observer.get_or_insert_with(Observer::default);
    if observer.ip.is_none() {
        observer.ip = Some(peer_ip);
    }
    let log = event.log.get_or_insert_with(Default::default);
    log.other.insert(
        "source".into(),
        serde_json::json!({ "address": msg.peer.to_string() }),
    );
    event.picket.collector = Some("syslog".into());
    Some(event)
}
