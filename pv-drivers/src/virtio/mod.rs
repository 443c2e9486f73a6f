//! The hypervisor side of hv-static's paravirtual devices: virtio 1.2 devices served over virtio-mmio version 2,
//! so that an unmodified Linux (`virtio_mmio` with `virtio_blk` and `virtio_net`) drives them.
//!
//! One concern per module, from the guest's memory up:
//! - [`memory`]: guest RAM as the devices may touch it ([`GuestMemory`]), with its bounds check;
//! - [`queue`]: the split virtqueue, validating everything the driver puts in it;
//! - [`chain`]: a validated descriptor chain, and cursors that copy through it;
//! - [`device`]: the [`Device`] trait every device type implements;
//! - [`mmio`]: the register file and status protocol ([`MmioTransport`]);
//! - [`blk`]: virtio-blk over a [`blk::BlockBackend`];
//! - [`net`]: virtio-net on a [`net::NetPort`] of the virtual switch ([`crate::net`]).
//!
//! No heap, no `unsafe`: every capacity is a constant ([`QUEUE_SIZE_MAX`], [`CHAIN_LEN_MAX`],
//! [`mmio::CHAINS_PER_NOTIFY`]) or a const generic (queues per transport). The guest is untrusted throughout: a
//! malformed queue puts only its own device into DEVICE_NEEDS_RESET.
//!
//! How hv-static uses it (per device of a partition): map nothing at the device's window (stage 2), and on a data
//! abort there call [`MmioTransport::read`] or [`MmioTransport::write`] with the offset and access size, with a
//! [`GuestMemory`] for that partition; set the device's virtual SPI to [`mmio::Effects::interrupt`]; when
//! [`mmio::Effects::more_work`] is set, call [`MmioTransport::run_pending`] again later. When a backend has news
//! for a queue the driver did not ask about (frames arrived in a network port's inbox), call
//! [`MmioTransport::kick`] for that queue and treat its [`mmio::Effects`] the same way.

pub mod blk;
pub mod chain;
pub mod device;
pub mod memory;
pub mod mmio;
pub mod net;
pub mod queue;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod fuzz_net;
#[cfg(test)]
mod test_utils;

pub use chain::{ChainReader, ChainWriter, Descriptor, DescriptorChain, CHAIN_LEN_MAX};
pub use device::{Device, Error, ProcessOutcome};
pub use memory::{Fence, GuestMemory, MemError, SliceMemory};
pub use mmio::{Effects, MmioTransport};
pub use net::{NetPort, NetStats, VirtioNet};
pub use queue::{Queue, QueueError, QUEUE_SIZE_MAX};
