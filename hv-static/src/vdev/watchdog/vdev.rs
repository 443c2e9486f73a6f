//! The partition's SP805 watchdog as an emulated device, when the partition has one.

use super::{access, regs::SIZE, resample, reset, stopped};
use crate::config::{PartitionConfig, SYSTEM};
use crate::vdev::{offset_in, Access, DeviceKind, Hit, Later, VirtualDevice};

/// The emulated SP805 at the partition's `vdev.watchdog`.
pub struct Watchdog;

impl VirtualDevice for Watchdog {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        let base = p.vdev.watchdog?;
        offset_in(ipa, base, SIZE).map(|offset| Hit { instance: 0, offset })
    }

    /// Aligned 32-bit accesses only act (the model answers anything else with zero and ignores it).
    fn access(&self, part: usize, _vcpu: usize, _instance: usize, a: Access) -> Result<u64, Later> {
        Ok(access(part, a.offset, a.size, a.write))
    }

    fn resample(&self, part: usize, intid: u32) -> bool {
        let vdev = &SYSTEM.partitions[part].vdev;
        let owned = vdev.watchdog.is_some() && intid == vdev.watchdog_irq;
        if owned {
            resample(part);
        }
        owned
    }

    fn reset(&self, part: usize) {
        if SYSTEM.partitions[part].vdev.watchdog.is_some() {
            reset(part);
        }
    }

    fn stopped(&self, part: usize) {
        if SYSTEM.partitions[part].vdev.watchdog.is_some() {
            stopped(part);
        }
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::Other
    }
}
