//! The syslog receiver's stream framing (RFC 6587 octet counting, LF, and `auto`),
//! exactly as a TCP or TLS connection feeds it: the bytes arrive in reads of varying
//! size, every complete frame is handed out, then the stream ends. Each message then
//! goes through the `[inputs.syslog]` collector's `to_event` (the device parsers).
//! The first three bytes pick the mode, the cap and the read size.
//!
//! Invariants (the framing module's docs): a message is never empty, never longer than
//! the cap, never ends in CR, LF or NUL, and an LF-framed message holds no LF; the
//! buffer never holds more than one partial frame (the cap plus a count).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_core::health::Health;
use sensor_logs::lines::LineCounters;
use sensor_logs::receiver::fuzzing::{datagram, Framed, Framer};
use sensor_logs::receiver::{Framing, Message, Transport};
use sensor_logs::syslog_input::to_event;
use std::io::Read;

/// Hands out the input in reads of `step` bytes (varied a little), as a socket would.
struct Chunks<'a> {
    data: &'a [u8],
    step: usize,
    n: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.n += 1;
        let want = (self.step + self.n % 3).min(buf.len()).min(self.data.len());
        buf[..want].copy_from_slice(&self.data[..want]);
        self.data = &self.data[want..];
        Ok(want)
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let mode = match data[0] % 3 {
        0 => Framing::Auto,
        1 => Framing::OctetCounted,
        _ => Framing::Lf,
    };
    let max = 1 + usize::from(data[1]) * 8;
    let step = 1 + usize::from(data[2]);
    let body = &data[3..];

    let health = Health::new();
    let counters = LineCounters::new(&health, "syslog");
    let peer = "192.0.2.7:514".parse().expect("address");
    let local = "0.0.0.0:6514".parse().expect("address");
    let mut check = |f: Framed<'_>| -> bool {
        if let Framed::Message { bytes, truncated } = f {
            assert!(!bytes.is_empty(), "empty message");
            assert!(
                bytes.len() <= max,
                "message of {} over the cap {max}",
                bytes.len()
            );
            assert!(
                !matches!(bytes.last(), Some(b'\r' | b'\n' | 0)),
                "message ends in a frame terminator"
            );
            if mode == Framing::Lf {
                assert!(!bytes.contains(&b'\n'), "LF frame holds an LF");
            }
            let msg = Message {
                bytes,
                peer,
                transport: Transport::Tcp,
                listener: 0,
                local,
                truncated,
            };
            if let Some(ev) = to_event(&msg, &counters) {
                let _ = ev.to_json_line();
            }
        }
        true
    };

    let mut framer = Framer::new(mode, max);
    let mut src = Chunks {
        data: body,
        step,
        n: 0,
    };
    loop {
        let n = framer
            .read_from(&mut src)
            .expect("reads from memory do not fail");
        if n == 0 {
            break;
        }
        assert!(framer.frames(&mut check), "the consumer never stops");
        assert!(
            framer.buffered() <= max + 10,
            "{} bytes buffered with a cap of {max}",
            framer.buffered()
        );
    }
    framer.finish(&mut check);

    // The same bytes as one UDP datagram.
    if let Some((msg, _)) = datagram(body, max) {
        assert!(!msg.is_empty() && msg.len() <= max);
    }
});
