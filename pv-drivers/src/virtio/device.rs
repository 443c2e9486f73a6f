//! What a virtio device is, apart from its transport: an ID, features, a configuration space and request
//! processing on its queues. The device never sees a register offset or the status protocol; the transport
//! ([`MmioTransport`](super::mmio::MmioTransport)) owns those, so a second transport would reuse every device.

use core::fmt;

use super::chain::ChainAccessError;
use super::memory::GuestMemory;
use super::queue::{Queue, QueueError, QUEUE_SIZE_MAX};

/// Why a device stopped processing. The transport answers every one of them with DEVICE_NEEDS_RESET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The queue or a chain in it is malformed.
    Queue(QueueError),
    /// Copying through a validated chain failed.
    Access(ChainAccessError),
    /// A request is so malformed that the device cannot even report a status for it (the text says what is
    /// missing).
    Malformed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queue(e) => write!(f, "{e}"),
            Self::Access(e) => write!(f, "{e}"),
            Self::Malformed(what) => write!(f, "malformed request: {what}"),
        }
    }
}

impl From<QueueError> for Error {
    fn from(e: QueueError) -> Self {
        Self::Queue(e)
    }
}

impl From<ChainAccessError> for Error {
    fn from(e: ChainAccessError) -> Self {
        Self::Access(e)
    }
}

/// What one call of [`Device::process`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// Chains returned to the used ring.
    pub completed: usize,
    /// The device stopped for a reason of its own with chains left (e.g. a backend was busy) and wants to be
    /// called again. Running out of the queue's budget needs no flag: the transport sees that on the queue.
    pub more: bool,
}

/// A virtio device type (block, network, ...), behind any transport.
///
/// `process` takes guest memory as `dyn` so the trait stays object-safe: the hypervisor may keep its devices as
/// `&mut dyn Device` in a fixed table.
pub trait Device {
    /// Device ID (virtio 1.2 §5: 1 network, 2 block, ...).
    fn device_id(&self) -> u32;

    /// Device-specific feature bits offered (bits 0..=23 and 42..=63). The transport adds its own (VERSION_1,
    /// INDIRECT_DESC) and masks out any transport bits set here.
    fn features(&self) -> u64;

    /// How many queues the device has.
    fn num_queues(&self) -> usize;

    /// QueueNumMax for queue `index`.
    fn queue_max_size(&self, _index: usize) -> u16 {
        QUEUE_SIZE_MAX
    }

    /// Fills `data` from the configuration space at `offset` (little-endian fields). Bytes beyond the space read
    /// as zero.
    fn read_config(&self, offset: u32, data: &mut [u8]);

    /// A driver write to the configuration space; most fields are read-only and ignore it.
    fn write_config(&mut self, offset: u32, data: &[u8]);

    /// The driver set DRIVER_OK having accepted `features` (device and transport bits).
    fn activate(&mut self, _features: u64) -> Result<(), Error> {
        Ok(())
    }

    /// Processes chains of queue `queue_index`: pops until `pop` returns `None` (which it does when the
    /// transport's budget is spent) and adds each handled chain to the used ring. Interrupts are the transport's
    /// business. A device may also stop on a budget of its own, in the middle of a chain it keeps (virtio-blk);
    /// it then sets [`ProcessOutcome::more`] and continues that chain in the next call.
    fn process(
        &mut self,
        queue_index: usize,
        queue: &mut Queue,
        mem: &mut dyn GuestMemory,
    ) -> Result<ProcessOutcome, Error>;

    /// The transport stopped using queue `index`: the driver disabled it (QueueReady = 0), or the device needs a
    /// reset. A device holding a chain of it in the middle of processing drops it: that chain is never used, and
    /// nothing more is written into its buffers, which are the driver's again.
    fn queue_stopped(&mut self, _index: usize) {}

    /// Device reset (status 0): forget negotiated state, and any chain held in the middle of processing. Queues
    /// are reset by the transport.
    fn reset(&mut self);
}
