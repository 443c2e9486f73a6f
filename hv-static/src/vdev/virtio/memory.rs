//! Guest memory as hv-static's devices see it: a partition's RAM, reached only through its own memory map.

use pv_drivers::virtio::{GuestMemory, MemError};

use crate::config::SYSTEM;

/// A partition's RAM as its devices see it: guest-physical addresses checked against the partition's memory map
/// before any access, never anything else.
pub struct PartitionMemory {
    pub part: usize,
}

impl PartitionMemory {
    /// Host-physical address of `len` bytes at `gpa`, if they lie inside one RAM region of the partition.
    fn translate(&self, gpa: u64, len: u64) -> Result<u64, MemError> {
        let end = gpa.checked_add(len).ok_or(MemError::OutOfBounds { gpa, len })?;
        SYSTEM.partitions[self.part]
            .memory
            .iter()
            .find(|m| gpa >= m.ipa && end <= m.ipa + m.size)
            .map(|m| m.pa + (gpa - m.ipa))
            .ok_or(MemError::OutOfBounds { gpa, len })
    }
}

impl GuestMemory for PartitionMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let pa = self.translate(gpa, buf.len() as u64)?;
        // SAFETY: `translate` checked that the range lies in this partition's RAM, which the hypervisor maps; the
        // guest may write it concurrently, so this is a plain copy into our buffer (no reference to it).
        unsafe { crate::arch::cpu::copy_bulk(buf.as_mut_ptr(), pa as usize as *const u8, buf.len()) };
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
        let pa = self.translate(gpa, data.len() as u64)?;
        // SAFETY: as for `read`: inside this partition's RAM only.
        unsafe { crate::arch::cpu::copy_bulk(pa as usize as *mut u8, data.as_ptr(), data.len()) };
        Ok(())
    }

    fn check(&self, gpa: u64, len: u64) -> Result<(), MemError> {
        self.translate(gpa, len).map(|_| ())
    }
}
