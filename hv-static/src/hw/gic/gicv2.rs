//! Physical GICv2 (GIC-400 class): distributor, CPU interface and the virtual interface control frame (GICH)
//! holding the list registers. Memory-mapped only, so ARMv7 and AArch64 share it. The frames' register maps are
//! in `regs`.

mod regs;

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::LocalRegisterCopy;

use self::regs::{Gicc, Gicd, Gich, GICC_CTLR, GICC_PMR, GICD_CTLR, GICD_SGIR, GICD_TYPER, GICH_HCR, GICH_VTR};
use super::mmio::{bit, entry, frame, word};
use crate::config::SYSTEM;
use crate::hw::gic::lr::Lr;

/// The priority of every interrupt hv-static takes, until `gic::init_cpu` raises the cyclic tick's.
const PRIORITY: u8 = 0x80;

fn gicd() -> &'static Gicd {
    // SAFETY: the board description's distributor frame (see `frame` for why it is mapped).
    unsafe { frame(SYSTEM.gic.gicd) }
}
fn gicc() -> &'static Gicc {
    // SAFETY: as in `gicd`, the CPU interface frame.
    unsafe { frame(SYSTEM.gic.gicc) }
}
fn gich() -> &'static Gich {
    // SAFETY: as in `gicd`, the virtual interface control frame.
    unsafe { frame(SYSTEM.gic.gich) }
}

pub fn init_distributor() {
    let d = gicd();
    let lines = d.typer.read(GICD_TYPER::ITLinesNumber) as usize + 1;
    // Register 0 holds the private interrupts, banked per CPU: `init_cpu` clears it on each.
    for n in 1..lines {
        // `lines` is at most 32 (a 5-bit field plus 1): the modulo only spares the bounds checks.
        d.icenabler[n % 32].set(u32::MAX);
        d.icpendr[n % 32].set(u32::MAX);
        d.icactiver[n % 32].set(u32::MAX);
    }
    d.ctlr.write(GICD_CTLR::EnableGrp0::SET);
}

pub fn init_cpu() {
    let d = gicd();
    // Private interrupts are banked: clear them, then allow every priority.
    d.icenabler[0].set(u32::MAX);
    d.icactiver[0].set(u32::MAX);
    for priority in d.ipriorityr.iter().take(32) {
        priority.set(PRIORITY);
    }
    gicc().pmr.write(GICC_PMR::Priority.val(0xff));
    gicc().ctlr.write(GICC_CTLR::EnableGrp0::SET + GICC_CTLR::EOImodeS::SET + GICC_CTLR::EOImodeNS::SET);
    gich().hcr.write(GICH_HCR::En::SET);
}

pub fn enable(intid: u32, pcpu: usize, on: bool) {
    let d = gicd();
    if intid >= 32 && on {
        d.itargetsr[entry(intid)].set(1 << pcpu);
    }
    d.ipriorityr[entry(intid)].set(PRIORITY);
    let reg = if on { &d.isenabler } else { &d.icenabler };
    reg[word(intid)].set(bit(intid));
}

/// Sets the priority of this CPU's private interrupt `intid` (< 32; the distributor banks them per CPU).
pub fn set_private_priority(intid: u32, priority: u8) {
    gicd().ipriorityr[(intid % 32) as usize].set(priority);
}

/// Sets SPI `intid`'s pending state (GICD_ISPENDR): it is signalled once more even when its line is low.
pub fn set_spi_pending(intid: u32) {
    gicd().ispendr[word(intid)].set(bit(intid));
}

/// Whether private interrupt `intid` (< 32) is active on this CPU (the distributor banks them per CPU).
pub fn private_active(intid: u32) -> bool {
    gicd().isactiver[0].get() & 1 << intid != 0
}

pub fn set_private_active(intid: u32, on: bool) {
    let d = gicd();
    let reg = if on { &d.isactiver } else { &d.icactiver };
    reg[0].set(1 << intid);
}

/// GICC_IAR whole: the INTID and, for an SGI, the sending CPU (bits 12:10), which EOIR and DIR need back.
pub fn ack() -> u32 {
    gicc().iar.get()
}

/// `iar`: what [`ack`] returned.
pub fn priority_drop(iar: u32) {
    gicc().eoir.set(iar);
}

/// `iar`: what [`ack`] returned, or the INTID of an SPI or PPI.
pub fn deactivate(iar: u32) {
    gicc().dir.set(iar);
}

/// `pcpu` is the CPU interface number, equal to the logical CPU index on the boards we support.
pub fn send_sgi(pcpu: usize, sgi: u32) {
    gicd().sgir.write(GICD_SGIR::CPUTargetList.val(1 << pcpu) + GICD_SGIR::SGIINTID.val(sgi));
}

pub fn nr_lrs() -> usize {
    (gich().vtr.read(GICH_VTR::ListRegs) + 1) as usize
}

/// GICH_ELRSR0: bit `i` set when list register `i` holds nothing (64 list registers at most; hv-static uses 16).
pub fn empty_lrs() -> u32 {
    gich().elrsr0.get()
}

/// List register `i` (< 16; the modulo of the 64 the frame has only spares a bounds check).
pub fn read_lr(i: usize) -> Lr {
    Lr::decode_v2(gich().lr[i % 64].get())
}

pub fn write_lr(i: usize, lr: &Lr) {
    gich().lr[i % 64].set(lr.encode_v2());
}

pub fn set_underflow(on: bool) {
    gich().hcr.modify(GICH_HCR::UIE.val(u32::from(on)));
}

/// The virtual CPU interface state a vCPU owns besides its LRs: (control, VMCR, active priorities).
pub fn save_cpu_if() -> (u32, u32, u32) {
    let h = gich();
    (h.hcr.get(), h.vmcr.get(), h.apr.get())
}

pub fn restore_cpu_if(hcr: u32, vmcr: u32, apr: u32) {
    let h = gich();
    h.vmcr.set(vmcr);
    h.apr.set(apr);
    h.hcr.modify_no_read(LocalRegisterCopy::new(hcr), GICH_HCR::En::SET);
}
