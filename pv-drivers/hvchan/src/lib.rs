//! hv-static's shared-memory channels from a stock Linux partition (Debian's arm64 and armhf kernels as they
//! are): no custom driver, only what those kernels build in (guest ABI 1.5, docs/guest-abi.md).
//!
//! - [`devtree`]: the channels in `/proc/device-tree`: `sram@IPA` nodes with a `channel@0` child naming the
//!   channel, the partition's access and its member index;
//! - [`sram`]: the channel's memory, the `mmio-sram` driver's sysfs file, as a [`pv_drivers::ring::Memory`];
//! - [`doorbell`]: the PL061 GPIO lines `LABEL.doorbell` (rising edge per ring) and `LABEL.ring` (0 -> 1 rings);
//! - [`channel`]: one [`Channel`] opened by label, with raw access, doorbell and the message ring of
//!   docs/channel-ring.md ([`pv_drivers::ring`]);
//! - [`pingpong`]: the `hvchan ping`/`pong` check.
//!
//! Everything read from the device tree and from the channel is checked: a malformed node is skipped and said,
//! corrupt ring contents are an error. The roots (`/proc/device-tree`, `/sys`) and the doorbell are parameters,
//! so the host tests run all of it over a fake tree, a plain file and an in-process doorbell pair.

pub mod channel;
pub mod devtree;
pub mod doorbell;
pub mod pingpong;
pub mod sram;

#[cfg(test)]
mod testdir;
#[cfg(test)]
mod tests;

pub use channel::{Channel, Error, Roots};
pub use devtree::{Access, ChannelNode};
