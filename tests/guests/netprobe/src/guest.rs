//! Entry, the walk over the virtio-mmio transports, the four roles and their output lines (see the crate docs).

use guest_rt::{arch, bootargs, println, rt, timer, Platform};
use pv_drivers::abi::psci;

use crate::config::{Config, Role};
use crate::echo;
use crate::frame::{self, Frame, Mac, MAX_FRAME};
use crate::port::{self, NetError, OpenError, Port, MAX_PORTS};
use crate::stats::{Every, Rtt, Seen};

/// How long a transmission may take before the port is given up.
const SEND_TIMEOUT_MS: u64 = 1_000;
/// `ping`: hello period and how long to look for a peer.
const HELLO_PERIOD_MS: u64 = 10;
const HELLO_FOR_MS: u64 = 5_000;
/// `ping`: how long to wait for each echo, how often to send a frame in all, and how many frames in a row may be
/// lost before giving up.
const ECHO_TIMEOUT_MS: u64 = 1_000;
const TRIES: u32 = 4;
const LOST_IN_A_ROW: u32 = 3;
/// `pong` and `watch`: the reporting period.
const REPORT_MS: u64 = 1_000;
/// `uplink`: QEMU user-mode network's guest and gateway addresses, the ARP retry period and how many requests.
const UPLINK_IP: frame::Ipv4 = [10, 0, 2, 15];
const GATEWAY_IP: frame::Ipv4 = [10, 0, 2, 2];
const ARP_PERIOD_MS: u64 = 500;
const ARP_TRIES: u32 = 10;

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let config = match Config::parse(platform.bootargs) {
        Ok(c) => Some(c),
        Err(e) => {
            println!("netprobe: bad bootargs: {e}; only listing network devices");
            None
        }
    };
    let mut ports: [Option<Port>; MAX_PORTS] = [const { None }; MAX_PORTS];
    let mut count = 0;
    for device in platform.virtio_mmio() {
        let base = device.reg.base;
        let opened = port::transport(device).and_then(|t| match ports.get_mut(count) {
            Some(slot) => Port::new(base, t).map(|p| slot.insert(p)),
            None => Err(OpenError::NoBuffers),
        });
        match opened {
            Ok(port) => {
                count += 1;
                println!("net: virtio-net at {base:#x}, mac {}", port.mac);
                if let Some(c) = &config {
                    println!("netprobe: partition {}, role {}, mac {}", platform.partition_name, c.role, port.mac);
                }
            }
            Err(OpenError::Empty) => {}
            Err(e @ (OpenError::Driver(_) | OpenError::NoBuffers)) => println!("net: virtio-net at {base:#x}: {e}"),
            Err(e) => println!("net: virtio-mmio at {base:#x}: {e}"),
        }
    }
    let ports = &mut ports[..count];
    if ports.is_empty() {
        println!("net: no virtio-net device");
    } else if let Some(config) = config {
        match config.role {
            Role::Ping => ports.iter_mut().flatten().for_each(|p| ping(p, &config)),
            Role::Uplink => ports.iter_mut().flatten().for_each(uplink),
            Role::Pong => pong(ports),
            Role::Watch => watch(ports),
            Role::Flood => flood(ports),
        }
    }
    println!("netprobe: done");
    if bootargs::get(platform.bootargs, "done") == Some("off") {
        let error = psci::system_off();
        panic!("SYSTEM_OFF returned {error}");
    }
    rt::idle()
}

fn now() -> u64 {
    arch::timer::now()
}

fn ticks(ms: u64) -> u64 {
    timer::ticks_for_ms(arch::timer::frequency(), ms)
}

/// Sends `frame`; on failure says so (the first time) and returns false.
fn send(port: &mut Port, frame: &[u8]) -> bool {
    match port.send(frame, ticks(SEND_TIMEOUT_MS)) {
        Ok(()) => true,
        Err(NetError::Broken) => false,
        Err(e) => {
            println!("net: virtio-net at {:#x}: send failed: {e}", port.base);
            false
        }
    }
}

/// The next received frame's length in `buf`, or `None` (also on a failure, said the first time).
fn receive(port: &mut Port, buf: &mut [u8; MAX_FRAME]) -> Option<usize> {
    match port.receive(buf) {
        Ok(len) => len,
        Err(NetError::Broken) => None,
        Err(e) => {
            println!("net: virtio-net at {:#x}: receive failed: {e}", port.base);
            None
        }
    }
}

/// `ping` on one port: find the peer, then send the numbered frames and check their echoes.
fn ping(port: &mut Port, config: &Config) {
    let me = port.mac;
    let peer = match config.peer {
        Some(peer) => {
            println!("netprobe: peer {peer} (from bootargs)");
            peer
        }
        None => match find_peer(port) {
            Some(peer) => {
                println!("netprobe: peer {peer}");
                peer
            }
            None => {
                println!("netprobe: no peer");
                return;
            }
        },
    };
    let (mut echoed, mut mismatches, mut bytes, mut lost_in_a_row) = (0u32, 0u32, 0u64, 0u32);
    let mut rtt = Rtt::default();
    let mut out = [0u8; MAX_FRAME];
    for seq in 0..config.frames {
        if lost_in_a_row == LOST_IN_A_ROW {
            println!("netprobe: ping stops after {LOST_IN_A_ROW} lost frames in a row");
            break;
        }
        let len = echo::build(&mut out, seq, me, peer);
        match echo_one(port, &out[..len], seq, peer) {
            Echo::Back { rtt: ticks, result } => {
                lost_in_a_row = 0;
                echoed += 1;
                match result {
                    Ok(()) => {
                        bytes += len as u64;
                        rtt.add(ticks);
                    }
                    Err(mismatch) => {
                        mismatches += 1;
                        println!("netprobe: ping frame {seq} ({len} bytes) {mismatch}");
                    }
                }
            }
            Echo::Lost => {
                lost_in_a_row += 1;
                println!("netprobe: ping frame {seq} ({len} bytes) lost after {TRIES} tries");
            }
            Echo::PortFailed => break,
        }
    }
    println!("netprobe: ping {echoed}/{} echoed, {mismatches} mismatches, {bytes} bytes", config.frames);
    if let Some((min, mean, max)) = rtt.summary() {
        let hz = arch::timer::frequency();
        println!("netprobe: ping rtt min {min} mean {mean} max {max} ticks ({hz} Hz)");
    }
}

/// Broadcasts hellos until one is answered; the answering MAC.
fn find_peer(port: &mut Port) -> Option<Mac> {
    let me = port.mac;
    let mut hello = [0u8; MAX_FRAME];
    let hello_len = frame::hello(&mut hello, me);
    let mut buf = [0u8; MAX_FRAME];
    let give_up = now().saturating_add(ticks(HELLO_FOR_MS));
    let mut every = Every::new(now(), ticks(HELLO_PERIOD_MS));
    if !send(port, &hello[..hello_len]) {
        return None;
    }
    while now() < give_up {
        let ack = receive(port, &mut buf).and_then(|len| Frame::parse(&buf[..len])).filter(|f| f.is_hello_ack_for(me));
        if let Some(ack) = ack {
            return Some(ack.src);
        }
        if every.due(now()) && !send(port, &hello[..hello_len]) {
            return None;
        }
    }
    None
}

enum Echo {
    /// The echo came back after `rtt` ticks (since the last try was sent), as it should or not.
    Back {
        rtt: u64,
        result: Result<(), echo::Mismatch>,
    },
    Lost,
    PortFailed,
}

/// Sends `frame` (number `seq`) up to [`TRIES`] times until its echo arrives.
fn echo_one(port: &mut Port, frame: &[u8], seq: u32, peer: Mac) -> Echo {
    let mut buf = [0u8; MAX_FRAME];
    for attempt in 1..=TRIES {
        if attempt > 1 {
            println!(
                "netprobe: ping frame {seq} ({} bytes) timed out, resending (try {attempt} of {TRIES})",
                frame.len()
            );
        }
        let sent_at = now();
        if !send(port, frame) {
            return Echo::PortFailed;
        }
        let deadline = sent_at.saturating_add(ticks(ECHO_TIMEOUT_MS));
        while now() < deadline {
            let Some(len) = receive(port, &mut buf) else { continue };
            let received = &buf[..len];
            // Anything else (late echoes of earlier frames, further hello answers, broadcasts, our own frames on a
            // hub) is ignored.
            if echo::seq_of(received, port.mac) == Some(seq) {
                let rtt = now().saturating_sub(sent_at);
                return Echo::Back { rtt, result: echo::check(received, seq, port.mac, peer) };
            }
        }
    }
    Echo::Lost
}

/// `pong`: echoes probe frames addressed to a port and answers hellos, forever.
fn pong(ports: &mut [Option<Port>]) -> ! {
    let (mut answered, mut reported) = (0u64, 0u64);
    let mut greeted = Greeted::default();
    let mut every = Every::new(now(), ticks(REPORT_MS));
    let mut buf = [0u8; MAX_FRAME];
    loop {
        for port in ports.iter_mut().flatten() {
            let Some(len) = receive(port, &mut buf) else { continue };
            let me = port.mac;
            let Some(f) = Frame::parse(&buf[..len]) else { continue };
            if f.is_hello() {
                let from = f.src;
                let mut ack = [0u8; frame::MIN_FRAME];
                let ack_len = frame::hello_ack(&mut ack, me, from);
                if send(port, &ack[..ack_len]) && greeted.first(from) {
                    println!("netprobe: pong hello from {from}, answered");
                }
            } else if f.dst == me && f.is_probe() && !f.is_hello_ack_for(me) {
                frame::turn_around(&mut buf[..len], me);
                if send(port, &buf[..len]) {
                    answered += 1;
                    if answered % 100 == 0 {
                        println!("netprobe: pong answered {answered} frames");
                        reported = answered;
                    }
                }
            }
        }
        if every.due(now()) && answered != reported {
            println!("netprobe: pong answered {answered} frames");
            reported = answered;
        }
    }
}

/// `watch`: counts the frames reaching the ports, forever.
fn watch(ports: &mut [Option<Port>]) -> ! {
    let mut seen = Seen::default();
    let mut every = Every::new(now(), ticks(REPORT_MS));
    let mut buf = [0u8; MAX_FRAME];
    loop {
        for port in ports.iter_mut().flatten() {
            if let Some(f) = receive(port, &mut buf).and_then(|len| Frame::parse(&buf[..len])) {
                seen.count(&f);
            }
        }
        if every.due(now()) {
            println!("netprobe: watch saw {} broadcast, {} unicast", seen.broadcast, seen.unicast);
        }
    }
}

/// `flood`: full-size broadcast frames on every port, back to back, forever; reports the count every second.
fn flood(ports: &mut [Option<Port>]) -> ! {
    let mut frame = [0u8; MAX_FRAME];
    let mut sent = 0u64;
    let mut every = Every::new(now(), ticks(REPORT_MS));
    loop {
        for port in ports.iter_mut().flatten() {
            frame::write_header(&mut frame, Mac::BROADCAST, port.mac, frame::ETHERTYPE_PROBE);
            if send(port, &frame) {
                sent += 1;
            }
        }
        if every.due(now()) {
            println!("netprobe: flood sent {sent} frames");
        }
    }
}

/// `uplink` on one port: ARP for QEMU's user-mode gateway.
fn uplink(port: &mut Port) {
    let me = port.mac;
    let mut request = [0u8; MAX_FRAME];
    let request_len = frame::arp_request(&mut request, me, UPLINK_IP, GATEWAY_IP);
    let mut buf = [0u8; MAX_FRAME];
    for _ in 0..ARP_TRIES {
        if !send(port, &request[..request_len]) {
            return;
        }
        let deadline = now().saturating_add(ticks(ARP_PERIOD_MS));
        while now() < deadline {
            let reply = receive(port, &mut buf)
                .and_then(|len| Frame::parse(&buf[..len]))
                .and_then(|f| frame::arp_reply_from(&f, me, GATEWAY_IP));
            if let Some(from) = reply {
                println!("netprobe: uplink arp reply from {from}");
                return;
            }
        }
    }
    println!("netprobe: uplink no arp reply");
}

/// The hello senders `pong` has reported (a few; later ones are answered without a line).
#[derive(Default)]
struct Greeted {
    macs: [Mac; 8],
    count: usize,
}

impl Greeted {
    /// Whether `mac` is new (and there was room to remember it).
    fn first(&mut self, mac: Mac) -> bool {
        if self.macs[..self.count].contains(&mac) || self.count == self.macs.len() {
            return false;
        }
        self.macs[self.count] = mac;
        self.count += 1;
        true
    }
}
