//! The virtio-mmio devices hv-static serves itself, with no backend partition: the transport, virtqueue and device
//! logic are `pv-drivers`' (shared, host-tested and fuzzed); this module gives them a partition's memory, the
//! disks' backing store, the switches' ports and the partition's interrupt, and routes trapped accesses to them.
//!
//! A device is touched only from its own partition's vCPUs, under its lock, so one partition's traffic never runs
//! device code on another partition's CPU: a network frame crosses partitions through the switch's per-port
//! inboxes (`net`), which the receiving partition's own CPU empties. Work per access is bounded by the transport
//! (a fixed number of requests per notification); what remains is resumed by kicking the same CPU, so it runs
//! again right after the guest has been re-entered, without holding the CPU for longer in one go.

mod device;
mod disk;
mod memory;
mod net;
mod vdev;

use pv_drivers::virtio::blk::VirtioBlk;
use pv_drivers::virtio::net::{VirtioNet, RX_QUEUE};
use pv_drivers::virtio::Effects;
use spin::Mutex;

use self::device::{Blk, Dev, Net};
use self::disk::PhysDisk;
use self::memory::PartitionMemory;
pub use self::net::from_uplink;
use self::net::SwitchPort;
pub use self::vdev::Transports;
use crate::config::{VirtioConfig, VirtioDevice, NUM_VIRTIO, SYSTEM};
use crate::core::percpu::{self, req};
use crate::core::vcpu::VcpuRef;
use crate::{hvwarn, vdev::vgic};

/// Bytes of one device's register window: the guest map's transport stride (registers up to 0x100, then the
/// device's configuration space).
pub const WINDOW: u64 = hv_plan::guest_map::VIRTIO_MMIO_STRIDE;

static DEVICES: [Mutex<Option<Dev>>; NUM_VIRTIO] = [const { Mutex::new(None) }; NUM_VIRTIO];

/// On the boot CPU, before any partition starts: prepares the disks (fills every RAM-backed one; see `disk::init`),
/// brings up the board's own devices (its disk for the host-backed disks, its network device for an uplink; see
/// `hostdev`) and creates the devices.
pub fn init() {
    disk::init();
    crate::hw::hostdev::init();
    for p in SYSTEM.partitions {
        for v in p.virtio {
            let dev = match v.device {
                VirtioDevice::Blk { disk, read_only } => {
                    let backend = PhysDisk { disk: &SYSTEM.disks[disk], read_only };
                    Dev::Blk(Blk::new(VirtioBlk::new(backend).with_id(p.name.as_bytes())))
                }
                VirtioDevice::Net { port, mac } => Dev::Net(Net::new(VirtioNet::new(mac, SwitchPort::new(port)))),
            };
            *DEVICES[v.index].lock() = Some(dev);
        }
    }
}

/// A trapped access of `size` bytes at `offset` in device `d`'s window; returns the value read.
fn access(v: VcpuRef, d: &VirtioConfig, offset: u64, size: u8, write: Option<u64>) -> u64 {
    let mut mem = PartitionMemory { part: v.part };
    let (value, fx, broke, kind) = {
        let mut slot = DEVICES[d.index].lock();
        let Some(dev) = slot.as_mut() else { return 0 };
        match write {
            None => (dev.read(offset, size) as u64, None, None, dev.kind()),
            Some(w) => {
                let fx = dev.write(offset, size, w as u32, &mut mem);
                (0, Some(fx), newly_broken(d.index, dev), dev.kind())
            }
        }
    };
    if let Some(e) = broke {
        hvwarn!("partition '{}' {kind} at {:#x} needs reset: {e}", v.partition().name, d.ipa);
    }
    if let Some(fx) = fx {
        apply(v, d, fx);
    }
    value
}

/// DEVICE_NEEDS_RESET in the status register.
const NEEDS_RESET: u32 = 0x40;

/// Per device: whether its current broken state was reported (once per break, until the driver resets it).
static REPORTED: [core::sync::atomic::AtomicBool; NUM_VIRTIO] =
    [const { core::sync::atomic::AtomicBool::new(false) }; NUM_VIRTIO];

/// The error that just put the device in DEVICE_NEEDS_RESET, once.
fn newly_broken(index: usize, dev: &Dev) -> Option<pv_drivers::virtio::Error> {
    use core::sync::atomic::Ordering::Relaxed;
    if dev.status() & NEEDS_RESET == 0 {
        REPORTED[index].store(false, Relaxed);
        return None;
    }
    if REPORTED[index].swap(true, Relaxed) {
        return None;
    }
    dev.last_error()
}

/// Raises the device's interrupt when the transport asks, and schedules the rest of a notification's work.
fn apply(v: VcpuRef, d: &VirtioConfig, fx: Effects) {
    if fx.interrupt {
        vgic::inject(VcpuRef { part: v.part, idx: 0 }, d.intid, 0);
    }
    if fx.more_work {
        PENDING[d.index].store(true, core::sync::atomic::Ordering::Release);
        percpu::defer(req::VIRTIO);
    }
}

static PENDING: [core::sync::atomic::AtomicBool; NUM_VIRTIO] =
    [const { core::sync::atomic::AtomicBool::new(false) }; NUM_VIRTIO];

/// Continues deferred queue work of `v`'s partition's devices, and moves frames that arrived for its network
/// ports into their receive queues (one bounded batch each).
pub fn resume(v: VcpuRef) {
    for d in v.partition().virtio {
        let pending = PENDING[d.index].swap(false, core::sync::atomic::Ordering::AcqRel);
        let arrived = match d.device {
            VirtioDevice::Net { port, .. } if v.idx == 0 => net::take_arrived(port),
            _ => false,
        };
        if !pending && !arrived {
            continue;
        }
        let mut mem = PartitionMemory { part: v.part };
        let fx = match DEVICES[d.index].lock().as_mut() {
            Some(Dev::Net(n)) if arrived && !pending => n.kick(RX_QUEUE, &mut mem),
            Some(Dev::Net(n)) if arrived => {
                let _ = n.kick(RX_QUEUE, &mut mem);
                n.run_pending(&mut mem)
            }
            Some(dev) => dev.run_pending(&mut mem),
            None => continue,
        };
        apply(v, d, fx);
    }
}

/// A partition (re)starts: every one of its devices is reset as its driver would reset it (status 0), so a new run
/// never inherits queues, buffers or a broken state from the last one, and deferred work is dropped.
fn reset_partition(part: usize) {
    let mut mem = PartitionMemory { part };
    for d in SYSTEM.partitions[part].virtio {
        if let Some(dev) = DEVICES[d.index].lock().as_mut() {
            let _ = dev.write(pv_drivers::virtio::mmio::regs::STATUS, 4, 0, &mut mem);
        }
        PENDING[d.index].store(false, core::sync::atomic::Ordering::Release);
        REPORTED[d.index].store(false, core::sync::atomic::Ordering::Relaxed);
        if let VirtioDevice::Net { port, .. } = d.device {
            net::reset_port(port);
        }
    }
}

/// Called right after `v` became current on this CPU: gets work that arrived while it was not running (frames
/// for its network ports), or that its partition left unfinished when its window ended (the rest of a deferred
/// notification, whose kick another partition's window took), done right after it is entered.
pub fn on_switch_in(v: VcpuRef) {
    let unfinished = v.partition().virtio.iter().any(|d| PENDING[d.index].load(core::sync::atomic::Ordering::Acquire));
    if unfinished || net::arrived(v) {
        percpu::defer(req::VIRTIO);
    }
}

/// The guest completed device interrupt `intid` of partition `part`: a level interrupt that is still high fires
/// again.
fn resample(part: usize, intid: u32) {
    for d in SYSTEM.partitions[part].virtio.iter().filter(|d| d.intid == intid) {
        let high = DEVICES[d.index].lock().as_ref().is_some_and(|dev| dev.interrupt_level());
        if high {
            vgic::inject(VcpuRef { part, idx: 0 }, intid, 0);
        }
    }
}

/// Whether `intid` is one of `part`'s virtio interrupts.
fn owns_irq(part: usize, intid: u32) -> bool {
    SYSTEM.partitions[part].virtio.iter().any(|d| d.intid == intid)
}
