//! Physical GICv3: the memory-mapped distributor and redistributors. The CPU interface is reached through system
//! registers, which live in `arch::gicv3_sysregs`.

use super::mmio::{read32, read64, write32, write64, write8};
use core::sync::atomic::{AtomicU64, Ordering};

use crate::config::{NUM_CPUS, SYSTEM};

const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IGROUPR: u64 = 0x0080;
const GICD_ISENABLER: u64 = 0x0100;
const GICD_ICENABLER: u64 = 0x0180;
const GICD_ISPENDR: u64 = 0x0200;
const GICD_ICPENDR: u64 = 0x0280;
const GICD_ISACTIVER: u64 = 0x0300;
const GICD_ICACTIVER: u64 = 0x0380;
const GICD_IPRIORITYR: u64 = 0x0400;
const GICD_IROUTER: u64 = 0x6000;
const CTLR_RWP: u32 = 1 << 31;
/// ARE (affinity routing) and both group enables, in the single-security-state layout QEMU's virt board has.
const GICD_CTLR_VALUE: u32 = 1 << 4 | 1 << 1 | 1 << 0;

const GICR_TYPER: u64 = 0x0008;
const GICR_WAKER: u64 = 0x0014;
const GICR_STRIDE: u64 = 0x2_0000;
const SGI_BASE: u64 = 0x1_0000;
const TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

fn gicd() -> u64 {
    SYSTEM.gic.gicd
}

fn wait_rwp() {
    while read32(gicd() + GICD_CTLR) & CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

pub fn init_distributor() {
    write32(gicd() + GICD_CTLR, 0);
    wait_rwp();
    let lines = (read32(gicd() + GICD_TYPER) & 0x1f) + 1;
    for n in 1..lines as u64 {
        write32(gicd() + GICD_ICENABLER + 4 * n, u32::MAX);
        write32(gicd() + GICD_ICPENDR + 4 * n, u32::MAX);
        write32(gicd() + GICD_ICACTIVER + 4 * n, u32::MAX);
        write32(gicd() + GICD_IGROUPR + 4 * n, u32::MAX);
    }
    wait_rwp();
    write32(gicd() + GICD_CTLR, GICD_CTLR_VALUE);
    wait_rwp();
}

/// The redistributor whose affinity matches `mpidr` (walks the frames until the one marked last).
fn redistributor(mpidr: u64) -> Option<u64> {
    let aff = (mpidr & 0xff_ffff) | (mpidr >> 32 & 0xff) << 24;
    let mut rd = SYSTEM.gic.gicr;
    loop {
        let typer = read64(rd + GICR_TYPER);
        if typer >> 32 == aff {
            return Some(rd);
        }
        if typer & TYPER_LAST != 0 {
            return None;
        }
        rd += GICR_STRIDE;
    }
}

/// Wakes this CPU's redistributor and puts its private interrupts in a known state. Returns false when no
/// redistributor matches the CPU (a board description error).
pub fn init_redistributor(mpidr: u64) -> bool {
    let Some(rd) = redistributor(mpidr) else { return false };
    let waker = read32(rd + GICR_WAKER);
    write32(rd + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    while read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }
    THIS_RD[crate::arch::cpu::id()].store(rd, Ordering::Relaxed);
    let sgi = rd + SGI_BASE;
    write32(sgi + GICD_ICENABLER, u32::MAX);
    write32(sgi + GICD_ICACTIVER, u32::MAX);
    write32(sgi + GICD_IGROUPR, u32::MAX);
    for i in 0..32 {
        write8(sgi + GICD_IPRIORITYR + i, 0x80);
    }
    true
}

/// Each CPU's own redistributor, found once at bring-up (the lookup walks the frames).
static THIS_RD: [AtomicU64; NUM_CPUS] = [const { AtomicU64::new(0) }; NUM_CPUS];

fn this_sgi_frame() -> u64 {
    THIS_RD[crate::arch::cpu::id()].load(Ordering::Relaxed) + SGI_BASE
}

/// Whether private interrupt `intid` (< 32) is active on this CPU's redistributor.
pub fn private_active(intid: u32) -> bool {
    read32(this_sgi_frame() + GICD_ISACTIVER) & 1 << intid != 0
}

pub fn set_private_active(intid: u32, on: bool) {
    write32(this_sgi_frame() + if on { GICD_ISACTIVER } else { GICD_ICACTIVER }, 1 << intid);
}

/// Enables a private interrupt on this CPU's redistributor.
pub fn enable_private(mpidr: u64, intid: u32, on: bool) {
    if let Some(rd) = redistributor(mpidr) {
        let reg = if on { GICD_ISENABLER } else { GICD_ICENABLER };
        write32(rd + SGI_BASE + reg, 1 << intid);
    }
}

/// Sets the priority of private interrupt `intid` (< 32) in the redistributor of the CPU with affinity `mpidr`.
pub fn set_private_priority(mpidr: u64, intid: u32, priority: u8) {
    if let Some(rd) = redistributor(mpidr) {
        write8(rd + SGI_BASE + GICD_IPRIORITYR + (intid & 31) as u64, priority);
    }
}

/// Sets SPI `intid`'s pending state (GICD_ISPENDR): it is signalled once more even when its line is low.
pub fn set_spi_pending(intid: u32) {
    write32(gicd() + GICD_ISPENDR + 4 * (intid / 32) as u64, 1 << (intid % 32));
}

/// Routes an SPI to the CPU with affinity `mpidr` and enables or disables it.
pub fn enable_spi(intid: u32, mpidr: u64, on: bool) {
    let (word, bit) = ((intid / 32) as u64, 1 << (intid % 32));
    if on {
        write8(gicd() + GICD_IPRIORITYR + intid as u64, 0x80);
        write64(gicd() + GICD_IROUTER + 8 * intid as u64, mpidr & 0xff_00ff_ffff);
    }
    let reg = if on { GICD_ISENABLER } else { GICD_ICENABLER };
    write32(gicd() + reg + 4 * word, bit);
}
