//! Small per-CPU operations: identity, sleeping, barriers, cache maintenance, and the EL2 controls that make
//! EL1 a partition (stage-2 on, traps, timer access, identity registers).

use aarch64_cpu::registers::{
    ReadWriteable, Readable, Writeable, CNTHCTL_EL2, CNTVOFF_EL2, HCR_EL2, MIDR_EL1, MPIDR_EL1, TPIDR_EL2, VBAR_EL2,
    VMPIDR_EL2, VTCR_EL2, VTTBR_EL2,
};
use core::arch::asm;

use super::exception::hv_vectors;

/// Logical index of this CPU (set once at boot in TPIDR_EL2).
#[inline]
pub fn id() -> usize {
    TPIDR_EL2.get() as usize
}

pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// Per-CPU EL2 setup common to every CPU: identity, vectors, and the controls every partition runs under.
pub fn init_el2(cpu: usize) {
    TPIDR_EL2.set(cpu as u64);
    VBAR_EL2.set(core::ptr::addr_of!(hv_vectors) as u64);
    HCR_EL2.write(
        HCR_EL2::RW::EL1IsAarch64
            + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
            + HCR_EL2::AMO::SET
            + HCR_EL2::IMO::EnableVirtualIRQ
            + HCR_EL2::FMO::EnableVirtualFIQ
            + HCR_EL2::FB::SET
            + HCR_EL2::BSU::InnerShareable
            + HCR_EL2::SWIO::SET
            + HCR_EL2::VM::Enable,
    );
    // 39-bit guest-physical space starting at level 1, 4 KiB granule, 40-bit output, walks cacheable.
    VTCR_EL2.write(
        VTCR_EL2::T0SZ.val(25)
            + VTCR_EL2::SL0.val(1)
            + VTCR_EL2::IRGN0::NormalWBRAWA
            + VTCR_EL2::ORGN0::NormalWBRAWA
            + VTCR_EL2::SH0::Inner
            + VTCR_EL2::TG0::Granule4KB
            + VTCR_EL2::PS::PA_40B_1TB,
    );
    VTCR_EL2.set(VTCR_EL2.get() | 1 << 31);
    // Counter readable at EL1; the EL1 physical timer traps (partitions use the virtual timer).
    CNTHCTL_EL2.set(CNTHCTL_EL2_EL1PCTEN);
    CNTVOFF_EL2.set(0);
    // SAFETY: VPIDR_EL2 only changes what EL1 reads from MIDR_EL1.
    unsafe { asm!("msr vpidr_el2, {}", in(reg) MIDR_EL1.get(), options(nomem, nostack)) };
    isb();
}

const CNTHCTL_EL2_EL1PCTEN: u64 = 1 << 0;

/// Points stage 2 at a partition's tables and tells the vCPU who it is.
pub fn load_stage2(root: u64, vmid: u16, vcpu_mpidr: u64) {
    VTTBR_EL2.set((vmid as u64) << 48 | root);
    VMPIDR_EL2.set(vcpu_mpidr);
    isb();
    // SAFETY: drops TLB entries of this VMID that might predate the tables (partition restart).
    unsafe { asm!("dsb ishst", "tlbi vmalls12e1is", "dsb ish", "isb", options(nostack)) };
}

pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
}

pub fn dsb() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb ish", options(nostack)) };
}

/// Sleeps until an interrupt is pending (taken or not: EL2 runs with IRQs masked and polls the GIC after).
pub fn wfi() {
    // SAFETY: only waits.
    unsafe { asm!("dsb sy", "wfi", options(nomem, nostack)) };
}

/// Whether the running partition's WFI traps to EL2 (HCR_EL2.TWI), set on every vCPU entry.
pub fn trap_wfi(on: bool) {
    HCR_EL2.modify(if on { HCR_EL2::TWI::SET } else { HCR_EL2::TWI::CLEAR });
}

pub fn wfe() {
    // SAFETY: only waits.
    unsafe { asm!("wfe", options(nomem, nostack)) };
}

pub fn sev() {
    // SAFETY: only signals an event to other CPUs.
    unsafe { asm!("dsb ish", "sev", options(nomem, nostack)) };
}

/// Cleans data cache lines covering `[start, start + len)` to the point of coherency, so a partition that starts
/// with its MMU and caches off sees what the hypervisor copied.
pub fn clean_dcache(start: u64, len: u64) {
    const LINE: u64 = 64;
    let mut a = start & !(LINE - 1);
    while a < start + len {
        // SAFETY: cache maintenance by address on memory the hypervisor maps; no data changes.
        unsafe { asm!("dc cvac, {}", in(reg) a, options(nostack)) };
        a += LINE;
    }
    dsb();
}

/// Invalidates the instruction cache (a partition's code was (re)loaded).
pub fn invalidate_icache() {
    // SAFETY: cache maintenance only.
    unsafe { asm!("ic ialluis", "dsb ish", "isb", options(nostack)) };
}

/// ID_AA64PFR0_EL1.GIC: the GICv3 system-register CPU interface exists.
pub fn has_gicv3_sysregs() -> bool {
    use aarch64_cpu::registers::ID_AA64PFR0_EL1;
    (ID_AA64PFR0_EL1.get() >> 24) & 0xf != 0
}
