//! Where a virtio-blk device's sectors live. The device validates every request against
//! [`BlockBackend::capacity_sectors`] before calling a backend, and backends check again: a backend is the last
//! line before memory that belongs to nobody's disk.

use core::fmt;

use super::SECTOR_SIZE;

/// Why a backend could not serve a request; the guest sees VIRTIO_BLK_S_IOERR either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// The sectors are not all on the disk, or the buffer is not a whole number of sectors.
    OutOfRange,
    /// A write to a read-only disk.
    ReadOnly,
    /// The medium failed.
    Io,
    /// The device stopped the transfer: its side (guest memory) refused the data. Backends only pass this on.
    Stopped,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange => write!(f, "sectors outside the disk"),
            Self::ReadOnly => write!(f, "write to a read-only disk"),
            Self::Io => write!(f, "I/O error"),
            Self::Stopped => write!(f, "transfer stopped by the device"),
        }
    }
}

/// The device's side of a read: takes the next piece of the data (and copies it into guest memory).
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), BackendError>;

/// The device's side of a write: fills the next piece of the data (from guest memory).
pub type Source<'a> = &'a mut dyn FnMut(&mut [u8]) -> Result<(), BackendError>;

/// A disk of [`SECTOR_SIZE`]-byte sectors.
///
/// Data crosses between the backend and guest memory without a buffer of the device's: the backend lends its
/// own memory to the device's [`Sink`] or [`Source`]. A RAM disk lends the disk itself, a disk behind device
/// requests the buffer those use; the device stays small (the hypervisor keeps devices in statics), and no data
/// is copied twice.
pub trait BlockBackend {
    /// Size of the disk in 512-byte sectors (the config space's `capacity`).
    fn capacity_sectors(&self) -> u64;

    /// Whether the device offers VIRTIO_BLK_F_RO and refuses writes.
    fn read_only(&self) -> bool;

    /// Reads `len / 512` sectors starting at `sector` (`len` is a multiple of 512) and hands them to `sink`, in
    /// order, in one or more pieces from the backend's own memory (its disk, or the buffer a device request used).
    /// An error of `sink` is returned as is, with nothing more read.
    fn read(&mut self, sector: u64, len: usize, sink: Sink<'_>) -> Result<(), BackendError>;

    /// Writes `len / 512` sectors starting at `sector` (`len` is a multiple of 512), having `source` fill the
    /// backend's memory with them, in order, in one or more pieces. An error of `source` is returned as is;
    /// the sectors of the piece it failed on may then hold anything.
    fn write(&mut self, sector: u64, len: usize, source: Source<'_>) -> Result<(), BackendError>;

    /// Makes completed writes durable.
    fn flush(&mut self) -> Result<(), BackendError>;

    /// Most bytes one `read` or `write` call should carry (whole sectors; the device asks for at most
    /// [`TRANSFER_MAX`](super::TRANSFER_MAX), and at least one sector whatever this says).
    fn transfer_max(&self) -> usize {
        super::TRANSFER_MAX
    }

    /// Most `read`, `write` and `flush` calls one batch may make (at least 1 is allowed whatever this says).
    ///
    /// The device already bounds the bytes of a batch ([`BYTES_PER_BATCH`](super::BYTES_PER_BATCH)), which is
    /// what a copy in memory costs. A backend whose every call is a round trip to a device (a synchronous request
    /// to a disk) costs per call instead, and says here how many fit in one batch. Unlimited by default.
    fn transfers_per_batch(&self) -> u32 {
        u32::MAX
    }
}

/// A disk held in RAM the hypervisor owns (a region the image layout reserves for it): the slice is the disk, a
/// trailing partial sector is unused.
pub struct RamDisk<'a> {
    bytes: &'a mut [u8],
    read_only: bool,
}

impl<'a> RamDisk<'a> {
    pub fn new(bytes: &'a mut [u8], read_only: bool) -> Self {
        Self { bytes, read_only }
    }

    /// The byte range of `len` bytes at `sector`, if it is whole sectors on the disk.
    fn range(&self, sector: u64, len: usize) -> Result<core::ops::Range<usize>, BackendError> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return Err(BackendError::OutOfRange);
        }
        let count = (len / SECTOR_SIZE) as u64;
        let end = sector.checked_add(count).ok_or(BackendError::OutOfRange)?;
        if end > self.capacity_sectors() {
            return Err(BackendError::OutOfRange);
        }
        // Below the slice length, so these fit in `usize`.
        let start = sector as usize * SECTOR_SIZE;
        Ok(start..start + len)
    }
}

impl BlockBackend for RamDisk<'_> {
    fn capacity_sectors(&self) -> u64 {
        (self.bytes.len() / SECTOR_SIZE) as u64
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read(&mut self, sector: u64, len: usize, sink: Sink<'_>) -> Result<(), BackendError> {
        let range = self.range(sector, len)?;
        sink(&self.bytes[range])
    }

    fn write(&mut self, sector: u64, len: usize, source: Source<'_>) -> Result<(), BackendError> {
        if self.read_only {
            return Err(BackendError::ReadOnly);
        }
        let range = self.range(sector, len)?;
        source(&mut self.bytes[range])
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_disk_checks_every_range() {
        let mut bytes = vec![0u8; 3 * 512 + 100];
        let mut disk = RamDisk::new(&mut bytes, false);
        assert_eq!(disk.capacity_sectors(), 3, "a trailing partial sector is not part of the disk");
        let fill = |byte| {
            move |piece: &mut [u8]| {
                piece.fill(byte);
                Ok(())
            }
        };
        disk.write(2, 512, &mut fill(7)).unwrap();
        let mut buf = Vec::new();
        let mut take = |piece: &[u8]| {
            buf.extend_from_slice(piece);
            Ok(())
        };
        disk.read(1, 1024, &mut take).unwrap();
        assert!(buf[..512].iter().all(|&b| b == 0) && buf[512..].iter().all(|&b| b == 7));
        let mut never = |_: &[u8]| -> Result<(), BackendError> { panic!("nothing to read") };
        assert_eq!(disk.read(2, 1024, &mut never), Err(BackendError::OutOfRange));
        assert_eq!(disk.read(4, 0, &mut never), Err(BackendError::OutOfRange));
        assert_eq!(disk.read(1, 512, &mut |_| Err(BackendError::Stopped)), Err(BackendError::Stopped));
        assert_eq!(disk.write(u64::MAX, 512, &mut fill(0)), Err(BackendError::OutOfRange));
        assert_eq!(disk.write(0, 100, &mut fill(0)), Err(BackendError::OutOfRange), "not whole sectors");
        assert!(bytes[3 * 512..].iter().all(|&b| b == 0));

        let mut ro = RamDisk::new(&mut bytes, true);
        assert!(ro.read_only());
        assert_eq!(ro.write(0, 512, &mut fill(1)), Err(BackendError::ReadOnly));
        assert_eq!(ro.flush(), Ok(()));
    }
}
