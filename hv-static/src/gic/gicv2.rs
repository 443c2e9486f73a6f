//! Physical GICv2 (GIC-400 class): distributor, CPU interface and the virtual interface control frame (GICH)
//! holding the list registers. Memory-mapped only, so ARMv7 and AArch64 share it.

use super::mmio::{read32, write32, write8};
use crate::config::SYSTEM;
use crate::gic::lr::Lr;

const GICD_CTLR: u64 = 0x000;
const GICD_TYPER: u64 = 0x004;
const GICD_ISENABLER: u64 = 0x100;
const GICD_ICENABLER: u64 = 0x180;
const GICD_ISPENDR: u64 = 0x200;
const GICD_ICPENDR: u64 = 0x280;
const GICD_ISACTIVER: u64 = 0x300;
const GICD_ICACTIVER: u64 = 0x380;
const GICD_IPRIORITYR: u64 = 0x400;
const GICD_ITARGETSR: u64 = 0x800;
const GICD_SGIR: u64 = 0xF00;

const GICC_CTLR: u64 = 0x0000;
const GICC_PMR: u64 = 0x0004;
const GICC_IAR: u64 = 0x000C;
const GICC_EOIR: u64 = 0x0010;
const GICC_DIR: u64 = 0x1000;
/// Group 0 enable and EOImode (bits 9 and 10: which one applies depends on the security extensions): priority
/// drop on EOIR, deactivation separately on DIR.
const GICC_CTLR_VALUE: u32 = 1 | 1 << 9 | 1 << 10;

const GICH_HCR: u64 = 0x000;
const GICH_VTR: u64 = 0x004;
const GICH_VMCR: u64 = 0x008;
const GICH_ELRSR0: u64 = 0x030;
const GICH_APR: u64 = 0x0F0;
const GICH_LR0: u64 = 0x100;
const HCR_EN: u32 = 1;
const HCR_UIE: u32 = 1 << 1;

fn gicd() -> u64 {
    SYSTEM.gic.gicd
}
fn gicc() -> u64 {
    SYSTEM.gic.gicc
}
fn gich() -> u64 {
    SYSTEM.gic.gich
}

pub fn init_distributor() {
    let lines = (read32(gicd() + GICD_TYPER) & 0x1f) + 1;
    for n in 1..lines as u64 {
        write32(gicd() + GICD_ICENABLER + 4 * n, u32::MAX);
        write32(gicd() + GICD_ICPENDR + 4 * n, u32::MAX);
        write32(gicd() + GICD_ICACTIVER + 4 * n, u32::MAX);
    }
    write32(gicd() + GICD_CTLR, 1);
}

pub fn init_cpu() {
    // Private interrupts are banked: clear them, then allow every priority.
    write32(gicd() + GICD_ICENABLER, u32::MAX);
    write32(gicd() + GICD_ICACTIVER, u32::MAX);
    for i in 0..32 {
        write8(gicd() + GICD_IPRIORITYR + i, 0x80);
    }
    write32(gicc() + GICC_PMR, 0xff);
    write32(gicc() + GICC_CTLR, GICC_CTLR_VALUE);
    write32(gich() + GICH_HCR, HCR_EN);
}

pub fn enable(intid: u32, pcpu: usize, on: bool) {
    let (word, bit) = ((intid / 32) as u64, 1 << (intid % 32));
    if intid >= 32 && on {
        write8(gicd() + GICD_ITARGETSR + intid as u64, 1 << pcpu);
    }
    write8(gicd() + GICD_IPRIORITYR + intid as u64, 0x80);
    let reg = if on { GICD_ISENABLER } else { GICD_ICENABLER };
    write32(gicd() + reg + 4 * word, bit);
}

/// Sets the priority of this CPU's private interrupt `intid` (< 32; the distributor banks them per CPU).
pub fn set_private_priority(intid: u32, priority: u8) {
    write8(gicd() + GICD_IPRIORITYR + (intid & 31) as u64, priority);
}

/// Sets SPI `intid`'s pending state (GICD_ISPENDR): it is signalled once more even when its line is low.
pub fn set_spi_pending(intid: u32) {
    write32(gicd() + GICD_ISPENDR + 4 * (intid / 32) as u64, 1 << (intid % 32));
}

/// Whether private interrupt `intid` (< 32) is active on this CPU (the distributor banks them per CPU).
pub fn private_active(intid: u32) -> bool {
    read32(gicd() + GICD_ISACTIVER) & 1 << intid != 0
}

pub fn set_private_active(intid: u32, on: bool) {
    write32(gicd() + if on { GICD_ISACTIVER } else { GICD_ICACTIVER }, 1 << intid);
}

/// GICC_IAR whole: the INTID and, for an SGI, the sending CPU (bits 12:10), which EOIR and DIR need back.
pub fn ack() -> u32 {
    read32(gicc() + GICC_IAR)
}

/// `iar`: what [`ack`] returned.
pub fn priority_drop(iar: u32) {
    write32(gicc() + GICC_EOIR, iar);
}

/// `iar`: what [`ack`] returned, or the INTID of an SPI or PPI.
pub fn deactivate(iar: u32) {
    write32(gicc() + GICC_DIR, iar);
}

/// `pcpu` is the CPU interface number, equal to the logical CPU index on the boards we support.
pub fn send_sgi(pcpu: usize, sgi: u32) {
    write32(gicd() + GICD_SGIR, (1 << pcpu) << 16 | sgi);
}

pub fn nr_lrs() -> usize {
    ((read32(gich() + GICH_VTR) & 0x3f) + 1) as usize
}

/// GICH_ELRSR0: bit `i` set when list register `i` holds nothing (64 list registers at most; hv-static uses 16).
pub fn empty_lrs() -> u32 {
    read32(gich() + GICH_ELRSR0)
}

pub fn read_lr(i: usize) -> Lr {
    Lr::decode_v2(read32(gich() + GICH_LR0 + 4 * i as u64))
}

pub fn write_lr(i: usize, lr: &Lr) {
    write32(gich() + GICH_LR0 + 4 * i as u64, lr.encode_v2());
}

pub fn set_underflow(on: bool) {
    let hcr = read32(gich() + GICH_HCR);
    write32(gich() + GICH_HCR, if on { hcr | HCR_UIE } else { hcr & !HCR_UIE });
}

/// The virtual CPU interface state a vCPU owns besides its LRs: (control, VMCR, active priorities).
pub fn save_cpu_if() -> (u32, u32, u32) {
    (read32(gich() + GICH_HCR), read32(gich() + GICH_VMCR), read32(gich() + GICH_APR))
}

pub fn restore_cpu_if(hcr: u32, vmcr: u32, apr: u32) {
    write32(gich() + GICH_VMCR, vmcr);
    write32(gich() + GICH_APR, apr);
    write32(gich() + GICH_HCR, hcr | HCR_EN);
}
