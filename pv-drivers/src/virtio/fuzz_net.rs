//! Property tests of virtio-net: hostile receive and transmit rings (with the generators of [`super::fuzz`]), and
//! two well-behaved partitions talking through the real [`Switch`] and [`FrameRing`] inboxes.
//!
//! Whatever the guest writes, the device must not panic, must not attempt an access outside guest RAM, must lose
//! no frame it has not counted, and must either finish its queues or report an error (DEVICE_NEEDS_RESET).

use std::boxed::Box;
use std::vec::Vec;

use proptest::prelude::*;

use super::fuzz::{fill, place_rings, rings, slot, FUZZ_RAM};
use super::memory::GuestMemory;
use super::mmio::{features as transport, regs, status, MmioTransport};
use super::net::tests::{bring_up, buffers, frame, post_rx, Net, TestPort, BASE, DATA};
use super::net::{Mac, NetPort, NetStats, VirtioNet, FRAME_MAX, FRAME_MIN, HEADER_LEN, RX_QUEUE, TX_QUEUE};
use super::queue::desc_flags;
use super::test_utils::{GuestQueue, TestMemory};
use crate::net::{FrameRing, Switch, BROADCAST};

/// What the hostile driver does after setting the device up.
#[derive(Clone, Copy, Debug)]
enum Action {
    NotifyRx,
    NotifyTx,
    KickRx,
    KickTx,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::NotifyRx), Just(Action::NotifyTx), Just(Action::KickRx), Just(Action::KickTx)]
}

/// Makes the descriptor table at `desc` (`size` entries) look like a driver's for one direction: each entry's
/// `next` is the entry after it, the last ends its chain, every buffer is device-writable or none is, and buffers
/// lie inside RAM (where the rings and other buffers may still be) with room for a header. Without this almost
/// every random table loops, mixes directions or points outside RAM, and the device rightly stops before any frame
/// moves.
fn tame(mem: &mut TestMemory, desc: u64, size: u16, writable: bool) {
    let n = size.clamp(1, 16);
    let ram = FUZZ_RAM as u64;
    for i in 0..n {
        let at = desc.wrapping_add(16 * u64::from(i));
        let (Ok(addr), Ok(len), Ok(flags)) = (mem.read_u64(at), mem.read_u32(at + 8), mem.read_u16(at + 12)) else {
            continue;
        };
        let room = 2 * FRAME_MAX as u64;
        let offset = addr.wrapping_sub(BASE) % (ram - room);
        let len = HEADER_LEN as u64 + u64::from(len) % (room - HEADER_LEN as u64);
        let next = if i + 1 < n { flags & desc_flags::NEXT } else { 0 };
        let _ = mem.write_u64(at, BASE + offset);
        let _ = mem.write_u32(at + 8, len as u32);
        let _ = mem.write_u16(at + 12, next | if writable { desc_flags::WRITE } else { 0 });
        let _ = mem.write_u16(at + 14, i + 1);
    }
}

/// Sets a queue up at (possibly hostile) ring addresses.
fn setup_queue(t: &mut Net, mem: &mut TestMemory, index: u32, size: u16, (desc, avail, used): (u64, u64, u64)) {
    let mut set = |offset, value| {
        let _ = t.write(offset, 4, value, mem);
    };
    set(regs::QUEUE_SEL, index);
    set(regs::QUEUE_NUM, u32::from(size));
    for (low, addr) in [(regs::QUEUE_DESC_LOW, desc), (regs::QUEUE_DRIVER_LOW, avail), (regs::QUEUE_DEVICE_LOW, used)] {
        set(low, addr as u32);
        set(low + 4, (addr >> 32) as u32);
    }
    set(regs::QUEUE_READY, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Both queues at hostile rings, frames waiting in the port, notifications and kicks in any order: nothing
    /// outside RAM is touched, every frame is delivered, dropped and counted, or still in the port, and a healthy
    /// device has finished whatever it could.
    #[test]
    fn net_survives_hostile_rings(
        slots in proptest::collection::vec(slot(20), 1..64),
        rx_rings in rings(),
        tx_rings in rings(),
        inbox in proptest::collection::vec((0usize..=FRAME_MAX, any::<u8>()), 0..24),
        accept_indirect in any::<bool>(),
        actions in proptest::collection::vec(action(), 1..6),
        tamed in any::<bool>(),
    ) {
        let mut mem = TestMemory::new(BASE, FUZZ_RAM);
        fill(&mut mem, BASE, &slots);
        let rx_addrs = place_rings(&mut mem, &rx_rings);
        let tx_addrs = place_rings(&mut mem, &tx_rings);
        if tamed {
            tame(&mut mem, tx_addrs.0, tx_rings.size, false);
            tame(&mut mem, rx_addrs.0, rx_rings.size, true);
        }
        mem.forget_violations();

        let mut port = TestPort::default();
        port.inbox.extend(inbox.iter().map(|&(len, seed)| frame(len, seed)));
        let mut t = Net::new(VirtioNet::new([0x02, 0, 0, 0, 0, 1], port));
        let offered = t.device_features();
        let accepted = if accept_indirect { offered } else { offered & !transport::VIRTIO_F_INDIRECT_DESC };
        let set = |t: &mut Net, mem: &mut TestMemory, offset, value| t.write(offset, 4, value, mem);
        let _ = set(&mut t, &mut mem, regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 1);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES, (accepted >> 32) as u32);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 0);
        let _ = set(&mut t, &mut mem, regs::DRIVER_FEATURES, accepted as u32);
        let _ = set(&mut t, &mut mem, regs::STATUS, 0xB);
        setup_queue(&mut t, &mut mem, 0, rx_rings.size, rx_addrs);
        setup_queue(&mut t, &mut mem, 1, tx_rings.size, tx_addrs);
        let _ = set(&mut t, &mut mem, regs::STATUS, 0xF);

        let run = |t: &mut Net, mem: &mut TestMemory, action| {
            let mut effects = match action {
                Action::NotifyRx => set(t, mem, regs::QUEUE_NOTIFY, RX_QUEUE as u32),
                Action::NotifyTx => set(t, mem, regs::QUEUE_NOTIFY, TX_QUEUE as u32),
                Action::KickRx => t.kick(RX_QUEUE, mem),
                Action::KickTx => t.kick(TX_QUEUE, mem),
            };
            let mut rounds = 0;
            while effects.more_work {
                rounds += 1;
                prop_assert!(rounds < 100, "no progress");
                effects = t.run_pending(mem);
            }
            Ok(())
        };
        for action in actions {
            run(&mut t, &mut mem, action)?;
        }
        // Drive each queue once more and check it finished, right away: the rings may overlap, so what the other
        // queue writes next (a frame, a used element) may scribble over this one's available ring.
        let healthy = |t: &Net| t.status() & status::DEVICE_NEEDS_RESET == 0;
        run(&mut t, &mut mem, Action::NotifyTx)?;
        let tx = t.queue(TX_QUEUE).unwrap();
        if healthy(&t) && tx.ready() {
            prop_assert_eq!(tx.has_available(&mem), Ok(false));
            prop_assert_eq!(tx.next_used(), tx.next_avail());
        }
        run(&mut t, &mut mem, Action::KickRx)?;
        let rx = t.queue(RX_QUEUE).unwrap();
        if healthy(&t) && rx.ready() && !t.device().port().inbox.is_empty() {
            prop_assert_eq!(rx.has_available(&mem), Ok(false), "frames wait only for want of buffers");
        }

        prop_assert_eq!(mem.violations(), 0);
        prop_assert!(mem.guards_intact());
        prop_assert_eq!(t.last_error().is_some(), !healthy(&t));
        let stats = t.device().stats();
        let port = t.device().port();
        prop_assert_eq!(stats.rx_spurious, 0);
        prop_assert_eq!(
            stats.rx_frames + stats.rx_dropped_too_small + port.inbox.len() as u64,
            inbox.len() as u64,
            "every frame delivered, counted or waiting"
        );
        prop_assert_eq!(port.receives as u64, stats.rx_frames + stats.rx_dropped_too_small);
        prop_assert_eq!(port.sent.len() as u64, stats.tx_frames);
        prop_assert!(port.sent.iter().all(|f| (FRAME_MIN..=FRAME_MAX).contains(&f.len())));
    }
}

// Two partitions, A on switch port 0 and B on port 1, each with its own RAM.

const MAC_A: Mac = [0x02, 0, 0, 0, 0, 0xA];
const MAC_B: Mac = [0x02, 0, 0, 0, 0, 0xB];
const UNKNOWN: Mac = [0x02, 0, 0, 0, 0, 0xC];
const FRAMES_MAX: usize = 40;
/// Room for every chain of a case without reusing descriptors: at most 40 chains of 6 buffers.
const RING_SIZE: u16 = 256;
/// Frame `i`'s transmit chain and receive buffer live at `DATA + SLOT * i`.
const SLOT: u64 = 0x1000;
/// Indirect tables, one per frame.
const TABLES: u64 = DATA + SLOT * FRAMES_MAX as u64;

/// A switch port as the hypervisor would build one: transmitted frames wait in an outbox for the switch, received
/// ones in an inbox the switch fills.
struct FabricPort {
    inbox: Box<FrameRing<FRAMES_MAX>>,
    outbox: Vec<Vec<u8>>,
}

impl NetPort for FabricPort {
    fn transmit(&mut self, frame: &[u8]) {
        self.outbox.push(frame.to_vec());
    }
    fn receive(&mut self, buf: &mut [u8; FRAME_MAX]) -> Option<usize> {
        self.inbox.pop_into(buf)
    }
    fn has_rx(&self) -> bool {
        !self.inbox.is_empty()
    }
}

type Node = MmioTransport<VirtioNet<FabricPort>, 2>;

fn node(mac: Mac, mem: &mut TestMemory) -> (Node, GuestQueue, GuestQueue) {
    let mut t = Node::new(VirtioNet::new(mac, FabricPort { inbox: Box::new(FrameRing::new()), outbox: Vec::new() }));
    let offered = t.device_features();
    let (rx, tx) = bring_up(&mut t, mem, offered, RING_SIZE);
    (t, rx, tx)
}

/// Runs `t` until it has no work left in this round.
fn drain(t: &mut Node, mem: &mut TestMemory, mut more: bool) {
    let mut rounds = 0;
    while more {
        rounds += 1;
        assert!(rounds < 100);
        more = t.run_pending(mem).more_work;
    }
}

/// One frame A sends: its length, payload seed, destination, whether its header asks for an offload, and how its
/// chain is cut.
#[derive(Clone, Debug)]
struct Send {
    len: usize,
    seed: u8,
    dst: Mac,
    offload: Option<(u8, u8)>,
    cuts: Vec<usize>,
    indirect: bool,
}

fn send() -> impl Strategy<Value = Send> {
    let len = prop_oneof![1 => 0usize..FRAME_MIN + 2, 8 => FRAME_MIN..=FRAME_MAX, 1 => FRAME_MAX - 2..FRAME_MAX + 8];
    let dst = prop_oneof![4 => Just(MAC_B), 2 => Just(BROADCAST), 1 => Just(UNKNOWN), 1 => Just(MAC_A)];
    let offload =
        prop_oneof![12 => Just(None), 1 => Just(Some((1u8, 0u8))), 1 => Just(Some((0, 4))), 1 => Just(Some((0, 0x80)))];
    (len, any::<u8>(), dst, offload, proptest::collection::vec(0usize..FRAME_MAX + 20, 0..5), any::<bool>())
        .prop_map(|(len, seed, dst, offload, cuts, indirect)| Send { len, seed, dst, offload, cuts, indirect })
}

/// Sorted, distinct cut points strictly inside `0..len`.
fn cut_points(cuts: &[usize], len: usize) -> Vec<usize> {
    let mut c: Vec<usize> = cuts.iter().map(|&c| c % len.max(1)).filter(|&c| c != 0).collect();
    c.sort_unstable();
    c.dedup();
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A transmits, the switch forwards, B receives: B gets exactly the frames a model says (valid length, no
    /// offload, not addressed to A itself), byte for byte and in order, in whichever receive buffers were big
    /// enough, whether B's buffers were posted before the frames arrived or after.
    #[test]
    fn frames_cross_the_switch_byte_exact(
        sends in proptest::collection::vec(send(), 1..FRAMES_MAX),
        rx_bufs in proptest::collection::vec(
            (
                prop_oneof![6 => Just(HEADER_LEN + 1518), 2 => HEADER_LEN..HEADER_LEN + FRAME_MAX + 10],
                proptest::collection::vec(0usize..2000, 0..4),
            ),
            FRAMES_MAX,
        ),
        buffers_first in any::<bool>(),
    ) {
        let mut mem_a = TestMemory::new(BASE, 0x80000);
        let mut mem_b = TestMemory::new(BASE, 0x80000);
        let (mut a, _, mut a_tx) = node(MAC_A, &mut mem_a);
        let (mut b, mut b_rx, _) = node(MAC_B, &mut mem_b);
        let mut switch = Switch::<2, 8>::new();

        // What the model expects: A transmits the valid ones; B is sent those not for A.
        let valid = |s: &Send| (FRAME_MIN..=FRAME_MAX).contains(&s.len) && s.offload.is_none();
        // From A to `dst` (cut short with the frame).
        let bytes = |s: &Send| {
            let mut f = frame(s.len, s.seed);
            let addresses = [s.dst, MAC_A].concat();
            let n = s.len.min(12);
            f[..n].copy_from_slice(&addresses[..n]);
            f
        };
        let to_b: Vec<Vec<u8>> = sends.iter().filter(|s| valid(s) && s.dst != MAC_A).map(bytes).collect();

        for (i, s) in sends.iter().enumerate() {
            let at = DATA + SLOT * i as u64;
            let mut header = [0u8; HEADER_LEN];
            if let Some((flags, gso)) = s.offload {
                header[0] = flags;
                header[1] = gso;
            }
            let f = bytes(s);
            mem_a.write(at, &header).unwrap();
            mem_a.write(at + HEADER_LEN as u64, &f).unwrap();
            let total = HEADER_LEN + f.len();
            let chain = buffers(at, total, &cut_points(&s.cuts, total), false);
            if s.indirect {
                a_tx.add_indirect_chain(&mut mem_a, TABLES + 0x100 * i as u64, &chain);
            } else {
                a_tx.add_chain(&mut mem_a, &chain);
            }
        }
        let post_buffers = |b: &mut Node, b_rx: &mut GuestQueue, mem_b: &mut TestMemory| {
            for (i, (len, cuts)) in rx_bufs.iter().enumerate().take(sends.len()) {
                post_rx(b_rx, mem_b, DATA + SLOT * i as u64, *len, &cut_points(cuts, *len));
            }
            let effects = b.write(regs::QUEUE_NOTIFY, 4, RX_QUEUE as u32, mem_b);
            drain(b, mem_b, effects.more_work);
        };
        if buffers_first {
            post_buffers(&mut b, &mut b_rx, &mut mem_b);
            prop_assert!(b_rx.take_used(&mem_b).is_empty(), "no frames yet");
        }

        let effects = a.write(regs::QUEUE_NOTIFY, 4, TX_QUEUE as u32, &mut mem_a);
        drain(&mut a, &mut mem_a, effects.more_work);
        // The hypervisor's part: through the switch into B's inbox, then kick B.
        let outbox = core::mem::take(&mut a.device_mut().port_mut().outbox);
        for f in &outbox {
            for port in switch.forward(0, f) {
                prop_assert_eq!(port, 1);
                b.device_mut().port_mut().inbox.push(f).unwrap();
            }
        }
        let effects = b.kick(RX_QUEUE, &mut mem_b);
        drain(&mut b, &mut mem_b, effects.more_work);
        if !buffers_first {
            post_buffers(&mut b, &mut b_rx, &mut mem_b);
        }

        // A: every chain back, the valid frames transmitted.
        prop_assert_eq!(a_tx.take_used(&mem_a).len(), sends.len());
        let a_stats = a.device().stats();
        let sent: Vec<Vec<u8>> = sends.iter().filter(|s| valid(s)).map(bytes).collect();
        prop_assert_eq!(&outbox, &sent);
        let offloads = sends.iter().filter(|s| s.offload.is_some() && (FRAME_MIN..=FRAME_MAX).contains(&s.len));
        prop_assert_eq!(a_stats.tx_dropped_offload, offloads.count() as u64);
        prop_assert_eq!(a_stats.tx_frames + a_stats.tx_dropped_offload + a_stats.tx_dropped_size, sends.len() as u64);

        // B: frame k in buffer k if it fits, else dropped with used length 0.
        let used = b_rx.take_used(&mem_b);
        prop_assert_eq!(used.len(), to_b.len());
        let mut expected = NetStats::default();
        for (k, (f, &(_, len))) in to_b.iter().zip(&used).enumerate() {
            let room = rx_bufs[k].0;
            if HEADER_LEN + f.len() <= room {
                prop_assert_eq!(len as usize, HEADER_LEN + f.len());
                let mut got = vec![0u8; HEADER_LEN + f.len()];
                mem_b.read(DATA + SLOT * k as u64, &mut got).unwrap();
                prop_assert_eq!(&got[..HEADER_LEN], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
                prop_assert_eq!(&got[HEADER_LEN..], &f[..]);
                expected.rx_frames += 1;
            } else {
                prop_assert_eq!(len, 0);
                expected.rx_dropped_too_small += 1;
            }
        }
        prop_assert_eq!(b.device().stats(), expected);
        prop_assert!(b.device().port().inbox.is_empty());
        prop_assert_eq!(b.device().port().inbox.dropped(), 0);
        prop_assert_eq!(a.status() | b.status(), 0xF);
        prop_assert_eq!(mem_a.violations() + mem_b.violations(), 0);
    }
}
