//! hv-static's virtual switches: each `[[network]]` is a learning switch (pv-drivers' [`Switch`]) whose ports are
//! the partitions' virtio-net devices.
//!
//! A transmitted frame is switched on the sender's CPU, inside the sender's notification (so within its bounded
//! batch), and copied into the inbox of each destination port: a fixed ring of frames in hv-static's memory. The
//! destination's own CPU empties its inbox into the partition's receive buffers, in a bounded batch, when it next
//! runs that partition. So the copy into a partition's memory is always paid on that partition's CPU and in its
//! time: a busy sender can fill another port's inbox (which then drops, as a switch port's queue does), never
//! make another CPU do its work, and one SGI per burst is all it costs a receiver's CPU. A receiver descheduled by
//! a cyclic pool finds its frames when its window starts.
//!
//! A switch whose network has `uplink = true` has one more port, numbered after the partitions' ports: the board's
//! own network device (`hostdev`). Frames forwarded to it are handed to its driver on the sender's CPU; frames it
//! receives come in through [`from_uplink`] on the CPU that takes its interrupt, and are delivered like a
//! partition's.
//!
//! Locks nest in one order only: a device's, then its switch's, then an inbox's (an inbox lock is never held
//! while taking another lock); the board network device's lock is taken after the switch's is released.

use core::sync::atomic::{fence, AtomicBool, Ordering};

use pv_drivers::net::{FrameRing, PortSet, Switch, FRAME_MAX};
use pv_drivers::virtio::net::NetPort;
use spin::Mutex;

use crate::config::{NetPortConfig, NUM_NETWORKS, NUM_NET_PORTS, SYSTEM};
use crate::core::percpu::{self, req};
use crate::core::vcpu::VcpuRef;

/// Frames an inbox holds: enough for a burst of a partition's transmit batch to every port, with a TCP window's
/// worth of slack (48 KiB of frames per port).
pub const INBOX_FRAMES: usize = 32;

/// Addresses a switch remembers; the oldest is forgotten first when more talk.
const MACS: usize = 64;

static SWITCHES: [Mutex<Switch<{ PortSet::CAPACITY }, MACS>>; NUM_NETWORKS] =
    [const { Mutex::new(Switch::new()) }; NUM_NETWORKS];

static INBOXES: [Mutex<FrameRing<INBOX_FRAMES>>; NUM_NET_PORTS] =
    [const { Mutex::new(FrameRing::new()) }; NUM_NET_PORTS];

/// Per port: frames arrived since its CPU last looked (set before its CPU is told, cleared by that CPU).
static ARRIVED: [AtomicBool; NUM_NET_PORTS] = [const { AtomicBool::new(false) }; NUM_NET_PORTS];

/// A partition's port on its switch, as its virtio-net device sees it.
pub struct SwitchPort {
    /// Index into `SYSTEM.net_ports` and the inboxes.
    port: usize,
    /// Its number on its switch (its position in the network's `ports`).
    local: usize,
}

impl SwitchPort {
    #[allow(clippy::expect_used, reason = "the plan's own consistency, fixed at build time, not guest input")]
    pub fn new(port: usize) -> Self {
        let network = &SYSTEM.networks[SYSTEM.net_ports[port].network];
        let local = network.ports.iter().position(|&p| p == port).expect("the builder lists every port on its switch");
        Self { port, local }
    }
}

impl NetPort for SwitchPort {
    fn transmit(&mut self, frame: &[u8]) {
        let network = SYSTEM.net_ports[self.port].network;
        let out = SWITCHES[network].lock().forward(self.local, frame);
        let net = &SYSTEM.networks[network];
        for local in out.iter() {
            if let Some(&port) = net.ports.get(local) {
                deliver(port, frame);
            }
        }
        // The uplink is the port after the partitions'; sending does not wait for the device.
        if net.uplink && out.contains(net.ports.len()) {
            crate::hw::hostdev::send(frame);
        }
    }

    fn receive(&mut self, buf: &mut [u8; FRAME_MAX]) -> Option<usize> {
        INBOXES[self.port].lock().pop_into(buf)
    }

    fn has_rx(&self) -> bool {
        !INBOXES[self.port].lock().is_empty()
    }
}

/// A frame the board's network device received for `network`'s switch, on the CPU that takes its interrupt: the
/// switch learns the sender on the uplink port (numbered after the partitions' ports) and the frame goes to the
/// inboxes of the ports it forwards to, like a partition's. Never back out through the uplink (the switch never
/// forwards a frame to its ingress port).
pub fn from_uplink(network: usize, frame: &[u8]) {
    let net = &SYSTEM.networks[network];
    let out = SWITCHES[network].lock().forward(net.ports.len(), frame);
    for local in out.iter() {
        if let Some(&port) = net.ports.get(local) {
            deliver(port, frame);
        }
    }
}

/// Queues `frame` for `port` and makes sure its partition's CPU will look: told now if the partition runs there,
/// else when it is next switched in (see [`arrived`]). A full inbox drops the frame (counted in the ring).
fn deliver(port: usize, frame: &[u8]) {
    if INBOXES[port].lock().push(frame).is_err() {
        return;
    }
    if ARRIVED[port].swap(true, Ordering::AcqRel) {
        // Already announced and not yet taken: the CPU that takes the flag drains this frame too.
        return;
    }
    // Pairs with the fence in `arrived`: either that CPU sees the flag after making the vCPU current, or this one
    // sees the vCPU current and kicks it.
    fence(Ordering::SeqCst);
    let v = receiver(&SYSTEM.net_ports[port]);
    if percpu::current_on(v.pcpu()) == Some(v) {
        if v.pcpu() == crate::arch::cpu::id() {
            percpu::defer(req::VIRTIO);
        } else {
            percpu::post(v.pcpu(), req::VIRTIO);
        }
    }
}

/// The vCPU that empties a port's inbox: its partition's first, which takes the device's interrupts too.
fn receiver(p: &NetPortConfig) -> VcpuRef {
    VcpuRef { part: p.partition, idx: 0 }
}

/// Port `port`'s partition restarts: frames queued for its previous run are dropped and the switch forgets the
/// addresses it learned there, so the new run receives nothing meant for the old one and traffic to those addresses
/// floods until the new run speaks (its MAC may differ: a guest may set one).
pub fn reset_port(port: usize) {
    INBOXES[port].lock().clear();
    ARRIVED[port].store(false, Ordering::Release);
    let network = SYSTEM.net_ports[port].network;
    if let Some(local) = SYSTEM.networks[network].ports.iter().position(|&p| p == port) {
        SWITCHES[network].lock().forget_port(local);
    }
}

/// Takes the arrival flag of `port` (the caller then drains its inbox into the receive queue).
pub fn take_arrived(port: usize) -> bool {
    ARRIVED[port].swap(false, Ordering::AcqRel)
}

/// Whether frames wait for any port `v` drains; called after `v` was made current on this CPU.
pub fn arrived(v: VcpuRef) -> bool {
    if v.idx != 0 || NUM_NET_PORTS == 0 {
        return false;
    }
    fence(Ordering::SeqCst);
    SYSTEM.net_ports.iter().enumerate().any(|(i, p)| p.partition == v.part && ARRIVED[i].load(Ordering::Acquire))
}
