//! The shape of the system description that `tools/image-builder` compiles into hv-static.
//!
//! Everything here is plain `'static` data: the builder validates the TOML, solves the memory layout and
//! writes one Rust file of these structures (see `config/mod.rs`), so the hypervisor never parses anything at run
//! time and every capacity (CPUs, partitions, page tables) is exact.

pub use hv_plan::system::{CpuStart, FaultPolicy, GicVersion, LogLevel, UartKind};

/// Physical interrupt controller: where its frames live on the board.
#[derive(Clone, Copy, Debug)]
pub struct GicConfig {
    pub version: GicVersion,
    /// Distributor (both versions).
    pub gicd: u64,
    /// GICv3 redistributors, one 128 KiB frame pair per CPU (0 on GICv2).
    pub gicr: u64,
    /// GICv2 CPU interface (0 on GICv3).
    pub gicc: u64,
    /// GICv2 virtual interface control, for the hypervisor's list registers (0 on GICv3).
    pub gich: u64,
    /// GICv2 virtual CPU interface, mapped into each partition at its GICC address (0 on GICv3).
    pub gicv: u64,
    /// Maintenance interrupt (a PPI, usually 25).
    pub maintenance_irq: u32,
}

/// One physical CPU the configuration uses.
#[derive(Clone, Copy, Debug)]
pub struct PhysCpu {
    /// Affinity value the firmware's PSCI CPU_ON expects.
    pub mpidr: u64,
    /// The CPU's table when it belongs to a cyclic pool; `None` in a pinned pool (no tick at all).
    pub schedule: Option<CpuSchedule>,
}

/// A cyclic pool's table as one CPU runs it: consecutive slots covering `[0, major_frame_ns)`, repeated forever
/// from a frame start all CPUs share. Times are nanoseconds; hv-static converts them to counter ticks at boot.
#[derive(Clone, Copy, Debug)]
pub struct CpuSchedule {
    pub major_frame_ns: u64,
    pub slots: &'static [Slot],
}

/// A stretch of a major frame on one CPU.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub start_ns: u64,
    pub end_ns: u64,
    /// The vCPU that runs (partition index, vCPU index), or `None`: the CPU idles in WFI.
    pub vcpu: Option<(usize, usize)>,
}

/// A guest-physical to host-physical mapping of normal memory.
#[derive(Clone, Copy, Debug)]
pub struct MemRegion {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

/// A guest-physical to host-physical mapping of device memory (passthrough or the GICv2 virtual CPU interface).
#[derive(Clone, Copy, Debug)]
pub struct DeviceRegion {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

/// A copy the hypervisor makes from the packed boot image into partition RAM before a partition (re)starts:
/// kernels, ramdisks and device trees.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Host-physical address of the bytes inside the loaded boot image.
    pub src_pa: u64,
    /// Host-physical destination inside the partition's RAM.
    pub dst_pa: u64,
    pub size: u64,
}

/// One virtual CPU and the physical CPU it is pinned to.
#[derive(Clone, Copy, Debug)]
pub struct VcpuConfig {
    /// Index into `SystemConfig::cpus`.
    pub pcpu: usize,
    /// The MPIDR the guest sees (affinity level 0 = vCPU index).
    pub mpidr: u64,
}

/// Where the partition sees its emulated devices (guest-physical addresses).
#[derive(Clone, Copy, Debug)]
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
}

/// A virtio-mmio device hv-static serves to a partition, in a window of its guest-physical space.
#[derive(Clone, Copy, Debug)]
pub struct VirtioConfig {
    /// Index into the system-wide device table (`NUM_VIRTIO` entries).
    pub index: usize,
    /// Guest-physical base of its 0x200-byte register window.
    pub ipa: u64,
    /// Its interrupt (a virtual SPI), level-triggered.
    pub intid: u32,
    pub device: VirtioDevice,
}

#[derive(Clone, Copy, Debug)]
pub enum VirtioDevice {
    /// A block device on `SystemConfig::disks[disk]`.
    Blk { disk: usize, read_only: bool },
    /// A network device: switch port `SystemConfig::net_ports[port]`, with its MAC address.
    Net { port: usize, mac: [u8; 6] },
}

/// A virtual switch: the ports of the partitions on it, and whether the board's own network device is one too.
#[derive(Clone, Copy, Debug)]
pub struct NetworkConfig {
    /// Indexes into `SystemConfig::net_ports`, in the order the partitions attach: the switch numbers them 0, 1, ...
    pub ports: &'static [usize],
    /// The board's network device (`SystemConfig::host_net`) is a port too, numbered `ports.len()`.
    pub uplink: bool,
}

/// A partition's port on a switch.
#[derive(Clone, Copy, Debug)]
pub struct NetPortConfig {
    /// Index into `SystemConfig::networks`.
    pub network: usize,
    /// The partition it belongs to, and its virtio-net device (index into the system-wide device table).
    pub partition: usize,
    pub virtio: usize,
}

/// A disk the partitions' virtio-blk devices serve: `size` bytes (whole 512-byte sectors) on its backing.
#[derive(Clone, Copy, Debug)]
pub struct DiskConfig {
    pub size: u64,
    pub backing: DiskBacking,
}

/// Where a disk's sectors live.
#[derive(Clone, Copy, Debug)]
pub enum DiskBacking {
    /// Host-physical memory the layout reserved at `pa`, zeroed and filled from its image (if it has one: the
    /// copy out of the boot image) at boot.
    Ram { pa: u64, image: Option<Load> },
    /// A slice of the board's own disk (`SystemConfig::host_disk`) from byte `offset`: writes persist.
    Host { offset: u64 },
}

/// The board's own block device, which hv-static drives and slices among the host-backed disks: a virtio-blk
/// device on one of the board's virtio-mmio transports, found at boot by probing them.
#[derive(Clone, Copy, Debug)]
pub struct HostDiskConfig {
    /// The transports: `mmio_count` register blocks of `mmio_stride` bytes from `mmio_base` (device memory in the
    /// hypervisor's own map).
    pub mmio_base: u64,
    pub mmio_stride: u64,
    pub mmio_count: u32,
    /// The device's serial (virtio-blk GET_ID), which tells it from other virtio-blk devices (a boot card).
    pub serial: &'static str,
    /// Bytes the slices take from the disk's start: the device must be at least this large.
    pub size: u64,
}

/// The board's own network device, which hv-static drives as the uplink port of one switch: a virtio-net device
/// on one of the board's virtio-mmio transports, found at boot by probing them.
#[derive(Clone, Copy, Debug)]
pub struct HostNetConfig {
    /// The transports, as in [`HostDiskConfig`] (the same board bus).
    pub mmio_base: u64,
    pub mmio_stride: u64,
    pub mmio_count: u32,
    /// INTID of transport 0's interrupt; transport `n` raises `intid_base + n` (level-sensitive SPIs).
    pub intid_base: u32,
    /// Index into `SystemConfig::networks` of the switch whose uplink it is.
    pub network: usize,
}

/// A shared-memory channel: host-physical memory the layout reserved outside every partition's RAM, zeroed once
/// at boot and mapped into each member partition.
#[derive(Clone, Copy, Debug)]
pub struct ChannelConfig {
    /// Its name in the config (the `label` of its device-tree nodes), for fault reports.
    pub name: &'static str,
    pub pa: u64,
    pub size: u64,
}

/// One channel as a member partition maps it.
#[derive(Clone, Copy, Debug)]
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

#[derive(Clone, Copy, Debug)]
pub struct PartitionConfig {
    pub name: &'static str,
    /// Index of the partition; its stage-2 VMID is `id + 1`.
    pub id: u16,
    pub vcpus: &'static [VcpuConfig],
    pub memory: &'static [MemRegion],
    pub devices: &'static [DeviceRegion],
    /// Passed-through shared peripheral interrupts (INTIDs >= 32), owned by this partition alone.
    pub spis: &'static [u32],
    pub loads: &'static [Load],
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
    pub virtio: &'static [VirtioConfig],
    /// The shared-memory channels it maps, in its device tree's order (the index `HV_CHANNEL_SIGNAL` takes).
    pub channels: &'static [ChannelMapping],
}

#[derive(Clone, Copy, Debug)]
pub struct SystemConfig {
    /// Name of the configuration file (without `.toml`), printed at boot.
    pub name: &'static str,
    pub board: &'static str,
    /// Physical console UART base.
    pub uart: u64,
    /// Its kind, which selects the console driver.
    pub uart_kind: UartKind,
    /// Its interrupt (SPI INTID), for console input.
    pub uart_irq: u32,
    pub gic: GicConfig,
    pub log_level: LogLevel,
    /// Board RAM the hypervisor maps for itself.
    pub ram_base: u64,
    pub ram_size: u64,
    /// Where the boot image (hypervisor followed by its payload) lives while it runs.
    pub image_base: u64,
    pub image_size: u64,
    pub cpus: &'static [PhysCpu],
    /// How the other CPUs are started.
    pub cpu_start: CpuStart,
    pub partitions: &'static [PartitionConfig],
    /// The disks, shared by the partitions whose virtio devices name them.
    pub disks: &'static [DiskConfig],
    /// The board's own disk, when a disk is backed by it.
    pub host_disk: Option<HostDiskConfig>,
    /// Shared-memory channels, in config order; the partitions' `channels` map them.
    pub channels: &'static [ChannelConfig],
    /// Virtual switches, in config order.
    pub networks: &'static [NetworkConfig],
    /// Every partition's switch ports (`NUM_NET_PORTS`), numbered in partition order, then attachment order.
    pub net_ports: &'static [NetPortConfig],
    /// The board's own network device, when a switch has it as its uplink (and a partition on that switch).
    pub host_net: Option<HostNetConfig>,
    /// Checksum of every partition's boot images and their destinations: a boot loader that put them in place
    /// passes it on the command line (`crate::preload`). Never 0.
    pub preload_token: u32,
}
