//! The system plan: everything the image builder decided about a system, as the plain `'static` data hv-static
//! is compiled with.
//!
//! The builder validates the TOML, solves the memory layout and builds one [`SystemConfig`] of these types; with
//! the `bake` feature it writes that value out as Rust source (see [`crate::bake`]), which hv-static's build
//! includes as its `SYSTEM`. Both sides use these definitions, so the hypervisor never parses anything at run time,
//! every capacity (CPUs, partitions, page tables) is exact, and a field added here is one the builder must fill and
//! the baked source always carries.
//!
//! Slices and names borrow for `'a`: `'static` in hv-static, the builder's arena while it plans.

/// Defines a plan struct and, with the `bake` feature, its [`crate::bake::Bake`] impl from the same field list,
/// so the two cannot disagree.
macro_rules! plan_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name $(<$lt>)? {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        #[cfg(feature = "bake")]
        impl $(<$lt>)? $crate::bake::Bake for $name $(<$lt>)? {
            fn bake(&self) -> $crate::bake::Expr {
                $crate::bake::Expr::strukt(
                    stringify!($name),
                    alloc::vec![$( (stringify!($field), $crate::bake::Bake::bake(&self.$field)) ),*],
                )
            }
        }
    };
}

mod hardware;
mod partition;
mod pv;

pub use hardware::{CpuSchedule, GicConfig, HostDiskConfig, HostNetConfig, PhysCpu, Slot};
pub use partition::{ChannelMapping, DeviceRegion, Load, MemRegion, PartitionConfig, VcpuConfig, VirtualDevices};
pub use pv::{ChannelConfig, DiskBacking, DiskConfig, NetPortConfig, NetworkConfig, VirtioConfig, VirtioDevice};

use crate::system::{CpuStart, LogLevel, UartKind};

plan_struct! {
    /// The whole system: the board facts hv-static needs, the CPUs it uses, and every partition, disk, channel and
    /// switch.
    pub struct SystemConfig<'a> {
        /// Name of the configuration file (without `.toml`), printed at boot.
        pub name: &'a str,
        pub board: &'a str,
        /// Physical console UART base.
        pub uart: u64,
        /// Its kind, which selects the console driver.
        pub uart_kind: UartKind,
        /// Its interrupt (SPI INTID), for console input.
        pub uart_irq: u32,
        pub log_level: LogLevel,
        pub gic: GicConfig,
        /// Board RAM the hypervisor maps for itself.
        pub ram_base: u64,
        pub ram_size: u64,
        /// Where the boot image (hypervisor followed by its payload) lives while it runs.
        pub image_base: u64,
        pub image_size: u64,
        pub cpus: &'a [PhysCpu<'a>],
        /// How the other CPUs are started.
        pub cpu_start: CpuStart,
        /// The disks, shared by the partitions whose virtio devices name them.
        pub disks: &'a [DiskConfig],
        /// The board's own disk, when a disk is backed by it.
        pub host_disk: Option<HostDiskConfig<'a>>,
        /// Shared-memory channels, in config order; the partitions' `channels` map them.
        pub channels: &'a [ChannelConfig<'a>],
        /// Virtual switches, in config order.
        pub networks: &'a [NetworkConfig<'a>],
        /// Every partition's switch ports, numbered in partition order, then attachment order.
        pub net_ports: &'a [NetPortConfig],
        /// The board's own network device, when a switch has it as its uplink (and a partition on that switch).
        pub host_net: Option<HostNetConfig>,
        /// Checksum of every partition's boot images and their destinations: a boot loader that put them in place
        /// passes it on the command line (hv-static's `preload`). Never 0.
        pub preload_token: u32,
        pub partitions: &'a [PartitionConfig<'a>],
    }
}

/// The capacities hv-static sizes its static tables by, all derived from the plan (so `const`).
impl SystemConfig<'_> {
    /// vCPUs of the partition with the most.
    pub const fn max_vcpus(&self) -> usize {
        let mut max = 0;
        let mut i = 0;
        while i < self.partitions.len() {
            if self.partitions[i].vcpus.len() > max {
                max = self.partitions[i].vcpus.len();
            }
            i += 1;
        }
        max
    }

    /// vCPUs over all partitions.
    pub const fn total_vcpus(&self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.partitions.len() {
            n += self.partitions[i].vcpus.len();
            i += 1;
        }
        n
    }

    /// Stage-2 translation tables over all partitions.
    pub const fn s2_tables(&self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.partitions.len() {
            n += self.partitions[i].s2_tables;
            i += 1;
        }
        n
    }

    /// Virtio devices over all partitions (the system-wide device table `VirtioConfig::index` points into).
    pub const fn virtio_devices(&self) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.partitions.len() {
            n += self.partitions[i].virtio.len();
            i += 1;
        }
        n
    }
}
