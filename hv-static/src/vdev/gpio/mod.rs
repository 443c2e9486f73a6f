//! Each channel member's emulated PL061 GPIO controller (docs/guest-abi.md, ABI 1.5): the doorbells of the
//! partition's first channels as GPIO lines, so that stock Linux waits for and rings them from user space. The
//! register file is pure logic (`regs`); here it meets the other partitions.
//!
//! A ring from another partition must not wait on this partition's lock (a partition could otherwise hold up the
//! one ringing it): it posts the doorbell line in [`POSTED`] with one atomic OR, and raises the interrupt when
//! [`ARMED`] (published by the owner after each of its accesses) says the line listens and is unmasked. The owner
//! folds posted edges into its model under its own lock on its next access or interrupt completion. A ring racing
//! the owner's unmasking may raise one interrupt with nothing latched: the guest's handler finds `GPIOMIS` empty.

use core::sync::atomic::{AtomicU8, Ordering};

use spin::Mutex;

use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::core::vcpu::VcpuRef;
use crate::vdev::vgic;

pub mod regs;
mod vdev;

use regs::Pl061;
pub use vdev::Gpio;

/// What a rising ring line does: the channels' `signal`, handed down at boot (`set_ring`), so that this module
/// and the channels, which raise its doorbell lines, do not import each other.
static RING: spin::Once<fn(VcpuRef, usize) -> bool> = spin::Once::new();

/// Sets what a rising ring line calls: `channel::signal`. Once, at boot.
pub fn set_ring(ring: fn(VcpuRef, usize) -> bool) {
    RING.call_once(|| ring);
}

static GPIOS: [Mutex<Pl061>; NUM_PARTITIONS] = [const { Mutex::new(Pl061::new(0)) }; NUM_PARTITIONS];

/// Doorbell edges other partitions posted, not yet folded into the owner's model.
static POSTED: [AtomicU8; NUM_PARTITIONS] = [const { AtomicU8::new(0) }; NUM_PARTITIONS];

/// The lines on which a posted edge raises the interrupt (inputs detecting rising edges, unmasked), as the owner
/// last left its model.
static ARMED: [AtomicU8; NUM_PARTITIONS] = [const { AtomicU8::new(0) }; NUM_PARTITIONS];

/// The lines on which a posted edge is latched at all (inputs detecting rising edges).
static LISTENING: [AtomicU8; NUM_PARTITIONS] = [const { AtomicU8::new(0) }; NUM_PARTITIONS];

fn raise(part: usize) {
    let intid = SYSTEM.partitions[part].vdev.gpio_irq;
    vgic::inject(VcpuRef { part, idx: 0 }, intid, 0);
}

/// Folds posted edges into `g` and publishes what a later ring needs to know without the lock.
fn settle(part: usize, g: &mut Pl061) {
    g.latch(POSTED[part].swap(0, Ordering::AcqRel));
    LISTENING[part].store(g.rising_inputs(), Ordering::Release);
    ARMED[part].store(g.armed(), Ordering::Release);
}

/// Another member rang `part`'s channel `k` (its own order): a rising edge on the channel's doorbell line. Lock-free;
/// nothing for a channel past the lines, or a partition without the controller.
pub fn doorbell(part: usize, k: usize) {
    if k >= regs::CHANNELS || SYSTEM.partitions[part].vdev.gpio.is_none() {
        return;
    }
    let line = regs::doorbell_line(k);
    if LISTENING[part].load(Ordering::Acquire) & line == 0 {
        return;
    }
    POSTED[part].fetch_or(line, Ordering::AcqRel);
    if ARMED[part].load(Ordering::Acquire) & line != 0 {
        raise(part);
    }
}

fn reset(part: usize) {
    let mut g = GPIOS[part].lock();
    *g = Pl061::new(SYSTEM.partitions[part].channels.len());
    POSTED[part].store(0, Ordering::Release);
    settle(part, &mut g);
}

/// The guest completed the controller's interrupt: level-sensitive, it fires again while still raised.
fn resample(part: usize) {
    let high = {
        let mut g = GPIOS[part].lock();
        settle(part, &mut g);
        g.irq_high()
    };
    if high {
        raise(part);
    }
}

/// A guest access by a vCPU of `part` at `offset` in the controller's page.
fn access(part: usize, offset: u64, size: u8, write: Option<u64>) -> u64 {
    let (value, effect, high) = {
        let mut g = GPIOS[part].lock();
        settle(part, &mut g);
        let (value, effect) = g.access(offset, size, write);
        settle(part, &mut g);
        (value, effect, g.irq_high())
    };
    if write.is_some() && high {
        raise(part);
    }
    if let Some(ring) = RING.get() {
        for k in (0..regs::CHANNELS).filter(|k| effect.rings & (1 << k) != 0) {
            ring(VcpuRef { part, idx: 0 }, k);
        }
    }
    value
}
