//! Emulated devices behind stage-2 data aborts: which device a guest-physical address belongs to, and carrying
//! out the access the syndrome describes.

use crate::config::{GicVersion, VirtioConfig};
use crate::esr::DataAbort;
use crate::vcpu::VcpuRef;
use crate::vgic::regs::{Access, GICD_SIZE_V2, GICD_SIZE_V3, GICR_STRIDE};
use crate::{vgic, virtio, vuart};

/// One of the partition's emulated devices, with the offset of an address in its window.
enum Device {
    Gicd(u64),
    Gicr(u64),
    Virtio(&'static VirtioConfig, u64),
    Uart(u64),
}

/// The emulated device at `ipa` in the partition of `v`, if any. Only looks: no device sees an access.
fn device_at(v: VcpuRef, ipa: u64) -> Option<Device> {
    let p = v.partition();
    let vd = &p.vdev;
    let gicd_size = match crate::config::SYSTEM.gic.version {
        GicVersion::V3 => GICD_SIZE_V3,
        GicVersion::V2 => GICD_SIZE_V2,
    };
    let gicr_size = p.vcpus.len() as u64 * GICR_STRIDE;
    if let Some(off) = offset_in(ipa, vd.gicd, gicd_size) {
        return Some(Device::Gicd(off));
    }
    if vd.gicr != 0 {
        if let Some(off) = offset_in(ipa, vd.gicr, gicr_size) {
            return Some(Device::Gicr(off));
        }
    }
    if let Some((dev, off)) = virtio::find(v, ipa) {
        return Some(Device::Virtio(dev, off));
    }
    let base = vd.uart?;
    offset_in(ipa, base, vuart::SIZE).map(Device::Uart)
}

/// Whether `ipa` belongs to one of the partition's emulated devices, without touching it: an access there that
/// the hypervisor cannot carry out (no syndrome) is answered with an abort in the partition, not a fault.
pub fn is_emulated(v: VcpuRef, ipa: u64) -> bool {
    device_at(v, ipa).is_some()
}

/// Performs the access if `ipa` is one of the partition's emulated devices. Returns the value to load for reads,
/// `Some(0)` for writes, `None` when no device is there (a fault).
pub fn emulate(v: VcpuRef, ipa: u64, d: &DataAbort, write_value: u64) -> Option<u64> {
    let write = d.write.then_some(write_value);
    Some(match device_at(v, ipa)? {
        Device::Gicd(off) => vgic::gicd_access(v, Access { offset: off, size: d.size, write }),
        Device::Gicr(off) => vgic::gicr_access(v, Access { offset: off, size: d.size, write }),
        Device::Virtio(dev, off) => virtio::access(v, dev, off, d.size, write),
        Device::Uart(off) => vuart::access(v.part, off & !3, write.map(|w| w as u32)) as u64,
    })
}

fn offset_in(ipa: u64, base: u64, size: u64) -> Option<u64> {
    (ipa >= base && ipa - base < size).then(|| ipa - base)
}
