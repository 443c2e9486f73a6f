//! Small per-CPU operations on ARMv7-A: identity, sleeping, barriers, cache maintenance, and the Hyp controls
//! that make PL1 a partition.

use core::arch::asm;
use core::sync::atomic::{compiler_fence, Ordering};

use aarch32_cpu::register::hyp::hcr::Bsu;
use aarch32_cpu::register::{
    CntVoff, Cnthctl, Dccmvac, Hcptr, Hcr, Hstr, Htpidr, Hvbar, Midr, Mpidr, SysRegWrite, SysRegWrite64, Vmpidr, Vpidr,
};

use super::exception::hv_vectors;
use super::regs::{Vtcr, Vttbr};

/// Logical index of this CPU (set once at boot in HTPIDR).
#[inline]
pub fn id() -> usize {
    Htpidr::read().0 as usize
}

pub fn mpidr() -> u64 {
    (Mpidr::read().0 & 0xff_ffff) as u64
}

/// HCR.TSC (bit 19): a partition's SMC traps to Hyp mode. aarch32-cpu's `Hcr` has no field for it.
const HCR_TSC: u32 = 1 << 19;

/// Per-CPU Hyp setup common to every CPU: identity, vectors, and the controls every partition runs under.
pub fn init_el2(cpu: usize) {
    // SAFETY: HTPIDR is the hypervisor's own; nothing reads it before this.
    unsafe { Htpidr::write(Htpidr(cpu as u32)) };
    // SAFETY: `hv_vectors` is the Hyp vector table (32-byte aligned, exception.rs).
    unsafe { Hvbar::write(Hvbar(core::ptr::addr_of!(hv_vectors) as u32)) };
    // Stage 2 on (VM); set/way invalidation upgraded to clean and invalidate (SWIO); physical FIQ, IRQ and
    // asynchronous aborts to Hyp mode (FMO, IMO, AMO); maintenance broadcast (FB); barriers at least inner
    // shareable (BSU); SMC trapped (TSC).
    Hcr::write(
        Hcr::new_with_raw_value(HCR_TSC)
            .with_vm(true)
            .with_swio(true)
            .with_fmo(true)
            .with_imo(true)
            .with_amo(true)
            .with_fb(true)
            .with_bsu(Bsu::InnerShareable),
    );
    // Stage 2: 32-bit guest-physical space (T0SZ = 0) starting at level 1, walks write-back inner shareable.
    // SAFETY: stage 2 translates only the partitions' accesses, and none runs before its VTTBR is loaded.
    unsafe { Vtcr::write_raw(1 << 31 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8 | 0b01 << 6) };
    // VFP and Advanced SIMD stay the partition's (no CP10/CP11 traps); the other TCPn bits are RES1.
    Hcptr::write(Hcptr::new_with_raw_value(0x33ff));
    // SAFETY: no CP15 register group is trapped; only the partitions' accesses are affected.
    unsafe { Hstr::write(Hstr(0)) };
    // Counter readable at PL1; the PL1 physical timer traps (partitions use the virtual timer).
    Cnthctl::write(Cnthctl::new_with_raw_value(0).with_pl1pcten(true));
    CntVoff::write(CntVoff(0));
    // SAFETY: partitions read the real MIDR.
    unsafe { Vpidr::write(Vpidr(Midr::read().raw_value())) };
    isb();
}

/// Points stage 2 at a partition's tables and tells the vCPU who it is.
pub fn load_stage2(root: u64, vmid: u16, vcpu_mpidr: u64) {
    // SAFETY: `root` is the partition's complete stage-2 table; stage 2 and VMPIDR affect only the partition, which
    // runs after the TLB invalidation below.
    unsafe {
        Vttbr::write_raw(((vmid as u64) & 0xff) << 48 | root);
        Vmpidr::write(Vmpidr(vcpu_mpidr as u32));
    }
    isb();
    // SAFETY: TLBIALLNSNHIS drops non-Hyp TLB entries that might predate the tables (partition restart).
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c3, 4", "dsb", "isb", in(reg) 0u32, options(nostack)) };
}

pub fn isb() {
    aarch32_cpu::asm::isb();
}

pub fn dsb() {
    aarch32_cpu::asm::dsb();
}

/// Sleeps until an interrupt is pending (Hyp runs with IRQs masked and polls the GIC after).
pub fn wfi() {
    aarch32_cpu::asm::dsb();
    aarch32_cpu::asm::wfi();
}

/// Whether the running partition's WFI traps to Hyp mode (HCR.TWI), set on every vCPU entry.
pub fn trap_wfi(on: bool) {
    Hcr::write(Hcr::read().with_twi(on));
}

pub fn wfe() {
    aarch32_cpu::asm::wfe();
}

pub fn sev() {
    aarch32_cpu::asm::dsb();
    aarch32_cpu::asm::sev();
}

/// Cleans data cache lines covering `[start, start + len)` to the point of coherency (DCCMVAC), so a partition
/// that starts with its MMU and caches off sees what the hypervisor copied.
pub fn clean_dcache(start: u64, len: u64) {
    const LINE: u64 = 64;
    // The crate's DCCMVAC write does not count as a memory access: keep the caller's stores ahead of it.
    compiler_fence(Ordering::SeqCst);
    let mut a = start & !(LINE - 1);
    while a < start + len {
        // SAFETY: cache maintenance by address on memory the hypervisor maps; no data changes.
        unsafe { Dccmvac::write(Dccmvac::new(a as u32)) };
        a += LINE;
    }
    dsb();
}

/// Invalidates the instruction caches and branch predictors, inner shareable (a partition was (re)loaded).
pub fn invalidate_icache() {
    // SAFETY: cache maintenance only (ICIALLUIS, BPIALLIS).
    unsafe {
        asm!("mcr p15, 0, {0}, c7, c1, 0", "mcr p15, 0, {0}, c7, c1, 6", "dsb", "isb", in(reg) 0u32,
        options(nostack))
    };
}

/// ARMv7 has no GICv3 system-register interface.
pub fn has_gicv3_sysregs() -> bool {
    false
}
