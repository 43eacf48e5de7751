//! The syslog receiver on 127.0.0.1 port 0 against real clients: raw sockets, the
//! `logger` tool from bsdutils (UDP, TCP with LF and with octet counting), native-tls and
//! `openssl s_client` over TLS with certificates made by `openssl req`. Counts are
//! asserted exactly: a stream must not lose or duplicate a message.

mod receiver_support;

use receiver_support::Keep;
use receiver_support::*;
use sensor_logs::receiver::{Framing, ListenerProtocol, Receiver, Stop, Transport};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);
const LOGGER: &str = "/usr/bin/logger";

fn logger(args: &[&str]) {
    assert!(
        std::path::Path::new(LOGGER).exists(),
        "{LOGGER} is missing: run scripts/setup.sh (Debian package bsdutils)"
    );
    run_tool(LOGGER, args);
}

#[test]
fn udp_datagrams_from_a_socket_and_from_logger() {
    let r = Running::start(&config(vec![on_loopback(ListenerProtocol::Udp)]));
    let port = r.port(0).to_string();
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for d in [
        &b"<13>1 - h app - - - one\n"[..],
        b"<13>two\0",
        b"\n",
        b"<13>three",
    ] {
        client.send_to(d, r.addr(0)).expect("send");
    }
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "-d",
        "--rfc3164",
        "-t",
        "t3164",
        "bsd style",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "-d",
        "--rfc5424",
        "-t",
        "t5424",
        "ietf style",
    ]);
    let got = r.collect.wait_for(5, WAIT);
    let texts: Vec<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(
        &texts[..3],
        ["<13>1 - h app - - - one", "<13>two", "<13>three"]
    );
    assert!(
        texts[3].starts_with('<') && texts[3].ends_with("t3164: bsd style"),
        "{}",
        texts[3]
    );
    assert!(
        texts[4].starts_with("<13>1 ") && texts[4].ends_with("ietf style"),
        "{}",
        texts[4]
    );
    assert!(got
        .iter()
        .all(|g| g.transport == Transport::Udp && !g.truncated));
    let health = r.stop();
    assert_eq!(count(&health, "syslog.udp.messages"), 5);
    assert_eq!(count(&health, "syslog.peer.127.0.0.1.messages"), 5);
    assert_eq!(loss(&health, "syslog.udp_queue"), 0);
    assert_eq!(loss(&health, "syslog.udp_kernel"), 0);
    assert_eq!(
        health.counts.get("syslog.tcp.messages"),
        None,
        "no TCP listener"
    );
}

#[test]
fn tcp_octet_counted_and_lf_frames_from_a_socket_and_from_logger() {
    let r = Running::start(&config(vec![on_loopback(ListenerProtocol::Tcp)]));
    let port = r.port(0).to_string();
    let mut s = TcpStream::connect(r.addr(0)).expect("connect");
    let mut stream = octet("<13>1 - h app - - - counted one");
    stream.extend_from_slice(b"<13>lf two\n");
    stream.extend(octet("<13>counted\nwith an LF inside"));
    stream.extend_from_slice(b"<13>lf three\r\n\n");
    // Split mid-frame across writes, with a pause, so frames span reads.
    let (a, b) = stream.split_at(20);
    s.write_all(a).expect("write");
    s.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b).expect("write");
    drop(s);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "-T",
        "--rfc5424",
        "-t",
        "lf",
        "logger lf",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "-T",
        "--octet-count",
        "--rfc3164",
        "-t",
        "oc",
        "logger counted",
    ]);
    let got = r.collect.wait_for(6, WAIT);
    let texts: Vec<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(
        &texts[..4],
        [
            "<13>1 - h app - - - counted one",
            "<13>lf two",
            "<13>counted\nwith an LF inside",
            "<13>lf three"
        ]
    );
    // The two `logger` runs are two connections, read concurrently: their messages have
    // no order between them (CI once saw the second first).
    let loggers = &texts[4..6];
    assert!(
        loggers.iter().any(|t| t.ends_with("logger lf")),
        "{loggers:?}"
    );
    assert!(
        loggers.iter().any(|t| t.ends_with("oc: logger counted")),
        "{loggers:?}"
    );
    let health = r.stop();
    assert_eq!(count(&health, "syslog.tcp.messages"), 6);
    assert_eq!(count(&health, "syslog.tcp.connections"), 3);
    assert_eq!(count(&health, "syslog.peer.127.0.0.1.messages"), 6);
    assert_eq!(
        health.losses.values().sum::<u64>(),
        0,
        "{:?}",
        health.losses
    );
}

#[test]
fn oversized_messages_are_capped_delivered_and_counted() {
    let mut c = config(vec![
        on_loopback(ListenerProtocol::Tcp),
        on_loopback(ListenerProtocol::Udp),
    ]);
    c.max_message_bytes = 480;
    let r = Running::start(&c);
    let long = format!("<13>{}", "x".repeat(1000));
    let mut s = TcpStream::connect(r.addr(0)).expect("connect");
    s.write_all(format!("{long}\n<13>after lf\n").as_bytes())
        .expect("write");
    s.write_all(&octet(&long)).expect("write");
    s.write_all(&octet("<13>after counted")).expect("write");
    drop(s);
    let got = r.collect.wait_for(4, WAIT);
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|u| u.send_to(long.as_bytes(), r.addr(1)))
        .expect("udp");
    let got_all = r.collect.wait_for(5, WAIT);
    let capped = &long[..480];
    assert_eq!((got[0].text.as_str(), got[0].truncated), (capped, true));
    assert_eq!(
        (got[1].text.as_str(), got[1].truncated),
        ("<13>after lf", false)
    );
    assert_eq!((got[2].text.as_str(), got[2].truncated), (capped, true));
    assert_eq!(
        (got[3].text.as_str(), got[3].truncated),
        ("<13>after counted", false)
    );
    assert_eq!(
        (got_all[4].text.as_str(), got_all[4].truncated),
        (capped, true)
    );
    let health = r.stop();
    assert_eq!(count(&health, "syslog.oversized"), 3);
    assert_eq!(health.losses.values().sum::<u64>(), 0, "capping is no loss");
}

#[test]
fn bad_framing_is_counted_and_the_stream_resyncs_on_the_next_lf() {
    let mut strict = on_loopback(ListenerProtocol::Tcp);
    strict.framing = Framing::OctetCounted;
    let r = Running::start(&config(vec![strict, on_loopback(ListenerProtocol::Tcp)]));
    let mut s = TcpStream::connect(r.addr(0)).expect("connect");
    s.write_all(b"<13>no count here\n").expect("write");
    s.write_all(&octet("<13>good")).expect("write");
    drop(s);
    let mut s = TcpStream::connect(r.addr(1)).expect("connect");
    s.write_all(b"99999999 absurd count\n").expect("write");
    s.write_all(b"<13>next line\n").expect("write");
    drop(s);
    let got = r.collect.wait_for(2, WAIT);
    let texts: HashSet<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(texts, HashSet::from(["<13>good", "<13>next line"]));
    let health = r.stop();
    assert_eq!(loss(&health, "syslog.framing"), 2);
    let note = health.notes.get("syslog.framing").expect("a note");
    assert!(note.contains("127.0.0.1") && note.contains("LF"), "{note}");
}

#[test]
fn many_concurrent_connections_each_deliver_every_message() {
    const CLIENTS: usize = 64;
    const EACH: usize = 500;
    let r = Running::start(&config(vec![on_loopback(ListenerProtocol::Tcp)]));
    let addr = r.addr(0);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                barrier.wait();
                let mut out = Vec::new();
                for i in 0..EACH {
                    let m = format!("<13>1 - host app - - - client {c} message {i}");
                    // Half the clients count octets, half end lines.
                    if c % 2 == 0 {
                        out.extend(octet(&m));
                    } else {
                        out.extend_from_slice(m.as_bytes());
                        out.push(b'\n');
                    }
                }
                s.write_all(&out).expect("write");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let got = r.collect.wait_for(CLIENTS * EACH, WAIT);
    let unique: HashSet<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(unique.len(), CLIENTS * EACH, "no duplicates");
    let health = r.stop();
    assert_eq!(
        count(&health, "syslog.tcp.messages"),
        (CLIENTS * EACH) as u64
    );
    assert_eq!(count(&health, "syslog.tcp.connections"), CLIENTS as u64);
    assert_eq!(
        health.losses.values().sum::<u64>(),
        0,
        "{:?}",
        health.losses
    );
}

#[test]
fn a_stalled_half_frame_peer_blocks_no_one_else() {
    let r = Running::start(&config(vec![on_loopback(ListenerProtocol::Tcp)]));
    let mut stalled = TcpStream::connect(r.addr(0)).expect("connect");
    stalled.write_all(b"100 <13>1 half a fr").expect("write");
    let mut lf_stalled = TcpStream::connect(r.addr(0)).expect("connect");
    lf_stalled
        .write_all(b"<13>a line with no end yet")
        .expect("write");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut s = TcpStream::connect(r.addr(0)).expect("connect");
    for i in 0..100 {
        s.write_all(&octet(&format!("<13>other {i}")))
            .expect("write");
    }
    let got = r.collect.wait_for(100, WAIT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(got.iter().all(|g| g.text.starts_with("<13>other")));
    // At shutdown the half frame is counted as lost; the unterminated line delivered.
    let collect = r.collect.clone();
    let health = r.stop();
    assert_eq!(loss(&health, "syslog.incomplete"), 1);
    let got = collect.got();
    assert_eq!(got.len(), 101);
    assert_eq!(got[100].text, "<13>a line with no end yet");
    drop((stalled, lf_stalled));
}

/// A peer that sends half a frame and stalls is closed after `stall_timeout_secs`:
/// counted (`syslog.stalled`, its half frame lost as `syslog.incomplete`) while the
/// receiver runs, and its connection slot serves the next peer.
#[test]
fn a_stalled_half_frame_peer_is_closed_counted_and_its_slot_reused() {
    let mut l = on_loopback(ListenerProtocol::Tcp);
    l.max_connections = 1;
    l.stall_timeout_secs = 1;
    let r = Running::start(&config(vec![l]));
    let mut stalled = TcpStream::connect(r.addr(0)).expect("connect");
    stalled.write_all(b"100 <13>1 half a fr").expect("write");
    stalled.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut buf = [0u8; 1];
    let closed = matches!(stalled.read(&mut buf), Ok(0) | Err(_));
    assert!(closed, "the stalled connection is closed by the receiver");
    let health = r.health.snapshot();
    assert_eq!(count(&health, "syslog.stalled"), 1, "{health:?}");
    assert_eq!(loss(&health, "syslog.incomplete"), 1, "{health:?}");
    let note = health.notes.get("syslog.stalled").expect("note");
    assert!(note.contains("without the rest of a message"), "{note}");
    // The only slot is free again, already when the peer sees the close: a peer that
    // connects at once is served.
    let mut next = TcpStream::connect(r.addr(0)).expect("connect");
    next.write_all(&octet("<13>after the stall"))
        .expect("write");
    r.collect.wait_for(1, WAIT);
    let got = r.collect.got();
    assert_eq!(got[0].text, "<13>after the stall", "{got:?}");
    let health = r.stop();
    assert_eq!(count(&health, "syslog.stalled"), 1, "{health:?}");
}

#[test]
fn connections_over_max_connections_are_refused_and_counted() {
    let mut l = on_loopback(ListenerProtocol::Tcp);
    l.max_connections = 2;
    let r = Running::start(&config(vec![l]));
    let mut open = Vec::new();
    for i in 0..2 {
        let mut s = TcpStream::connect(r.addr(0)).expect("connect");
        s.write_all(format!("<13>held {i}\n").as_bytes())
            .expect("write");
        open.push(s);
    }
    r.collect.wait_for(2, WAIT);
    let mut third = TcpStream::connect(r.addr(0)).expect("the kernel accepts");
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 1];
    let closed = matches!(third.read(&mut buf), Ok(0) | Err(_));
    assert!(closed, "the third connection is closed by the receiver");
    // Closing one makes room again.
    drop(open.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut s = TcpStream::connect(r.addr(0)).expect("connect");
        let _ = s.write_all(b"<13>after room\n");
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
        if r.collect.got().iter().any(|g| g.text == "<13>after room") {
            break;
        }
        assert!(Instant::now() < deadline, "no room after a close");
    }
    let health = r.stop();
    assert!(loss(&health, "syslog.refused") >= 1);
    let note = health.notes.get("syslog.refused").expect("note");
    assert!(note.contains("max_connections"), "{note}");
}

#[test]
fn shutdown_delivers_everything_already_read() {
    const TCP: usize = 5000;
    const UDP: usize = 1000;
    let collect = Arc::new(receiver_support::Collect::default());
    collect.close_gate();
    let r = Running::start_with(
        &config(vec![
            on_loopback(ListenerProtocol::Tcp),
            on_loopback(ListenerProtocol::Udp),
        ]),
        collect.clone(),
    );
    // The consumer is held, so the frames pile up in the receiver's buffer and the
    // kernel's; the connection stays open, so only the shutdown path can deliver them.
    let mut s = TcpStream::connect(r.addr(0)).expect("connect");
    let mut out = Vec::new();
    for i in 0..TCP {
        out.extend(octet(&format!(
            "<13>1 - h app - - - tcp {i:05} {}",
            "p".repeat(60)
        )));
    }
    s.write_all(&out).expect("write");
    let u = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..UDP {
        u.send_to(format!("<13>udp {i}").as_bytes(), r.addr(1))
            .expect("send");
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let stopping = std::thread::spawn({
        let collect = collect.clone();
        move || {
            std::thread::sleep(Duration::from_millis(300));
            collect.open_gate();
        }
    });
    let health = r.stop();
    stopping.join().expect("gate");
    let got = collect.got();
    let tcp: Vec<&str> = got
        .iter()
        .filter(|g| g.transport == Transport::Tcp)
        .map(|g| g.text.as_str())
        .collect();
    assert_eq!(
        tcp.len(),
        TCP,
        "every TCP frame the peer sent before the stop"
    );
    assert!(tcp.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(got.len() - tcp.len(), UDP, "every datagram");
    assert_eq!(count(&health, "syslog.tcp.messages"), TCP as u64);
    assert_eq!(count(&health, "syslog.udp.messages"), UDP as u64);
    assert_eq!(
        health.losses.values().sum::<u64>(),
        0,
        "{:?}",
        health.losses
    );
    drop(s);
}

#[test]
fn messages_are_counted_per_peer_address() {
    let r = Running::start(&config(vec![
        on_loopback(ListenerProtocol::Udp),
        on_loopback(ListenerProtocol::Tcp),
    ]));
    for (ip, n) in [("127.0.0.2", 3), ("127.0.0.3", 5)] {
        let u = UdpSocket::bind((ip, 0)).expect("bind a loopback alias");
        for i in 0..n {
            u.send_to(format!("<13>from {ip} {i}").as_bytes(), r.addr(0))
                .expect("send");
        }
    }
    let mut s = TcpStream::connect(r.addr(1)).expect("connect");
    s.write_all(b"<13>tcp one\n<13>tcp two\n").expect("write");
    drop(s);
    let got = r.collect.wait_for(10, WAIT);
    assert!(got.iter().any(
        |g| g.peer.ip().to_string() == "127.0.0.3" && g.text.starts_with("<13>from 127.0.0.3")
    ));
    let health = r.stop();
    assert_eq!(count(&health, "syslog.peer.127.0.0.2.messages"), 3);
    assert_eq!(count(&health, "syslog.peer.127.0.0.3.messages"), 5);
    assert_eq!(count(&health, "syslog.peer.127.0.0.1.messages"), 2);
    assert_eq!(count(&health, "syslog.udp.messages"), 8);
    assert_eq!(count(&health, "syslog.tcp.messages"), 2);
}

#[test]
fn a_dual_stack_listener_names_ipv4_peers_as_ipv4() {
    let mut tcp = on_loopback(ListenerProtocol::Tcp);
    tcp.address = "[::]:0".into();
    let mut udp = on_loopback(ListenerProtocol::Udp);
    udp.address = "[::]:0".into();
    let r = Running::start(&config(vec![tcp, udp]));
    let (tcp_port, udp_port) = (r.port(0), r.port(1));
    let mut s = TcpStream::connect(("127.0.0.1", tcp_port)).expect("connect v4");
    s.write_all(b"<13>v4 over tcp\n").expect("write");
    drop(s);
    let mut s = TcpStream::connect(("::1", tcp_port)).expect("connect v6");
    s.write_all(b"<13>v6 over tcp\n").expect("write");
    drop(s);
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|u| u.send_to(b"<13>v4 over udp", ("127.0.0.1", udp_port)))
        .expect("udp v4");
    let got = r.collect.wait_for(3, WAIT);
    for g in &got {
        let v4 = g.text.contains("v4");
        assert_eq!(g.peer.is_ipv4(), v4, "{g:?}");
    }
    let health = r.stop();
    assert_eq!(count(&health, "syslog.peer.127.0.0.1.messages"), 2);
    assert_eq!(count(&health, "syslog.peer.::1.messages"), 1);
}

#[test]
fn a_burst_of_200000_tcp_messages_arrives_whole() {
    const N: u64 = 200_000;
    let receiver = Receiver::bind(&config(vec![on_loopback(ListenerProtocol::Tcp)])).expect("bind");
    let addr = receiver.local_addrs()[0];
    let health = sensor_core::Health::new();
    let stop = Stop::new();
    // Counting and checking order in the consumer, without keeping 200,000 strings.
    let seen = Arc::new(AtomicU64::new(0));
    let out_of_order = Arc::new(AtomicU64::new(0));
    let run = {
        let (seen, out_of_order) = (seen.clone(), out_of_order.clone());
        let (health, stop) = (health.clone(), stop.clone());
        std::thread::spawn(move || {
            receiver.run(
                move |m: sensor_logs::Message<'_>| {
                    let expected = seen.fetch_add(1, Ordering::Relaxed);
                    let tail = m.bytes.rsplit(|&b| b == b' ').next().unwrap_or(b"");
                    if tail != expected.to_string().as_bytes() {
                        out_of_order.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                },
                health,
                stop,
            )
        })
    };
    let client = std::thread::spawn(move || {
        let s = TcpStream::connect(addr).expect("connect");
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, s);
        for i in 0..N {
            let m = format!(
                "<134>1 2024-05-01T12:00:00.000Z esxi-01.example.com Hostd 2101 - - [Originator@6876 sub=Vimsvc.ha-eventmgr] Event {i}"
            );
            write!(w, "{} {m}", m.len()).expect("write");
        }
        w.flush().expect("flush");
    });
    client.join().expect("client");
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.load(Ordering::Relaxed) < N && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.trigger();
    run.join().expect("run").expect("ok");
    let snap = health.snapshot();
    assert_eq!(seen.load(Ordering::Relaxed), N);
    assert_eq!(out_of_order.load(Ordering::Relaxed), 0);
    assert_eq!(count(&snap, "syslog.tcp.messages"), N);
    assert_eq!(snap.losses.values().sum::<u64>(), 0, "{:?}", snap.losses);
}

#[test]
fn a_slow_consumer_holds_a_tcp_sender_back_and_nothing_is_lost() {
    const N: usize = 40_000;
    let collect = Arc::new(receiver_support::Collect::default());
    collect.close_gate();
    let r = Running::start_with(
        &config(vec![on_loopback(ListenerProtocol::Tcp)]),
        collect.clone(),
    );
    let addr = r.addr(0);
    let mut stream = Vec::new();
    for i in 0..N {
        stream.extend(octet(&format!(
            "<13>1 - h app - - - {i:06} {}",
            "b".repeat(980)
        )));
    }
    let total = stream.len();
    let written = Arc::new(AtomicU64::new(0));
    let client = {
        let written = written.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            for chunk in stream.chunks(64 * 1024) {
                s.write_all(chunk).expect("write");
                written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let held = written.load(Ordering::Relaxed) as usize;
    assert!(
        held < total,
        "the sender was held back: {held} of {total} bytes written"
    );
    collect.open_gate();
    client.join().expect("client");
    let got = collect.wait_for(N, Duration::from_secs(60));
    assert!(
        got.windows(2).all(|w| w[0].text < w[1].text),
        "in order, once each"
    );
    let health = r.stop();
    assert_eq!(count(&health, "syslog.tcp.messages"), N as u64);
    assert_eq!(
        health.losses.values().sum::<u64>(),
        0,
        "{:?}",
        health.losses
    );
}

#[test]
fn every_udp_datagram_is_delivered_or_counted_as_lost() {
    // Bound but not yet run: nothing reads the socket, so with a tiny kernel buffer the
    // kernel must drop most of a burst, and SO_RXQ_OVFL must report every one of them.
    let mut c = config(vec![on_loopback(ListenerProtocol::Udp)]);
    c.udp_receive_buffer_bytes = 4096;
    let receiver = Receiver::bind(&c).expect("bind");
    let addr = receiver.local_addrs()[0];
    let u = UdpSocket::bind("127.0.0.1:0").expect("bind");
    const BURST: u64 = 2000;
    for i in 0..BURST {
        u.send_to(format!("<13>burst {i}").as_bytes(), addr)
            .expect("send");
    }
    let collect = Arc::new(receiver_support::Collect::default());
    let health = sensor_core::Health::new();
    let stop = Stop::new();
    let run = {
        let (deliver, health, stop) = (Keep(collect.clone()), health.clone(), stop.clone());
        std::thread::spawn(move || receiver.run(deliver, health, stop))
    };
    // Datagrams after the burst, paced so none is dropped, carry the final drop count.
    const TAIL: u64 = 5;
    for i in 0..TAIL {
        std::thread::sleep(Duration::from_millis(50));
        u.send_to(format!("<13>tail {i}").as_bytes(), addr)
            .expect("send");
    }
    let deadline = Instant::now() + WAIT;
    while !collect.got().iter().any(|g| g.text == "<13>tail 4") {
        assert!(Instant::now() < deadline, "the tail did not arrive");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.trigger();
    run.join().expect("run").expect("ok");
    let snap = health.snapshot();
    let delivered = collect.count() as u64;
    let kernel = loss(&snap, "syslog.udp_kernel");
    let queue = loss(&snap, "syslog.udp_queue");
    assert!(kernel > 0, "the kernel dropped some of the burst");
    assert_eq!(
        delivered + kernel + queue,
        BURST + TAIL,
        "delivered {delivered}, kernel {kernel}, queue {queue}"
    );
    assert_eq!(count(&snap, "syslog.udp.messages"), delivered);
}

#[test]
fn a_port_in_use_is_a_start_up_error_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut l = on_loopback(ListenerProtocol::Tcp);
    l.address = addr.clone();
    let err = Receiver::bind(&config(vec![on_loopback(ListenerProtocol::Udp), l]))
        .expect_err("port in use");
    assert!(
        err.contains("inputs.syslog.listeners[1].address") && err.contains(&addr),
        "{err}"
    );
    let taken = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut l = on_loopback(ListenerProtocol::Udp);
    l.address = addr.clone();
    let err = Receiver::bind(&config(vec![l])).expect_err("port in use");
    assert!(err.contains(&addr) && err.contains("udp"), "{err}");
}

#[test]
fn a_consumer_that_goes_away_stops_the_receiver() {
    let receiver = Receiver::bind(&config(vec![on_loopback(ListenerProtocol::Tcp)])).expect("bind");
    let addr = receiver.local_addrs()[0];
    let health = sensor_core::Health::new();
    let run = {
        let health = health.clone();
        std::thread::spawn(move || {
            receiver.run(|_: sensor_logs::Message<'_>| false, health, Stop::new())
        })
    };
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"<13>one\n<13>two\n").expect("write");
    let started = Instant::now();
    while !run.is_finished() {
        assert!(started.elapsed() < Duration::from_secs(5), "still running");
        std::thread::sleep(Duration::from_millis(10));
    }
    run.join().expect("run").expect("ok");
    let snap = health.snapshot();
    assert_eq!(loss(&snap, "syslog.undelivered"), 2);
    assert!(snap.notes.contains_key("syslog.undelivered"));
}

#[cfg(feature = "tls")]
mod tls {
    use super::*;

    #[test]
    fn tls_from_native_tls_and_openssl_s_client() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed(dir.path());
        let r = Running::start(&config(vec![tls_listener(&cert, &key)]));
        let mut tls = tls_client(&cert, r.addr(0));
        tls.write_all(&octet("<13>1 - h app - - - over tls, counted"))
            .expect("write");
        tls.write_all(b"<13>over tls, lf\n").expect("write");
        tls.shutdown().expect("close_notify");
        drop(tls);
        r.collect.wait_for(2, WAIT);
        let mut s_client = std::process::Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &r.addr(0).to_string(),
                "-quiet",
                "-no_ign_eof",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl s_client (run scripts/setup.sh)");
        {
            let mut stdin = s_client.stdin.take().expect("stdin");
            stdin
                .write_all(b"<13>from s_client one\n<13>from s_client two\n")
                .expect("write");
        }
        let got = r.collect.wait_for(4, WAIT);
        let status = s_client.wait().expect("wait s_client");
        assert!(status.success(), "s_client: {status}");
        let texts: Vec<&str> = got.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "<13>1 - h app - - - over tls, counted",
                "<13>over tls, lf",
                "<13>from s_client one",
                "<13>from s_client two"
            ]
        );
        assert!(got.iter().all(|g| g.transport == Transport::Tls));
        let health = r.stop();
        assert_eq!(count(&health, "syslog.tls.messages"), 4);
        assert_eq!(count(&health, "syslog.tls.connections"), 2);
        assert_eq!(loss(&health, "syslog.tls_handshake"), 0);
    }

    #[test]
    fn pkcs1_sec1_and_pkcs8_keys_all_serve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let rsa1 = d.join("rsa-pkcs1.key");
        run_tool(
            "openssl",
            &["genrsa", "-traditional", "-out", path(&rsa1), "2048"],
        );
        let ec1 = d.join("ec-sec1.key");
        run_tool(
            "openssl",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-out",
                path(&ec1),
            ],
        );
        let rsa8 = d.join("rsa-pkcs8.key");
        run_tool(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                path(&rsa8),
            ],
        );
        let ed = d.join("ed25519.key");
        run_tool(
            "openssl",
            &["genpkey", "-algorithm", "ed25519", "-out", path(&ed)],
        );
        for (i, key) in [&rsa1, &ec1, &rsa8, &ed].into_iter().enumerate() {
            let text = std::fs::read_to_string(key).expect("key");
            let cert = d.join(format!("cert{i}.pem"));
            cert_for_key(key, &cert);
            let r = Running::start(&config(vec![tls_listener(&cert, key)]));
            let mut tls = tls_client(&cert, r.addr(0));
            tls.write_all(b"<13>hello\n").expect("write");
            let got = r.collect.wait_for(1, WAIT);
            assert_eq!(
                got[0].text,
                "<13>hello",
                "{}",
                text.lines().next().unwrap_or("")
            );
            r.stop();
        }
        assert!(std::fs::read_to_string(&rsa1)
            .expect("key")
            .starts_with("-----BEGIN RSA PRIVATE KEY"));
        assert!(std::fs::read_to_string(&ec1)
            .expect("key")
            .contains("-----BEGIN EC PRIVATE KEY"));
    }

    #[test]
    fn a_key_that_does_not_fit_is_a_config_error_on_tls_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).expect("dir");
        std::fs::create_dir_all(&b).expect("dir");
        let (cert_a, _) = self_signed(&a);
        let (_, key_b) = self_signed(&b);
        let mut problems = Vec::new();
        config(vec![tls_listener(&cert_a, &key_b)]).validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "inputs.syslog.listeners[0].tls_key");
        assert!(problems[0].1.contains("belong"), "{}", problems[0].1);
        let enc = dir.path().join("enc.key");
        run_tool(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-aes256",
                "-pass",
                "pass:secret",
                "-out",
                path(&enc),
            ],
        );
        let err =
            Receiver::bind(&config(vec![tls_listener(&cert_a, &enc)])).expect_err("encrypted");
        assert!(
            err.contains("tls_key") && err.contains("encrypted"),
            "{err}"
        );
        let err = Receiver::bind(&config(vec![tls_listener(&key_b, &key_b)])).expect_err("no cert");
        assert!(err.contains("listeners[0].tls_cert"), "{err}");
    }

    #[test]
    fn a_failed_handshake_is_counted_and_others_go_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed(dir.path());
        let r = Running::start(&config(vec![tls_listener(&cert, &key)]));
        let mut plain = TcpStream::connect(r.addr(0)).expect("connect");
        plain
            .write_all(b"<13>plain text to a TLS port\n")
            .expect("write");
        plain
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut sink = Vec::new();
        let _ = plain.read_to_end(&mut sink); // the server's alert, then the close
        let mut tls = tls_client(&cert, r.addr(0));
        tls.write_all(b"<13>still served\n").expect("write");
        let got = r.collect.wait_for(1, WAIT);
        assert_eq!(got[0].text, "<13>still served");
        let health = r.stop();
        assert_eq!(loss(&health, "syslog.tls_handshake"), 1);
        let note = health.notes.get("syslog.tls_handshake").expect("note");
        assert!(note.contains("127.0.0.1"), "{note}");
    }
}
