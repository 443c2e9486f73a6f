//! The physical interrupt controller, whichever version the board has. The version is a build-time constant, so
//! each dispatch below compiles down to one path.

pub mod gicv2;
#[cfg(target_arch = "aarch64")]
pub mod gicv3;
pub mod lr;
pub mod mmio;

use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(target_arch = "aarch64")]
use crate::arch::gicv3_sysregs as v3;
use crate::config::{GicVersion, SYSTEM};
use lr::Lr;

/// SGI the hypervisor sends between its CPUs: "look at your mailbox".
pub const SGI_KICK: u32 = 0;
/// The guest virtual timer's PPI (INTID 27).
pub const VTIMER_IRQ: u32 = 27;
/// The EL2/Hyp physical timer's PPI (INTID 26): window boundaries of cyclic pools.
pub const HYP_TIMER_IRQ: u32 = 26;
/// INTIDs 1020 and up are special (spurious).
pub const SPURIOUS: u32 = 1020;

const IS_V3: bool = matches!(SYSTEM.gic.version, GicVersion::V3);

// ARMv7 has no GICv3 CPU interface: a configuration asking for one cannot be built for it.
#[cfg(not(target_arch = "aarch64"))]
const _: () = assert!(!IS_V3, "GICv3 needs AArch64");

/// Picks the GICv3 or the GICv2 path. On targets without GICv3 the first is not even compiled.
#[cfg(target_arch = "aarch64")]
macro_rules! by_version {
    ($v3:expr, $v2:expr) => {
        if IS_V3 {
            $v3
        } else {
            $v2
        }
    };
}
#[cfg(not(target_arch = "aarch64"))]
macro_rules! by_version {
    ($v3:expr, $v2:expr) => {
        $v2
    };
}

/// The priority of the cyclic scheduler's tick, above the 0x80 of every other interrupt hv-static takes. With equal
/// priorities the GIC may present the lowest INTID first (QEMU's does), and the mailbox kick is SGI 0: a CPU whose
/// partition keeps re-posting deferred work to itself (a long virtio request served a batch per entry) would take
/// kick after kick before a due window boundary, and its cyclic neighbour's window would start late by all of it.
const PRIORITY_TICK: u8 = 0x40;

/// Once, on the boot CPU.
pub fn init_distributor() {
    by_version!(gicv3::init_distributor(), gicv2::init_distributor())
}

/// On every CPU: CPU interface, private interrupts the hypervisor uses, virtual interface on.
pub fn init_cpu(mpidr: u64) -> bool {
    let maint = SYSTEM.gic.maintenance_irq;
    by_version!(
        {
            if !gicv3::init_redistributor(mpidr) {
                return false;
            }
            v3::init_cpu_interface();
            for intid in [SGI_KICK, maint, VTIMER_IRQ, HYP_TIMER_IRQ] {
                gicv3::enable_private(mpidr, intid, true);
            }
            gicv3::set_private_priority(mpidr, HYP_TIMER_IRQ, PRIORITY_TICK);
        },
        {
            let _ = mpidr;
            gicv2::init_cpu();
            for intid in [SGI_KICK, maint, VTIMER_IRQ, HYP_TIMER_IRQ] {
                gicv2::enable(intid, 0, true);
            }
            gicv2::set_private_priority(HYP_TIMER_IRQ, PRIORITY_TICK);
        }
    );
    // Every CPU interface of a system has as many list registers; each CPU records it (the same value).
    let n = by_version!(v3::nr_lrs(), gicv2::nr_lrs()).min(16);
    NR_LRS.store(n as u32, Ordering::Relaxed);
    // List registers reset to UNKNOWN values; vCPU loads write only the ones they use and rely on the rest being
    // empty.
    for i in 0..n {
        write_lr(i, &Lr::EMPTY);
    }
    true
}

/// An acknowledged interrupt: its INTID, and the value the CPU interface returned, which ending it must write
/// back unchanged. On GICv2 an SGI's acknowledge value carries the sending CPU's number (GICC_IAR bits 12:10), and
/// GICC_EOIR / GICC_DIR match on it: written with those bits cleared, an SGI from any CPU but 0 is never dropped
/// nor deactivated on real hardware (QEMU does not check), and the CPU takes no further SGI of that number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked {
    pub intid: u32,
    raw: u32,
}

impl Acked {
    /// From an acknowledge register's value (GICv2 GICC_IAR, GICv3 ICC_IAR1): the INTID is bits 9:0 on GICv2,
    /// 23:0 on GICv3, whose SGIs carry no CPU number.
    pub const fn from_iar(raw: u32, v3: bool) -> Acked {
        Acked { intid: if v3 { raw & 0xff_ffff } else { raw & 0x3ff }, raw }
    }
}

/// Acknowledges the highest-priority pending interrupt (`intid` >= [`SPURIOUS`] when none).
pub fn ack() -> Acked {
    by_version!(Acked::from_iar(v3::ack(), true), Acked::from_iar(gicv2::ack(), false))
}

pub fn priority_drop(a: Acked) {
    by_version!(v3::priority_drop(a.raw), gicv2::priority_drop(a.raw))
}

/// Deactivates an interrupt this CPU acknowledged (see [`Acked`] for why not [`deactivate`] with its INTID).
pub fn end(a: Acked) {
    deactivate(a.raw)
}

/// Deactivates SPI or PPI `intid` (an interrupt acknowledged here is ended with [`end`]).
pub fn deactivate(intid: u32) {
    by_version!(v3::deactivate(intid), gicv2::deactivate(intid))
}

pub fn send_sgi(pcpu: usize, sgi: u32) {
    by_version!(v3::send_sgi(SYSTEM.cpus[pcpu].mpidr, sgi), gicv2::send_sgi(pcpu, sgi))
}

/// Routes a passed-through SPI to `pcpu` and enables it, or disables it.
pub fn route_spi(intid: u32, pcpu: usize, on: bool) {
    by_version!(gicv3::enable_spi(intid, SYSTEM.cpus[pcpu].mpidr, on), gicv2::enable(intid, pcpu, on))
}

/// Makes SPI `intid` pending once more, whatever its line does: a handler that left work for later is called
/// again after whatever else is pending has been taken.
pub fn set_spi_pending(intid: u32) {
    by_version!(gicv3::set_spi_pending(intid), gicv2::set_spi_pending(intid))
}

/// Whether this CPU's private interrupt `intid` is active (taken and not yet deactivated).
pub fn private_active(intid: u32) -> bool {
    by_version!(gicv3::private_active(intid), gicv2::private_active(intid))
}

/// Sets or clears the active state of this CPU's private interrupt `intid`, as a vCPU that owns it comes or goes.
pub fn set_private_active(intid: u32, on: bool) {
    by_version!(gicv3::set_private_active(intid, on), gicv2::set_private_active(intid, on))
}

/// How many list registers this CPU interface has (at most the 16 hv-static uses), read from ICH_VTR_EL2 /
/// GICH_VTR once by [`init_cpu`]: the count is needed on every interrupt's path, where a read of the register and
/// the arithmetic around it were a dozen instructions (issue 15).
static NR_LRS: AtomicU32 = AtomicU32::new(0);

pub fn nr_lrs() -> usize {
    NR_LRS.load(Ordering::Relaxed) as usize
}

/// The list registers that hold nothing, one bit each (ICH_ELRSR_EL2, GICH_ELRSR0): free to take an interrupt
/// without being read first. A register whose level-triggered interrupt the guest completed, and which asked for a
/// maintenance interrupt, is not among them until that has been handled (its state is invalid, its EOI bit set).
pub fn empty_lrs() -> u32 {
    by_version!(v3::empty_lrs(), gicv2::empty_lrs()) & u32::from(lr_mask())
}

/// One bit for each list register this CPU interface has.
pub fn lr_mask() -> u16 {
    ((1u32 << nr_lrs()) - 1) as u16
}

pub fn read_lr(i: usize) -> Lr {
    by_version!(Lr::decode_v3(v3::read_lr(i)), gicv2::read_lr(i))
}

pub fn write_lr(i: usize, lr: &Lr) {
    by_version!(v3::write_lr(i, lr.encode_v3()), gicv2::write_lr(i, lr))
}

/// Asks for a maintenance interrupt when the list registers are (nearly) empty, to refill them.
pub fn set_underflow(on: bool) {
    by_version!(v3::set_underflow(on), gicv2::set_underflow(on))
}

/// The virtual CPU interface state a vCPU owns besides its list registers: saved when it leaves a CPU of a cyclic
/// pool (or is parked) and loaded when it comes back, so that no partition inherits another's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuIf {
    /// ICH_HCR_EL2 / GICH_HCR.
    pub hcr: u32,
    /// ICH_VMCR_EL2 / GICH_VMCR: the virtual priority mask, binary points, group enables.
    pub vmcr: u32,
    /// Group 0 active priorities: ICH_AP0R<n>_EL2, as many as the CPU interface implements (`nr_aprs`). GICv3 only.
    pub ap0r: [u32; 4],
    /// Group 1 active priorities: ICH_AP1R<n>_EL2 on GICv3; on GICv2 the one GICH_APR, in `ap1r[0]`.
    pub ap1r: [u32; 4],
}

impl CpuIf {
    /// A vCPU that never ran: nothing active, everything masked.
    pub const EMPTY: Self = Self { hcr: 0, vmcr: 0, ap0r: [0; 4], ap1r: [0; 4] };
}

/// Saves the virtual CPU interface state of the vCPU leaving this CPU into `s` (in place: a returned value is
/// copied with `memcpy` on the window-switch path).
pub fn save_cpu_if(s: &mut CpuIf) {
    by_version!(
        {
            (s.ap0r, s.ap1r) = v3::read_aprs(v3::nr_aprs());
            s.hcr = v3::ich_hcr() as u32;
            s.vmcr = v3::ich_vmcr() as u32;
        },
        {
            let (hcr, vmcr, apr) = gicv2::save_cpu_if();
            *s = CpuIf { hcr, vmcr, ap0r: [0; 4], ap1r: [apr, 0, 0, 0] };
        }
    )
}

/// Loads the virtual CPU interface state of the vCPU about to run here (the interface stays enabled).
pub fn restore_cpu_if(s: &CpuIf) {
    by_version!(
        {
            v3::set_ich_vmcr(s.vmcr as u64);
            v3::write_aprs(v3::nr_aprs(), &s.ap0r, &s.ap1r);
            v3::set_ich_hcr(s.hcr as u64 | 1);
        },
        gicv2::restore_cpu_if(s.hcr, s.vmcr, s.ap1r[0])
    )
}
