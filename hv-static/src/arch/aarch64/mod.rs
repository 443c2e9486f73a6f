//! Everything specific to AArch64 at EL2. The rest of hv-static reaches the CPU only through this module.

pub mod boot;
pub mod context;
pub mod cpu;
pub mod exception;
pub mod firmware;
pub mod gicv3_sysregs;
pub mod inject;
pub mod mmu;
pub mod sysreg;
pub mod timer;

use aarch64_cpu::registers::{Readable, ESR_EL2, FAR_EL2, HPFAR_EL2};

pub use context::{El1Regs, FpRegs, GuestRegs};

/// Syndrome, faulting address and faulting guest-physical page of the current trap.
pub fn trap_syndrome() -> (u64, u64, u64) {
    (ESR_EL2.get(), FAR_EL2.get(), HPFAR_EL2.get())
}

/// Address where a secondary CPU enters, for PSCI CPU_ON.
pub fn secondary_entry_address() -> u64 {
    boot::secondary_entry as *const () as u64
}

/// AArch64 describes every single-register load and store in the syndrome, so nothing is decoded: an access
/// without one (LDP/STP, writeback, SIMD, exclusives) to an emulated device is answered with an abort instead.
pub fn decode_unsyndromed(_regs: &GuestRegs) -> Option<NoDecode> {
    None
}

/// Stands in for `a32_decode::Decoded`, which AArch64 never produces.
pub enum NoDecode {}

impl NoDecode {
    pub fn parts(self) -> (crate::esr::DataAbort, Option<(u8, i32)>) {
        match self {}
    }
}
