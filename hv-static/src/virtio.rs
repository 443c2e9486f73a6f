//! The virtio-mmio devices hv-static serves itself, with no backend partition: the transport, virtqueue and device
//! logic are `pv-drivers`' (shared, host-tested and fuzzed); this module gives them a partition's memory, the
//! disks' memory and the partition's interrupt, and routes trapped accesses to them.
//!
//! A device is touched only from its own partition's vCPUs, under its lock, so one partition's traffic can never
//! run code on another partition's CPU. Work per access is bounded by the transport (a fixed number of requests
//! per notification); what remains is resumed by kicking the same CPU, so it runs again right after the guest has
//! been re-entered, without holding the CPU for longer in one go.

use pv_drivers::virtio::blk::{BackendError, BlockBackend, VirtioBlk};
use pv_drivers::virtio::{Effects, GuestMemory, MemError, MmioTransport};
use spin::Mutex;

use crate::config::{DiskConfig, VirtioConfig, VirtioDevice, NUM_VIRTIO, SYSTEM};
use crate::percpu::{self, req};
use crate::vcpu::VcpuRef;
use crate::{hvwarn, vgic};

/// Bytes of one device's register window.
pub const WINDOW: u64 = 0x200;

type Blk = MmioTransport<VirtioBlk<PhysDisk>>;

static DEVICES: [Mutex<Option<Blk>>; NUM_VIRTIO] = [const { Mutex::new(None) }; NUM_VIRTIO];

/// On the boot CPU, before any partition starts: fills every RAM-backed disk (zeroes, then its image) and creates
/// the devices.
pub fn init() {
    for d in SYSTEM.disks {
        // SAFETY: the image builder reserved `pa..pa + size` for this disk alone, inside RAM the hypervisor maps,
        // and copied the image into the boot image at `src_pa` (validated against the layout at build time).
        unsafe {
            core::ptr::write_bytes(d.pa as usize as *mut u8, 0, d.size as usize);
            if let Some(l) = d.image {
                core::ptr::copy_nonoverlapping(
                    l.src_pa as usize as *const u8,
                    l.dst_pa as usize as *mut u8,
                    l.size as usize,
                );
            }
        }
    }
    for p in SYSTEM.partitions {
        for v in p.virtio {
            let VirtioDevice::Blk { disk, read_only } = v.device;
            let backend = PhysDisk { disk: &SYSTEM.disks[disk], read_only };
            let blk = VirtioBlk::new(backend).with_id(p.name.as_bytes());
            *DEVICES[v.index].lock() = Some(Blk::new(blk));
        }
    }
}

/// The virtio device of `v`'s partition whose window holds `ipa`, with the offset in it.
pub fn find(v: VcpuRef, ipa: u64) -> Option<(&'static VirtioConfig, u64)> {
    v.partition().virtio.iter().find(|d| ipa >= d.ipa && ipa - d.ipa < WINDOW).map(|d| (d, ipa - d.ipa))
}

/// A trapped access of `size` bytes at `offset` in device `d`'s window; returns the value read.
pub fn access(v: VcpuRef, d: &VirtioConfig, offset: u64, size: u8, write: Option<u64>) -> u64 {
    let mut mem = PartitionMemory { part: v.part };
    let (value, fx, broke) = {
        let mut slot = DEVICES[d.index].lock();
        let Some(dev) = slot.as_mut() else { return 0 };
        match write {
            None => (dev.read(offset, size) as u64, None, None),
            Some(w) => {
                let fx = dev.write(offset, size, w as u32, &mut mem);
                (0, Some(fx), newly_broken(d.index, dev))
            }
        }
    };
    if let Some(e) = broke {
        hvwarn!("partition '{}' virtio-blk at {:#x} needs reset: {e}", v.partition().name, d.ipa);
    }
    if let Some(fx) = fx {
        apply(v, d, fx);
    }
    value
}

/// DEVICE_NEEDS_RESET in the status register.
const NEEDS_RESET: u32 = 0x40;

/// Per device: whether its current broken state was reported (once per break, until the driver resets it).
static REPORTED: [core::sync::atomic::AtomicBool; NUM_VIRTIO] =
    [const { core::sync::atomic::AtomicBool::new(false) }; NUM_VIRTIO];

/// The error that just put the device in DEVICE_NEEDS_RESET, once.
fn newly_broken(index: usize, dev: &Blk) -> Option<pv_drivers::virtio::Error> {
    use core::sync::atomic::Ordering::Relaxed;
    if dev.status() & NEEDS_RESET == 0 {
        REPORTED[index].store(false, Relaxed);
        return None;
    }
    if REPORTED[index].swap(true, Relaxed) {
        return None;
    }
    dev.last_error()
}

/// Raises the device's interrupt when the transport asks, and schedules the rest of a notification's work.
fn apply(v: VcpuRef, d: &VirtioConfig, fx: Effects) {
    if fx.interrupt {
        vgic::inject(VcpuRef { part: v.part, idx: 0 }, d.intid, 0);
    }
    if fx.more_work {
        PENDING[d.index].store(true, core::sync::atomic::Ordering::Release);
        percpu::defer(req::VIRTIO);
    }
}

static PENDING: [core::sync::atomic::AtomicBool; NUM_VIRTIO] =
    [const { core::sync::atomic::AtomicBool::new(false) }; NUM_VIRTIO];

/// Continues deferred queue work of `v`'s partition's devices (one bounded batch each).
pub fn resume(v: VcpuRef) {
    for d in v.partition().virtio {
        if !PENDING[d.index].swap(false, core::sync::atomic::Ordering::AcqRel) {
            continue;
        }
        let mut mem = PartitionMemory { part: v.part };
        let fx = match DEVICES[d.index].lock().as_mut() {
            Some(dev) => dev.run_pending(&mut mem),
            None => continue,
        };
        apply(v, d, fx);
    }
}

/// The guest completed device interrupt `intid` of partition `part`: a level interrupt that is still high fires
/// again.
pub fn resample(part: usize, intid: u32) {
    for d in SYSTEM.partitions[part].virtio.iter().filter(|d| d.intid == intid) {
        let high = DEVICES[d.index].lock().as_ref().is_some_and(|dev| dev.interrupt_level());
        if high {
            vgic::inject(VcpuRef { part, idx: 0 }, intid, 0);
        }
    }
}

/// Whether `intid` is one of `part`'s virtio interrupts.
pub fn owns_irq(part: usize, intid: u32) -> bool {
    SYSTEM.partitions[part].virtio.iter().any(|d| d.intid == intid)
}

/// A partition's RAM as its devices see it: guest-physical addresses checked against the partition's memory map
/// before any access, never anything else.
struct PartitionMemory {
    part: usize,
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
        // guest may write it concurrently, so this is a plain byte copy into our buffer (no reference to it).
        unsafe { core::ptr::copy_nonoverlapping(pa as usize as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
        let pa = self.translate(gpa, data.len() as u64)?;
        // SAFETY: as for `read`: inside this partition's RAM only.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), pa as usize as *mut u8, data.len()) };
        Ok(())
    }

    fn check(&self, gpa: u64, len: u64) -> Result<(), MemError> {
        self.translate(gpa, len).map(|_| ())
    }
}

/// A RAM-backed disk as one partition attached it (read-only or read-write).
struct PhysDisk {
    disk: &'static DiskConfig,
    read_only: bool,
}

impl PhysDisk {
    fn range(&self, sector: u64, len: usize) -> Result<u64, BackendError> {
        let off = sector.checked_mul(512).ok_or(BackendError::OutOfRange)?;
        let end = off.checked_add(len as u64).ok_or(BackendError::OutOfRange)?;
        if !len.is_multiple_of(512) || end > self.disk.size {
            return Err(BackendError::OutOfRange);
        }
        Ok(self.disk.pa + off)
    }
}

impl BlockBackend for PhysDisk {
    fn capacity_sectors(&self) -> u64 {
        self.disk.size / 512
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        let pa = self.range(sector, buf.len())?;
        // SAFETY: `range` keeps the copy inside the disk's reserved memory, which the hypervisor maps.
        unsafe { core::ptr::copy_nonoverlapping(pa as usize as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), BackendError> {
        if self.read_only {
            return Err(BackendError::ReadOnly);
        }
        let pa = self.range(sector, data.len())?;
        // SAFETY: as for `read`; the builder lets at most one partition attach a disk read-write.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), pa as usize as *mut u8, data.len()) };
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}
