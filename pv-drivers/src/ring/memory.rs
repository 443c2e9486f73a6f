//! The channel's memory as the ring reaches it: offsets into the channel, byte copies, and barriers.
//!
//! A bare-metal guest maps the channel and implements [`Memory`] with volatile accesses ([`MappedMemory`]); a
//! Linux partition has no mapping, only the sram driver's sysfs file, and implements it with `pread`/`pwrite`
//! (`pv-drivers/hvchan`). The ring code never forms a pointer itself.

use core::fmt;
use core::sync::atomic::{self, Ordering};

pub use crate::virtio::memory::Fence;

/// A channel's shared memory, `size()` bytes from offset 0.
///
/// Contract, which the ring's correctness rests on:
/// - An access that is not wholly inside `0..size()` fails (with `Self::Error`) before touching anything. The ring
///   never asks for one (it checks every offset it derives from shared memory first), so such an error is a bug.
/// - An 8-byte access at an 8-aligned offset accesses each of its two aligned 32-bit words single-copy atomically:
///   the ring keeps every index in the low word of such a slot, and a reader must never see half of an old index
///   and half of a new one. Other accesses may be split any way (bytes, words).
/// - [`Memory::fence`] orders this side's earlier accesses to the memory before its later ones, as seen by the
///   other member on its CPU.
///
/// Linux's `mmio-sram` file meets the second point: its `pread`/`pwrite` copy with `memcpy_fromio`/`memcpy_toio`,
/// which use one 64-bit access for an aligned 8-byte chunk on arm64 and 32-bit accesses (`ldr`/`ldm`) for aligned
/// words on arm; [`MappedMemory`] uses aligned 32-bit volatile accesses.
pub trait Memory {
    /// Why an access failed: out of range, or an I/O error of the file behind it.
    type Error;

    /// Bytes of channel memory.
    fn size(&self) -> usize;

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Copies `data` to `offset`. Takes `&self`: the memory is shared with another partition anyway, and a
    /// member's sender and receiver write disjoint parts of it.
    fn write(&self, offset: usize, data: &[u8]) -> Result<(), Self::Error>;

    /// Orders this side's accesses before the fence against those after it, as `kind` says.
    ///
    /// The default is the matching `core::sync::atomic::fence`: `dmb ish*` on AArch64 and ARMv7, which orders the
    /// CPU's accesses, whatever the memory type, as CPUs of the inner-shareable domain (every CPU of the board)
    /// observe them. On Linux the copies are the kernel's, made on this same CPU before the fence in program
    /// order, so the same barrier orders them.
    fn fence(&self, kind: Fence) {
        atomic::fence(match kind {
            Fence::Acquire => Ordering::Acquire,
            Fence::Release => Ordering::Release,
            Fence::Full => Ordering::SeqCst,
        });
    }
}

impl<T: Memory + ?Sized> Memory for &T {
    type Error = T::Error;

    fn size(&self) -> usize {
        (**self).size()
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Self::Error> {
        (**self).read(offset, buf)
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), Self::Error> {
        (**self).write(offset, data)
    }

    fn fence(&self, kind: Fence) {
        (**self).fence(kind)
    }
}

/// An access outside the channel's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    pub offset: usize,
    pub len: usize,
    pub size: usize,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x} bytes at offset {:#x} are outside the channel's {:#x} bytes", self.len, self.offset, self.size)
    }
}

/// Checks that `len` bytes at `offset` lie inside `size` bytes, overflow-safely.
pub fn check_range(offset: usize, len: usize, size: usize) -> Result<(), OutOfRange> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(OutOfRange { offset, len, size }),
    }
}

/// A channel mapped into the guest's address space, for bare-metal guests (`tests/guests/chanprobe`).
///
/// Copies with volatile accesses (the other member writes concurrently), aligned 32-bit words wherever offset and
/// length allow and single bytes elsewhere, so it is also correct on Device memory, where a guest running with
/// its MMU off sees the channel and where unaligned accesses fault.
#[derive(Debug)]
pub struct MappedMemory {
    base: *mut u8,
    size: usize,
}

impl MappedMemory {
    /// The channel mapped at `base` for `size` bytes.
    ///
    /// # Safety
    /// `base` must be 4-aligned and valid for volatile reads and writes of `size` bytes for as long as the value
    /// lives (and for reads only, if the partition maps the channel read-only and only reads through it), and no
    /// Rust reference may cover that memory.
    pub unsafe fn new(base: *mut u8, size: usize) -> Self {
        Self { base, size }
    }
}

impl Memory for MappedMemory {
    type Error = OutOfRange;

    fn size(&self) -> usize {
        self.size
    }

    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), OutOfRange> {
        check_range(offset, buf.len(), self.size)?;
        let mut i = 0;
        while i < buf.len() {
            let at = offset + i;
            if at.is_multiple_of(4) && buf.len() - i >= 4 {
                // SAFETY: `at..at + 4` is inside the mapping (checked above), `base` is 4-aligned and so is
                // `at`; `new`'s contract makes the mapping valid for volatile reads.
                let word = unsafe { self.base.add(at).cast::<u32>().read_volatile() };
                buf[i..i + 4].copy_from_slice(&word.to_ne_bytes());
                i += 4;
            } else {
                // SAFETY: `at` is inside the mapping (checked above); see `new`.
                buf[i] = unsafe { self.base.add(at).read_volatile() };
                i += 1;
            }
        }
        Ok(())
    }

    fn write(&self, offset: usize, data: &[u8]) -> Result<(), OutOfRange> {
        check_range(offset, data.len(), self.size)?;
        let mut i = 0;
        while i < data.len() {
            let at = offset + i;
            if at.is_multiple_of(4) && data.len() - i >= 4 {
                let word = u32::from_ne_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                // SAFETY: as in `read`; `new`'s contract makes the mapping valid for volatile writes.
                unsafe { self.base.add(at).cast::<u32>().write_volatile(word) };
                i += 4;
            } else {
                // SAFETY: as in `read`.
                unsafe { self.base.add(at).write_volatile(data[i]) };
                i += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_memory_copies_at_any_offset_and_refuses_outside() {
        let mut backing = [0u32; 8];
        // SAFETY: `backing` is 4-aligned, 32 bytes, and not otherwise used while `m` lives.
        let m = unsafe { MappedMemory::new(backing.as_mut_ptr().cast(), 32) };
        m.write(3, &[1, 2, 3, 4, 5, 6, 7]).unwrap();
        let mut out = [0; 9];
        m.read(2, &mut out).unwrap();
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6, 7, 0]);
        assert_eq!(m.read(30, &mut [0; 3]), Err(OutOfRange { offset: 30, len: 3, size: 32 }));
        assert_eq!(m.write(usize::MAX, &[0; 2]), Err(OutOfRange { offset: usize::MAX, len: 2, size: 32 }));
        m.write(28, &[9; 4]).unwrap();
        assert_eq!(backing[7], 0x0909_0909);
    }
}
