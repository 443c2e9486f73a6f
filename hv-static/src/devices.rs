//! The emulated devices partitions see, registered once. The trap path finds the device behind a stage-2 data
//! abort here (`mmio`), interrupt completion resamples level interrupts here (boot hands [`resample`] to
//! `vgic::set_resample`), and a partition (re)start resets every device here (`partition` is handed [`reset`]): adding a
//! device is one module implementing [`VirtualDevice`] and one entry in [`DEVICES`].
//!
//! This module sits at the top of the crate, above the devices it names and the core that calls back through it,
//! so neither has to import the other.

use crate::vdev::{Hit, VirtualDevice};
use crate::{vgic, virtio, vuart};

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
