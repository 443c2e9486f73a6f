//! The emulated devices partitions see, registered once. The trap path finds the device behind a stage-2 data
//! abort here (`mmio`), interrupt completion resamples level interrupts here (boot hands [`resample`] to
//! `vgic::set_resample`), and a partition's start and stop reset and flush its devices here (boot hands [`reset`]
//! and [`stopped`] to `partition::set_device_hooks`): adding a device is one module implementing [`VirtualDevice`]
//! and one entry in [`DEVICES`].
//!
//! This module sits at the top of the crate, above the devices it names and the core that calls back through it,
//! so neither has to import the other.

use crate::vdev::{DeviceKind, Hit, VirtualDevice};
use crate::{vdev::vgic, vdev::virtio, vdev::vuart};

/// Every kind of emulated device. Their windows never overlap in a partition (the image builder lays them out), so
/// the order only decides which is asked first: the GIC, whose registers the guest touches most.
static DEVICES: [&dyn VirtualDevice; 4] =
    [&vgic::Distributor, &vgic::Redistributors, &virtio::Transports, &vuart::Console];

/// The device of partition `part` whose window holds `ipa`, and where in it.
pub fn find(part: usize, ipa: u64) -> Option<(&'static dyn VirtualDevice, Hit)> {
    DEVICES.iter().find_map(|&d| d.find(part, ipa).map(|hit| (d, hit)))
}

/// The guest of `part` completed emulated interrupt `intid`: its device raises it again if its line is still high.
pub fn resample(part: usize, intid: u32) {
    let _owned = DEVICES.iter().any(|d| d.resample(part, intid));
}

/// Every device of `part` back to its reset state, before the partition (re)starts.
pub fn reset(part: usize) {
    for d in DEVICES {
        d.reset(part);
    }
}

/// Partition `part` stopped: devices holding output for it let it out.
pub fn stopped(part: usize) {
    for d in DEVICES {
        d.stopped(part);
    }
}

/// The kind of device at `ipa` in partition `part`, for the trace.
#[cfg_attr(not(feature = "trace"), allow(dead_code, reason = "only the event trace asks"))]
pub fn kind_at(part: usize, ipa: u64) -> Option<DeviceKind> {
    find(part, ipa).map(|(d, _)| d.kind())
}
