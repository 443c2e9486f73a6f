//! The board's own virtio-blk disk (QEMU `virt`: `-device virtio-blk-device` on one of its virtio-mmio
//! transports), which hv-static slices among the host-backed disks.
//!
//! At boot the transports the board description lists are probed from the highest down (QEMU fills them from the
//! highest slot as devices are given on its command line; see the parent module); the disk is the virtio-blk device
//! whose serial (GET_ID) is the one the configuration names, so a boot card on another virtio-blk transport is never
//! written. A missing or too small disk is reported on the console and leaves the driver absent: every request then
//! fails and the partitions see VIRTIO_BLK_S_IOERR.
//!
//! Requests are synchronous, one at a time, under one lock (CPUs serving different partitions take turns), and
//! bounded twice over:
//! - in number: a call moves at most [`TRANSFER`] bytes per board request (the virtio-blk device never asks for
//!   more in one call), and the device makes at most `transfers_per_batch` calls per trap (see
//!   `virtio::disk`);
//! - in time: the request is submitted without blocking and its answer polled against the counter for at most
//!   [`ANSWER_WITHIN_NS`]. A request not answered in time fails (the partition sees IOERR) and leaves the disk
//!   *stuck*, with one `[hv]` error line: until the device answers that request after all, every request fails at
//!   once without reaching the device, so a dead disk costs one wait, once, and the CPU and the lock are free again.
//!   A late answer is taken by the next request (one `[hv]` line), which then goes ahead: a disk that was only
//!   slow (a loaded host running QEMU) is not lost for good.
//!
//! The request's buffers (header, data, status) are hostdev's own, in the static driver state rather than on a
//! stack: a board disk that answers after it was given up on writes only into them, and nothing touches them while
//! the disk is stuck. The data buffer is also what the virtio-blk device copies guest data into and out of
//! (`Sink`/`Source`), so data crosses once.
//!
//! Flush is the exception: virtio-drivers 0.13 has no non-blocking flush (`read_blocks_nb` and `write_blocks_nb`
//! exist, a `flush_nb` does not), so a flush still waits for the answer without a bound. It is sent only when the
//! board disk was written since the last flush, and never while a request is stuck.

use pv_drivers::virtio::blk::{BackendError, Sink, Source, TRANSFER_MAX};
use spin::Mutex;
use virtio_drivers::device::blk::{BlkReq, BlkResp, VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::MmioTransport;

use super::dma::DmaPool;
use crate::arch::timer;
use crate::config::HostDiskConfig;
use crate::{hverror, hvprintln, hvwarn};

type Driver = VirtIOBlk<DmaPool, MmioTransport<'static>>;

/// Most bytes of one board-disk request: what the virtio-blk device hands a backend in one call, so every call is
/// one round trip (4 KiB: eight times fewer than a request per sector).
const TRANSFER: usize = TRANSFER_MAX;

/// How long one board-disk request may take before it fails and the disk is stuck. Measured on QEMU 7.2 `virt`
/// (TCG, a 2-CPU host under a load of ~6): most 4 KiB requests are answered within 2 µs, some (when QEMU's I/O
/// thread waits for the host CPU) in 4 to 20 ms. 100 ms leaves a margin of 5 over that, and bounds what a dead disk
/// costs the trap that finds it.
const ANSWER_WITHIN_NS: u64 = 100_000_000;

/// The driver once the disk was found, with the buffers its requests use.
struct Disk {
    driver: Driver,
    /// The request that went unanswered in time (its token, direction and length): nothing else is submitted until
    /// the device answers it.
    stuck: Option<(u16, Dir, usize)>,
    /// The device answered out of turn: it is not used again.
    broken: bool,
    /// Written since the last flush.
    dirty: bool,
    req: BlkReq,
    data: [u8; TRANSFER],
    resp: BlkResp,
}

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
    *DISK.lock() = Some(Disk {
        driver,
        stuck: None,
        broken: false,
        dirty: false,
        req: BlkReq::default(),
        data: [0; TRANSFER],
        resp: BlkResp::default(),
    });
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

/// Which way a request moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

impl Disk {
    /// One board request of `len` bytes (whole sectors, at most [`TRANSFER`]) at `block`, through `self.data`.
    fn transfer(&mut self, dir: Dir, block: usize, len: usize) -> Result<(), BackendError> {
        if !self.ready() {
            return Err(BackendError::Io);
        }
        // SAFETY: `req`, `data` and `resp` are fields of the driver state in the static `DISK`, which our lock
        // guard holds; nothing touches them until the request is completed (here, or in `unstuck` if the answer
        // comes late).
        let token = unsafe { self.submit(dir, block, len) }.map_err(|_| BackendError::Io)?;
        match wait(&mut self.driver, token) {
            Wait::Answered => self.complete(token, dir, len),
            Wait::TimedOut => {
                self.stuck = Some((token, dir, len));
                let what = if dir == Dir::Read { "read" } else { "write" };
                hverror!(
                    "board disk: {what} of {} sectors at {block} not answered within {} ms: IOERR, and host-backed \
                     disks fail until it is",
                    len / SECTOR_SIZE,
                    ANSWER_WITHIN_NS / 1_000_000
                );
                Err(BackendError::Io)
            }
            Wait::OutOfTurn => {
                self.broken = true;
                hverror!("board disk: the device answered a request it was not given: host-backed disks fail for good");
                Err(BackendError::Io)
            }
        }
    }

    /// Whether the disk may be used, its buffers included: not broken, and no request outstanding.
    fn ready(&mut self) -> bool {
        !self.broken && self.unstuck()
    }

    /// Whether no request is outstanding: none was stuck, or the stuck one has been answered since (and is taken).
    fn unstuck(&mut self) -> bool {
        let Some((token, dir, len)) = self.stuck else { return true };
        match self.driver.peek_used() {
            None => false,
            Some(used) if used == token => {
                self.stuck = None;
                // Its partition was told IOERR long ago: only the buffers are taken back.
                let _ = self.complete(token, dir, len);
                hvprintln!("board disk: the late request was answered; host-backed disks work again");
                true
            }
            Some(_) => {
                self.broken = true;
                false
            }
        }
    }

    /// Submits a request of `len` bytes of `self.data` at `block`.
    ///
    /// # Safety
    /// `req`, `data` and `resp` must stay untouched until [`Disk::complete`] takes the request back.
    unsafe fn submit(&mut self, dir: Dir, block: usize, len: usize) -> virtio_drivers::Result<u16> {
        let data = &mut self.data[..len];
        // SAFETY: the caller keeps the buffers untouched until the request is completed.
        unsafe {
            match dir {
                Dir::Read => self.driver.read_blocks_nb(block, &mut self.req, data, &mut self.resp),
                Dir::Write => self.driver.write_blocks_nb(block, &mut self.req, data, &mut self.resp),
            }
        }
    }

    /// Takes back answered request `token`, submitted by [`Disk::submit`] with `dir` and `len`.
    fn complete(&mut self, token: u16, dir: Dir, len: usize) -> Result<(), BackendError> {
        let data = &mut self.data[..len];
        // SAFETY: the same buffers as submitted with `token` (the same fields, the same length), which the device
        // has used.
        unsafe {
            match dir {
                Dir::Read => self.driver.complete_read_blocks(token, &self.req, data, &mut self.resp),
                Dir::Write => self.driver.complete_write_blocks(token, &self.req, data, &mut self.resp),
            }
        }
        .map_err(|_| BackendError::Io)
    }
}

/// How a wait for the device's answer ended.
enum Wait {
    Answered,
    TimedOut,
    /// The used ring holds another request than the only one outstanding.
    OutOfTurn,
}

/// Polls for the answer to request `token`, for at most [`ANSWER_WITHIN_NS`] of counter time.
fn wait(driver: &mut Driver, token: u16) -> Wait {
    let freq = timer::frequency();
    let limit = u64::try_from(u128::from(freq) * u128::from(ANSWER_WITHIN_NS) / 1_000_000_000).unwrap_or(u64::MAX);
    let start = timer::now();
    loop {
        match driver.peek_used() {
            Some(used) if used == token => return Wait::Answered,
            Some(_) => return Wait::OutOfTurn,
            None => {}
        }
        if timer::now().wrapping_sub(start) > limit {
            return Wait::TimedOut;
        }
        core::hint::spin_loop();
    }
}

/// Runs `f` on the disk, if it was found; any failure is an I/O error for the partition.
fn with_disk(f: impl FnOnce(&mut Disk) -> Result<(), BackendError>) -> Result<(), BackendError> {
    match DISK.lock().as_mut() {
        Some(disk) => f(disk),
        None => Err(BackendError::Io),
    }
}

/// Reads `len / 512` sectors from the board disk's `sector` and hands them to `sink`, [`TRANSFER`] bytes per board
/// request (the virtio-blk device asks for no more than that at a time).
pub fn read(sector: u64, len: usize, sink: Sink<'_>) -> Result<(), BackendError> {
    let block = usize::try_from(sector).map_err(|_| BackendError::OutOfRange)?;
    with_disk(|d| {
        for (i, at) in (0..len).step_by(TRANSFER).enumerate() {
            let n = (len - at).min(TRANSFER);
            d.transfer(Dir::Read, block + i * (TRANSFER / SECTOR_SIZE), n)?;
            sink(&d.data[..n])?;
        }
        Ok(())
    })
}

/// Writes `len / 512` sectors at the board disk's `sector`, filled by `source`, [`TRANSFER`] bytes per board
/// request.
pub fn write(sector: u64, len: usize, source: Source<'_>) -> Result<(), BackendError> {
    let block = usize::try_from(sector).map_err(|_| BackendError::OutOfRange)?;
    with_disk(|d| {
        for (i, at) in (0..len).step_by(TRANSFER).enumerate() {
            let n = (len - at).min(TRANSFER);
            // A stuck request may still use the buffer: not a byte into it before that is over.
            if !d.ready() {
                return Err(BackendError::Io);
            }
            source(&mut d.data[..n])?;
            d.dirty = true;
            d.transfer(Dir::Write, block + i * (TRANSFER / SECTOR_SIZE), n)?;
        }
        Ok(())
    })
}

/// Asks the board disk to make completed writes durable (VIRTIO_BLK_T_FLUSH; QEMU: fdatasync of its file), if it
/// was written since the last flush. Blocking without a bound: see the module docs.
pub fn flush() -> Result<(), BackendError> {
    with_disk(|d| {
        if !d.ready() {
            return Err(BackendError::Io);
        }
        if !d.dirty {
            return Ok(());
        }
        d.driver.flush().map_err(|_| BackendError::Io)?;
        d.dirty = false;
        Ok(())
    })
}
