//! How the GIC drivers reach the GIC's memory-mapped frames: a frame's address becomes a reference to its typed
//! register block (`gicv2::regs`, `gicv3::regs`). Every access then goes through a tock-registers cell, volatile
//! and exactly as wide as the register's declared type, so the access widths are fixed once, in the register maps,
//! not at each call site.

/// The register block `T` of the GIC frame at `addr`.
///
/// # Safety
/// `addr` must be the base of a GIC frame laid out as `T` (at least as large), mapped as device memory for as long
/// as hv-static runs. The board description's frames are: hv-static's own translation maps everything below RAM
/// as device memory, and with the MMU still off every data access is a device access.
#[inline(always)]
pub unsafe fn frame<T>(addr: u64) -> &'static T {
    // SAFETY: the caller's promise makes `addr` a valid `T` for ever; `T`'s fields are tock-registers cells, read
    // and written only through volatile accesses, so sharing the reference (between CPUs too) lets the compiler
    // neither cache nor merge an access.
    unsafe { &*(addr as usize as *const T) }
}

/// The register of an INTID in a GIC array of one bit per INTID (GICD_ISENABLER<n> and the like: 32 registers
/// for the 1,020 INTIDs). The index wraps instead of leaving the array: INTIDs hv-static names are below 1,020, so
/// it never does, and the compiler needs no bounds check (nor a panic path) on the interrupt paths.
#[inline(always)]
pub const fn word(intid: u32) -> usize {
    (intid / 32 % 32) as usize
}

/// The bit of an INTID in its register of [`word`].
#[inline(always)]
pub const fn bit(intid: u32) -> u32 {
    1 << (intid % 32)
}

/// The entry of an INTID in a GIC array of one entry per INTID (GICD_IPRIORITYR<n> bytes, GICD_IROUTER<n>): the
/// register maps declare 1,024, so this index too wraps instead of leaving the array (see [`word`]).
#[inline(always)]
pub const fn entry(intid: u32) -> usize {
    (intid % 1024) as usize
}
