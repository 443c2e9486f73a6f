//! Each partition's emulated SP805 watchdog (`watchdog = true` in the config), which Debian's stock kernels drive
//! with `sp805_wdt` on both architectures. The register file is pure logic (`regs`); here it meets time: a
//! partition whose guest stops feeding it gets its interrupt at the first expiry, and at the second its fault
//! policy (`partition::fault` with `Cause::Watchdog`: stop, or restart within the budget).
//!
//! Noticing an expiry without a trap: the guest that should feed the watchdog is hung, so nothing it does tells
//! hv-static. On a pinned CPU (the CPU of the partition's vCPU 0: the watchdog's home) the EL2 timer, which no
//! schedule uses there, is armed for the watchdog's next deadline. On a cyclic CPU the EL2 timer marks the
//! windows, so the deadline is looked at when one of the partition's windows begins there: an expiry is seen at
//! most one major frame late, and only in the partition's own time. Either way what the expiry does runs on the
//! home CPU.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use crate::config::{NUM_PARTITIONS, SYSTEM};
use crate::core::partition::{self, Cause};
use crate::core::percpu::{self, req};
use crate::core::{sched, vcpu::VcpuRef};
use crate::vdev::vgic;
use crate::{arch, hverror};
use hv_plan::guest_map::WATCHDOG_CLOCK_HZ;

pub mod regs;
mod vdev;

use regs::{Event, Sp805};
pub use vdev::Watchdog;

/// The models, out of reset until a partition starts (`reset` then gives them the counter's real frequency).
static WDOGS: [Mutex<Sp805>; NUM_PARTITIONS] = [const { Mutex::new(Sp805::new(1, WATCHDOG_CLOCK_HZ)) }; NUM_PARTITIONS];

/// Each watchdog's next deadline in counter ticks (`u64::MAX`: none), readable without its lock on the switch path.
static DEADLINE: [AtomicU64; NUM_PARTITIONS] = [const { AtomicU64::new(u64::MAX) }; NUM_PARTITIONS];

/// The CPU an expiry of `part`'s watchdog is handled on: its vCPU 0's.
fn home(part: usize) -> usize {
    SYSTEM.partitions[part].vcpus[0].pcpu
}

fn reset(part: usize) {
    *WDOGS[part].lock() = Sp805::new(arch::timer::frequency() as u32, WATCHDOG_CLOCK_HZ);
    publish(part, None);
}

/// The partition stopped: its watchdog stops with it (until the restart resets it).
fn stopped(part: usize) {
    publish(part, None);
}

/// Records `part`'s next deadline and gets its home CPU's timer armed for it where that CPU is pinned.
fn publish(part: usize, deadline: Option<u64>) {
    let d = deadline.unwrap_or(u64::MAX);
    if DEADLINE[part].swap(d, Ordering::AcqRel) == d {
        return;
    }
    let home = home(part);
    if sched::schedule(home).is_some() {
        return;
    }
    if home == arch::cpu::id() {
        arm_here();
    } else {
        percpu::post(home, req::WATCHDOG);
    }
}

/// On a pinned CPU: the EL2 timer armed for the earliest deadline of the watchdogs homed here, or off. Called
/// where the mailbox says a deadline moved, and after every expiry taken here.
pub fn arm_here() {
    let me = arch::cpu::id();
    if sched::schedule(me).is_some() {
        return;
    }
    let next = (0..NUM_PARTITIONS)
        .filter(|&p| SYSTEM.partitions[p].vdev.watchdog.is_some() && home(p) == me)
        .map(|p| DEADLINE[p].load(Ordering::Acquire))
        .min()
        .unwrap_or(u64::MAX);
    match next {
        u64::MAX => arch::timer::hyp_timer_off(),
        at => arch::timer::set_hyp_deadline(at),
    }
}

/// Takes whatever is due of `part`'s watchdog: at the first expiry its interrupt, at the second the partition's
/// fault policy. Called on its home CPU (the EL2 timer of a pinned CPU fired, or a window of the partition
/// begins). A few instructions when nothing is due.
pub fn take_due(part: usize) {
    if SYSTEM.partitions[part].vdev.watchdog.is_none() {
        return;
    }
    // `u64::MAX` (none) is never reached.
    let now = arch::timer::now();
    if now < DEADLINE[part].load(Ordering::Acquire) {
        return;
    }
    let (events, deadline) = {
        let mut w = WDOGS[part].lock();
        let first = w.expire(now);
        let second = w.expire(now);
        ([first, second], w.deadline())
    };
    publish(part, deadline);
    for e in events {
        match e {
            Event::None => {}
            Event::Interrupt => raise(part),
            Event::Reset => {
                hverror!("partition '{}' watchdog expired: it stopped feeding it", SYSTEM.partitions[part].name);
                partition::fault(part, Cause::Watchdog, 0, 0);
            }
        }
    }
}

/// Every watchdog homed on this pinned CPU: its EL2 timer fired.
pub fn take_due_here() {
    let me = arch::cpu::id();
    for p in (0..NUM_PARTITIONS).filter(|&p| SYSTEM.partitions[p].vdev.watchdog.is_some() && home(p) == me) {
        take_due(p);
    }
    arm_here();
}

fn raise(part: usize) {
    vgic::inject(VcpuRef { part, idx: 0 }, SYSTEM.partitions[part].vdev.watchdog_irq, 0);
}

/// The guest completed the watchdog's interrupt: level-sensitive, it fires again while still raised.
fn resample(part: usize) {
    if WDOGS[part].lock().irq_high() {
        raise(part);
    }
}

/// A guest access at `offset` in the watchdog's page.
fn access(part: usize, offset: u64, size: u8, write: Option<u64>) -> u64 {
    let (value, deadline) = {
        let mut w = WDOGS[part].lock();
        let value = w.access(offset, size, write, arch::timer::now());
        (value, w.deadline())
    };
    if write.is_some() {
        publish(part, deadline);
    }
    value
}
