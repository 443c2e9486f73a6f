//! A message ring over a channel's shared memory, for two members: single producer, single consumer each way,
//! variable-length messages. The layout is part of the guest ABI: docs/channel-ring.md.
//!
//! The channel's memory is split in two equal halves; member *i* (its `hv-static,member`, or its place in the
//! channel's member list) owns half *i* and is the only one to write it: the ring it produces into, with its
//! producer index, and its consumer index for the other member's ring. So a [`Sender`] writes records into its
//! own half and reads the peer's consumer index; a [`Receiver`] reads records from the peer's half and publishes
//! its progress in its own half.
//!
//! Design rules:
//! - The same code for bare-metal guests and Linux: everything goes through [`Memory`] (offset, byte copies,
//!   barriers), implemented with volatile accesses to the mapped channel ([`MappedMemory`]) or with
//!   `pread`/`pwrite` on Linux's sram file (`pv-drivers/hvchan`).
//! - Stateless: the indices live only in shared memory, so separate processes (one `hvchan send`, a later `hvchan
//!   recv`) and restarted partitions continue where the channel stands.
//! - Every value read from shared memory is hostile: checked before use, so a corrupt peer yields an
//!   [`Error::Corrupt`], never a panic, an endless loop, an access outside the channel, or a message longer than
//!   the ring allows.
//! - No doorbells here: the caller rings after sending (rings coalesce) and, on each doorbell, receives until the
//!   ring is empty.

pub mod echo;
mod error;
mod header;
mod layout;
mod memory;
mod receiver;
mod sender;

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod test_memory;
#[cfg(test)]
mod tests;

pub use error::{Corruption, Error, Field};
pub use layout::{record_size, slot, Layout, LayoutError, CAPACITY_MAX, CAPACITY_MIN, HEADER_SIZE, MAGIC, MEMBERS};
pub use layout::{VERSION, WRAP};
pub use memory::{check_range, Fence, MappedMemory, Memory, OutOfRange};
pub use receiver::Receiver;
pub use sender::Sender;

/// Rewrites member `member`'s half as freshly claimed, forgetting what it produced and had consumed: the way out
/// of a half that its owner finds corrupt. Only while the other member is not using the channel.
pub fn reset<M: Memory>(mem: &M, member: u32) -> Result<(), Error<M::Error>> {
    header::reset(mem, &Layout::new(mem.size(), member)?)
}
