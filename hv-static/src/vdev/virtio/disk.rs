//! The backing store of a virtio-blk device: a RAM-backed disk the layout reserved, or a slice of the board's own
//! disk (`backing = "host"`, driven by [`crate::hw::hostdev`]). The partition sees the same device either way.

use core::cell::UnsafeCell;

use pv_drivers::virtio::blk::{BackendError, BlockBackend, Sink, Source, TRANSFER_MAX};

use crate::config::{DiskBacking, DiskConfig, NUM_CPUS, SYSTEM};
use crate::hw::hostdev;

const SECTOR: u64 = 512;

/// Board-disk requests one batch of a host-backed disk's device may make (each one a synchronous round trip of up
/// to 4 KiB, see `hostdev`): the trap that serves a batch then waits for at most this many answers, whatever the
/// partition asked (a maximal request of ~3.9 MiB takes ~250 batches of 16 KiB, each in a later trap). RAM-backed disks
/// copy, and the device's byte budget per batch bounds them.
const HOST_TRANSFERS_PER_BATCH: u32 = 4;

/// On the boot CPU, before any partition starts: fills every RAM-backed disk (zeroes, then its image). The board's
/// disk, which host-backed disks slice, is `hostdev`'s.
pub fn init() {
    for d in SYSTEM.disks {
        let DiskBacking::Ram { pa, image } = d.backing else { continue };
        // SAFETY: the image builder reserved `pa..pa + size` for this disk alone, inside RAM the hypervisor maps,
        // and copied the image into the boot image at `src_pa` (validated against the layout at build time).
        unsafe {
            core::ptr::write_bytes(pa as usize as *mut u8, 0, d.size as usize);
            if let Some(l) = image {
                core::ptr::copy_nonoverlapping(
                    l.src_pa as usize as *const u8,
                    l.dst_pa as usize as *mut u8,
                    l.size as usize,
                );
            }
        }
    }
}

/// Each CPU's bounce buffer between a RAM-backed disk and guest memory: one backend call's worth (up to
/// [`TRANSFER_MAX`] bytes, so one hand-over per call instead of one per sector), too big for a 16 KiB EL2 stack,
/// aligned for `copy_bulk`'s load/store pairs.
#[repr(align(64))]
struct Bounce(UnsafeCell<[u8; TRANSFER_MAX]>);

// SAFETY: each CPU only ever uses its own entry (see `bounce`).
unsafe impl Sync for Bounce {}

static BOUNCE: [Bounce; NUM_CPUS] = [const { Bounce(UnsafeCell::new([0; TRANSFER_MAX])) }; NUM_CPUS];

/// This CPU's bounce buffer.
fn bounce() -> &'static mut [u8; TRANSFER_MAX] {
    // SAFETY: the entry belongs to the calling CPU alone; EL2 runs with interrupts masked, so no other use of it
    // begins on this CPU before the caller (one backend call, which does not call itself) has returned.
    unsafe { &mut *BOUNCE[crate::arch::cpu::id()].0.get() }
}

/// A disk as one partition attached it (read-only or read-write).
pub struct PhysDisk {
    pub disk: &'static DiskConfig,
    pub read_only: bool,
}

impl PhysDisk {
    /// The byte offset of `len` bytes at `sector` on the disk, if they are whole sectors on it.
    fn range(&self, sector: u64, len: usize) -> Result<u64, BackendError> {
        let off = sector.checked_mul(SECTOR).ok_or(BackendError::OutOfRange)?;
        let end = off.checked_add(len as u64).ok_or(BackendError::OutOfRange)?;
        if !(len as u64).is_multiple_of(SECTOR) || end > self.disk.size {
            return Err(BackendError::OutOfRange);
        }
        Ok(off)
    }
}

impl BlockBackend for PhysDisk {
    fn capacity_sectors(&self) -> u64 {
        self.disk.size / SECTOR
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read(&mut self, sector: u64, len: usize, sink: Sink<'_>) -> Result<(), BackendError> {
        let off = self.range(sector, len)?;
        if len == 0 {
            return Ok(());
        }
        match self.disk.backing {
            DiskBacking::Ram { pa, .. } => {
                // Through this CPU's bounce buffer rather than a slice of the disk: another partition may write the
                // disk meanwhile, and a reference must not see memory change under it.
                let piece = bounce();
                let end = off + len as u64;
                for at in (off..end).step_by(piece.len()) {
                    let piece = &mut piece[..(end - at).min(TRANSFER_MAX as u64) as usize];
                    // SAFETY: `range` keeps the copy inside the disk's reserved memory, which the hypervisor maps.
                    unsafe {
                        crate::arch::cpu::copy_bulk(piece.as_mut_ptr(), (pa + at) as usize as *const u8, piece.len())
                    };
                    sink(piece)?;
                }
                Ok(())
            }
            // The slice starts on a sector boundary of the board's disk (the layout aligns slices to 1 MiB).
            DiskBacking::Host { offset } => hostdev::read((offset + off) / SECTOR, len, sink),
        }
    }

    fn write(&mut self, sector: u64, len: usize, source: Source<'_>) -> Result<(), BackendError> {
        if self.read_only {
            return Err(BackendError::ReadOnly);
        }
        let off = self.range(sector, len)?;
        if len == 0 {
            return Ok(());
        }
        match self.disk.backing {
            DiskBacking::Ram { pa, .. } => {
                let piece = bounce();
                let end = off + len as u64;
                for at in (off..end).step_by(piece.len()) {
                    let piece = &mut piece[..(end - at).min(TRANSFER_MAX as u64) as usize];
                    source(piece)?;
                    // SAFETY: as for `read`; the builder lets at most one partition attach a disk read-write.
                    unsafe { crate::arch::cpu::copy_bulk((pa + at) as usize as *mut u8, piece.as_ptr(), piece.len()) };
                }
                Ok(())
            }
            DiskBacking::Host { offset } => hostdev::write((offset + off) / SECTOR, len, source),
        }
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        match self.disk.backing {
            DiskBacking::Ram { .. } => Ok(()),
            DiskBacking::Host { .. } => hostdev::flush(),
        }
    }

    fn transfers_per_batch(&self) -> u32 {
        match self.disk.backing {
            DiskBacking::Ram { .. } => u32::MAX,
            DiskBacking::Host { .. } => HOST_TRANSFERS_PER_BATCH,
        }
    }
}
