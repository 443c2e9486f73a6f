//! The shape of the system description that `tools/image-builder` compiles into hv-static: `hv-plan`'s plan
//! types, at the `'static` lifetime the compiled-in tables have. The builder builds a value of these very types
//! and writes it out (`hv_plan::bake`), so the two sides cannot disagree about a field.

use hv_plan::plan;

pub use hv_plan::plan::{
    ChannelMapping, DeviceRegion, DiskBacking, DiskConfig, GicConfig, HostNetConfig, Load, MemRegion, NetPortConfig,
    Slot, VcpuConfig, VirtioConfig, VirtioDevice, VirtualDevices,
};
pub use hv_plan::system::{CpuStart, FaultPolicy, GicVersion, LogLevel, UartKind};

/// The whole system.
pub type SystemConfig = plan::SystemConfig<'static>;
/// One partition.
pub type PartitionConfig = plan::PartitionConfig<'static>;
/// One physical CPU the configuration uses, with its cyclic table if it has one.
pub type PhysCpu = plan::PhysCpu<'static>;
/// A cyclic pool's table as one CPU runs it.
pub type CpuSchedule = plan::CpuSchedule<'static>;
/// A virtual switch.
pub type NetworkConfig = plan::NetworkConfig<'static>;
/// The board's own block device.
pub type HostDiskConfig = plan::HostDiskConfig<'static>;
/// A shared-memory channel.
pub type ChannelConfig = plan::ChannelConfig<'static>;
