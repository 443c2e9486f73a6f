//! AArch64 at EL1: the guest side of the Linux arm64 boot protocol that docs/guest-abi.md specifies.

mod boot;
pub mod gicv3;
pub mod probe;
pub mod timer;
mod vectors;

use aarch64_cpu::asm;
use aarch64_cpu::registers::{Readable, Writeable, DAIF, MPIDR_EL1, TPIDR_EL1};

/// The calling vCPU's index: 0 on the boot vCPU, the PSCI context ID on the others. The entry code keeps it in
/// TPIDR_EL1, a register nothing else in a guest-rt guest uses.
pub fn cpu_index() -> usize {
    TPIDR_EL1.get() as usize
}

/// MPIDR_EL1 as the vCPU reads it (hv-static: `0x8000_0000 | index`).
pub fn mpidr() -> u64 {
    MPIDR_EL1.get()
}

/// Unmasks IRQs on the calling vCPU.
pub fn enable_irqs() {
    // SAFETY: clears PSTATE.I only; the vector table is installed before any Rust code runs.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack)) };
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

/// Masks IRQs for as long as it lives and restores the previous mask when dropped. The console holds one while
/// it owns the UART lock, so an interrupt handler that prints cannot deadlock against the code it interrupted.
pub struct IrqGuard {
    daif: u64,
}

impl IrqGuard {
    pub fn new() -> Self {
        let daif = DAIF.get();
        // SAFETY: sets PSTATE.I only; the previous mask is restored on drop.
        unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack)) };
        Self { daif }
    }
}

impl Default for IrqGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for IrqGuard {
    fn drop(&mut self) {
        DAIF.set(self.daif);
    }
}
