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

use super::regs::{Htcr, Httbr};
use crate::config::{NUM_CPUS, SYSTEM};
use crate::hwstate::{HypLayout, HypMap, PAGE};
use crate::percpu::{HV_STACKS, STACK_SIZE};
use crate::stage2::Table;

/// Level-3 tables for the hypervisor's image: 4 MiB from the 2 MiB block it starts in (`hv-static.ld` checks
/// that the image with its `.bss` fits).
const L3_TABLES: usize = 2;
/// HSCTLR.WXN: every writable page is never executable, whatever its descriptor says.
const HSCTLR_WXN: u32 = 1 << 19;

const _: () = assert!((STACK_SIZE as u64).is_multiple_of(PAGE) && STACK_SIZE as u64 > PAGE, "a guard page and a stack");

/// Level 1: 4 entries of 1 GiB cover the 32-bit space; level 2 for the GiB holding hv-static; level 3 for it.
static mut HYP_L1: Table = Table::EMPTY;
static mut HYP_L2: Table = Table::EMPTY;
static mut HYP_L3: [Table; L3_TABLES] = [Table::EMPTY; L3_TABLES];

unsafe extern "C" {
    static __hv_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __hv_end: u8;
}

/// Where the linker put hv-static's sections and stacks.
fn layout() -> HypLayout {
    let at = |s: *const u8| s as usize as u64;
    HypLayout {
        text: (at(&raw const __hv_start), at(&raw const __text_end)),
        rodata: (at(&raw const __text_end), at(&raw const __rodata_end)),
        rw: (at(&raw const __rodata_end), at(&raw const __hv_end)),
        stacks: at((&raw const HV_STACKS).cast()),
        stack_size: STACK_SIZE as u64,
        cpus: NUM_CPUS as u64,
    }
}

/// Whether `addr` is in the guard page below a CPU's stack.
pub fn is_stack_guard(addr: u64) -> bool {
    layout().is_guard(addr)
}

/// Fills the tables; boot CPU only, before any other CPU runs.
pub fn build() {
    // SAFETY: only the boot CPU runs, with the MMU off; no reference to the tables exists yet.
    let (l1, l2, l3) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(HYP_L1),
            &mut *core::ptr::addr_of_mut!(HYP_L2),
            &mut *core::ptr::addr_of_mut!(HYP_L3),
        )
    };
    let (l2_addr, l3_addr) = ((&raw const *l2) as usize as u64, (&raw const *l3) as usize as u64);
    HypMap { l1: &mut l1.0[..4], l2, l2_addr, l3, l3_addr }.fill(&layout(), SYSTEM.ram_base, SYSTEM.ram_size);
}

/// Turns the Hyp MMU and caches on with the shared tables (every CPU).
pub fn enable() {
    // SAFETY: the Hyp translation registers take effect only once HSCTLR.M is set below, after the TLB
    // invalidation; the attributes, controls and tables are the ones `build` laid out for them.
    unsafe {
        Hmair0::write(Hmair0(0x04 | 0xff << 8)); // attr0: Device-nGnRE, attr1: Normal WB RA/WA
        Hmair1::write(Hmair1(0));
        // T0SZ = 0 (4 GiB), walks inner/outer write-back, inner shareable; bits 31 and 23 are RES1.
        Htcr::write_raw(1 << 31 | 1 << 23 | 0b11 << 12 | 0b01 << 10 | 0b01 << 8);
        Httbr::write_raw(core::ptr::addr_of!(HYP_L1) as u64);
    }
    // SAFETY: TLBIALLH, then barriers, before the MMU uses the new tables.
    unsafe { asm!("dsb", "mcr p15, 4, {0}, c8, c7, 0", "dsb", "isb", in(reg) 0u32, options(nostack)) };
    let hsctlr = Hsctlr::read().with_m(true).with_c(true).with_i(true);
    Hsctlr::write(Hsctlr::new_with_raw_value(hsctlr.raw_value() | HSCTLR_WXN));
    super::cpu::isb();
}
