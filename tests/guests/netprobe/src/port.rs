//! One virtio-net device driven through virtio-drivers' no-alloc [`VirtIONetRaw`], polled: a ring of receive
//! buffers kept posted, and one transmit buffer sent synchronously (posted, then waited for with a timeout).
//!
//! The buffers live in a static pool (the guest has no heap) and are shared with the device in place, as
//! [`crate::hal`] explains. Each holds the largest `virtio_net_hdr` (12 bytes; a legacy transport without
//! VIRTIO_NET_F_MRG_RXBUF uses 10) and a 1514-byte frame: hv-static's switch carries nothing longer, and this is
//! also the smallest receive buffer virtio-drivers accepts.

use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use guest_rt::arch;
use guest_rt::dt::Device;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, DeviceTypeError, Transport};

use crate::frame::{Mac, MAX_FRAME};
use guest_rt::virtio_hal::DmaPool;

/// Entries of each virtqueue.
pub const QUEUE_SIZE: usize = 16;
/// Network devices the probe drives; further ones are only listed.
pub const MAX_PORTS: usize = 4;
/// Receive buffers kept posted per device.
const RX_SLOTS: usize = 8;
/// A buffer: `virtio_net_hdr` and the largest frame.
const BUF_LEN: usize = 12 + MAX_FRAME;
/// Buffers in the pool: the receive ring and the transmit buffer of every port.
const POOL_BUFFERS: usize = MAX_PORTS * (RX_SLOTS + 1);

type Net = VirtIONetRaw<DmaPool, MmioTransport<'static>, QUEUE_SIZE>;

struct Buffers(UnsafeCell<[[u8; BUF_LEN]; POOL_BUFFERS]>);

// SAFETY: each buffer is handed out once, as a unique `&'static mut` (see `take_buffer`), and never reached
// otherwise.
unsafe impl Sync for Buffers {}

static BUFFERS: Buffers = Buffers(UnsafeCell::new([[0; BUF_LEN]; POOL_BUFFERS]));
static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// A buffer of the pool, for good; `None` once all are taken.
fn take_buffer() -> Option<&'static mut [u8; BUF_LEN]> {
    let index = TAKEN.fetch_add(1, Ordering::Relaxed);
    if index >= POOL_BUFFERS {
        TAKEN.store(POOL_BUFFERS, Ordering::Relaxed);
        return None;
    }
    // SAFETY: `index` is in bounds and the counter only grows, so this buffer is handed out once and no other
    // reference to it exists; the pool is a static, so the reference lives for good.
    Some(unsafe { &mut (*BUFFERS.0.get())[index] })
}

/// Why a virtio-mmio transport yields no port.
#[derive(Debug)]
pub enum OpenError {
    /// An unused slot (DeviceID 0): QEMU's `virt` has 32 transports, hv-static fills only what it serves.
    Empty,
    /// The address does not fit this guest's address space, or is 0.
    Address,
    Transport(MmioError),
    NotNetwork(DeviceType),
    Driver(virtio_drivers::Error),
    /// The buffer pool is exhausted (more ports than [`MAX_PORTS`]).
    NoBuffers,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no device"),
            Self::Address => f.write_str("address 0 or beyond the address space"),
            Self::Transport(e) => write!(f, "{e}"),
            Self::NotNetwork(kind) => write!(f, "{kind:?}, not a network device"),
            Self::Driver(e) => write!(f, "{e}"),
            Self::NoBuffers => write!(f, "not used (netprobe drives at most {MAX_PORTS} network devices)"),
        }
    }
}

/// Why a frame could not be sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    Driver(virtio_drivers::Error),
    /// The device did not return the transmit buffer within the timeout; it still owns it.
    TransmitTimeout,
    /// An earlier failure left the port unusable (for instance a transmit buffer the device still owns).
    Broken,
    /// The used ring returned a receive token that no buffer holds.
    UnknownToken(u16),
}

impl From<virtio_drivers::Error> for NetError {
    fn from(e: virtio_drivers::Error) -> Self {
        Self::Driver(e)
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Driver(e) => write!(f, "{e}"),
            Self::TransmitTimeout => f.write_str("the device did not complete the transmission"),
            Self::Broken => f.write_str("the port failed earlier"),
            Self::UnknownToken(t) => write!(f, "the device returned unknown receive descriptor {t}"),
        }
    }
}

/// Opens the virtio-mmio transport of `device` if it is a network device.
pub fn transport(device: &Device) -> Result<MmioTransport<'static>, OpenError> {
    let (Ok(addr), Ok(size)) = (usize::try_from(device.reg.base), usize::try_from(device.reg.size)) else {
        return Err(OpenError::Address);
    };
    let header =
        NonNull::new(core::ptr::with_exposed_provenance_mut::<VirtIOHeader>(addr)).ok_or(OpenError::Address)?;
    // SAFETY: the device tree gives this partition a virtio-mmio register block of `size` bytes at `addr`, mapped
    // for the guest's lifetime (the MMU is off, so the address is used as is); this is the only transport object
    // for it, as each `reg` is probed once.
    let transport = match unsafe { MmioTransport::new(header, size) } {
        Ok(t) => t,
        Err(MmioError::InvalidDeviceID(DeviceTypeError::InvalidDeviceType(0))) => return Err(OpenError::Empty),
        Err(e) => return Err(OpenError::Transport(e)),
    };
    match transport.device_type() {
        DeviceType::Network => Ok(transport),
        other => Err(OpenError::NotNetwork(other)),
    }
}

struct RxSlot {
    buf: &'static mut [u8; BUF_LEN],
    /// The descriptor the buffer is posted as.
    token: u16,
}

/// An initialised network device with its receive buffers posted.
pub struct Port {
    pub base: u64,
    pub mac: Mac,
    net: Net,
    rx: [RxSlot; RX_SLOTS],
    tx: &'static mut [u8; BUF_LEN],
    /// Set by the first failure: from then on the port is left alone.
    broken: bool,
}

impl Port {
    /// Initialises the device behind `transport` and posts its receive buffers.
    pub fn new(base: u64, transport: MmioTransport<'static>) -> Result<Port, OpenError> {
        let mut net = Net::new(transport).map_err(OpenError::Driver)?;
        // No interrupts: the probe polls the used rings.
        net.disable_interrupts();
        let tx = take_buffer().ok_or(OpenError::NoBuffers)?;
        let mut rx = [const { None }; RX_SLOTS];
        for slot in &mut rx {
            let buf = take_buffer().ok_or(OpenError::NoBuffers)?;
            // SAFETY: the buffer is ours for good and is only touched again after the device returns it (in
            // `receive`, after `poll_receive` named its token).
            let token = unsafe { net.receive_begin(&mut buf[..]) }.map_err(OpenError::Driver)?;
            *slot = Some(RxSlot { buf, token });
        }
        let rx = rx.map(|slot| slot.expect("every slot was filled above"));
        Ok(Port { base, mac: Mac(net.mac_address()), net, rx, tx, broken: false })
    }

    /// Sends `frame` (at most [`MAX_FRAME`] bytes) and waits until the device has consumed it, at most `timeout`
    /// counter ticks.
    pub fn send(&mut self, frame: &[u8], timeout: u64) -> Result<(), NetError> {
        if self.broken {
            return Err(NetError::Broken);
        }
        let result = self.try_send(frame, timeout);
        self.broken = result.is_err();
        result
    }

    fn try_send(&mut self, frame: &[u8], timeout: u64) -> Result<(), NetError> {
        let header = self.net.fill_buffer_header(&mut self.tx[..])?;
        let len = header + frame.len();
        self.tx[header..len].copy_from_slice(frame);
        // SAFETY: the buffer is not touched until the device returns it (below), or ever again if it does not.
        let token = unsafe { self.net.transmit_begin(&self.tx[..len]) }?;
        let deadline = arch::timer::now().saturating_add(timeout);
        loop {
            if self.net.poll_transmit().is_some() {
                // SAFETY: the same buffer as given to `transmit_begin`, which returned `token`; only one
                // transmission is ever outstanding, so the completed one is this one.
                unsafe { self.net.transmit_complete(token, &self.tx[..len]) }?;
                return Ok(());
            }
            if arch::timer::now() > deadline {
                return Err(NetError::TransmitTimeout);
            }
            core::hint::spin_loop();
        }
    }

    /// Copies the next received frame into `out` (at least [`MAX_FRAME`] bytes; longer frames are truncated) and
    /// posts its buffer again; the frame's length, or `None` when nothing has arrived.
    pub fn receive(&mut self, out: &mut [u8]) -> Result<Option<usize>, NetError> {
        if self.broken {
            return Err(NetError::Broken);
        }
        let result = self.try_receive(out);
        self.broken = result.is_err();
        result
    }

    fn try_receive(&mut self, out: &mut [u8]) -> Result<Option<usize>, NetError> {
        let Some(token) = self.net.poll_receive() else {
            return Ok(None);
        };
        let slot = self.rx.iter_mut().find(|s| s.token == token).ok_or(NetError::UnknownToken(token))?;
        // SAFETY: `slot.buf` is the buffer posted as `token`.
        let (header, len) = unsafe { self.net.receive_complete(token, &mut slot.buf[..]) }?;
        let frame = &slot.buf[header.min(BUF_LEN)..header.saturating_add(len).min(BUF_LEN)];
        let copied = frame.len().min(out.len());
        out[..copied].copy_from_slice(&frame[..copied]);
        // SAFETY: as in `new`: untouched until the device returns it.
        slot.token = unsafe { self.net.receive_begin(&mut slot.buf[..]) }?;
        Ok(Some(copied))
    }
}
