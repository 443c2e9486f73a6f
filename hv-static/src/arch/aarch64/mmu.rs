//! The hypervisor's own EL2 translation: an identity map in 1 GiB blocks, device memory below RAM and normal
//! write-back memory over the board's RAM. One table serves every CPU.

use aarch64_cpu::registers::{ReadWriteable, Readable, Writeable, MAIR_EL2, SCTLR_EL2, TCR_EL2, TTBR0_EL2};
use core::arch::asm;

use crate::config::SYSTEM;
use crate::stage2::Table;

const GIB: u64 = 1 << 30;
const BLOCK: u64 = 0b01;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 0b11 << 8;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
const XN: u64 = 1 << 54;
/// TCR_EL2 bits 31 and 23 are RES1 when EL2 is not using VHE.
const TCR_EL2_RES1: u64 = 1 << 31 | 1 << 23;

/// Level-1 table: 512 entries of 1 GiB cover the 39-bit space.
static mut EL2_L1: Table = Table::EMPTY;

/// Fills the table; boot CPU only, before any other CPU runs.
pub fn build() {
    let ram_start = SYSTEM.ram_base / GIB;
    let ram_end = (SYSTEM.ram_base + SYSTEM.ram_size).div_ceil(GIB);
    // SAFETY: only the boot CPU runs, with the MMU off; no reference to the table exists yet.
    let l1 = unsafe { &mut *core::ptr::addr_of_mut!(EL2_L1) };
    for (i, e) in l1.0.iter_mut().enumerate() {
        let i = i as u64;
        *e = if (ram_start..ram_end).contains(&i) {
            (i * GIB) | BLOCK | AF | SH_INNER | ATTR_NORMAL
        } else if i < ram_start {
            (i * GIB) | BLOCK | AF | ATTR_DEVICE | XN
        } else {
            0
        };
    }
}

/// Turns the EL2 MMU and caches on with the shared table (every CPU).
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
    TTBR0_EL2.set(core::ptr::addr_of!(EL2_L1) as u64);
    // SAFETY: invalidates stale EL2 TLB entries before the MMU uses the new table.
    unsafe { asm!("dsb ish", "tlbi alle2", "dsb ish", "isb", options(nostack)) };
    SCTLR_EL2.modify(SCTLR_EL2::M::Enable + SCTLR_EL2::C::Cacheable + SCTLR_EL2::I::Cacheable);
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack)) };
    let _ = SCTLR_EL2.get();
}
