//! The physical interrupt controller, whichever version the board has. The version is a build-time constant, so
//! each dispatch below compiles down to one path.

pub mod gicv2;
#[cfg(target_arch = "aarch64")]
pub mod gicv3;
pub mod mmio;

#[cfg(target_arch = "aarch64")]
use crate::arch::gicv3_sysregs as v3;
use crate::config::{GicVersion, SYSTEM};
use crate::vgic::lr::Lr;

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
        },
        {
            let _ = mpidr;
            gicv2::init_cpu();
            for intid in [SGI_KICK, maint, VTIMER_IRQ, HYP_TIMER_IRQ] {
                gicv2::enable(intid, 0, true);
            }
        }
    );
    true
}

/// Acknowledges the highest-priority pending interrupt (>= [`SPURIOUS`] when none).
pub fn ack() -> u32 {
    by_version!(v3::ack(), gicv2::ack())
}

pub fn priority_drop(intid: u32) {
    by_version!(v3::priority_drop(intid), gicv2::priority_drop(intid))
}

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

pub fn nr_lrs() -> usize {
    by_version!(v3::nr_lrs(), gicv2::nr_lrs())
}

pub fn read_lr(i: usize) -> Lr {
    by_version!(v3::read_lr(i), gicv2::read_lr(i))
}

pub fn write_lr(i: usize, lr: &Lr) {
    by_version!(v3::write_lr(i, lr), gicv2::write_lr(i, lr))
}

/// Asks for a maintenance interrupt when the list registers are (nearly) empty, to refill them.
pub fn set_underflow(on: bool) {
    by_version!(v3::set_underflow(on), gicv2::set_underflow(on))
}

/// Virtual CPU interface state outside the LRs: (control, VMCR, active priorities), for saving with a vCPU.
pub fn save_cpu_if() -> (u64, u64, u64) {
    by_version!((v3::ich_hcr(), v3::ich_vmcr(), v3::ich_ap1r0() | v3::ich_ap0r0() << 32), {
        let (h, v, a) = gicv2::save_cpu_if();
        (h as u64, v as u64, a as u64)
    })
}

pub fn restore_cpu_if(hcr: u64, vmcr: u64, apr: u64) {
    by_version!(
        {
            v3::set_ich_vmcr(vmcr);
            v3::set_ich_ap1r0(apr & 0xffff_ffff);
            v3::set_ich_ap0r0(apr >> 32);
            v3::set_ich_hcr(hcr | 1);
        },
        gicv2::restore_cpu_if(hcr as u32, vmcr as u32, apr as u32)
    )
}
