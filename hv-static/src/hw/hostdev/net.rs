//! The board's own network device (QEMU `virt`: `-device virtio-net-device` with `-netdev user`), which hv-static
//! drives as the uplink port of one switch (`uplink = true`): what the switch forwards to the uplink is sent out
//! through it, and what it receives is switched to the partitions on that network (`virtio::from_uplink`, handed
//! in by the interrupt dispatcher).
//!
//! The driver is virtio-drivers' no-alloc [`VirtIONetRaw`]: [`QUEUE`] receive buffers stay posted, and a frame
//! to send is copied into one of [`QUEUE`] transmit buffers; all of them are statics in the hypervisor's image
//! (the DMA rules are in `dma`). Both sides are bounded:
//! - **Transmit** ([`send`]) runs on the sender's CPU, inside its partition's notification: it reclaims the
//!   buffers the device has finished with, queues the frame and returns without waiting. When every transmit
//!   buffer is still in the device's hands the frame is dropped and counted, as a full NIC queue does.
//! - **Receive** is interrupt-driven: the device's SPI is routed to one CPU, that of vCPU 0 of the first partition
//!   on the uplink's switch, so the cost of traffic from outside lands on a CPU of a partition that asked for the
//!   uplink (a partition that did not ask for it never pays; and one CPU needs no lock against another draining
//!   the same ring). Each interrupt acknowledges the device, then takes at most [`RX_BATCH`] frames, switching each
//!   one and re-posting its buffer; if more wait, the SPI is made pending again, so the rest is taken after
//!   whatever else is pending, not in one long run.
//!
//! Locks: the driver's lock is taken inside a partition device's lock (transmit) and is never held while switching
//! or delivering (received frames are copied out first), so it nests under nothing else.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use pv_drivers::net::FRAME_MAX;
use spin::Mutex;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, MmioVersion};

use super::dma::DmaPool;
use crate::config::{HostNetConfig, SYSTEM};
use crate::{hverror, hvprintln, hvwarn, hw::gic};

/// Whether this image drives the board's network device at all (a compile-time constant: without it, none of this
/// module is reachable and the linker drops its buffers).
const HAS_NIC: bool = SYSTEM.host_net.is_some();

/// Entries in each of the device's two queues, and so receive buffers and transmit buffers (one descriptor each).
const QUEUE: usize = 16;

/// Bytes of a buffer: the virtio-net header (12 bytes, 10 on a legacy transport) and a whole frame, rounded up.
const BUF: usize = 1536;

const _: () = assert!(BUF >= 12 + FRAME_MAX && QUEUE <= u32::BITS as usize);

/// Frames taken from the device per interrupt.
pub const RX_BATCH: usize = 16;

type Driver = VirtIONetRaw<DmaPool, MmioTransport<'static>, QUEUE>;

/// The driver, and which buffer each descriptor chain in the device's hands holds.
struct Nic {
    driver: Driver,
    /// Per receive token (the chain's head descriptor): the receive buffer posted with it.
    rx: [u8; QUEUE],
    /// Per transmit token: the transmit buffer and the length handed to the device.
    tx: [Option<(u8, u16)>; QUEUE],
    /// Transmit buffers not in the device's hands (bit n: buffer n).
    tx_free: u32,
}

// SAFETY: the driver owns the device's register block (device memory mapped identically on every CPU) and its
// queues in the static DMA pool; nothing in it is tied to the CPU that created it, and it is only reached under
// `NIC`'s lock.
unsafe impl Send for Nic {}

static NIC: Mutex<Option<Nic>> = Mutex::new(None);

/// The device's interrupt once it is driven (0: not driven; INTID 0 is an SGI, never the device's).
static INTID: AtomicU32 = AtomicU32::new(0);

/// Frames dropped because every transmit buffer was in the device's hands.
static TX_DROPPED: AtomicU64 = AtomicU64::new(0);
static TX_DROP_REPORTED: AtomicBool = AtomicBool::new(false);

/// `QUEUE` buffers of `BUF` bytes.
#[repr(C, align(64))]
struct Buffers(UnsafeCell<[[u8; BUF]; QUEUE]>);

// SAFETY: a buffer is only reached under `NIC`'s lock, through `buffer`, and only while the device does not hold
// it (before it is posted, or after its chain came back through the used ring).
unsafe impl Sync for Buffers {}

static RX_BUFFERS: Buffers = Buffers(UnsafeCell::new([[0; BUF]; QUEUE]));
static TX_BUFFERS: Buffers = Buffers(UnsafeCell::new([[0; BUF]; QUEUE]));

/// Which buffers.
#[derive(Clone, Copy)]
enum Set {
    Rx,
    Tx,
}

/// Buffer `n` of `set`.
///
/// # Safety
/// The caller holds `NIC`'s lock, the device does not hold the buffer except through a chain this call is about
/// to post or has just popped, and no other reference to it is live.
unsafe fn buffer(set: Set, n: usize) -> &'static mut [u8; BUF] {
    let buffers = match set {
        Set::Rx => &RX_BUFFERS,
        Set::Tx => &TX_BUFFERS,
    };
    // SAFETY: `n < QUEUE` is checked by the indexing; exclusivity is the caller's promise.
    unsafe { &mut (*buffers.0.get())[n] }
}

impl Nic {
    /// Hands receive buffer `n` to the device.
    fn post_rx(&mut self, n: usize) -> Result<(), virtio_drivers::Error> {
        // SAFETY: under the lock (or before the driver is published); buffer `n` is not posted (never yet, or its
        // chain was just popped) and is only referenced here until the device has it.
        let token = unsafe { self.driver.receive_begin(buffer(Set::Rx, n))? };
        self.rx[usize::from(token)] = n as u8;
        Ok(())
    }

    /// Takes one received frame into `frame` and posts its buffer again. `Ok(None)`: nothing waits; `Ok(Some(0))`:
    /// a frame was taken but dropped (longer than a frame can be).
    fn receive(&mut self, frame: &mut [u8; FRAME_MAX]) -> Result<Option<usize>, virtio_drivers::Error> {
        let Some(token) = self.driver.poll_receive() else { return Ok(None) };
        let n = usize::from(*self.rx.get(usize::from(token)).ok_or(virtio_drivers::Error::WrongToken)?);
        // SAFETY: buffer `n` was posted with `token`, whose chain the device has just returned.
        let buf = unsafe { buffer(Set::Rx, n) };
        // SAFETY: the same buffer as was posted with `token`.
        let (header, len) = unsafe { self.driver.receive_complete(token, buf)? };
        let taken = match buf.get(header..header + len) {
            Some(bytes) if len <= FRAME_MAX => {
                frame[..len].copy_from_slice(bytes);
                len
            }
            _ => 0,
        };
        self.post_rx(n)?;
        Ok(Some(taken))
    }

    /// Gives back the transmit buffers the device has finished with (at most [`QUEUE`]: each pops one chain).
    fn reclaim_tx(&mut self) {
        while let Some(token) = self.driver.poll_transmit() {
            let Some((n, len)) = self.tx.get(usize::from(token)).copied().flatten() else { return };
            // SAFETY: buffer `n` was queued with `token`, whose chain the device has just returned.
            let buf = unsafe { buffer(Set::Tx, usize::from(n)) };
            // SAFETY: the same buffer and length as were queued with `token`.
            if unsafe { self.driver.transmit_complete(token, &buf[..usize::from(len)]) }.is_err() {
                return;
            }
            self.tx[usize::from(token)] = None;
            self.tx_free |= 1 << n;
        }
    }

    /// Queues `frame` in a free transmit buffer; `false` when none is free (or the device refuses it).
    fn transmit(&mut self, frame: &[u8]) -> bool {
        let Some(n) = (0..QUEUE).find(|&n| self.tx_free & 1 << n != 0) else { return false };
        // SAFETY: buffer `n` is free: not in the device's hands, and referenced only here until queued.
        let buf = unsafe { buffer(Set::Tx, n) };
        let Ok(header) = self.driver.fill_buffer_header(buf) else { return false };
        let len = header + frame.len();
        let Some(body) = buf.get_mut(header..len) else { return false };
        body.copy_from_slice(frame);
        // SAFETY: the buffer stays untouched until its chain comes back (`reclaim_tx`).
        match unsafe { self.driver.transmit_begin(&buf[..len]) } {
            Ok(token) => {
                self.tx[usize::from(token)] = Some((n as u8, len as u16));
                self.tx_free &= !(1 << n);
                true
            }
            Err(_) => false,
        }
    }
}

/// The CPU that takes the device's interrupt: that of vCPU 0 of the first partition on the uplink's switch (the
/// builder emits `host_net` only when a partition joins it). Also returns that partition, for the console.
fn receiver(cfg: &HostNetConfig) -> (usize, usize) {
    let port = SYSTEM.networks[cfg.network].ports[0];
    let part = SYSTEM.net_ports[port].partition;
    (SYSTEM.partitions[part].vcpus[0].pcpu, part)
}

/// Boot CPU, while the board's transports are probed: takes the virtio-net device in transport `slot` at `base`
/// as the uplink. Returns whether it did (`false` leaves it alone: dropping the transport resets it).
pub fn offer(transport: MmioTransport<'static>, slot: u32, base: u64, cfg: &HostNetConfig) -> bool {
    let version = match transport.version() {
        MmioVersion::Legacy => "legacy",
        MmioVersion::Modern => "modern",
    };
    let driver = match Driver::new(transport) {
        Ok(d) => d,
        Err(e) => {
            hvwarn!("uplink: virtio-net at {base:#x} did not initialise: {e}");
            return false;
        }
    };
    let mut nic = Nic { driver, rx: [0; QUEUE], tx: [None; QUEUE], tx_free: (1 << QUEUE) - 1 };
    for n in 0..QUEUE {
        if let Err(e) = nic.post_rx(n) {
            hvwarn!("uplink: virtio-net at {base:#x}: posting receive buffers: {e}");
            return false;
        }
    }
    let m = nic.driver.mac_address();
    let intid = cfg.intid_base + slot;
    let (cpu, part) = receiver(cfg);
    hvprintln!(
        "uplink: virtio-net at {base:#x} ({version}), MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}; \
         its interrupt (INTID {intid}) is taken on CPU {cpu}, of '{}'",
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        SYSTEM.partitions[part].name
    );
    *NIC.lock() = Some(nic);
    INTID.store(intid, Ordering::Release);
    gic::route_spi(intid, cpu, true);
    true
}

/// Boot CPU, after the probe: no transport had a network device.
pub fn missing(cfg: &HostNetConfig) {
    hverror!(
        "uplink: no virtio-net device on the virtio-mmio transports at {:#x}: the switch has no uplink \
         (QEMU: image-builder run attaches one)",
        cfg.mmio_base
    );
}

/// Whether `intid` is the board network device's interrupt.
pub fn owns_irq(intid: u32) -> bool {
    HAS_NIC && intid >= 32 && intid == INTID.load(Ordering::Acquire)
}

/// Sends `frame` (an Ethernet frame the uplink's switch forwarded to the uplink port) out through the device,
/// without waiting for it to go; dropped, and counted, when every transmit buffer is still in the device's hands.
pub fn send(frame: &[u8]) {
    if !HAS_NIC {
        return;
    }
    let sent = match NIC.lock().as_mut() {
        Some(nic) => {
            nic.reclaim_tx();
            nic.transmit(frame)
        }
        None => return,
    };
    if !sent {
        TX_DROPPED.fetch_add(1, Ordering::Relaxed);
        if !TX_DROP_REPORTED.swap(true, Ordering::Relaxed) {
            hvwarn!("uplink: transmit queue full, frames to the outside are dropped (reported once)");
        }
    }
}

/// Where a frame received from outside goes: the switch of network `network` (`virtio::from_uplink`, which the
/// interrupt dispatcher above hands in, so the board's driver names none of the virtual devices).
pub type Deliver = fn(network: usize, frame: &[u8]);

/// The device's interrupt `intid` (on the CPU it is routed to): acknowledges it, then hands at most [`RX_BATCH`]
/// received frames to `deliver`; when more wait, makes the interrupt pending again.
pub fn on_interrupt(intid: u32, deliver: Deliver) {
    let Some(cfg) = SYSTEM.host_net.as_ref() else { return };
    match NIC.lock().as_mut() {
        Some(nic) => {
            // First: a frame that arrives from now on raises the line again.
            nic.driver.ack_interrupt();
            nic.reclaim_tx();
        }
        None => return,
    }
    let mut frame = [0u8; FRAME_MAX];
    for _ in 0..RX_BATCH {
        // The lock is dropped before the frame is switched: switching takes the switch's and inboxes' locks.
        let taken = NIC.lock().as_mut().map(|nic| nic.receive(&mut frame));
        match taken {
            Some(Ok(Some(len))) => {
                if len > 0 {
                    deliver(cfg.network, &frame[..len]);
                }
            }
            Some(Ok(None)) | None => return,
            Some(Err(e)) => {
                // The rings no longer match what was posted: a broken device. Dropping the driver resets it.
                hverror!("uplink: virtio-net receive failed ({e}): the switch loses its uplink");
                NIC.lock().take();
                return;
            }
        }
    }
    if NIC.lock().as_ref().is_some_and(|nic| nic.driver.poll_receive().is_some()) {
        gic::set_spi_pending(intid);
    }
}
