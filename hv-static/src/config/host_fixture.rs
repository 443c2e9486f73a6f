// Host-only fixture: a two-partition GICv3 system, so the shared logic builds and unit-tests without the image
// builder. Real builds always use the generated description.
pub const NUM_CPUS: usize = 2;
pub const NUM_PARTITIONS: usize = 2;
pub const MAX_VCPUS: usize = 1;
pub const S2_TABLES: usize = 6;
pub const NUM_VIRTIO: usize = 0;
pub const NUM_NET_PORTS: usize = 0;
pub const NUM_NETWORKS: usize = 0;

pub static SYSTEM: SystemConfig = SystemConfig {
    name: "host-fixture",
    board: "qemu-virt-aarch64",
    uart: 0x0900_0000,
    uart_kind: UartKind::Pl011,
    uart_irq: 33,
    log_level: LogLevel::Info,
    gic: GicConfig {
        version: GicVersion::V3,
        gicd: 0x0800_0000,
        gicr: 0x080A_0000,
        gicc: 0,
        gich: 0,
        gicv: 0,
        maintenance_irq: 25,
    },
    ram_base: 0x4000_0000,
    ram_size: 0x4000_0000,
    image_base: 0x4020_0000,
    image_size: 0x40_0000,
    cpus: &[PhysCpu { mpidr: 0, schedule: None }, PhysCpu { mpidr: 1, schedule: None }],
    cpu_start: CpuStart::Psci,
    partitions: &[
        PartitionConfig {
            name: "a",
            id: 0,
            vcpus: &[VcpuConfig { pcpu: 0, mpidr: 0x8000_0000 }],
            memory: &[MemRegion { ipa: 0x4000_0000, pa: 0x4060_0000, size: 0x400_0000 }],
            devices: &[],
            spis: &[],
            loads: &[],
            entry: 0x4008_0000,
            dtb: 0x43e0_0000,
            vdev: VirtualDevices { gicd: 0x0800_0000, gicr: 0x080A_0000, gicc: 0, uart: Some(0x0900_0000), uart_irq: 33 },
            s2_tables: 3,
            fault_policy: FaultPolicy::Stop,
            wfi_trap: false,
            virtio: &[],
            channels: &[],
        },
        PartitionConfig {
            name: "b",
            id: 1,
            vcpus: &[VcpuConfig { pcpu: 1, mpidr: 0x8000_0000 }],
            memory: &[MemRegion { ipa: 0x4000_0000, pa: 0x4460_0000, size: 0x400_0000 }],
            devices: &[],
            spis: &[48],
            loads: &[],
            entry: 0x4008_0000,
            dtb: 0x43e0_0000,
            vdev: VirtualDevices { gicd: 0x0800_0000, gicr: 0x080A_0000, gicc: 0, uart: Some(0x0900_0000), uart_irq: 33 },
            s2_tables: 3,
            fault_policy: FaultPolicy::Stop,
            wfi_trap: false,
            virtio: &[],
            channels: &[],
        },
    ],
    disks: &[],
    host_disk: None,
    channels: &[],
    networks: &[],
    net_ports: &[],
    host_net: None,
    preload_token: 1,
};
