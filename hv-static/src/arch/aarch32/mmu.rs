//! The hypervisor's own Hyp-mode translation (LPAE): an identity map of the 4 GiB space in 1 GiB blocks, device
//! memory below RAM and normal write-back memory over the board's RAM. One table serves every CPU.

use core::arch::asm;

use aarch32_cpu::register::{Hmair0, Hmair1, Hsctlr, SysRegWrite, SysRegWrite64};

use super::regs::{Htcr, Httbr};
use crate::config::SYSTEM;
use crate::stage2::Table;

const GIB: u64 = 1 << 30;
const BLOCK: u64 = 0b01;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
/// AP[2:1] = 0b01: read-write; in Hyp mode AP[1] should be one.
const AP_RW: u64 = 0b01 << 6;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
const XN: u64 = 1 << 54;

static mut HYP_L1: Table = Table::EMPTY;

/// Fills the table; boot CPU only, before any other CPU runs.
pub fn build() {
    let ram_start = SYSTEM.ram_base / GIB;
    let ram_end = (SYSTEM.ram_base + SYSTEM.ram_size).div_ceil(GIB);
    // SAFETY: only the boot CPU runs, with the MMU off; no reference to the table exists yet.
    let l1 = unsafe { &mut *core::ptr::addr_of_mut!(HYP_L1) };
    for (i, e) in l1.0.iter_mut().enumerate().take(4) {
        let i = i as u64;
        *e = if (ram_start..ram_end).contains(&i) {
            (i * GIB) | BLOCK | AF | SH_INNER | AP_RW | ATTR_NORMAL
        } else if i < ram_start {
            (i * GIB) | BLOCK | AF | AP_RW | ATTR_DEVICE | XN
        } else {
            0
        };
    }
}

/// Turns the Hyp MMU and caches on with the shared table (every CPU).
pub fn enable() {
    // SAFETY: the Hyp translation registers take effect only once HSCTLR.M is set below, after the TLB
    // invalidation; the attributes, controls and table are the ones `build` laid out for them.
    unsafe {
        Hmair0::write(Hmair0(0x04 | 0xff << 8)); // attr0: Device-nGnRE, attr1: Normal WB RA/WA
        Hmair1::write(Hmair1(0));
        // T0SZ = 0 (4 GiB), walks inner/outer write-back, inner shareable; bits 31 and 23 are RES1.
        Htcr::write_raw(1 << 31 | 1 << 23 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8);
        Httbr::write_raw(core::ptr::addr_of!(HYP_L1) as u64);
    }
    // SAFETY: TLBIALLH, then barriers, before the MMU uses the new table.
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c7, 0", "dsb", "isb", in(reg) 0u32, options(nostack)) };
    Hsctlr::write(Hsctlr::read().with_m(true).with_c(true).with_i(true));
    super::cpu::isb();
}
