//! Paravirtual drivers for hv-static partitions.
//!
//! Today this crate holds the guest side of the hypervisor ABI (docs/guest-abi.md): typed wrappers for the SMCCC
//! 1.1 and PSCI 1.1 calls a partition makes over `HVC #0`, and for hv-static's own vendor calls (the scheduler
//! introspection that test guests use). [`virtio`] holds the hypervisor side of the paravirtual devices: the
//! virtio-mmio transport, the split virtqueue and the device models hv-static serves to partitions. [`net`] is the
//! virtual switch that connects the partitions' network devices: MAC learning and per-port frame inboxes, with no
//! knowledge of devices or guest memory. [`ring`] is a message ring over a shared-memory channel, for both of its
//! members: bare-metal guests over the mapped channel, Linux over the sram driver's file (`hvchan`).
//!
//! Design rules:
//! - `no_std`, no heap: the same crate links into bare-metal guests and into hv-static.
//! - Every call goes through a [`abi::smccc::Conduit`], so argument marshalling and result decoding are unit-tested
//!   on the host against a fake conduit; only the one `hvc` instruction is architecture code.
//! - Function IDs and return codes are named constants and enums, never bare numbers at call sites.
#![cfg_attr(not(test), no_std)]

pub mod abi;
pub mod net;
pub mod ring;
pub mod virtio;
