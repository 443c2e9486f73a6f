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
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange => write!(f, "sectors outside the disk"),
            Self::ReadOnly => write!(f, "write to a read-only disk"),
            Self::Io => write!(f, "I/O error"),
        }
    }
}

/// A disk of [`SECTOR_SIZE`]-byte sectors.
pub trait BlockBackend {
    /// Size of the disk in 512-byte sectors (the config space's `capacity`).
    fn capacity_sectors(&self) -> u64;

    /// Whether the device offers VIRTIO_BLK_F_RO and refuses writes.
    fn read_only(&self) -> bool;

    /// Reads `buf.len() / 512` sectors starting at `sector` (`buf.len()` is a multiple of 512).
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError>;

    /// Writes `data.len() / 512` sectors starting at `sector` (`data.len()` is a multiple of 512).
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError>;

    /// Makes completed writes durable.
    fn flush(&mut self) -> Result<(), BackendError>;
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

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        let range = self.range(sector, buf.len())?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        if self.read_only {
            return Err(BackendError::ReadOnly);
        }
        let range = self.range(sector, data.len())?;
        self.bytes[range].copy_from_slice(data);
        Ok(())
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
        disk.write(2, &[7; 512]).unwrap();
        let mut buf = [0; 1024];
        disk.read(1, &mut buf).unwrap();
        assert!(buf[..512].iter().all(|&b| b == 0) && buf[512..].iter().all(|&b| b == 7));
        assert_eq!(disk.read(2, &mut buf), Err(BackendError::OutOfRange));
        assert_eq!(disk.read(3, &mut []), Ok(()), "nothing at the end is on the disk");
        assert_eq!(disk.read(4, &mut []), Err(BackendError::OutOfRange));
        assert_eq!(disk.write(u64::MAX, &[0; 512]), Err(BackendError::OutOfRange));
        assert_eq!(disk.write(0, &[0; 100]), Err(BackendError::OutOfRange), "not whole sectors");
        assert!(bytes[3 * 512..].iter().all(|&b| b == 0));

        let mut ro = RamDisk::new(&mut bytes, true);
        assert!(ro.read_only());
        assert_eq!(ro.write(0, &[1; 512]), Err(BackendError::ReadOnly));
        assert_eq!(ro.flush(), Ok(()));
    }
}
