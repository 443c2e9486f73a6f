//! The partition's console PL011 as an emulated device, when the partition has a console.

use super::{access, flush, resample, reset, SIZE};
use crate::config::{PartitionConfig, SYSTEM};
use crate::vdev::{offset_in, Access, DeviceKind, Hit, Later, VirtualDevice};

/// The emulated PL011 at the partition's `vdev.uart`.
pub struct Console;

impl VirtualDevice for Console {
    fn find(&self, p: &PartitionConfig, ipa: u64) -> Option<Hit> {
        let base = p.vdev.uart?;
        offset_in(ipa, base, SIZE).map(|offset| Hit { instance: 0, offset })
    }

    /// Registers are 32 bits wide and word-aligned: an access of any width acts on the word that holds it.
    fn access(&self, part: usize, _vcpu: usize, _instance: usize, a: Access) -> Result<u64, Later> {
        access(part, a.offset & !3, a.write.map(|w| w as u32)).map(u64::from)
    }

    fn resample(&self, part: usize, intid: u32) -> bool {
        let vdev = &SYSTEM.partitions[part].vdev;
        let owned = vdev.uart.is_some() && intid == vdev.uart_irq;
        if owned {
            resample(part);
        }
        owned
    }

    fn reset(&self, part: usize) {
        reset(part);
    }

    /// Whatever the partition left without a newline (it stopped mid-line) is printed.
    fn stopped(&self, part: usize) {
        flush(part);
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::Uart
    }
}
