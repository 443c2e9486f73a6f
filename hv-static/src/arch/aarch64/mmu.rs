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

use crate::config::{NUM_CPUS, SYSTEM};
use crate::hwstate::{HypLayout, HypMap, PAGE};
use crate::percpu::{HV_STACKS, STACK_SIZE};
use crate::stage2::Table;

/// Level-3 tables for the hypervisor's image: 4 MiB from the 2 MiB block it starts in (`hv-static.ld` checks
/// that the image with its `.bss` fits).
const L3_TABLES: usize = 2;
/// TCR_EL2 bits 31 and 23 are RES1 when EL2 is not using VHE.
const TCR_EL2_RES1: u64 = 1 << 31 | 1 << 23;
/// SCTLR_EL2.WXN: every writable page is never executable, whatever its descriptor says.
const SCTLR_EL2_WXN: u64 = 1 << 19;

const _: () = assert!((STACK_SIZE as u64).is_multiple_of(PAGE) && STACK_SIZE as u64 > PAGE, "a guard page and a stack");

/// Level 1: 512 entries of 1 GiB cover the 39-bit space; level 2 for the GiB holding hv-static; level 3 for it.
static mut EL2_L1: Table = Table::EMPTY;
static mut EL2_L2: Table = Table::EMPTY;
static mut EL2_L3: [Table; L3_TABLES] = [Table::EMPTY; L3_TABLES];

unsafe extern "C" {
    static __hv_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __hv_end: u8;
}

/// Where the linker put hv-static's sections and stacks.
fn layout() -> HypLayout {
    let at = |s: *const u8| s as u64;
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
            &mut *core::ptr::addr_of_mut!(EL2_L1),
            &mut *core::ptr::addr_of_mut!(EL2_L2),
            &mut *core::ptr::addr_of_mut!(EL2_L3),
        )
    };
    let (l2_addr, l3_addr) = ((&raw const *l2) as usize as u64, (&raw const *l3) as usize as u64);
    HypMap { l1: &mut l1.0, l2, l2_addr, l3, l3_addr }.fill(&layout(), SYSTEM.ram_base, SYSTEM.ram_size);
}

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
    TTBR0_EL2.set(core::ptr::addr_of!(EL2_L1) as u64);
    // SAFETY: invalidates stale EL2 TLB entries before the MMU uses the new tables.
    unsafe { asm!("dsb ish", "tlbi alle2", "dsb ish", "isb", options(nostack)) };
    SCTLR_EL2.set(SCTLR_EL2.get() | SCTLR_EL2_WXN);
    SCTLR_EL2.modify(SCTLR_EL2::M::Enable + SCTLR_EL2::C::Cacheable + SCTLR_EL2::I::Cacheable);
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack)) };
    let _ = SCTLR_EL2.get();
}
