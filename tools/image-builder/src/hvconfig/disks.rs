//! The disks in the generated configuration: `SystemConfig::disks` (every `[[disk]]`, in config order, each with
//! its backing: RAM the layout reserved, or a slice of the board's own disk) and `SystemConfig::host_disk` (where
//! hv-static looks for that disk and how much of it the slices need).

use board_support::HOST_DISK_SERIAL;

use hv_plan::plan::{self, DiskConfig, HostDiskConfig, Load};

use crate::config::{DiskBacking, System};
use crate::layout::{Layout, Shared};

/// Bytes of the board's disk the host-backed disks' slices take from its start (0 without any).
pub fn host_disk_size(layout: &Layout) -> u64 {
    layout.host_disk_slices.last().map_or(0, |s| s.offset.saturating_add(s.size))
}

/// The disks, in `System::disks` order (the index a `VirtioDevice::Blk` names).
pub fn system_disks(system: &System, layout: &Layout) -> Vec<DiskConfig> {
    let mut slices = layout.host_disk_slices.iter();
    system
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let backing = match d.backing {
                DiskBacking::Ram => {
                    let s = layout
                        .shared
                        .iter()
                        .find(|s| s.what == Shared::Disk(i))
                        .expect("the layout places every RAM-backed disk");
                    let image = s.load.map(|l| Load { src_pa: l.src_pa, dst_pa: l.dst_pa, size: l.size });
                    plan::DiskBacking::Ram { pa: s.region.base, image }
                }
                DiskBacking::Host => {
                    let s = slices.next().expect("the layout slices the board's disk for every host-backed disk");
                    plan::DiskBacking::Host { offset: s.offset }
                }
            };
            DiskConfig { size: d.size, backing }
        })
        .collect()
}

/// The board's disk: `None` unless some disk is a slice of it.
pub fn host_disk(system: &System, layout: &Layout) -> Option<HostDiskConfig<'static>> {
    if layout.host_disk_slices.is_empty() {
        return None;
    }
    let bus = system.board.virtio_mmio.expect("validated: host-backed disks only on boards with a disk of their own");
    Some(HostDiskConfig {
        mmio_base: bus.base,
        mmio_stride: bus.stride,
        mmio_count: bus.count,
        serial: HOST_DISK_SERIAL,
        size: host_disk_size(layout),
    })
}
