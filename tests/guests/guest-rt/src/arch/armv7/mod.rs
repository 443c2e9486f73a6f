//! ARMv7-A at PL1 (SVC mode), e.g. Cortex-A15 or Cortex-A7: the guest side of the ARM Linux zImage boot protocol.
//! The target is soft-float (`armv7a-none-eabi`), so guest-rt never enables or touches the FPU. Only GICv2 exists
//! here: its CPU interface is memory-mapped, and the shared [`crate::gic::v2`] drives it.

mod boot;
mod fsr;
pub mod probe;
pub mod timer;
mod vectors;

/// CPSR.I: IRQs masked.
const CPSR_I: u32 = 1 << 7;

/// The calling vCPU's index: 0 on the boot vCPU, the PSCI context ID on the others. The entry code keeps it in
/// TPIDRPRW, the PL1-only thread ID register, which nothing else in a guest-rt guest uses.
pub fn cpu_index() -> usize {
    let index: u32;
    // SAFETY: reads a register; no side effects.
    unsafe { core::arch::asm!("mrc p15, 0, {}, c13, c0, 4", out(reg) index, options(nomem, nostack)) };
    index as usize
}

/// MPIDR as the vCPU reads it (hv-static: `0x8000_0000 | index`).
pub fn mpidr() -> u64 {
    let mpidr: u32;
    // SAFETY: reads a register; no side effects.
    unsafe { core::arch::asm!("mrc p15, 0, {}, c0, c0, 5", out(reg) mpidr, options(nomem, nostack)) };
    mpidr.into()
}

/// Unmasks IRQs on the calling vCPU. Also a compiler barrier: memory accesses are not moved across it, so none
/// from a critical section ([`crate::critical`]) ends up after it.
pub fn enable_irqs() {
    // SAFETY: clears CPSR.I only; the vector table is installed before any Rust code runs.
    unsafe { core::arch::asm!("cpsie i", options(nostack, preserves_flags)) };
}

/// Masks IRQs on the calling vCPU and says whether they were unmasked before, so that the caller can restore that
/// with [`enable_irqs`]. A compiler barrier like [`enable_irqs`]: nothing after it is moved before the mask.
pub fn mask_irqs() -> bool {
    let cpsr: u32;
    // SAFETY: reads CPSR and sets CPSR.I only; the caller restores the previous state. Not `nomem`: see above.
    unsafe { core::arch::asm!("mrs {}, cpsr", "cpsid i", out(reg) cpsr, options(nostack, preserves_flags)) };
    cpsr & CPSR_I == 0
}

/// Sleeps until an interrupt is pending (taken at once when IRQs are unmasked).
pub fn wait_for_interrupt() {
    // SAFETY: WFI only waits.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// Stops the calling vCPU for good: all exceptions masked, then WFE forever.
pub fn halt() -> ! {
    // SAFETY: masking exceptions on a vCPU that never runs guest code again cannot break an invariant.
    unsafe { core::arch::asm!("cpsid aif", options(nomem, nostack, preserves_flags)) };
    loop {
        // SAFETY: WFE only waits.
        unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
    }
}

/// Orders earlier stores before a later interrupt-raising write (an SGI), so the target sees the data it is told
/// about.
pub fn write_barrier() {
    // SAFETY: a barrier; no memory is accessed.
    unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// Where PSCI `CPU_ON` should start a secondary vCPU (an ARM-state address); it expects its vCPU index in r0.
pub fn secondary_entry() -> usize {
    boot::secondary_entry()
}
