//! The hypervisor's own EL2 translation, one table tree for every CPU: device memory below RAM in 1 GiB blocks;
//! RAM writable and never executable (2 MiB and 1 GiB blocks), except hv-static's own image, mapped by 4 KiB page
//! as the linker laid it out (`hv-static.ld`): its code read-only and executable, its constants read-only, its data
//! and stacks writable, and the lowest page of each CPU's stack not at all, so that an overflow faults instead of
//! running into the CPU below. SCTLR_EL2.WXN makes "writable implies never executable" a rule of the MMU too.
//!
//! Partition RAM and the boot payload stay mapped (writable, not executable): hv-static copies kernels into
//! partitions at boot and at every restart, and reads guest memory for virtio and instruction decoding.

use aarch64_cpu::registers::{ReadWriteable, Readable, Writeable, MAIR_EL2, SCTLR_EL2, TCR_EL2, TTBR0_EL2};
use core::arch::asm;

use super::super::hyp_tables;

/// TCR_EL2 bits 31 and 23 are RES1 when EL2 is not using VHE.
const TCR_EL2_RES1: u64 = 1 << 31 | 1 << 23;
/// SCTLR_EL2.WXN: every writable page is never executable, whatever its descriptor says.
const SCTLR_EL2_WXN: u64 = 1 << 19;

/// Fills the tables; boot CPU only, before any other CPU runs.
pub fn build(boot_dtb: usize) {
    hyp_tables::build(512, boot_dtb as u64);
}

pub use hyp_tables::is_stack_guard;

/// Turns the EL2 MMU and caches on with the shared tables (every CPU).
pub fn enable() {
    MAIR_EL2.set(0x00_04 | 0xff << 8); // attr0: Device-nGnRE, attr1: Normal WB RA/WA
    TCR_EL2.write(
        TCR_EL2::T0SZ.val(25)
            + TCR_EL2::TG0::KiB_4
            + TCR_EL2::SH0::Inner
            + TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL2::PS::Bits_40,
    );
    TCR_EL2.set(TCR_EL2.get() | TCR_EL2_RES1);
    TTBR0_EL2.set(hyp_tables::l1_addr());
    // SAFETY: invalidates stale EL2 TLB entries before the MMU uses the new tables.
    unsafe { asm!("dsb ish", "tlbi alle2", "dsb ish", "isb", options(nostack)) };
    SCTLR_EL2.set(SCTLR_EL2.get() | SCTLR_EL2_WXN);
    SCTLR_EL2.modify(SCTLR_EL2::M::Enable + SCTLR_EL2::C::Cacheable + SCTLR_EL2::I::Cacheable);
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack)) };
    let _ = SCTLR_EL2.get();
}
