//! The board's own virtio-blk disk (QEMU `virt`: `-device virtio-blk-device` on one of its virtio-mmio
//! transports), which hv-static slices among the host-backed disks.
//!
//! At boot the transports the board description lists are probed from the highest down (QEMU fills them from the
//! highest slot as devices are given on its command line; see the parent module); the disk is the virtio-blk device
//! whose serial (GET_ID) is the one the configuration names, so a boot card on another virtio-blk transport is never
//! written. A missing or too small disk is reported on the console and leaves the driver absent: every request then
//! fails and the partitions see VIRTIO_BLK_S_IOERR.
//!
//! Requests are synchronous: submitted, then the used ring is polled until the device answers, under one lock, so
//! CPUs serving different partitions take turns. The caller bounds the work per call (a virtio-blk request of the
//! partitions is at most 64 KiB, served sector by sector).

use pv_drivers::virtio::blk::BackendError;
use spin::Mutex;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::MmioTransport;

use super::dma::DmaPool;
use crate::config::HostDiskConfig;
use crate::{hverror, hvprintln, hvwarn};

type Driver = VirtIOBlk<DmaPool, MmioTransport<'static>>;

/// The driver once the disk was found.
struct Disk(Driver);

// SAFETY: the driver owns the device's register block (device memory mapped identically on every CPU) and its
// queue in the static DMA pool; nothing in it is tied to the CPU that created it, and it is only reached under
// `DISK`'s lock.
unsafe impl Send for Disk {}

static DISK: Mutex<Option<Disk>> = Mutex::new(None);

/// Serial numbers are at most 20 bytes (virtio 1.2 §5.2.6, VIRTIO_BLK_T_GET_ID).
const ID_LEN: usize = 20;

/// Boot CPU, while the board's transports are probed: looks at the virtio-blk device at `base`. Returns whether
/// the search is over: the device is the board's disk (kept, or too small and reported); `false` leaves it alone
/// (dropping the transport resets it).
pub fn offer(transport: MmioTransport<'static>, base: u64, cfg: &HostDiskConfig) -> bool {
    let mut driver = match Driver::new(transport) {
        Ok(d) => d,
        Err(e) => {
            hvwarn!("board disk: virtio-blk at {base:#x} did not initialise: {e}");
            return false;
        }
    };
    let mut id = [0u8; ID_LEN];
    let id = match driver.device_id(&mut id) {
        Ok(len) => &id[..len],
        Err(_) => &[][..],
    };
    if id != cfg.serial.as_bytes() {
        // Not ours (a boot card, say): dropping the driver resets the device.
        return false;
    }
    let bytes = driver.capacity() * SECTOR_SIZE as u64;
    if bytes < cfg.size {
        hverror!(
            "board disk: virtio-blk at {base:#x} has {} KiB, the host-backed disks need {} KiB: \
             they answer every request with IOERR",
            bytes >> 10,
            cfg.size.div_ceil(1024)
        );
        return true;
    }
    if driver.readonly() {
        hvwarn!("board disk: virtio-blk at {base:#x} is read-only: writes to host-backed disks fail");
    }
    hvprintln!(
        "board disk: virtio-blk at {base:#x}, {} KiB; host-backed disks use its bytes 0..{:#x}",
        bytes >> 10,
        cfg.size
    );
    *DISK.lock() = Some(Disk(driver));
    true
}

/// Boot CPU, after the probe: no transport had the disk (`blk_devices` virtio-blk devices were looked at).
pub fn missing(cfg: &HostDiskConfig, blk_devices: usize) {
    hverror!(
        "board disk: no virtio-blk device with serial '{}' among {} on the virtio-mmio transports at {:#x}",
        cfg.serial,
        blk_devices,
        cfg.mmio_base
    );
    hverror!("board disk: host-backed disks answer every request with IOERR (QEMU: image-builder run attaches it)");
}

/// Runs `f` on the driver, if the disk was found; any failure is an I/O error for the partition.
fn with_disk(f: impl FnOnce(&mut Driver) -> Result<(), virtio_drivers::Error>) -> Result<(), BackendError> {
    match DISK.lock().as_mut() {
        Some(Disk(d)) => f(d).map_err(|_| BackendError::Io),
        None => Err(BackendError::Io),
    }
}

/// Reads `buf.len() / 512` sectors from the board disk's `sector`.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), BackendError> {
    let block = usize::try_from(sector).map_err(|_| BackendError::OutOfRange)?;
    with_disk(|d| d.read_blocks(block, buf))
}

/// Writes `data.len() / 512` sectors at the board disk's `sector`.
pub fn write(sector: u64, data: &[u8]) -> Result<(), BackendError> {
    let block = usize::try_from(sector).map_err(|_| BackendError::OutOfRange)?;
    with_disk(|d| d.write_blocks(block, data))
}

/// Asks the board disk to make completed writes durable (VIRTIO_BLK_T_FLUSH; QEMU: fdatasync of its file).
pub fn flush() -> Result<(), BackendError> {
    with_disk(|d| d.flush())
}
