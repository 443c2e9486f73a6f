//! Physical GICv3: the memory-mapped distributor and redistributors, whose register maps are in `regs`. The CPU
//! interface is reached through system registers, which live in `arch::gicv3_sysregs`.

mod regs;

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use self::regs::{Gicd, Gicr, GicrSgi, GICD_CTLR, GICD_IROUTER, GICD_TYPER, GICR_TYPER, GICR_WAKER};
use super::mmio::{bit, entry, frame, word};
use crate::config::{NUM_CPUS, SYSTEM};

/// The priority of every interrupt hv-static takes, until `gic::init_cpu` raises the cyclic tick's.
const PRIORITY: u8 = 0x80;
/// From one redistributor to the next: its RD_base and SGI_base frames.
const GICR_STRIDE: u64 = 0x2_0000;

/// The bits of GICD_IROUTER<n> that name a CPU. MPIDR_EL1 keeps its affinities at the same bits, so a CPU's MPIDR
/// masked with them is the route to that CPU; Interrupt_Routing_Mode stays 0 (to that CPU, not to any).
const ROUTE_AFFINITY: u64 = {
    use GICD_IROUTER::{Aff0, Aff1, Aff2, Aff3};
    Aff3.mask << Aff3.shift | Aff2.mask << Aff2.shift | Aff1.mask << Aff1.shift | Aff0.mask << Aff0.shift
};

fn gicd() -> &'static Gicd {
    // SAFETY: the board description's distributor frame (see `frame` for why it is mapped).
    unsafe { frame(SYSTEM.gic.gicd) }
}

/// Waits for a write to GICD_CTLR or a clear-enable register to take effect. (Flags are tested with `matches_all`,
/// as in `console::pl011`, which says why.)
fn wait_rwp(d: &Gicd) {
    while d.ctlr.matches_all(GICD_CTLR::RWP::SET) {
        core::hint::spin_loop();
    }
}

pub fn init_distributor() {
    let d = gicd();
    d.ctlr.set(0);
    wait_rwp(d);
    let lines = d.typer.read(GICD_TYPER::ITLinesNumber) as usize + 1;
    // Register 0 holds the private interrupts, which live in each CPU's redistributor instead.
    for n in 1..lines {
        // `lines` is at most 32 (a 5-bit field plus 1): the modulo only spares the bounds checks.
        d.icenabler[n % 32].set(u32::MAX);
        d.icpendr[n % 32].set(u32::MAX);
        d.icactiver[n % 32].set(u32::MAX);
        d.igroupr[n % 32].set(u32::MAX);
    }
    wait_rwp(d);
    d.ctlr.write(GICD_CTLR::ARE::SET + GICD_CTLR::EnableGrp1::SET + GICD_CTLR::EnableGrp0::SET);
    wait_rwp(d);
}

/// The redistributor whose affinity matches `mpidr` (walks the frames until the one marked last).
fn redistributor(mpidr: u64) -> Option<&'static Gicr> {
    let aff = (mpidr & 0xff_ffff) | (mpidr >> 32 & 0xff) << 24;
    let mut rd = SYSTEM.gic.gicr;
    loop {
        // SAFETY: `rd` is the board description's first redistributor (mapped as `frame` says), or lies one stride
        // after a redistributor that is not the last.
        let frames = unsafe { frame::<Gicr>(rd) };
        let typer = frames.rd.typer.extract();
        if typer.read(GICR_TYPER::Affinity_Value) == aff {
            return Some(frames);
        }
        if typer.matches_all(GICR_TYPER::Last::SET) {
            return None;
        }
        rd += GICR_STRIDE;
    }
}

/// Wakes this CPU's redistributor and puts its private interrupts in a known state. Returns false when no
/// redistributor matches the CPU (a board description error).
pub fn init_redistributor(mpidr: u64) -> bool {
    let Some(r) = redistributor(mpidr) else { return false };
    r.rd.waker.modify(GICR_WAKER::ProcessorSleep::CLEAR);
    while r.rd.waker.matches_all(GICR_WAKER::ChildrenAsleep::SET) {
        core::hint::spin_loop();
    }
    THIS_RD[crate::arch::cpu::id()].store(ptr::from_ref(r).cast_mut(), Ordering::Relaxed);
    r.sgi.icenabler0.set(u32::MAX);
    r.sgi.icactiver0.set(u32::MAX);
    r.sgi.igroupr0.set(u32::MAX);
    for priority in &r.sgi.ipriorityr {
        priority.set(PRIORITY);
    }
    true
}

/// Each CPU's own redistributor, found once at bring-up (the lookup walks the frames).
static THIS_RD: [AtomicPtr<Gicr>; NUM_CPUS] = [const { AtomicPtr::new(ptr::null_mut()) }; NUM_CPUS];

/// This CPU's SGI_base frame.
fn this_sgi_frame() -> &'static GicrSgi {
    let rd = THIS_RD[crate::arch::cpu::id()].load(Ordering::Relaxed);
    // SAFETY: `init_redistributor` stored this CPU's redistributor, as `redistributor` found it, when
    // `gic::init_cpu` set the CPU up; the callers (a vCPU's arrival and departure) come after that.
    unsafe { &(*rd).sgi }
}

/// Whether private interrupt `intid` (< 32) is active on this CPU's redistributor.
pub fn private_active(intid: u32) -> bool {
    this_sgi_frame().isactiver0.get() & 1 << intid != 0
}

pub fn set_private_active(intid: u32, on: bool) {
    let sgi = this_sgi_frame();
    let reg = if on { &sgi.isactiver0 } else { &sgi.icactiver0 };
    reg.set(1 << intid);
}

/// Enables a private interrupt on this CPU's redistributor.
pub fn enable_private(mpidr: u64, intid: u32, on: bool) {
    if let Some(rd) = redistributor(mpidr) {
        let sgi = &rd.sgi;
        let reg = if on { &sgi.isenabler0 } else { &sgi.icenabler0 };
        reg.set(1 << intid);
    }
}

/// Sets the priority of private interrupt `intid` (< 32) in the redistributor of the CPU with affinity `mpidr`.
pub fn set_private_priority(mpidr: u64, intid: u32, priority: u8) {
    if let Some(rd) = redistributor(mpidr) {
        rd.sgi.ipriorityr[(intid % 32) as usize].set(priority);
    }
}

/// Sets SPI `intid`'s pending state (GICD_ISPENDR): it is signalled once more even when its line is low.
pub fn set_spi_pending(intid: u32) {
    gicd().ispendr[word(intid)].set(bit(intid));
}

/// Routes an SPI to the CPU with affinity `mpidr` and enables or disables it.
pub fn enable_spi(intid: u32, mpidr: u64, on: bool) {
    let d = gicd();
    if on {
        d.ipriorityr[entry(intid)].set(PRIORITY);
        d.irouter[entry(intid)].set(mpidr & ROUTE_AFFINITY);
    }
    let reg = if on { &d.isenabler } else { &d.icenabler };
    reg[word(intid)].set(bit(intid));
}
