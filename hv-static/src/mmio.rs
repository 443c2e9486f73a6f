//! Emulated devices behind stage-2 data aborts: which device a guest-physical address belongs to, and carrying
//! out the access the syndrome describes.

use crate::config::GicVersion;
use crate::esr::DataAbort;
use crate::vcpu::VcpuRef;
use crate::vgic::regs::{Access, GICD_SIZE_V2, GICD_SIZE_V3, GICR_STRIDE};
use crate::{vgic, virtio, vuart};

/// Performs the access if `ipa` is one of the partition's emulated devices. Returns the value to load for reads,
/// `Some(0)` for writes, `None` when no device is there (a fault).
pub fn emulate(v: VcpuRef, ipa: u64, d: &DataAbort, write_value: u64) -> Option<u64> {
    let p = v.partition();
    let vd = &p.vdev;
    let write = d.write.then_some(write_value);
    let gicd_size = match crate::config::SYSTEM.gic.version {
        GicVersion::V3 => GICD_SIZE_V3,
        GicVersion::V2 => GICD_SIZE_V2,
    };
    let gicr_size = p.vcpus.len() as u64 * GICR_STRIDE;
    if let Some(off) = offset_in(ipa, vd.gicd, gicd_size) {
        return Some(vgic::gicd_access(v, Access { offset: off, size: d.size, write }));
    }
    if vd.gicr != 0 {
        if let Some(off) = offset_in(ipa, vd.gicr, gicr_size) {
            return Some(vgic::gicr_access(v, Access { offset: off, size: d.size, write }));
        }
    }
    if let Some((dev, off)) = virtio::find(v, ipa) {
        return Some(virtio::access(v, dev, off, d.size, write));
    }
    if let Some(base) = vd.uart {
        if let Some(off) = offset_in(ipa, base, vuart::SIZE) {
            return Some(vuart::access(v.part, off & !3, write.map(|w| w as u32)) as u64);
        }
    }
    None
}

fn offset_in(ipa: u64, base: u64, size: u64) -> Option<u64> {
    (ipa >= base && ipa - base < size).then(|| ipa - base)
}
