//! Calls to the platform firmware's PSCI (SMC conduit), used to start secondary CPUs.

use core::arch::asm;

const PSCI_CPU_ON_64: u64 = 0xC400_0003;

/// Starts physical CPU `mpidr` at `entry` (a physical address) with `context` in x0. Returns PSCI's status.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    let mut x0 = PSCI_CPU_ON_64;
    // SAFETY: an SMCCC call: x0-x3 are arguments, x0 the result, x4-x17 may be clobbered by the firmware.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") x0, inout("x1") mpidr => _, inout("x2") entry => _, inout("x3") context => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
            out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack)
        );
    }
    x0 as i64
}
