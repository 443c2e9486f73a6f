//! Secondary vCPUs: started through PSCI `CPU_ON` with their vCPU index as the context ID, so each finds its
//! stack and per-vCPU state without any shared counter.

use pv_drivers::abi::psci::{self, PsciError};
use spin::Once;

use crate::{arch, MAX_CPUS};

static SECONDARY: Once<fn(usize) -> !> = Once::new();

/// The calling vCPU's index (0 for the boot vCPU).
pub fn cpu_index() -> usize {
    arch::cpu_index()
}

/// Starts vCPU `index`, whose MPIDR affinity is `mpidr` (its `/cpus` `reg`), running `entry(index)` on its own
/// stack with the vectors (and on AArch64 FP/SIMD) set up. `entry` must be the same function for every vCPU: the
/// first one registered is used.
pub fn start_cpu(index: usize, mpidr: u64, entry: fn(usize) -> !) -> Result<(), PsciError> {
    assert!(index > 0 && index < MAX_CPUS, "vCPU index {index} out of range 1..{MAX_CPUS}");
    SECONDARY.call_once(|| entry);
    psci::cpu_on(mpidr as usize, arch::secondary_entry(), index)
}

/// Where the boot code sends a secondary vCPU.
#[cfg(target_os = "none")]
pub(crate) fn run_secondary(index: usize) -> ! {
    match SECONDARY.get() {
        Some(entry) => entry(index),
        None => panic!("cpu{index} started without a registered entry"),
    }
}
