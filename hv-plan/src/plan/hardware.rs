//! The board side of the plan: the physical GIC, the CPUs with their cyclic tables, and the board's own disk and
//! network device when hv-static drives them.

use crate::system::GicVersion;

plan_struct! {
    /// Physical interrupt controller: where its frames live on the board.
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
}

plan_struct! {
    /// One physical CPU the configuration uses.
    pub struct PhysCpu<'a> {
        /// Affinity value the firmware's PSCI CPU_ON expects.
        pub mpidr: u64,
        /// The CPU's table when it belongs to a cyclic pool; `None` in a pinned pool (no tick at all).
        pub schedule: Option<CpuSchedule<'a>>,
    }
}

plan_struct! {
    /// A cyclic pool's table as one CPU runs it: consecutive slots covering `[0, major_frame_ns)`, repeated forever
    /// from a frame start all CPUs share. Times are nanoseconds; hv-static converts them to counter ticks at boot.
    pub struct CpuSchedule<'a> {
        pub major_frame_ns: u64,
        pub slots: &'a [Slot],
    }
}

plan_struct! {
    /// A stretch of a major frame on one CPU.
    pub struct Slot {
        pub start_ns: u64,
        pub end_ns: u64,
        /// The vCPU that runs (partition index, vCPU index), or `None`: the CPU idles in WFI.
        pub vcpu: Option<(usize, usize)>,
    }
}

plan_struct! {
    /// The board's own block device, which hv-static drives and slices among the host-backed disks: a virtio-blk
    /// device on one of the board's virtio-mmio transports, found at boot by probing them.
    pub struct HostDiskConfig<'a> {
        /// The transports: `mmio_count` register blocks of `mmio_stride` bytes from `mmio_base` (device memory in
        /// the hypervisor's own map).
        pub mmio_base: u64,
        pub mmio_stride: u64,
        pub mmio_count: u32,
        /// The device's serial (virtio-blk GET_ID), which tells it from other virtio-blk devices (a boot card).
        pub serial: &'a str,
        /// Bytes the slices take from the disk's start: the device must be at least this large.
        pub size: u64,
    }
}

plan_struct! {
    /// The board's own network device, which hv-static drives as the uplink port of one switch: a virtio-net device
    /// on one of the board's virtio-mmio transports, found at boot by probing them.
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
}
