//! Bring-up: the boot CPU checks the board, builds the hypervisor's and every partition's address spaces and
//! starts the other CPUs; every CPU then initialises its own GIC interface and goes to its vCPU.

use crate::config::{CpuStart, GicVersion, SYSTEM};
use crate::core::halt::{self, halt};
use crate::{
    arch, core::partition, core::preload, core::sched, devices, hverror, hvprintln, hw::gic, run, vdev::channel,
    vdev::gpio, vdev::vgic, vdev::virtio,
};

#[unsafe(no_mangle)]
extern "C" fn rust_entry(cpu: usize, dtb: usize) -> ! {
    if cpu == 0 {
        arch::mmu::build(dtb);
    }
    arch::mmu::enable();
    arch::exception::install_vectors();
    arch::cpu::init_el2(cpu);
    if cpu == 0 {
        boot_cpu(dtb);
    }
    if !gic::init_cpu(arch::cpu::mpidr()) {
        hverror!("CPU {cpu}: no GIC redistributor matches MPIDR {:#x}", arch::cpu::mpidr());
        halt();
    }
    run::start()
}

fn boot_cpu(dtb: usize) {
    crate::core::console::init();
    let gic_name = match SYSTEM.gic.version {
        GicVersion::V2 => "GICv2",
        GicVersion::V3 => "GICv3",
    };
    hvprintln!(
        "hv-static {} on {} ({}), config '{}': {} partition(s) on {} CPU(s)",
        env!("CARGO_PKG_VERSION"),
        SYSTEM.board,
        gic_name,
        SYSTEM.name,
        SYSTEM.partitions.len(),
        SYSTEM.cpus.len()
    );
    let tree = match check_board(dtb) {
        Ok(tree) => tree,
        Err(msg) => {
            hverror!("board does not match the configuration: {msg}");
            halt();
        }
    };
    let images = preloaded(tree.as_ref());
    gic::init_distributor();
    sched::init();
    if let Err((part, e)) = partition::build_all() {
        hverror!("stage-2 tables for '{}': {:?}", SYSTEM.partitions[part].name, e);
        halt();
    }
    virtio::init();
    channel::init();
    // The device registry, handed down: nothing below this module names a device.
    vgic::set_resample(devices::resample);
    gpio::set_ring(channel::signal);
    partition::set_device_hooks(partition::DeviceHooks { reset: devices::reset, stopped: devices::stopped });
    for (i, p) in SYSTEM.partitions.iter().enumerate() {
        let ram: u64 = p.memory.iter().map(|m| m.size).sum();
        hvprintln!("partition '{}': {} vCPU(s), {} MiB at {:#x}", p.name, p.vcpus.len(), ram >> 20, p.memory[0].pa);
        partition::start(i, images);
    }
    crate::core::console::rx::init();
    for (i, c) in SYSTEM.cpus.iter().enumerate().skip(1) {
        let r = arch::firmware::cpu_on(c.mpidr, arch::secondary_entry_address(), i as u64);
        if r != 0 {
            hverror!("CPU {i} (MPIDR {:#x}) did not start: PSCI error {r}", c.mpidr);
        } else if let CpuStart::SysFlags { .. } = SYSTEM.cpu_start {
            // Released from the boot loader's pen, it waits in WFI for an interrupt before it looks.
            gic::send_sgi(i, gic::SGI_KICK);
        }
    }
}

/// Checks what can be checked of the board against the build-time description: the CPU interface the GIC
/// version needs, and that the RAM the layout uses exists according to the board's device tree, which it returns
/// parsed (`None` when the boot loader passed none).
fn check_board(dtb: usize) -> Result<Option<fdt::Fdt<'static>>, &'static str> {
    if SYSTEM.gic.version == GicVersion::V3 && !arch::cpu::has_gicv3_sysregs() {
        return Err("the configuration uses GICv3 but this CPU has no GICv3 system-register interface");
    }
    if dtb == 0 {
        return Ok(None); // Booted without a device tree (e.g. an ELF on QEMU's -kernel): nothing more to check.
    }
    // SAFETY: the boot protocol passes the device tree's address in x0; `from_ptr` validates the header.
    let fdt = unsafe { fdt::Fdt::from_ptr(dtb as *const u8) }.map_err(|_| "invalid board device tree")?;
    let (need_lo, need_hi) = (SYSTEM.image_base, SYSTEM.ram_base + SYSTEM.ram_size);
    // Every `device_type = "memory"` node's banks (not `Fdt::memory`, which panics on a tree without one).
    let banks = || {
        fdt.all_nodes()
            .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("memory"))
            .flat_map(|n| n.reg().into_iter().flatten())
            .map(|r| (r.starting_address as u64, r.size.unwrap_or(0) as u64))
    };
    let covered = crate::core::board_ram::covers(banks, need_lo, need_hi);
    if !covered {
        return Err("the board's RAM does not cover the configured RAM (run QEMU with enough -m)");
    }
    Ok(Some(fdt))
}

/// Whether the boot loader put every partition's images in place (`crate::core::preload`): its command line in the board
/// device tree's `/chosen/bootargs` carries this build's token.
fn preloaded(tree: Option<&fdt::Fdt<'_>>) -> partition::Images {
    let Some(fdt) = tree else { return partition::Images::Copy };
    // Not `Fdt::chosen`, which panics on a tree without `/chosen`.
    let bootargs = fdt.find_node("/chosen").and_then(|c| c.property("bootargs")).and_then(|p| p.as_str());
    match preload::said(bootargs.unwrap_or(""), SYSTEM.preload_token) {
        preload::Said::Nothing => partition::Images::Copy,
        preload::Said::InPlace => {
            hvprintln!("partition images put in place by the boot loader (token {:#x})", SYSTEM.preload_token);
            partition::Images::InPlace
        }
        preload::Said::Other(t) => {
            hvprintln!(
                "the boot loader's images are not this build's (token {t:#x}, this build {:#x}): copying them",
                SYSTEM.preload_token
            );
            partition::Images::Copy
        }
    }
}

/// A broken hypervisor invariant (never a guest's doing: see the crate's lints). Stops the whole board the same
/// way every time: the epitaph is printed even if this CPU holds the console (a panic inside a console write must
/// not deadlock on its own lock), every other CPU is interrupted and halts at EL2, then this one halts. A second
/// panic, on this CPU or another, only halts.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if halt::raise() {
        halt()
    }
    crate::core::console::emergency(format_args!("PANIC on CPU {}: {}", arch::cpu::id(), info));
    let me = arch::cpu::id();
    for cpu in (0..crate::config::NUM_CPUS).filter(|&c| c != me) {
        crate::core::percpu::post(cpu, 0);
    }
    crate::core::console::emergency(format_args!("hv-static stopped: every CPU halts"));
    crate::core::trace::flush!();
    halt()
}
