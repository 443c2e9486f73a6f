//! Devices of the board that hv-static drives itself, as a driver (not as the device model it is for partitions):
//! the board's own virtio-blk disk, which the host-backed disks (`backing = "host"`) are slices of, and its own
//! virtio-net device, the uplink port of one switch (`uplink = true`).
//!
//! The drivers are the `virtio-drivers` crate, the same one the bare-metal test guests use, over its virtio-mmio
//! transport. The disk is polled (its interrupt is never enabled); the network device's receive interrupt is routed
//! to one CPU (see [`net`]). They need DMA memory: [`dma`] gives them a static pool inside the hypervisor's own
//! memory instead of a heap, sized by the configuration. An image whose configuration uses neither device has no
//! pool, no buffers and no driver code: everything here hangs off `SYSTEM.host_disk` and `SYSTEM.host_net`, which
//! are compile-time constants.

mod blk;
mod dma;
mod net;

use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, DeviceTypeError, Transport};

pub use blk::{flush, read, write};
pub use net::{on_interrupt, owns_irq, send};

use crate::config::SYSTEM;
use crate::{hverror, hvwarn};

/// Boot CPU, before any partition starts: one pass over the board's virtio-mmio transports, from the highest down,
/// finds the devices the configuration uses, each by its device ID (and the disk by its serial), whatever their
/// slots. Every transport is opened once: a device left alone is reset when its transport is dropped, which must
/// never happen to one a driver already holds. What was found, or not, is said on the console.
pub fn init() {
    let disk = SYSTEM.host_disk.as_ref();
    let nic = SYSTEM.host_net.as_ref();
    let (base, stride, count) = match (disk, nic) {
        (Some(d), _) => (d.mmio_base, d.mmio_stride, d.mmio_count),
        (None, Some(n)) => (n.mmio_base, n.mmio_stride, n.mmio_count),
        (None, None) => return,
    };
    let (mut want_disk, mut want_nic) = (disk.is_some(), nic.is_some());
    // The transports must be device memory in the hypervisor's identity map, which maps everything below RAM so.
    let end = base + u64::from(count) * stride;
    if end > SYSTEM.ram_base {
        hverror!("board devices: virtio-mmio transports {base:#x}..{end:#x} are not mapped as devices");
        return;
    }
    let mut blk_devices = 0;
    for slot in (0..count).rev() {
        if !want_disk && !want_nic {
            break;
        }
        let at = base + u64::from(slot) * stride;
        let Some(transport) = open(at, stride) else { continue };
        match (transport.device_type(), disk, nic) {
            (DeviceType::Block, Some(cfg), _) if want_disk => {
                blk_devices += 1;
                want_disk = !blk::offer(transport, at, cfg);
            }
            (DeviceType::Network, _, Some(cfg)) if want_nic => want_nic = !net::offer(transport, slot, at, cfg),
            // Nothing of ours (a boot card, another NIC): dropping the transport resets the device.
            _ => {}
        }
    }
    if let (true, Some(cfg)) = (want_disk, disk) {
        blk::missing(cfg, blk_devices);
    }
    if let (true, Some(cfg)) = (want_nic, nic) {
        net::missing(cfg);
    }
}

/// The transport at `base`, if a device sits there.
fn open(base: u64, size: u64) -> Option<MmioTransport<'static>> {
    let header = NonNull::new(core::ptr::with_exposed_provenance_mut::<VirtIOHeader>(usize::try_from(base).ok()?))?;
    // SAFETY: the board description puts a virtio-mmio register block of `size` bytes at `base`, device memory in
    // the hypervisor's identity map for its whole run (checked against RAM in `init`); no partition maps it (their
    // virtio windows are emulated), and this is the only transport object for it: `init` opens each slot once, and
    // drops every transport but those a driver keeps.
    match unsafe { MmioTransport::new(header, usize::try_from(size).ok()?) } {
        Ok(t) => Some(t),
        // An empty slot.
        Err(MmioError::InvalidDeviceID(DeviceTypeError::InvalidDeviceType(0))) => None,
        Err(e) => {
            hvwarn!("board devices: virtio-mmio at {base:#x}: {e}");
            None
        }
    }
}
