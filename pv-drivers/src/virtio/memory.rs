//! Guest memory as a virtio device sees it: one partition's RAM, addressed by guest-physical address (GPA).
//!
//! Every address a device uses comes from the guest (ring addresses, descriptor addresses and lengths), so nothing
//! here is trusted: an implementation checks each access against the partition's RAM *before* touching memory, and
//! does so without overflow (`gpa + len` may wrap). The device code never forms a host pointer itself; it only asks
//! this trait, so the bounds check lives in exactly one place per implementation.
//!
//! hv-static implements [`GuestMemory`] per partition (the partition's RAM regions, mapped in the hypervisor). The
//! host tests use [`SliceMemory`], a byte buffer placed at a base address.

use core::fmt;
use core::sync::atomic::{self, Ordering};

/// A guest access the partition's RAM does not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemError {
    /// `len` bytes at `gpa` are not all inside the partition's RAM (or `gpa + len` overflows).
    OutOfBounds { gpa: u64, len: u64 },
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfBounds { gpa, len } => write!(f, "{len:#x} bytes at GPA {gpa:#x} are outside guest RAM"),
        }
    }
}

/// The ordering a virtqueue needs between its accesses to guest memory (virtio 1.2 §2.7.7, §2.7.13).
///
/// The guest's driver runs concurrently on another physical CPU, so plain program order is not enough: the device
/// must not read a ring entry before the index that published it, nor publish a used index before the entry it
/// covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    /// After reading `avail.idx`, before reading the ring entries and descriptors it publishes (a load-load
    /// barrier, `dmb ishld` on AArch64).
    Acquire,
    /// After writing used elements, before writing `used.idx` that publishes them (a store-store barrier,
    /// `dmb ishst`).
    Release,
    /// After writing `used.idx`, before reading `avail.flags` to decide on an interrupt (a store-load barrier,
    /// `dmb ish`): otherwise the device could read a stale flag and miss an interrupt the driver asked for.
    Full,
}

/// One partition's RAM, as a virtio device may access it.
///
/// Implementations must reject (with [`MemError`]) any access not wholly inside the partition's RAM, checking
/// overflow-safely, and must do so before touching any byte: a failed access has no effect. Reads and writes are
/// byte copies; they need not be atomic, since virtio only relies on the ordering given by [`GuestMemory::fence`].
pub trait GuestMemory {
    /// Copies `buf.len()` bytes at `gpa` into `buf`.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError>;

    /// Copies `data` to `gpa`.
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError>;

    /// Whether `len` bytes at `gpa` lie inside the partition's RAM, without accessing them. The queue uses it to
    /// reject ring and buffer addresses when the guest publishes them, rather than halfway through a request.
    fn check(&self, gpa: u64, len: u64) -> Result<(), MemError>;

    /// Orders this device's earlier guest-memory accesses against its later ones, as `kind` describes.
    ///
    /// The default is the matching `core::sync::atomic::fence`, which on AArch64 and ARMv7 is the `dmb ish*` that
    /// orders normal cacheable memory between CPUs of the inner-shareable domain: what partition RAM is. An
    /// implementation that maps guest memory differently (non-cacheable, or through a bounce window) overrides it.
    fn fence(&self, kind: Fence) {
        atomic::fence(match kind {
            Fence::Acquire => Ordering::Acquire,
            Fence::Release => Ordering::Release,
            Fence::Full => Ordering::SeqCst,
        });
    }

    /// Reads a little-endian `u16` (all virtio 1.x fields are little-endian).
    fn read_u16(&self, gpa: u64) -> Result<u16, MemError> {
        let mut b = [0; 2];
        self.read(gpa, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian `u32`.
    fn read_u32(&self, gpa: u64) -> Result<u32, MemError> {
        let mut b = [0; 4];
        self.read(gpa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian `u64`.
    fn read_u64(&self, gpa: u64) -> Result<u64, MemError> {
        let mut b = [0; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian `u16`.
    fn write_u16(&mut self, gpa: u64, value: u16) -> Result<(), MemError> {
        self.write(gpa, &value.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    fn write_u32(&mut self, gpa: u64, value: u32) -> Result<(), MemError> {
        self.write(gpa, &value.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    fn write_u64(&mut self, gpa: u64, value: u64) -> Result<(), MemError> {
        self.write(gpa, &value.to_le_bytes())
    }
}

/// Guest RAM as a byte slice placed at guest-physical `base`: the host tests' guest memory, and a reference for the
/// bounds check hv-static's own implementation must make.
///
/// It is not meant for hv-static itself: a `&mut [u8]` over RAM the guest writes concurrently breaks Rust's
/// aliasing rules; the hypervisor's implementation copies with volatile accesses instead.
pub struct SliceMemory<'a> {
    base: u64,
    bytes: &'a mut [u8],
}

impl<'a> SliceMemory<'a> {
    pub fn new(base: u64, bytes: &'a mut [u8]) -> Self {
        Self { base, bytes }
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    /// The byte range of `bytes` that `len` bytes at `gpa` cover, if all of them are inside.
    fn range(&self, gpa: u64, len: u64) -> Result<core::ops::Range<usize>, MemError> {
        let err = MemError::OutOfBounds { gpa, len };
        let offset = gpa.checked_sub(self.base).ok_or(err)?;
        let end = offset.checked_add(len).ok_or(err)?;
        // `u64` → `usize` may truncate on 32-bit hosts: convert with checks, never `as`.
        let size = u64::try_from(self.bytes.len()).map_err(|_| err)?;
        if end > size {
            return Err(err);
        }
        let start = usize::try_from(offset).map_err(|_| err)?;
        let end = usize::try_from(end).map_err(|_| err)?;
        Ok(start..end)
    }
}

impl GuestMemory for SliceMemory<'_> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let range = self.range(gpa, buf.len() as u64)?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
        let range = self.range(gpa, data.len() as u64)?;
        self.bytes[range].copy_from_slice(data);
        Ok(())
    }

    fn check(&self, gpa: u64, len: u64) -> Result<(), MemError> {
        self.range(gpa, len).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_and_writes_inside_ram() {
        let mut ram = [0u8; 64];
        let mut mem = SliceMemory::new(0x1000, &mut ram);
        mem.write_u64(0x1000, 0x0807_0605_0403_0201).unwrap();
        mem.write_u32(0x1038, 0xAABB_CCDD).unwrap();
        mem.write_u16(0x103E, 0x1234).unwrap();
        assert_eq!(mem.read_u64(0x1000), Ok(0x0807_0605_0403_0201));
        assert_eq!(mem.read_u32(0x1038), Ok(0xAABB_CCDD));
        assert_eq!(mem.read_u16(0x103E), Ok(0x1234));
        assert_eq!(mem.read_u16(0x1000), Ok(0x0201), "little-endian");
        assert_eq!(mem.check(0x1000, 64), Ok(()));
        assert_eq!(mem.check(0x1040, 0), Ok(()), "an empty range at the end is inside");
        assert_eq!(ram[0], 1);
        assert_eq!(ram[0x3F], 0x12);
    }

    #[test]
    fn rejects_everything_outside_without_touching_memory() {
        let mut ram = [0x55u8; 64];
        let mut mem = SliceMemory::new(0x1000, &mut ram);
        let oob = |gpa, len| Err(MemError::OutOfBounds { gpa, len });
        let oob_read = |r: Result<u64, MemError>| r.map(|_| ());
        assert_eq!(mem.write(0xFFF, &[0; 2]), oob(0xFFF, 2), "starts below");
        assert_eq!(mem.write(0x103F, &[0; 2]), oob(0x103F, 2), "ends past the top");
        assert_eq!(oob_read(mem.read_u64(0x1040)), oob(0x1040, 8), "starts at the top");
        assert_eq!(oob_read(mem.read_u16(u64::MAX).map(u64::from)), oob(u64::MAX, 2), "wraps");
        assert_eq!(mem.check(0x1001, u64::MAX), oob(0x1001, u64::MAX), "length overflows");
        assert_eq!(mem.check(0, 0x1001), oob(0, 0x1001));
        assert!(ram.iter().all(|&b| b == 0x55), "a failed write has no effect");
    }

    proptest! {
        /// The check is exact: an access succeeds if and only if it lies inside, for any address and length
        /// (including ones whose sum overflows).
        #[test]
        fn check_is_exact(base in any::<u64>(), size in 0usize..256, gpa in any::<u64>(), len in any::<u64>()) {
            let mut ram = vec![0u8; size];
            let base = base.min(u64::MAX - size as u64);
            let mem = SliceMemory::new(base, &mut ram);
            let inside = gpa >= base && (gpa - base).checked_add(len).is_some_and(|end| end <= size as u64);
            prop_assert_eq!(mem.check(gpa, len).is_ok(), inside);
            if len <= 512 {
                let mut buf = vec![0u8; len as usize];
                prop_assert_eq!(mem.read(gpa, &mut buf).is_ok(), inside);
            }
        }
    }
}
