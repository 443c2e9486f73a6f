//! The paravirtual side of the plan: virtio devices, the disks and switches behind them, and shared-memory
//! channels.

use super::partition::Load;

plan_struct! {
    /// A virtio-mmio device hv-static serves to a partition, in a window of its guest-physical space.
    pub struct VirtioConfig {
        /// Index into the system-wide device table (`SystemConfig::virtio_devices` entries).
        pub index: usize,
        /// Guest-physical base of its 0x200-byte register window.
        pub ipa: u64,
        /// Its interrupt (a virtual SPI), level-triggered.
        pub intid: u32,
        pub device: VirtioDevice,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioDevice {
    /// A block device on `SystemConfig::disks[disk]`.
    Blk { disk: usize, read_only: bool },
    /// A network device: switch port `SystemConfig::net_ports[port]`, with its MAC address.
    Net { port: usize, mac: [u8; 6] },
}

plan_struct! {
    /// A virtual switch: the ports of the partitions on it, and whether the board's own network device is one too.
    pub struct NetworkConfig<'a> {
        /// Indexes into `SystemConfig::net_ports`, in the order the partitions attach: the switch numbers them 0,
        /// 1, ...
        pub ports: &'a [usize],
        /// The board's network device (`SystemConfig::host_net`) is a port too, numbered `ports.len()`.
        pub uplink: bool,
    }
}

plan_struct! {
    /// A partition's port on a switch.
    pub struct NetPortConfig {
        /// Index into `SystemConfig::networks`.
        pub network: usize,
        /// The partition it belongs to, and its virtio-net device (index into the system-wide device table).
        pub partition: usize,
        pub virtio: usize,
    }
}

plan_struct! {
    /// A disk the partitions' virtio-blk devices serve: `size` bytes (whole 512-byte sectors) on its backing.
    pub struct DiskConfig {
        pub size: u64,
        pub backing: DiskBacking,
    }
}

/// Where a disk's sectors live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskBacking {
    /// Host-physical memory the layout reserved at `pa`, zeroed and filled from its image (if it has one: the
    /// copy out of the boot image) at boot.
    Ram { pa: u64, image: Option<Load> },
    /// A slice of the board's own disk (`SystemConfig::host_disk`) from byte `offset`: writes persist.
    Host { offset: u64 },
}

plan_struct! {
    /// A shared-memory channel: host-physical memory the layout reserved outside every partition's RAM, zeroed
    /// once at boot and mapped into each member partition.
    pub struct ChannelConfig<'a> {
        /// Its name in the config (the `label` of its device-tree nodes), for fault reports.
        pub name: &'a str,
        pub pa: u64,
        pub size: u64,
    }
}

#[cfg(feature = "bake")]
mod bake {
    use super::{DiskBacking, VirtioDevice};
    use crate::bake::{Bake, Expr};
    use alloc::vec;

    /// Every variant and field spelled out: a new one is a compile error here until it is baked.
    impl Bake for VirtioDevice {
        fn bake(&self) -> Expr {
            match *self {
                VirtioDevice::Blk { disk, read_only } => {
                    Expr::strukt("VirtioDevice::Blk", vec![("disk", disk.bake()), ("read_only", read_only.bake())])
                }
                VirtioDevice::Net { port, mac } => {
                    Expr::strukt("VirtioDevice::Net", vec![("port", port.bake()), ("mac", mac.bake())])
                }
            }
        }
    }

    impl Bake for DiskBacking {
        fn bake(&self) -> Expr {
            match *self {
                DiskBacking::Ram { pa, image } => {
                    Expr::strukt("DiskBacking::Ram", vec![("pa", pa.bake()), ("image", image.bake())])
                }
                DiskBacking::Host { offset } => Expr::strukt("DiskBacking::Host", vec![("offset", offset.bake())]),
            }
        }
    }
}
