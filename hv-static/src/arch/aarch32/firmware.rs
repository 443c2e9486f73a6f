//! Calls to the platform firmware's PSCI (SMC conduit), used to start secondary CPUs.

use core::arch::asm;

const PSCI_CPU_ON_32: u32 = 0x8400_0003;

/// Starts physical CPU `mpidr` at `entry` (a physical address) with `context` in r0. Returns PSCI's status.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    let mut r0 = PSCI_CPU_ON_32;
    // SAFETY: an SMCCC call: r0-r3 are arguments, r0 the result; the firmware preserves r4-r14.
    unsafe {
        asm!(
            ".arch_extension sec",
            "smc #0",
            inout("r0") r0, inout("r1") mpidr as u32 => _, inout("r2") entry as u32 => _,
            inout("r3") context as u32 => _, options(nostack)
        );
    }
    r0 as i32 as i64
}
