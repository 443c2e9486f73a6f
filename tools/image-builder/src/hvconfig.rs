//! The configuration compiled into hv-static: `config.rs`, its system plan (`hv_plan::plan`, built typed here and
//! written out by `hv_plan::bake`, so no field is ever spelled in a format string), and `memory.ld`, the link
//! address and budget for its linker script.

use board_support::GicVersion;
use bumpalo::Bump;
use hv_plan::bake::Bake;
use hv_plan::guest_map;
use hv_plan::plan::{
    CpuSchedule, DeviceRegion, GicConfig, Load, MemRegion, PartitionConfig, PhysCpu, Slot, SystemConfig, VcpuConfig,
    VirtioConfig, VirtioDevice, VirtualDevices,
};

use crate::config::{Access, System};
use crate::layout::Layout;
use crate::s2::{self, Mapping};

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

/// The schedule of physical CPU `cpu`: its cyclic pool's timeline, with the vCPU pinned there in each window and
/// adjacent slots of one vCPU merged (a boundary without a switch would be a needless exit); `None` in a pinned
/// pool.
fn cpu_schedule<'a>(arena: &'a Bump, system: &System, cpu: u32) -> Option<CpuSchedule<'a>> {
    let table = system.pools.iter().find(|p| p.cpus.contains(&cpu)).and_then(|p| p.cyclic.as_ref())?;
    let vcpu_on = |part: usize| {
        let v = system.partitions[part]
            .vcpus
            .iter()
            .position(|c| *c == cpu)
            .expect("validated: a window's CPUs run its vCPUs");
        (part, v)
    };
    let mut slots: Vec<Slot> = Vec::new();
    for s in crate::schedule::timeline(table, cpu) {
        let vcpu = s.partition.map(vcpu_on);
        match slots.last_mut() {
            Some(last) if last.vcpu == vcpu => last.end_ns = s.end,
            _ => slots.push(Slot { start_ns: s.start, end_ns: s.end, vcpu }),
        }
    }
    Some(CpuSchedule { major_frame_ns: table.major_frame, slots: arena.alloc_slice_copy(&slots) })
}

/// Partition `i`'s virtio devices, in the transport slots the layout gave them: its disks, then its network
/// ports. `next` is the system-wide device number of its first one.
fn virtio_devices(system: &System, layout: &Layout, i: usize, next: &mut usize) -> Vec<VirtioConfig> {
    let p = &system.partitions[i];
    let disks = p.disks.iter().map(|a| VirtioDevice::Blk { disk: a.disk, read_only: a.access == Access::ReadOnly });
    let nets =
        p.networks.iter().enumerate().map(|(k, a)| VirtioDevice::Net { port: nets::port_of(system, i, k), mac: a.mac });
    disks
        .chain(nets)
        .zip(&layout.guests[i].virtio)
        .map(|(device, slot)| {
            let index = *next;
            *next += 1;
            VirtioConfig { index, ipa: slot.base, intid: slot.intid, device }
        })
        .collect()
}

/// The physical GIC's frames: the ones of the version the system uses, zero for the others.
fn gic(system: &System) -> GicConfig {
    let board = system.board;
    let (version, gicd, gicr, gicc, gich, gicv) = match system.gic {
        GicVersion::V3 => {
            let g = board.gic.v3.expect("validated: the board has a GICv3");
            (GicVersion::V3, g.gicd, g.gicr, 0, 0, 0)
        }
        GicVersion::V2 => {
            let g = board.gic.v2.expect("validated: the board has a GICv2");
            (GicVersion::V2, g.gicd, 0, g.gicc, g.gich, g.gicv)
        }
    };
    GicConfig { version, gicd, gicr, gicc, gich, gicv, maintenance_irq: board.gic.maintenance_intid }
}

/// Partition `i` as hv-static runs it. `next_virtio` numbers its virtio devices system-wide.
fn partition<'a>(
    arena: &'a Bump,
    system: &System,
    layout: &Layout,
    i: usize,
    cpus: &[u32],
    next_virtio: &mut usize,
) -> PartitionConfig<'a> {
    let p = &system.partitions[i];
    let l = &layout.partitions[i];
    let vcpus: Vec<VcpuConfig> = p
        .vcpus
        .iter()
        .enumerate()
        .map(|(v, pcpu)| VcpuConfig {
            pcpu: cpus.iter().position(|c| c == pcpu).expect("every pinned CPU belongs to a pool"),
            mpidr: 0x8000_0000 | v as u64,
        })
        .collect();
    let devices: Vec<DeviceRegion> =
        device_maps(system, i).iter().map(|d| DeviceRegion { ipa: d.ipa, pa: d.pa, size: d.size }).collect();
    let loads: Vec<Load> =
        l.loads().iter().map(|load| Load { src_pa: load.src_pa, dst_pa: load.dst_pa, size: load.size }).collect();
    let guest = &layout.guests[i];
    let (vgicr, vgicc) = match system.gic {
        GicVersion::V3 => (guest_map::GICR, 0),
        GicVersion::V2 => (0, guest_map::GICC),
    };
    PartitionConfig {
        name: arena.alloc_str(&p.name),
        id: p.id,
        vcpus: arena.alloc_slice_copy(&vcpus),
        memory: arena.alloc_slice_copy(&[MemRegion { ipa: l.ipa, pa: l.ram.base, size: l.ram.size }]),
        devices: arena.alloc_slice_copy(&devices),
        spis: arena.alloc_slice_copy(&p.spis()),
        loads: arena.alloc_slice_copy(&loads),
        entry: l.kernel.ipa,
        dtb: l.dtb.ipa,
        vdev: VirtualDevices {
            gicd: guest_map::GICD,
            gicr: vgicr,
            gicc: vgicc,
            uart: p.console.then_some(guest_map::UART),
            uart_irq: 32 + guest_map::UART_SPI,
            watchdog: guest.watchdog.map(|_| guest_map::WATCHDOG),
            watchdog_irq: guest.watchdog.unwrap_or(0),
            gpio: guest.gpio.map(|_| guest_map::GPIO),
            gpio_irq: guest.gpio.unwrap_or(0),
        },
        s2_tables: s2_tables(system, layout, i),
        fault_policy: p.on_fault,
        wfi_trap: system.pools[p.pool].wfi == crate::config::Wfi::Trap,
        virtio: arena.alloc_slice_copy(&virtio_devices(system, layout, i, next_virtio)),
        channels: arena.alloc_slice_copy(&channels::partition_channels(system, layout, i)),
        manages: arena.alloc_slice_copy(&p.manages),
    }
}

/// The typed plan hv-static is compiled with, its slices in `arena`. Pure: same inputs, same plan.
pub fn plan<'a>(arena: &'a Bump, system: &System, layout: &Layout, preload_token: u32) -> SystemConfig<'a> {
    let board = system.board;
    let cpus = system.used_cpus();
    let phys: Vec<PhysCpu<'a>> =
        cpus.iter().map(|&c| PhysCpu { mpidr: board.cpu_mpidr(c), schedule: cpu_schedule(arena, system, c) }).collect();
    let virtio_base: Vec<usize> = system
        .partitions
        .iter()
        .scan(0, |n, p| {
            let base = *n;
            *n += p.disks.len() + p.networks.len();
            Some(base)
        })
        .collect();
    let mut next_virtio = 0;
    let partitions: Vec<PartitionConfig<'a>> =
        (0..system.partitions.len()).map(|i| partition(arena, system, layout, i, &cpus, &mut next_virtio)).collect();
    SystemConfig {
        name: arena.alloc_str(&system.name),
        board: board.name,
        uart: system.hypervisor.console.base,
        uart_kind: system.hypervisor.console.kind,
        uart_irq: system.hypervisor.console.irq.intid(),
        log_level: system.hypervisor.log_level,
        gic: gic(system),
        ram_base: board.ram_base,
        ram_size: system.ram_size,
        image_base: layout.hypervisor.base,
        image_size: layout.image_size(),
        cpus: arena.alloc_slice_copy(&phys),
        cpu_start: board.cpu_start,
        disks: arena.alloc_slice_copy(&disks::system_disks(system, layout)),
        host_disk: disks::host_disk(system, layout),
        channels: arena.alloc_slice_copy(&channels::system_channels(arena, system, layout)),
        networks: arena.alloc_slice_copy(&nets::system_networks(arena, system)),
        net_ports: arena.alloc_slice_copy(&nets::system_ports(system, &virtio_base)),
        host_net: nets::host_net(system),
        preload_token,
        partitions: arena.alloc_slice_copy(&partitions),
    }
}

/// The Rust that declares `SYSTEM` (the plan, baked) for hv-static's build to include.
pub fn config_rs(plan: &SystemConfig<'_>, config_file: &str) -> String {
    let decl = "pub static SYSTEM: SystemConfig<'static> = ";
    format!(
        "// Generated by tools/image-builder from {config_file}. Do not edit: edit the config and rebuild.\n\n\
         {decl}{};\n",
        plan.bake().render(0, decl.len() + 1, MAX_WIDTH)
    )
}

/// Lines of the generated file stay within the project's rustfmt width.
const MAX_WIDTH: usize = 120;

/// Generates both files. Pure: same inputs, same text.
pub fn generate(system: &System, layout: &Layout, config_file: &str, preload_token: u32) -> HvConfig {
    let arena = Bump::new();
    let plan = plan(&arena, system, layout, preload_token);
    let memory_ld = format!("HV_BASE = {:#x};\nHV_BUDGET = {:#x};\n", layout.hypervisor.base, layout.hypervisor.size);
    HvConfig { config_rs: config_rs(&plan, config_file), memory_ld }
}

/// Compiles `config_rs` the way hv-static's build does, in tests: hv-static's own `config/mod.rs` (which includes
/// `$OUT_DIR/config.rs` and derives its capacities from the plan) against `hv-plan`, which is compiled first and
/// handed to rustc as `hv_plan`, into a program that prints the compiled-in `SYSTEM` (`{:?}`) and then its
/// capacities. Warnings are errors. Returns the compiler's output, and the program's when it compiled.
#[cfg(test)]
pub(crate) fn compile_with_hv_static_types(
    dir: &std::path::Path,
    config_rs: &str,
    name: &str,
) -> (std::process::Output, Option<std::process::Output>) {
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
    std::fs::write(dir.join("config.rs"), config_rs).unwrap();
    let main = format!(
        "#![deny(warnings)]\n#[path = {:?}]\nmod config;\n\
         fn main() {{\n    println!(\"{{:?}}\", config::SYSTEM);\n    println!(\"{{:?}}\", [config::NUM_CPUS, \
         config::NUM_PARTITIONS, config::MAX_VCPUS, config::NUM_VCPUS, config::S2_TABLES, config::NUM_VIRTIO, \
         config::NUM_NET_PORTS, config::NUM_NETWORKS]);\n}}\n",
        root.join("hv-static/src/config/mod.rs").display().to_string()
    );
    std::fs::write(dir.join("main.rs"), main).unwrap();
    let program = dir.join(name);
    let compiled = std::process::Command::new(rustc)
        .current_dir(&root)
        .env("OUT_DIR", dir)
        .args(["--edition", "2021", "--crate-type", "bin", "--crate-name", name, "--extern"])
        .arg(format!("hv_plan={}", plan.display()))
        .arg("-L")
        .arg(dir)
        .arg("-o")
        .arg(&program)
        .arg(dir.join("main.rs"))
        .output()
        .expect("rustc runs");
    let ran = compiled.status.success().then(|| std::process::Command::new(&program).output().expect("runs"));
    (compiled, ran)
}
