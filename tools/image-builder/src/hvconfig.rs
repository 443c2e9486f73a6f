//! The configuration compiled into hv-static: `config.rs`, static tables of the types in
//! `hv-static/src/config/types.rs` (the file is `include!`d where those types are in scope), and `memory.ld`,
//! the link address and budget for its linker script.

use std::fmt::Write;

use board_support::{CpuStart, GicVersion, UartKind};
use hv_plan::guest_map;

use crate::config::{Access, System};
use crate::layout::Layout;
use crate::s2::{self, Mapping};
use crate::units::hex;

mod channels;
mod disks;
mod nets;
pub use channels::{channel_maps, ChannelMapping};
pub use disks::host_disk_size;

/// The generated files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HvConfig {
    pub config_rs: String,
    pub memory_ld: String,
}

/// A device mapped into a partition's stage 2 (not emulated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMap {
    pub ipa: u64,
    pub pa: u64,
    pub size: u64,
}

/// Devices partition `index` gets mapped: on GICv2, the board's virtual CPU interface at the guest's GICC
/// address; then every MMIO region of its passed-through devices, at guest-physical = host-physical.
pub fn device_maps(system: &System, index: usize) -> Vec<DeviceMap> {
    let mut maps = match (system.gic, system.board.gic.v2) {
        (GicVersion::V2, Some(v2)) => {
            vec![DeviceMap { ipa: guest_map::GICC, pa: v2.gicv, size: guest_map::GICC_SIZE }]
        }
        _ => Vec::new(),
    };
    maps.extend(system.partitions[index].passthrough.iter().flat_map(|d| d.regs.iter()).map(|m| DeviceMap {
        ipa: m.base,
        pa: m.base,
        size: m.size,
    }));
    maps
}

/// Stage-2 tables of partition `index`: its RAM plus its mapped devices and channels.
pub fn s2_tables(system: &System, layout: &Layout, index: usize) -> usize {
    let p = &layout.partitions[index];
    let mut maps = vec![Mapping { ipa: p.ipa, pa: p.ram.base, size: p.ram.size }];
    maps.extend(device_maps(system, index).iter().map(|d| Mapping { ipa: d.ipa, pa: d.pa, size: d.size }));
    maps.extend(channel_maps(system, layout, index).iter().map(ChannelMapping::stage2));
    s2::count_tables(&maps)
}

/// The `Option<CpuSchedule>` of physical CPU `cpu`: its cyclic pool's timeline, with the vCPU pinned there in
/// each window and adjacent slots of one vCPU merged (a boundary without a switch would be a needless exit).
fn cpu_schedule(system: &System, cpu: u32) -> String {
    let Some(table) = system.pools.iter().find(|p| p.cpus.contains(&cpu)).and_then(|p| p.cyclic.as_ref()) else {
        return "None".into();
    };
    let vcpu_on = |part: usize| {
        let v = system.partitions[part]
            .vcpus
            .iter()
            .position(|c| *c == cpu)
            .expect("validated: a window's CPUs run its vCPUs");
        (part, v)
    };
    // (start, end, (partition, vCPU)) per slot.
    type HvSlot = (u64, u64, Option<(usize, usize)>);
    let mut slots: Vec<HvSlot> = Vec::new();
    for s in crate::schedule::timeline(table, cpu) {
        let who = s.partition.map(vcpu_on);
        match slots.last_mut() {
            Some(last) if last.2 == who => last.1 = s.end,
            _ => slots.push((s.start, s.end, who)),
        }
    }
    let body: Vec<String> = slots
        .iter()
        .map(|(start, end, who)| {
            let vcpu = match who {
                Some((p, v)) => format!("Some(({p}, {v}))"),
                None => "None".into(),
            };
            format!("Slot {{ start_ns: {start}, end_ns: {end}, vcpu: {vcpu} }}")
        })
        .collect();
    format!("Some(CpuSchedule {{ major_frame_ns: {}, slots: &[{}] }})", table.major_frame, body.join(", "))
}

/// Partition `i`'s `VirtioConfig`s, in the transport slots the layout gave them: its disks, then its network
/// ports. `next` is the system-wide device number of its first one.
fn virtio_devices(system: &System, layout: &Layout, i: usize, next: &mut usize) -> Vec<String> {
    let p = &system.partitions[i];
    let disks = p
        .disks
        .iter()
        .map(|a| format!("VirtioDevice::Blk {{ disk: {}, read_only: {} }}", a.disk, a.access == Access::ReadOnly));
    let nets = p.networks.iter().enumerate().map(|(k, a)| {
        format!("VirtioDevice::Net {{ port: {}, mac: {} }}", nets::port_of(system, i, k), nets::mac_literal(&a.mac))
    });
    disks
        .chain(nets)
        .zip(&layout.guests[i].virtio)
        .map(|(device, slot)| {
            let index = *next;
            *next += 1;
            format!(
                "VirtioConfig {{ index: {index}, ipa: {}, intid: {}, device: {device} }}",
                hex(slot.base),
                slot.intid
            )
        })
        .collect()
}

/// The hypervisor's `UartKind` for the board's.
fn uart_kind(kind: UartKind) -> String {
    match kind {
        UartKind::Pl011 => "UartKind::Pl011".into(),
        UartKind::Ns16550 { reg_shift } => format!("UartKind::Ns16550 {{ reg_shift: {reg_shift} }}"),
    }
}

/// The hypervisor's `CpuStart` for the board's.
fn cpu_start(start: CpuStart) -> String {
    match start {
        CpuStart::Psci => "CpuStart::Psci".into(),
        CpuStart::SysFlags { set, clear } => {
            format!("CpuStart::SysFlags {{ set: {}, clear: {} }}", hex(set), hex(clear))
        }
    }
}

fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

/// Generates both files. Pure: same inputs, same text.
pub fn generate(system: &System, layout: &Layout, config_file: &str, preload_token: u32) -> HvConfig {
    let board = system.board;
    let cpus = system.used_cpus();
    let max_vcpus = system.partitions.iter().map(|p| p.vcpus.len()).max().unwrap_or(0);
    let tables: Vec<usize> = (0..system.partitions.len()).map(|i| s2_tables(system, layout, i)).collect();

    let mut o = String::new();
    // Writing to a String cannot fail.
    let w = &mut o;
    let _ = writeln!(
        w,
        "// Generated by tools/image-builder from {config_file}. Do not edit: edit the config and rebuild."
    );
    let _ = writeln!(w, "pub const NUM_CPUS: usize = {};", cpus.len());
    let _ = writeln!(w, "pub const NUM_PARTITIONS: usize = {};", system.partitions.len());
    let _ = writeln!(w, "pub const MAX_VCPUS: usize = {max_vcpus};");
    let _ = writeln!(w, "pub const S2_TABLES: usize = {};", tables.iter().sum::<usize>());
    let _ = writeln!(
        w,
        "pub const NUM_VIRTIO: usize = {};",
        system.partitions.iter().map(|p| p.disks.len() + p.networks.len()).sum::<usize>()
    );
    let _ = writeln!(w, "pub const NUM_NET_PORTS: usize = {};", nets::num_ports(system));
    let _ = writeln!(w, "pub const NUM_NETWORKS: usize = {};", system.networks.len());
    let _ = writeln!(w);
    let _ = writeln!(w, "pub static SYSTEM: SystemConfig = SystemConfig {{");
    let _ = writeln!(w, "    name: {},", rust_str(&system.name));
    let _ = writeln!(w, "    board: {},", rust_str(board.name));
    let _ = writeln!(w, "    uart: {},", hex(system.hypervisor.console.base));
    let _ = writeln!(w, "    uart_kind: {},", uart_kind(system.hypervisor.console.kind));
    let _ = writeln!(w, "    uart_irq: {},", system.hypervisor.console.irq.intid());
    let _ = writeln!(w, "    log_level: LogLevel::{},", system.hypervisor.log_level.variant());
    let (version, gicd, gicr, gicc, gich, gicv) = match system.gic {
        GicVersion::V3 => {
            let g = board.gic.v3.expect("validated: the board has a GICv3");
            ("V3", g.gicd, g.gicr, 0, 0, 0)
        }
        GicVersion::V2 => {
            let g = board.gic.v2.expect("validated: the board has a GICv2");
            ("V2", g.gicd, 0, g.gicc, g.gich, g.gicv)
        }
    };
    let _ = writeln!(w, "    gic: GicConfig {{");
    let _ = writeln!(w, "        version: GicVersion::{version},");
    for (k, v) in [("gicd", gicd), ("gicr", gicr), ("gicc", gicc), ("gich", gich), ("gicv", gicv)] {
        let _ = writeln!(w, "        {k}: {},", hex(v));
    }
    let _ = writeln!(w, "        maintenance_irq: {},", board.gic.maintenance_intid);
    let _ = writeln!(w, "    }},");
    let _ = writeln!(w, "    ram_base: {},", hex(board.ram_base));
    let _ = writeln!(w, "    ram_size: {},", hex(system.ram_size));
    let _ = writeln!(w, "    image_base: {},", hex(layout.hypervisor.base));
    let _ = writeln!(w, "    image_size: {},", hex(layout.image_size()));
    let _ = writeln!(w, "    cpus: &[");
    for c in &cpus {
        let _ = writeln!(
            w,
            "        PhysCpu {{ mpidr: {}, schedule: {} }},",
            hex(board.cpu_mpidr(*c)),
            cpu_schedule(system, *c)
        );
    }
    let _ = writeln!(w, "    ],");
    let _ = writeln!(w, "    cpu_start: {},", cpu_start(board.cpu_start));
    let _ = writeln!(w, "    disks: &[{}],", disks::system_disks(system, layout).join(", "));
    let _ = writeln!(w, "    host_disk: {},", disks::host_disk(system, layout));
    let _ = writeln!(w, "    channels: &[{}],", channels::system_channels(system, layout).join(", "));
    let virtio_base: Vec<usize> = system
        .partitions
        .iter()
        .scan(0, |n, p| {
            let base = *n;
            *n += p.disks.len() + p.networks.len();
            Some(base)
        })
        .collect();
    let _ = writeln!(w, "    networks: &[{}],", nets::system_networks(system).join(", "));
    let _ = writeln!(w, "    net_ports: &[{}],", nets::system_ports(system, &virtio_base).join(", "));
    let _ = writeln!(w, "    host_net: {},", nets::host_net(system));
    let _ = writeln!(w, "    preload_token: {},", hex(u64::from(preload_token)));
    let mut next_virtio = 0;
    let _ = writeln!(w, "    partitions: &[");
    for (i, p) in system.partitions.iter().enumerate() {
        let l = &layout.partitions[i];
        let _ = writeln!(w, "        PartitionConfig {{");
        let _ = writeln!(w, "            name: {},", rust_str(&p.name));
        let _ = writeln!(w, "            id: {},", p.id);
        let _ = writeln!(w, "            vcpus: &[");
        for (v, pcpu) in p.vcpus.iter().enumerate() {
            let index = cpus.iter().position(|c| c == pcpu).expect("every pinned CPU belongs to a pool");
            let _ =
                writeln!(w, "                VcpuConfig {{ pcpu: {index}, mpidr: {} }},", hex(0x8000_0000 | v as u64));
        }
        let _ = writeln!(w, "            ],");
        let _ = writeln!(
            w,
            "            memory: &[MemRegion {{ ipa: {}, pa: {}, size: {} }}],",
            hex(l.ipa),
            hex(l.ram.base),
            hex(l.ram.size)
        );
        let devices = device_maps(system, i);
        if devices.is_empty() {
            let _ = writeln!(w, "            devices: &[],");
        } else {
            let _ = writeln!(w, "            devices: &[");
            for d in &devices {
                let _ = writeln!(
                    w,
                    "                DeviceRegion {{ ipa: {}, pa: {}, size: {} }},",
                    hex(d.ipa),
                    hex(d.pa),
                    hex(d.size)
                );
            }
            let _ = writeln!(w, "            ],");
        }
        let spis: Vec<String> = p.spis().iter().map(u32::to_string).collect();
        let _ = writeln!(w, "            spis: &[{}],", spis.join(", "));
        let _ = writeln!(w, "            loads: &[");
        for load in l.loads() {
            let _ = writeln!(
                w,
                "                Load {{ src_pa: {}, dst_pa: {}, size: {} }},",
                hex(load.src_pa),
                hex(load.dst_pa),
                hex(load.size)
            );
        }
        let _ = writeln!(w, "            ],");
        let _ = writeln!(w, "            entry: {},", hex(l.kernel.ipa));
        let _ = writeln!(w, "            dtb: {},", hex(l.dtb.ipa));
        let (vgicr, vgicc) = match system.gic {
            GicVersion::V3 => (guest_map::GICR, 0),
            GicVersion::V2 => (0, guest_map::GICC),
        };
        let uart = if p.console { format!("Some({})", hex(guest_map::UART)) } else { "None".into() };
        let _ = writeln!(
            w,
            "            vdev: VirtualDevices {{ gicd: {}, gicr: {}, gicc: {}, uart: {uart}, uart_irq: {} }},",
            hex(guest_map::GICD),
            hex(vgicr),
            hex(vgicc),
            32 + guest_map::UART_SPI
        );
        let _ = writeln!(w, "            s2_tables: {},", tables[i]);
        let _ = writeln!(w, "            fault_policy: FaultPolicy::{},", p.on_fault.variant());
        let _ = writeln!(w, "            wfi_trap: {},", system.pools[p.pool].wfi == crate::config::Wfi::Trap);
        let _ =
            writeln!(w, "            virtio: &[{}],", virtio_devices(system, layout, i, &mut next_virtio).join(", "));
        let _ = writeln!(w, "            channels: &[{}],", channels::partition_channels(system, layout, i).join(", "));
        let _ = writeln!(w, "        }},");
    }
    let _ = writeln!(w, "    ],");
    let _ = writeln!(w, "}};");

    let memory_ld = format!("HV_BASE = {:#x};\nHV_BUDGET = {:#x};\n", layout.hypervisor.base, layout.hypervisor.size);
    HvConfig { config_rs: o, memory_ld }
}

/// Compiling generated tables against hv-static's own types, as its build does, in tests: `types.rs` takes its
/// enums from `hv-plan`, so that crate is compiled first and handed to rustc as `hv_plan`.
#[cfg(test)]
pub(crate) fn compile_with_hv_static_types(dir: &std::path::Path, lib_rs: &str, name: &str) -> std::process::Output {
    let root = crate::workspace_root();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let plan = dir.join("libhv_plan.rlib");
    let built = std::process::Command::new(&rustc)
        .args(["--edition", "2021", "--crate-type", "rlib", "--crate-name", "hv_plan", "-o"])
        .arg(&plan)
        .arg(root.join("hv-plan/src/lib.rs"))
        .output()
        .expect("rustc runs");
    assert!(built.status.success(), "hv-plan: {}", String::from_utf8_lossy(&built.stderr));
    std::fs::write(dir.join("lib.rs"), lib_rs).unwrap();
    std::process::Command::new(rustc)
        .current_dir(&root)
        .args(["--edition", "2021", "--crate-type", "lib", "--crate-name", name, "--extern"])
        .arg(format!("hv_plan={}", plan.display()))
        .arg("-o")
        .arg(dir.join(format!("{name}.rlib")))
        .arg(dir.join("lib.rs"))
        .output()
        .expect("rustc runs")
}

#[cfg(test)]
mod tests {
    use super::cpu_start;

    #[test]
    fn the_cpu_start_method_is_the_board_s() {
        assert_eq!(cpu_start(board_support::qemu_virt_a15::BOARD.cpu_start), "CpuStart::Psci");
        assert_eq!(
            cpu_start(board_support::vexpress_a15::BOARD.cpu_start),
            "CpuStart::SysFlags { set: 0x1c01_0030, clear: 0x1c01_0034 }"
        );
    }
}
