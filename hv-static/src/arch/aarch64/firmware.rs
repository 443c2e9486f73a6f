//! Calls to the platform firmware over SMC: PSCI to start secondary CPUs, SMCCC discovery, and the branch-predictor
//! workaround some CPUs need when they switch partitions; or, on a board without such firmware, the spin table its
//! boot loader parks the other CPUs in.

use core::arch::asm;

use crate::config::{CpuStart, SYSTEM};
use crate::hwstate::smccc;

const PSCI_CPU_ON_64: u64 = hv_plan::abi::psci::CPU_ON_64 as u64;

/// Starts physical CPU `mpidr` at `entry` (a physical address), with `context` in x0 where the method passes one
/// (the secondary entry does not rely on it: it finds itself by its MPIDR). Returns a PSCI status.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    match SYSTEM.cpu_start {
        CpuStart::Psci => call(PSCI_CPU_ON_64, mpidr, entry, context),
        CpuStart::SpinTable { release_base } => release_from_spin_table(release_base + 8 * (mpidr & 0xff), entry),
        // A 32-bit boot monitor's protocol: no AArch64 board uses it.
        CpuStart::SysFlags { .. } => hv_plan::abi::psci::NOT_SUPPORTED as i64,
    }
}

/// Writes `entry` to a parked CPU's release address and wakes it. The CPU polls with its MMU and caches off, so the
/// write is cleaned from the data cache to the point of coherency before the event is sent.
fn release_from_spin_table(release: u64, entry: u64) -> i64 {
    // SAFETY: `release` is a release address of the board's spin table from the generated configuration: RAM below
    // every image and partition (the layout keeps the boot loader's first 2 MiB free), which the hypervisor's own
    // map covers; only the parked CPU reads it.
    unsafe {
        core::ptr::write_volatile(release as usize as *mut u64, entry);
        asm!("dc cvac, {0}", "dsb sy", "sev", in(reg) release, options(nostack));
    }
    0
}

/// An SMCCC fast call with one argument, for discovery (`hwstate::branch_predictor`): returns w0 sign-extended, as
/// SMC32 calls return 32-bit values.
pub fn smccc_call(function: u32, arg: u32) -> i64 {
    call(function as u64, arg as u64, 0, 0) as i32 as i64
}

/// SMCCC_ARCH_WORKAROUND_1: the firmware invalidates this CPU's branch predictors. Only called when the firmware
/// said it implements it (SMCCC_ARCH_FEATURES).
pub fn arch_workaround_1() {
    let _ = call(smccc::ARCH_WORKAROUND_1 as u64, 0, 0, 0);
}

fn call(function: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let mut x0 = function;
    // SAFETY: an SMCCC call: x0-x3 are arguments, x0 the result, x4-x17 may be clobbered by the firmware, which
    // touches no memory of ours.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
            out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack)
        );
    }
    x0 as i64
}
