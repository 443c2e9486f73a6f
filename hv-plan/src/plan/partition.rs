//! One partition in the plan: its vCPUs, memory, devices, boot images, emulated devices and channel mappings.

use super::pv::VirtioConfig;
use crate::system::FaultPolicy;

plan_struct! {
    pub struct PartitionConfig<'a> {
        pub name: &'a str,
        /// Index of the partition; its stage-2 VMID is `id + 1`.
        pub id: u16,
        pub vcpus: &'a [VcpuConfig],
        pub memory: &'a [MemRegion],
        pub devices: &'a [DeviceRegion],
        /// Passed-through shared peripheral interrupts (INTIDs >= 32), owned by this partition alone.
        pub spis: &'a [u32],
        pub loads: &'a [Load],
        /// Guest-physical entry point of vCPU 0.
        pub entry: u64,
        /// Guest-physical address of the partition's device tree, passed in x0 / r2.
        pub dtb: u64,
        pub vdev: VirtualDevices,
        /// Number of 4 KiB stage-2 translation tables the builder computed for this partition's mappings.
        pub s2_tables: usize,
        pub fault_policy: FaultPolicy,
        /// The guest's WFI exits to hv-static (its pool's `wfi = "trap"`) instead of running on the hardware.
        pub wfi_trap: bool,
        /// Its virtio devices.
        pub virtio: &'a [VirtioConfig],
        /// The shared-memory channels it maps, in its device tree's order (the index `HV_CHANNEL_SIGNAL` takes).
        pub channels: &'a [ChannelMapping],
        /// The partitions it may observe and control through the manager calls (`manages` in the config), as
        /// indices into `SystemConfig::partitions`.
        pub manages: &'a [usize],
    }
}

plan_struct! {
    /// One virtual CPU and the physical CPU it is pinned to.
    pub struct VcpuConfig {
        /// Index into `SystemConfig::cpus`.
        pub pcpu: usize,
        /// The MPIDR the guest sees (affinity level 0 = vCPU index).
        pub mpidr: u64,
    }
}

plan_struct! {
    /// A guest-physical to host-physical mapping of normal memory.
    pub struct MemRegion {
        pub ipa: u64,
        pub pa: u64,
        pub size: u64,
    }
}

plan_struct! {
    /// A guest-physical to host-physical mapping of device memory (passthrough or the GICv2 virtual CPU interface).
    pub struct DeviceRegion {
        pub ipa: u64,
        pub pa: u64,
        pub size: u64,
    }
}

plan_struct! {
    /// A copy the hypervisor makes from the packed boot image into partition RAM before a partition (re)starts:
    /// kernels, ramdisks and device trees.
    pub struct Load {
        /// Host-physical address of the bytes inside the loaded boot image.
        pub src_pa: u64,
        /// Host-physical destination inside the partition's RAM.
        pub dst_pa: u64,
        pub size: u64,
    }
}

plan_struct! {
    /// Where the partition sees its emulated devices (guest-physical addresses).
    pub struct VirtualDevices {
        /// Emulated GIC distributor (64 KiB).
        pub gicd: u64,
        /// Emulated GICv3 redistributors, 128 KiB per vCPU (GICv3 only).
        pub gicr: u64,
        /// GICv2 CPU interface: the physical GICV frame is mapped here (GICv2 only).
        pub gicc: u64,
        /// Emulated PL011 console, when the partition has one.
        pub uart: Option<u64>,
        /// The emulated PL011's interrupt (an SPI INTID, as its device-tree node says).
        pub uart_irq: u32,
        /// Emulated SP805 watchdog, when the partition has one (`watchdog = true`).
        pub watchdog: Option<u64>,
        /// The watchdog's interrupt (an SPI INTID), raised at its first expiry.
        pub watchdog_irq: u32,
        /// Emulated PL061 GPIO controller carrying the doorbells of the partition's first channels, when it maps any.
        pub gpio: Option<u64>,
        /// The GPIO controller's interrupt (an SPI INTID, level-high).
        pub gpio_irq: u32,
    }
}

plan_struct! {
    /// One channel as a member partition maps it.
    pub struct ChannelMapping {
        /// Index into `SystemConfig::channels`.
        pub channel: usize,
        /// Guest-physical base; `size` bytes are mapped (the channel's whole size).
        pub ipa: u64,
        pub size: u64,
        /// Mapped read-write (`access = "rw"`); otherwise read-only, and a write is a stage-2 permission fault.
        pub writable: bool,
        /// The doorbell: a virtual SPI (INTID) raised when another member rings the channel.
        pub doorbell: u32,
    }
}
