//! Everything specific to ARMv7-A with the virtualization extensions (Hyp mode). The rest of hv-static reaches
//! the CPU only through this module, with the same interface as `arch::aarch64`.

pub mod boot;
pub mod context;
pub mod cpu;
pub mod exception;
pub mod firmware;
pub mod mmu;
pub mod regs;
pub mod sysreg;

pub use context::{El1Regs, FpRegs, GuestRegs};

/// Syndrome, faulting address and faulting guest-physical page of the current trap (HSR, HDFAR or HIFAR,
/// HPFAR). HPFAR has the same layout as AArch64's HPFAR_EL2, so the shared decoder serves both.
pub fn trap_syndrome() -> (u64, u64, u64) {
    let hsr = regs::hsr();
    let far = if hsr >> 26 == crate::esr::ec::IABT_LOWER { regs::hifar() } else { regs::hdfar() };
    (hsr as u64, far as u64, regs::hpfar() as u64)
}

/// Address where a secondary CPU enters, for PSCI CPU_ON.
pub fn secondary_entry_address() -> u64 {
    boot::secondary_entry as *const () as u64
}
