//! The hypervisor's own translation tables, one tree for every CPU and the same on AArch64 EL2 and ARMv7 Hyp mode
//! (both use long descriptors): where the linker put hv-static, and the tables `hwstate::HypMap` fills from it.
//! Each architecture's `mmu.rs` only points its registers at [`l1_addr`] and turns the MMU on.

use super::stacks::{HV_STACKS, NUM_STACKS, STACK_SIZE};
use crate::config::{CpuStart, GicVersion, SYSTEM};
use crate::hwstate::Table;
use crate::hwstate::{HypLayout, HypMap, PAGE};

/// Level-3 tables for the hypervisor's image: 4 MiB from the 2 MiB block it starts in (`hv-static.ld` checks
/// that the image with its `.bss` fits).
const L3_TABLES: usize = 2;

const _: () = assert!((STACK_SIZE as u64).is_multiple_of(PAGE) && STACK_SIZE as u64 > PAGE, "a guard page and a stack");

/// Level 1 (one entry per GiB), level 2 for the GiB holding hv-static, level 3 for its image.
static mut L1: Table = Table::EMPTY;
static mut L2: Table = Table::EMPTY;
static mut L3: [Table; L3_TABLES] = [Table::EMPTY; L3_TABLES];

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
        count: NUM_STACKS as u64,
    }
}

/// Whether `addr` is in the guard page below a stack.
pub fn is_stack_guard(addr: u64) -> bool {
    layout().is_guard(addr)
}

/// Fills the tables, using the first `l1_entries` level-1 entries (512 cover AArch64's 39-bit space, 4 ARMv7's
/// 32-bit one), with the boot loader's device tree at `boot_dtb` readable wherever it is; boot CPU only, before any
/// other CPU runs.
pub fn build(l1_entries: usize, boot_dtb: u64) {
    // SAFETY: only the boot CPU runs, with the MMU off; no reference to the tables exists yet.
    let (l1, l2, l3) = unsafe {
        (&mut *core::ptr::addr_of_mut!(L1), &mut *core::ptr::addr_of_mut!(L2), &mut *core::ptr::addr_of_mut!(L3))
    };
    let (l2_addr, l3_addr) = ((&raw const *l2) as usize as u64, (&raw const *l3) as usize as u64);
    let l1 = &mut l1.0[..l1_entries.min(512)];
    let devices = device_windows();
    HypMap { l1, l2, l2_addr, l3, l3_addr }.fill(&layout(), SYSTEM.ram_base, SYSTEM.ram_size, &devices, boot_dtb);
}

/// The MMIO windows hv-static itself drives, as `(base, size)` (an unused slot is empty): the console UART, the
/// GIC's frames (a GICv3's redistributors for every CPU the board may have: 16 frames' worth), the board's
/// virtio-mmio transports when it serves their disk or network, and the flags register of a sys-flags CPU start.
/// Nothing else of the board's MMIO space is mapped at EL2: passed-through devices belong to their partition's
/// stage 2 alone.
fn device_windows() -> [(u64, u64); 8] {
    const KIB: u64 = 1 << 10;
    let g = &SYSTEM.gic;
    let mut w = [(0, 0); 8];
    w[0] = (SYSTEM.uart, 4 * KIB);
    w[1] = (g.gicd, 64 * KIB);
    w[2] = match g.version {
        GicVersion::V3 => (g.gicr, 16 * 128 * KIB),
        GicVersion::V2 => (g.gicc, 8 * KIB),
    };
    if g.version == GicVersion::V2 {
        w[3] = (g.gich, 4 * KIB);
    }
    if let Some(d) = &SYSTEM.host_disk {
        w[4] = (d.mmio_base, d.mmio_stride * u64::from(d.mmio_count));
    }
    if let Some(n) = &SYSTEM.host_net {
        w[5] = (n.mmio_base, n.mmio_stride * u64::from(n.mmio_count));
    }
    if let CpuStart::SysFlags { set, clear } = SYSTEM.cpu_start {
        w[6] = (set, 4);
        w[7] = (clear, 4);
    }
    w
}

/// The level-1 table's address, for the translation table base register.
pub fn l1_addr() -> u64 {
    core::ptr::addr_of!(L1) as usize as u64
}
