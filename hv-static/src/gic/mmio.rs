//! Volatile register access for memory-mapped GIC frames.

use core::ptr;

#[inline]
pub fn read32(addr: u64) -> u32 {
    // SAFETY: callers pass addresses inside GIC frames named by the board description and mapped as device memory
    // in the hypervisor's own tables.
    unsafe { ptr::read_volatile(addr as usize as *const u32) }
}

#[inline]
pub fn write32(addr: u64, v: u32) {
    // SAFETY: as for `read32`.
    unsafe { ptr::write_volatile(addr as usize as *mut u32, v) }
}

#[inline]
pub fn write8(addr: u64, v: u8) {
    // SAFETY: as for `read32`; the GIC's byte-accessible registers (priority, targets) are only written this way.
    unsafe { ptr::write_volatile(addr as usize as *mut u8, v) }
}

#[cfg(target_arch = "aarch64")]
#[inline]
pub fn write64(addr: u64, v: u64) {
    write32(addr, v as u32);
    write32(addr + 4, (v >> 32) as u32);
}

#[cfg(target_arch = "aarch64")]
#[inline]
pub fn read64(addr: u64) -> u64 {
    read32(addr) as u64 | (read32(addr + 4) as u64) << 32
}
