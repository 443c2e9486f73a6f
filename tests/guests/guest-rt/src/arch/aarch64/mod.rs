//! AArch64 at EL1: the guest side of the Linux arm64 boot protocol that docs/guest-abi.md specifies.

mod boot;
pub mod gicv3;
pub mod probe;
pub mod timer;
mod vectors;

use aarch64_cpu::asm;
use aarch64_cpu::registers::{Readable, MPIDR_EL1, TPIDR_EL1};

/// DAIF.I, as `mrs` reads DAIF: IRQs masked.
const DAIF_I: u64 = 1 << 7;

/// The calling vCPU's index: 0 on the boot vCPU, the PSCI context ID on the others. The entry code keeps it in
/// TPIDR_EL1, a register nothing else in a guest-rt guest uses.
pub fn cpu_index() -> usize {
    TPIDR_EL1.get() as usize
}

/// MPIDR_EL1 as the vCPU reads it (hv-static: `0x8000_0000 | index`).
pub fn mpidr() -> u64 {
    MPIDR_EL1.get()
}

/// Unmasks IRQs on the calling vCPU. Also a compiler barrier: memory accesses are not moved across it, so none
/// from a critical section ([`crate::critical`]) ends up after it.
pub fn enable_irqs() {
    // SAFETY: clears PSTATE.I only; the vector table is installed before any Rust code runs. Not `nomem`: see above.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Masks IRQs on the calling vCPU and says whether they were unmasked before, so that the caller can restore that
/// with [`enable_irqs`]. A compiler barrier like [`enable_irqs`]: nothing after it is moved before the mask.
pub fn mask_irqs() -> bool {
    let daif: u64;
    // SAFETY: reads DAIF and sets PSTATE.I only; the caller restores the previous state. Not `nomem`: see above.
    unsafe { core::arch::asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack, preserves_flags)) };
    daif & DAIF_I == 0
}

/// Sleeps until an interrupt is pending (taken at once when IRQs are unmasked).
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// Stops the calling vCPU for good: all exceptions masked, then WFE forever.
pub fn halt() -> ! {
    // SAFETY: masking exceptions on a vCPU that never runs guest code again cannot break an invariant.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
    loop {
        asm::wfe();
    }
}

/// Orders earlier stores before a later interrupt-raising write (an SGI), so the target sees the data it is told
/// about.
pub fn write_barrier() {
    asm::barrier::dsb(asm::barrier::ISHST);
}

/// Where PSCI `CPU_ON` should start a secondary vCPU; it expects its vCPU index in x0.
pub fn secondary_entry() -> usize {
    boot::secondary_entry()
}
