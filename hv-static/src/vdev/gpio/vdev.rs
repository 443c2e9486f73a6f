//! The partition's channel GPIO controller as an emulated device, when the partition maps channels.

use super::{access, regs::SIZE, resample, reset};
use crate::config::{PartitionConfig, SYSTEM};
use crate::vdev::{offset_in, Access, Hit, Later, VirtualDevice};

/// The emulated PL061 at the partition's `vdev.gpio`.
pub struct Gpio;

impl VirtualDevice for Gpio {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        let base = p.vdev.gpio?;
        offset_in(ipa, base, SIZE).map(|offset| Hit { instance: 0, offset })
    }

    fn access(&self, part: usize, _vcpu: usize, _instance: usize, a: Access) -> Result<u64, Later> {
        Ok(access(part, a.offset, a.size, a.write))
    }

    fn resample(&self, part: usize, intid: u32) -> bool {
        let vdev = &SYSTEM.partitions[part].vdev;
        let owned = vdev.gpio.is_some() && intid == vdev.gpio_irq;
        if owned {
            resample(part);
        }
        owned
    }

    fn reset(&self, part: usize) {
        if SYSTEM.partitions[part].vdev.gpio.is_some() {
            reset(part);
        }
    }
}
