//! The hypervisor's own Hyp-mode translation (LPAE), one table tree for every CPU: device memory below RAM in 1 GiB
//! blocks; RAM writable and never executable (2 MiB and 1 GiB blocks), except hv-static's own image, mapped by
//! 4 KiB page as the linker laid it out (`hv-static.ld`): its code read-only and executable, its constants
//! read-only, its data and stacks writable, and the lowest page of each CPU's stack not at all, so that an overflow
//! faults instead of running into the CPU below. HSCTLR.WXN makes "writable implies never executable" a rule of the
//! MMU too.
//!
//! Partition RAM and the boot payload stay mapped (writable, not executable): hv-static copies kernels into
//! partitions at boot and at every restart, and reads guest memory for virtio and instruction decoding.

use core::arch::asm;

use aarch32_cpu::register::{Hmair0, Hmair1, Hsctlr, SysRegWrite, SysRegWrite64};

use super::super::hyp_tables;
use super::regs::{Htcr, Httbr};

/// HSCTLR.WXN: every writable page is never executable, whatever its descriptor says.
const HSCTLR_WXN: u32 = 1 << 19;

/// Fills the tables; boot CPU only, before any other CPU runs.
pub fn build(boot_dtb: usize) {
    hyp_tables::build(4, boot_dtb as u64);
}

pub use hyp_tables::is_stack_guard;

/// Turns the Hyp MMU and caches on with the shared tables (every CPU).
pub fn enable() {
    // SAFETY: the Hyp translation registers take effect only once HSCTLR.M is set below, after the TLB
    // invalidation; the attributes, controls and tables are the ones `build` laid out for them.
    unsafe {
        Hmair0::write(Hmair0(0x04 | 0xff << 8)); // attr0: Device-nGnRE, attr1: Normal WB RA/WA
        Hmair1::write(Hmair1(0));
        // T0SZ = 0 (4 GiB), walks inner/outer write-back, inner shareable; bits 31 and 23 are RES1.
        Htcr::write_raw(1 << 31 | 1 << 23 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8);
        Httbr::write_raw(hyp_tables::l1_addr());
    }
    // SAFETY: TLBIALLH, then barriers, before the MMU uses the new tables.
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c7, 0", "dsb", "isb", in(reg) 0u32, options(nostack)) };
    let hsctlr = Hsctlr::read().with_m(true).with_c(true).with_i(true);
    Hsctlr::write(Hsctlr::new_with_raw_value(hsctlr.raw_value() | HSCTLR_WXN));
    super::cpu::isb();
}
