//! What each mode does to one disk, over the [`Disk`] trait so that it is unit-tested against an in-memory disk.
//! A check stops at the first I/O error; a data check reads every sector and describes the first that differs.

use core::fmt;
use core::ops::Range;

use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::Transport;
use virtio_drivers::{Error, Hal};

use crate::pattern::{self, SectorMismatch};

/// Sectors per request: 4 KiB, so requests span more than one descriptor page and are not all single sectors.
const CHUNK_SECTORS: u64 = 8;
const CHUNK_BYTES: usize = CHUNK_SECTORS as usize * SECTOR_SIZE;

/// A block device as the checks see it: whole 512-byte sectors, blocking requests.
pub trait Disk {
    /// Size in sectors.
    fn capacity(&self) -> u64;
    /// Whether the device offers VIRTIO_BLK_F_RO.
    fn read_only(&self) -> bool;
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Error>;
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Error>;
    fn flush(&mut self) -> Result<(), Error>;
}

impl<H: Hal, T: Transport> Disk for VirtIOBlk<H, T> {
    fn capacity(&self) -> u64 {
        VirtIOBlk::capacity(self)
    }

    fn read_only(&self) -> bool {
        self.readonly()
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.read_blocks(usize::try_from(sector).map_err(|_| Error::InvalidParam)?, buf)
    }

    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Error> {
        self.write_blocks(usize::try_from(sector).map_err(|_| Error::InvalidParam)?, buf)
    }

    fn flush(&mut self) -> Result<(), Error> {
        VirtIOBlk::flush(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Flush,
}

/// Why a check failed; displayed as the rest of a `disk: ` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A request on `sectors` failed.
    Io { op: Op, sectors: Range<u64>, error: Error },
    /// Data read back differs from the pattern: the first differing sector, and how many differ of `checked`.
    Mismatch { sector: u64, first: SectorMismatch, sectors: u64, checked: u64 },
    /// readonly mode on a device without VIRTIO_BLK_F_RO (nothing is written to it).
    NotReadOnly,
    /// readonly mode: the device accepted a write.
    WriteAccepted,
    /// A read of sector `capacity` succeeded.
    OutOfRangeRead(u64),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, sectors, error } => {
                let op = match op {
                    Op::Read => "read",
                    Op::Write => "write",
                    Op::Flush => "flush",
                };
                write!(f, "{op} of sectors {}..{} failed: {error}", sectors.start, sectors.end)
            }
            Self::Mismatch { sector, first, sectors, checked } => write!(
                f,
                "mismatch in sector {sector} at byte {}: read {:#04x}, expected {:#04x} ({} of {SECTOR_SIZE} bytes \
                 differ; {sectors} of {checked} sectors differ)",
                first.offset, first.read, first.expected, first.bytes
            ),
            Self::NotReadOnly => f.write_str("device is rw, expected ro"),
            Self::WriteAccepted => f.write_str("write to a read-only device succeeded"),
            Self::OutOfRangeRead(sector) => write!(f, "out-of-range read of sector {sector} succeeded"),
        }
    }
}

/// The chunks covering sectors `0..sectors`: each one's first sector and length in bytes.
fn chunks(sectors: u64) -> impl Iterator<Item = (u64, usize)> {
    (0..sectors).step_by(CHUNK_SECTORS as usize).map(move |first| {
        let count = (sectors - first).min(CHUNK_SECTORS);
        (first, count as usize * SECTOR_SIZE)
    })
}

fn io(op: Op, first: u64, len: usize) -> impl FnOnce(Error) -> Failure {
    move |error| Failure::Io { op, sectors: first..first + (len / SECTOR_SIZE) as u64, error }
}

/// Writes `pattern` over sectors `0..sectors`, flushes, then reads them back and compares.
pub fn write_and_verify(disk: &mut impl Disk, pattern: u8, sectors: u64) -> Result<(), Failure> {
    write(disk, pattern, sectors)?;
    disk.flush().map_err(io(Op::Flush, 0, sectors as usize * SECTOR_SIZE))?;
    verify(disk, pattern, sectors)
}

// The functions with a chunk buffer are never inlined, and return before the next one runs, so that no two chunk
// buffers are on the stack at once: guest-rt's 16 KiB stack has room for one beside virtio-drivers' frames.

/// Writes `pattern` over sectors `0..sectors`.
#[inline(never)]
fn write(disk: &mut impl Disk, pattern: u8, sectors: u64) -> Result<(), Failure> {
    let mut buf = [0; CHUNK_BYTES];
    for (first, len) in chunks(sectors) {
        let data = &mut buf[..len];
        pattern::fill(pattern, first, data);
        disk.write(first, data).map_err(io(Op::Write, first, len))?;
    }
    Ok(())
}

/// Reads sectors `0..sectors` and compares them with `pattern`.
#[inline(never)]
pub fn verify(disk: &mut impl Disk, pattern: u8, sectors: u64) -> Result<(), Failure> {
    let mut buf = [0; CHUNK_BYTES];
    let mut bad: Option<(u64, SectorMismatch)> = None;
    let mut bad_sectors = 0;
    for (first, len) in chunks(sectors) {
        let data = &mut buf[..len];
        // Poison the buffer: a read that reports success without filling it must not pass on stale data.
        data.fill(!pattern::byte(pattern, first, 0));
        disk.read(first, data).map_err(io(Op::Read, first, len))?;
        for (sector, data) in (first..).zip(data.chunks_exact(SECTOR_SIZE)) {
            if let Some(mismatch) = pattern::check_sector(pattern, sector, data) {
                bad_sectors += 1;
                bad.get_or_insert((sector, mismatch));
            }
        }
    }
    match bad {
        None => Ok(()),
        Some((sector, first)) => Err(Failure::Mismatch { sector, first, sectors: bad_sectors, checked: sectors }),
    }
}

/// What `persist` mode found on a disk before writing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Sectors `0..sectors` all read as zeroes: a new disk (or one that did not keep what was written).
    Blank,
    /// They hold the pattern: written before this boot.
    Pattern,
}

/// `persist` mode: blank sectors get the pattern (written, flushed, read back); sectors that already hold it are
/// left alone. Anything else is a mismatch against the pattern.
pub fn persist(disk: &mut impl Disk, pattern: u8, sectors: u64) -> Result<Found, Failure> {
    if blank(disk, sectors)? {
        write_and_verify(disk, pattern, sectors)?;
        return Ok(Found::Blank);
    }
    verify(disk, pattern, sectors).map(|()| Found::Pattern)
}

/// Whether sectors `0..sectors` all read as zeroes.
#[inline(never)]
fn blank(disk: &mut impl Disk, sectors: u64) -> Result<bool, Failure> {
    let mut buf = [0; CHUNK_BYTES];
    for (first, len) in chunks(sectors) {
        let data = &mut buf[..len];
        data.fill(0xff);
        disk.read(first, data).map_err(io(Op::Read, first, len))?;
        if data.iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Expects a read-only device: it offers VIRTIO_BLK_F_RO, sectors `0..sectors` read, and writing sector 0's own
/// contents back fails (so that even a device that wrongly accepts it keeps its data).
pub fn read_only(disk: &mut impl Disk, sectors: u64) -> Result<(), Failure> {
    if !disk.read_only() {
        return Err(Failure::NotReadOnly);
    }
    let mut buf = [0; CHUNK_BYTES];
    for (first, len) in chunks(sectors) {
        disk.read(first, &mut buf[..len]).map_err(io(Op::Read, first, len))?;
    }
    let sector0 = &mut buf[..SECTOR_SIZE];
    disk.read(0, sector0).map_err(io(Op::Read, 0, SECTOR_SIZE))?;
    match disk.write(0, sector0) {
        Ok(()) => Err(Failure::WriteAccepted),
        Err(_) => Ok(()),
    }
}

/// Reads the sector just past the end, which the device must refuse.
pub fn out_of_range_read(disk: &mut impl Disk) -> Result<(), Failure> {
    let capacity = disk.capacity();
    let mut sector = [0; SECTOR_SIZE];
    match disk.read(capacity, &mut sector) {
        Ok(()) => Err(Failure::OutOfRangeRead(capacity)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory disk, with the faults a broken device or backend might have.
    #[derive(Default)]
    struct MemDisk {
        data: Vec<u8>,
        read_only: bool,
        /// Writes silently dropped (a backend that loses data).
        drop_writes: bool,
        /// Reads past the end return zeros instead of failing.
        lax_bounds: bool,
        /// Writes land one sector further than asked.
        off_by_one: bool,
        requests: Vec<(Op, u64, usize)>,
    }

    impl MemDisk {
        fn new(sectors: usize) -> Self {
            Self { data: vec![0; sectors * SECTOR_SIZE], ..Default::default() }
        }

        fn range(&self, sector: u64, len: usize) -> Result<Range<usize>, Error> {
            let start = sector as usize * SECTOR_SIZE;
            (start + len <= self.data.len()).then_some(start..start + len).ok_or(Error::IoError)
        }
    }

    impl Disk for MemDisk {
        fn capacity(&self) -> u64 {
            (self.data.len() / SECTOR_SIZE) as u64
        }

        fn read_only(&self) -> bool {
            self.read_only
        }

        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Error> {
            self.requests.push((Op::Read, sector, buf.len()));
            match self.range(sector, buf.len()) {
                Ok(range) => buf.copy_from_slice(&self.data[range]),
                Err(_) if self.lax_bounds => buf.fill(0),
                Err(e) => return Err(e),
            }
            Ok(())
        }

        fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Error> {
            self.requests.push((Op::Write, sector, buf.len()));
            if self.read_only {
                return Err(Error::IoError);
            }
            let range = self.range(sector + u64::from(self.off_by_one), buf.len())?;
            if !self.drop_writes {
                self.data[range].copy_from_slice(buf);
            }
            Ok(())
        }

        fn flush(&mut self) -> Result<(), Error> {
            self.requests.push((Op::Flush, 0, 0));
            Ok(())
        }
    }

    #[test]
    fn writes_in_chunks_then_flushes_then_reads() {
        let mut disk = MemDisk::new(32);
        assert_eq!(write_and_verify(&mut disk, 0x5a, 20), Ok(()));
        let k = CHUNK_BYTES;
        let tail = 4 * SECTOR_SIZE;
        #[rustfmt::skip]
        assert_eq!(disk.requests, [
            (Op::Write, 0, k), (Op::Write, 8, k), (Op::Write, 16, tail),
            (Op::Flush, 0, 0),
            (Op::Read, 0, k), (Op::Read, 8, k), (Op::Read, 16, tail),
        ]);
        assert!(disk.data[20 * SECTOR_SIZE..].iter().all(|&b| b == 0), "nothing past the requested sectors");
        assert_eq!(verify(&mut disk, 0x5a, 20), Ok(()), "persists");
    }

    #[test]
    fn reports_the_first_bad_byte_and_counts_bad_sectors() {
        let mut disk = MemDisk::new(16);
        write_and_verify(&mut disk, 0x11, 16).unwrap();
        let at = 9 * SECTOR_SIZE + 100;
        let expected = disk.data[at];
        disk.data[at] ^= 0xff;
        disk.data[12 * SECTOR_SIZE] ^= 1;
        let failure = verify(&mut disk, 0x11, 16).unwrap_err();
        let first = SectorMismatch { offset: 100, read: !expected, expected, bytes: 1 };
        assert_eq!(failure, Failure::Mismatch { sector: 9, first, sectors: 2, checked: 16 });
        assert_eq!(
            failure.to_string(),
            format!(
                "mismatch in sector 9 at byte 100: read {:#04x}, expected {expected:#04x} (1 of 512 bytes differ; 2 \
                 of 16 sectors differ)",
                !expected
            )
        );
    }

    #[test]
    fn another_pattern_lost_writes_and_misplaced_writes_fail() {
        let mut disk = MemDisk::new(8);
        write_and_verify(&mut disk, 0x01, 8).unwrap();
        let Err(Failure::Mismatch { sector: 0, first, sectors: 8, .. }) = verify(&mut disk, 0x02, 8) else {
            panic!("another partition's data verified")
        };
        assert_eq!(first.bytes, SECTOR_SIZE);

        let mut lossy = MemDisk { drop_writes: true, ..MemDisk::new(8) };
        assert!(matches!(write_and_verify(&mut lossy, 0x01, 8), Err(Failure::Mismatch { sectors: 8, .. })));

        let mut shifted = MemDisk { off_by_one: true, ..MemDisk::new(9) };
        assert!(matches!(write_and_verify(&mut shifted, 0x01, 8), Err(Failure::Mismatch { sector: 0, .. })));
    }

    #[test]
    fn io_errors_name_the_request() {
        let mut small = MemDisk::new(10);
        let failure = write_and_verify(&mut small, 0, 12).unwrap_err();
        assert_eq!(failure, Failure::Io { op: Op::Write, sectors: 8..12, error: Error::IoError });
        assert_eq!(failure.to_string(), format!("write of sectors 8..12 failed: {}", Error::IoError));
        let failure = verify(&mut MemDisk::new(4), 0, 5).unwrap_err();
        assert_eq!(failure.to_string(), format!("read of sectors 0..5 failed: {}", Error::IoError));
    }

    #[test]
    fn read_only_mode() {
        let mut rw = MemDisk::new(8);
        assert_eq!(read_only(&mut rw, 8), Err(Failure::NotReadOnly));
        assert!(rw.requests.is_empty(), "a rw device is left alone");

        let mut ro = MemDisk { read_only: true, ..MemDisk::new(8) };
        assert_eq!(read_only(&mut ro, 8), Ok(()));
        assert_eq!(ro.requests.last(), Some(&(Op::Write, 0, SECTOR_SIZE)));

        let mut accepts = AcceptsWrites(MemDisk::new(8));
        assert_eq!(read_only(&mut accepts, 8), Err(Failure::WriteAccepted));
        assert_eq!(Failure::WriteAccepted.to_string(), "write to a read-only device succeeded");

        let mut short = MemDisk { read_only: true, ..MemDisk::new(4) };
        assert!(matches!(read_only(&mut short, 8), Err(Failure::Io { op: Op::Read, .. })));
    }

    /// Says RO but takes writes.
    struct AcceptsWrites(MemDisk);

    impl Disk for AcceptsWrites {
        fn capacity(&self) -> u64 {
            self.0.capacity()
        }
        fn read_only(&self) -> bool {
            true
        }
        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Error> {
            self.0.read(sector, buf)
        }
        fn write(&mut self, _: u64, _: &[u8]) -> Result<(), Error> {
            Ok(())
        }
        fn flush(&mut self) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn reads_past_the_end_must_fail() {
        let mut disk = MemDisk::new(8);
        assert_eq!(out_of_range_read(&mut disk), Ok(()));
        assert_eq!(disk.requests, [(Op::Read, 8, SECTOR_SIZE)]);
        let mut lax = MemDisk { lax_bounds: true, ..MemDisk::new(8) };
        assert_eq!(out_of_range_read(&mut lax), Err(Failure::OutOfRangeRead(8)));
        assert_eq!(Failure::OutOfRangeRead(8).to_string(), "out-of-range read of sector 8 succeeded");
    }

    #[test]
    fn persist_writes_a_blank_disk_and_keeps_one_holding_the_pattern() {
        let mut disk = MemDisk::new(32);
        assert_eq!(persist(&mut disk, 0x5a, 20), Ok(Found::Blank));
        assert_eq!(verify(&mut disk, 0x5a, 20), Ok(()));
        disk.requests.clear();
        assert_eq!(persist(&mut disk, 0x5a, 20), Ok(Found::Pattern));
        assert!(disk.requests.iter().all(|r| r.0 == Op::Read), "nothing written the second time");
        // Another pattern, or a disk that lost the writes of an earlier boot in part, is neither.
        assert!(matches!(persist(&mut disk, 0xa5, 20), Err(Failure::Mismatch { sectors: 20, .. })));
        disk.data[5 * SECTOR_SIZE..6 * SECTOR_SIZE].fill(0);
        assert!(matches!(persist(&mut disk, 0x5a, 20), Err(Failure::Mismatch { sector: 5, sectors: 1, .. })));
    }

    #[test]
    fn chunking_covers_exactly_the_sectors() {
        assert_eq!(chunks(1).collect::<Vec<_>>(), [(0, SECTOR_SIZE)]);
        assert_eq!(chunks(16).collect::<Vec<_>>(), [(0, CHUNK_BYTES), (8, CHUNK_BYTES)]);
        assert_eq!(chunks(17).last(), Some((16, SECTOR_SIZE)));
    }
}
