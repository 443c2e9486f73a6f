//! Small per-CPU operations on ARMv7-A: identity, sleeping, barriers, cache maintenance, and the Hyp controls
//! that make PL1 a partition.

use core::arch::asm;

use super::exception::hv_vectors;
use super::regs;

/// Logical index of this CPU (set once at boot in HTPIDR).
#[inline]
pub fn id() -> usize {
    regs::htpidr() as usize
}

pub fn mpidr() -> u64 {
    (regs::mpidr() & 0xff_ffff) as u64
}

const HCR_VM: u32 = 1 << 0;
const HCR_SWIO: u32 = 1 << 1;
const HCR_FMO: u32 = 1 << 3;
const HCR_IMO: u32 = 1 << 4;
const HCR_AMO: u32 = 1 << 5;
const HCR_FB: u32 = 1 << 9;
const HCR_BSU_INNER: u32 = 1 << 10;
const HCR_TWI: u32 = 1 << 13;
const HCR_TSC: u32 = 1 << 19;

/// Per-CPU Hyp setup common to every CPU: identity, vectors, and the controls every partition runs under.
pub fn init_el2(cpu: usize) {
    regs::set_htpidr(cpu as u32);
    regs::set_hvbar(core::ptr::addr_of!(hv_vectors) as u32);
    regs::set_hcr(HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO | HCR_FB | HCR_BSU_INNER | HCR_TSC);
    // Stage 2: 32-bit guest-physical space (T0SZ = 0) starting at level 1, walks write-back inner shareable.
    regs::set_vtcr(1 << 31 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8 | 0b01 << 6);
    // VFP and Advanced SIMD stay the partition's (no CP10/CP11 traps); no CP15 register group is trapped.
    regs::set_hcptr(0x33ff);
    regs::set_hstr(0);
    // Counter readable at PL1; the PL1 physical timer traps (partitions use the virtual timer).
    regs::set_cnthctl(1);
    regs::set_cntvoff(0);
    regs::set_vpidr(regs::midr());
    isb();
}

/// Points stage 2 at a partition's tables and tells the vCPU who it is.
pub fn load_stage2(root: u64, vmid: u16, vcpu_mpidr: u64) {
    regs::set_vttbr(((vmid as u64) & 0xff) << 48 | root);
    regs::set_vmpidr(vcpu_mpidr as u32);
    isb();
    // SAFETY: TLBIALLNSNHIS drops non-Hyp TLB entries that might predate the tables (partition restart).
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c3, 4", "dsb", "isb", in(reg) 0u32, options(nostack)) };
}

pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
}

pub fn dsb() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb", options(nostack)) };
}

/// Sleeps until an interrupt is pending (Hyp runs with IRQs masked and polls the GIC after).
pub fn wfi() {
    // SAFETY: only waits.
    unsafe { asm!("dsb", "wfi", options(nomem, nostack)) };
}

/// Whether the running partition's WFI traps to Hyp mode (HCR.TWI), set on every vCPU entry.
pub fn trap_wfi(on: bool) {
    let hcr = regs::hcr();
    regs::set_hcr(if on { hcr | HCR_TWI } else { hcr & !HCR_TWI });
}

pub fn wfe() {
    // SAFETY: only waits.
    unsafe { asm!("wfe", options(nomem, nostack)) };
}

pub fn sev() {
    // SAFETY: only signals an event to other CPUs.
    unsafe { asm!("dsb", "sev", options(nomem, nostack)) };
}

/// Cleans data cache lines covering `[start, start + len)` to the point of coherency (DCCMVAC), so a partition
/// that starts with its MMU and caches off sees what the hypervisor copied.
pub fn clean_dcache(start: u64, len: u64) {
    const LINE: u64 = 64;
    let mut a = start & !(LINE - 1);
    while a < start + len {
        // SAFETY: cache maintenance by address on memory the hypervisor maps; no data changes.
        unsafe { asm!("mcr p15, 0, {}, c7, c10, 1", in(reg) a as u32, options(nostack)) };
        a += LINE;
    }
    dsb();
}

/// Invalidates the instruction caches and branch predictors, inner shareable (a partition was (re)loaded).
pub fn invalidate_icache() {
    // SAFETY: cache maintenance only.
    unsafe {
        asm!("mcr p15, 0, {0}, c7, c1, 0", "mcr p15, 0, {0}, c7, c1, 6", "dsb", "isb", in(reg) 0u32,
        options(nostack))
    };
}

/// ARMv7 has no GICv3 system-register interface.
pub fn has_gicv3_sysregs() -> bool {
    false
}
