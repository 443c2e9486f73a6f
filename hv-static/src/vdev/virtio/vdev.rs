//! The partition's virtio-mmio transports as emulated devices: one window of [`WINDOW`] bytes per device, the
//! partition's n-th device its n-th instance.

use super::{access, owns_irq, resample, reset_partition, WINDOW};
use crate::config::{PartitionConfig, SYSTEM};
use crate::core::vcpu::VcpuRef;
use crate::vdev::{offset_in, Access, DeviceKind, Hit, Later, VirtualDevice};

/// Every virtio device of a partition.
pub struct Transports;

impl VirtualDevice for Transports {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        let mut devices = p.virtio.iter().enumerate();
        devices.find_map(|(instance, d)| offset_in(ipa, d.ipa, WINDOW).map(|offset| Hit { instance, offset }))
    }

    fn access(&self, part: usize, vcpu: usize, instance: usize, a: Access) -> Result<u64, Later> {
        // A notification's work is not done here but scheduled in the partition's own time: nothing to defer.
        Ok(match SYSTEM.partitions[part].virtio.get(instance) {
            Some(d) => access(VcpuRef { part, idx: vcpu }, d, a.offset, a.size, a.write),
            None => 0,
        })
    }

    fn resample(&self, part: usize, intid: u32) -> bool {
        let owned = owns_irq(part, intid);
        if owned {
            resample(part, intid);
        }
        owned
    }

    /// Every device back to status 0, as its driver would reset it; deferred work dropped.
    fn reset(&self, part: usize) {
        reset_partition(part);
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::Virtio
    }
}
