//! Devices of the board that hv-static drives itself, as a driver (not as the device model it is for partitions):
//! today the board's own virtio-blk disk, which the host-backed disks (`backing = "host"`) are slices of.
//!
//! The driver is the `virtio-drivers` crate, the same one the bare-metal test guests use, over its virtio-mmio
//! transport, polling (no interrupt is routed to hv-static). It needs DMA memory: [`dma`] gives it a static pool
//! inside the hypervisor's own memory instead of a heap.

mod blk;
mod dma;

pub use blk::{flush, init, read, write};
