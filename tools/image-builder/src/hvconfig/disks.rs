//! The disks in the generated configuration: `SystemConfig::disks` (every `[[disk]]`, in config order, each with
//! its backing: RAM the layout reserved, or a slice of the board's own disk) and `SystemConfig::host_disk` (where
//! hv-static looks for that disk and how much of it the slices need).

use board_support::HOST_DISK_SERIAL;

use crate::config::{DiskBacking, System};
use crate::layout::{Layout, Shared};
use crate::units::hex;

/// Bytes of the board's disk the host-backed disks' slices take from its start (0 without any).
pub fn host_disk_size(layout: &Layout) -> u64 {
    layout.host_disk_slices.last().map_or(0, |s| s.offset.saturating_add(s.size))
}

/// The `DiskConfig`s, in `System::disks` order (the index a `VirtioDevice::Blk` names).
pub fn system_disks(system: &System, layout: &Layout) -> Vec<String> {
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
                    let image = match s.load {
                        Some(l) => format!(
                            "Some(Load {{ src_pa: {}, dst_pa: {}, size: {} }})",
                            hex(l.src_pa),
                            hex(l.dst_pa),
                            hex(l.size)
                        ),
                        None => "None".into(),
                    };
                    format!("DiskBacking::Ram {{ pa: {}, image: {image} }}", hex(s.region.base))
                }
                DiskBacking::Host => {
                    let s = slices.next().expect("the layout slices the board's disk for every host-backed disk");
                    format!("DiskBacking::Host {{ offset: {} }}", hex(s.offset))
                }
            };
            format!("DiskConfig {{ size: {}, backing: {backing} }}", hex(d.size))
        })
        .collect()
}

/// The `Option<HostDiskConfig>`: `None` unless some disk is a slice of the board's own disk.
pub fn host_disk(system: &System, layout: &Layout) -> String {
    if layout.host_disk_slices.is_empty() {
        return "None".into();
    }
    let bus = system.board.virtio_mmio.expect("validated: host-backed disks only on boards with a disk of their own");
    format!(
        "Some(HostDiskConfig {{ mmio_base: {}, mmio_stride: {}, mmio_count: {}, serial: {:?}, size: {} }})",
        hex(bus.base),
        hex(bus.stride),
        bus.count,
        HOST_DISK_SERIAL,
        hex(host_disk_size(layout))
    )
}
